/**
 * The canary and primary Deployments over the Kubernetes API: scale through the scale subresource, readiness per
 * Flagger, and the canary's annotations the analysis keeps its record in.
 */
import type { Readiness, WorkloadPort } from "../../engine/ports";
import { primaryName } from "../../spec/names";
import { ANALYSIS_FIELD_MANAGER, connect, unlessNotFound, withRetries, type KubeAccess, type KubeClient, type RetryOptions } from "./client";
import { deploymentReadiness, describeReadiness, scaleFromZeroReplicas, type DeploymentLike } from "./readiness";

export interface KubeWorkloadsOptions {
    access: KubeAccess;
    namespace: string;
    /** The canary (target) Deployment, e.g. `podinfo`. */
    canary: string;
    /** The primary Deployment; `<canary>-primary` by default. */
    primary?: string;
    /** `minReplicas` of the HPA attached to the target, when there is one. */
    autoscalerMinReplicas?: number;
    retry?: RetryOptions;
    now?: () => number;
}

/** The canary and primary Deployments: scale through the scale subresource, readiness per Flagger. */
export class KubeWorkloads implements WorkloadPort {
    private client?: Promise<KubeClient<import("@kubernetes/client-node").AppsV1Api>>;

    constructor(private readonly options: KubeWorkloadsOptions) {}

    private get primary(): string {
        return this.options.primary ?? primaryName(this.options.canary);
    }

    private api() {
        this.client ??= connect(this.options.access, (k8s) => k8s.AppsV1Api);
        return this.client;
    }

    /** A Deployment object, or undefined when it does not exist. */
    async deployment(name: string): Promise<DeploymentLike | undefined> {
        const { api } = await this.api();
        return withRetries(
            `get Deployment ${this.options.namespace}/${name}`,
            () => unlessNotFound(async () => (await api.readNamespacedDeployment({ name, namespace: this.options.namespace })) as DeploymentLike),
            this.options.retry,
        );
    }

    private async required(name: string): Promise<DeploymentLike> {
        const found = await this.deployment(name);
        if (!found) {
            throw new Error(`Deployment ${this.options.namespace}/${name} not found`);
        }
        return found;
    }

    async scaleCanary(replicas: number): Promise<void> {
        const { k8s, api } = await this.api();
        await withRetries(
            `scale Deployment ${this.options.namespace}/${this.options.canary} to ${replicas}`,
            () =>
                api.patchNamespacedDeploymentScale(
                    { name: this.options.canary, namespace: this.options.namespace, body: { spec: { replicas } } },
                    k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
                ),
            this.options.retry,
        );
    }

    /** The canary Deployment's annotations as they are now. */
    async canaryAnnotations(): Promise<Record<string, string>> {
        return (await this.required(this.options.canary)).metadata?.annotations ?? {};
    }

    /**
     * Merge-patch the canary's annotations (null removes one), and nothing else, under the analysis's field
     * manager: Pulumi declares none there, so its applies never conflict with them.
     */
    async annotateCanary(annotations: Record<string, string | null>): Promise<void> {
        const { k8s, api } = await this.api();
        await withRetries(
            `annotate Deployment ${this.options.namespace}/${this.options.canary}`,
            () =>
                api.patchNamespacedDeployment(
                    { name: this.options.canary, namespace: this.options.namespace, body: { metadata: { annotations } }, fieldManager: ANALYSIS_FIELD_MANAGER },
                    k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
                ),
            this.options.retry,
        );
    }

    async canaryReplicas(): Promise<number> {
        return (await this.required(this.options.canary)).spec?.replicas ?? 0;
    }

    async canaryReplicasWhenActive(): Promise<number> {
        const canary = await this.required(this.options.canary);
        return scaleFromZeroReplicas(canary, await this.deployment(this.primary), this.options.autoscalerMinReplicas);
    }

    async canaryReadiness(readyThreshold: number, progressDeadlineSeconds: number): Promise<Readiness> {
        return this.readiness("canary", this.options.canary, readyThreshold, progressDeadlineSeconds);
    }

    async primaryReadiness(readyThreshold: number, progressDeadlineSeconds: number): Promise<Readiness> {
        return this.readiness("primary", this.primary, readyThreshold, progressDeadlineSeconds);
    }

    private async readiness(role: "canary" | "primary", name: string, readyThreshold: number, progressDeadlineSeconds: number): Promise<Readiness> {
        const deployment = await this.required(name);
        const now = (this.options.now ?? Date.now)();
        return describeReadiness(deploymentReadiness(deployment, readyThreshold, progressDeadlineSeconds, now), role, name, this.options.namespace);
    }
}
