/**
 * The annotations a rollout keeps on its Deployments, read back by the next `pulumi up` (Pulumi's state holds
 * only the promoted revision).
 */

/** On the primary Deployment, declared by Pulumi: the promoted revision its pod template was built from. */
export const REVISION_ANNOTATION = "appmesh-canary.io/revision";

/** On the canary Deployment, written by the analysis after a rollback: the revision that failed, when and why. */
export const FAILED_REVISION_ANNOTATIONS = {
    revision: "appmesh-canary.io/failed-revision",
    failedAt: "appmesh-canary.io/failed-at",
    reason: "appmesh-canary.io/failed-reason",
};
