/**
 * Flagger's readiness rules over a Deployment object (`pkg/canary/deployment_ready.go`) and its
 * `ScaleFromZero` replica rule. Pure: the Kubernetes adapter fetches the objects and passes them in.
 */
import type { Readiness } from "../../engine/ports";

/** The parts of an apps/v1 Deployment the rules read. */
export interface DeploymentLike {
    metadata?: { name?: string; generation?: number; uid?: string; annotations?: Record<string, string> };
    spec?: { replicas?: number };
    status?: {
        observedGeneration?: number;
        replicas?: number;
        updatedReplicas?: number;
        availableReplicas?: number;
        conditions?: { type: string; status: string; reason?: string; lastUpdateTime?: string }[];
    };
}

const waiting = (retriable: boolean, detail: string): Readiness => ({ ready: false, retriable, reason: `waiting for rollout to finish: ${detail}` });

/**
 * Flagger's `isDeploymentReady`: generation observed, all replicas updated, no old replicas left, and at
 * least `readyThreshold`% of the updated replicas available. Not retriable once the Deployment reports
 * `ProgressDeadlineExceeded`, or has had too few available replicas for longer than `progressDeadlineSeconds`.
 */
export function deploymentReadiness(deployment: DeploymentLike, readyThreshold: number, progressDeadlineSeconds: number, now: number): Readiness {
    const status = deployment.status ?? {};
    if ((deployment.metadata?.generation ?? 0) > (status.observedGeneration ?? 0)) {
        return waiting(true, "observed deployment generation less than desired generation");
    }
    const condition = (type: string) => status.conditions?.find((c) => c.type === type);
    const progressing = condition("Progressing");
    let retriable = true;
    if (progressing) {
        const available = condition("Available");
        if (available?.status === "False" && available.reason === "MinimumReplicasUnavailable" && available.lastUpdateTime) {
            retriable = Date.parse(available.lastUpdateTime) + progressDeadlineSeconds * 1000 >= now;
        }
    }
    const updated = status.updatedReplicas ?? 0;
    const wanted = deployment.spec?.replicas;
    const thresholdReplicas = Math.floor((updated * readyThreshold) / 100);
    if (progressing?.reason === "ProgressDeadlineExceeded") {
        return { ready: false, retriable: false, reason: `deployment "${deployment.metadata?.name ?? ""}" exceeded its progress deadline` };
    }
    if (wanted !== undefined && updated < wanted) {
        return waiting(retriable, `${updated} out of ${wanted} new replicas have been updated`);
    }
    if ((status.replicas ?? 0) > updated) {
        return waiting(retriable, `${(status.replicas ?? 0) - updated} old replicas are pending termination`);
    }
    if ((status.availableReplicas ?? 0) < thresholdReplicas) {
        return waiting(retriable, `${status.availableReplicas ?? 0} of ${thresholdReplicas} (readyThreshold ${readyThreshold}%) updated replicas are available`);
    }
    return { ready: true };
}

/** Flagger's wrappers: "canary deployment podinfo.test not ready: ..." and "podinfo-primary.test not ready: ...". */
export function describeReadiness(readiness: Readiness, role: "canary" | "primary", name: string, namespace: string): Readiness {
    if (readiness.ready) {
        return readiness;
    }
    const prefix = role === "canary" ? `canary deployment ${name}.${namespace} not ready` : `${name}.${namespace} not ready`;
    return { ...readiness, reason: `${prefix}: ${readiness.reason}` };
}

/**
 * Flagger's `ScaleFromZero`: the canary's own replicas when it has some; otherwise the primary's when no
 * autoscaler is attached; otherwise the autoscaler's `minReplicas` when above 1; otherwise 1.
 */
export function scaleFromZeroReplicas(canary: DeploymentLike, primary: DeploymentLike | undefined, autoscalerMinReplicas?: number): number {
    const own = canary.spec?.replicas ?? 0;
    if (own > 0) {
        return own;
    }
    if (autoscalerMinReplicas === undefined) {
        const primaryReplicas = primary?.spec?.replicas ?? 0;
        return primaryReplicas > 0 ? primaryReplicas : 1;
    }
    return autoscalerMinReplicas > 1 ? autoscalerMinReplicas : 1;
}
