/**
 * The canary's status ConfigMap (`<target>-canary-status` in the target's namespace), written by the analysis
 * with server-side apply under its own field manager and read back by `npm run status` and `pulumi refresh`.
 * Writing is best effort and never in the rollout's way: one write at a time, the newest status waiting
 * behind it, failures kept for the caller to report once.
 */
import { parseStatusData, STATUS_LABEL, statusConfigMapName, statusData, type CanaryStatus } from "../../report/status";
import { ANALYSIS_FIELD_MANAGER, connect, unlessNotFound, withRetries, type KubeAccess, type KubeClient, type RetryOptions } from "./client";

type CoreV1Api = import("@kubernetes/client-node").CoreV1Api;

export interface KubeCanaryStatusOptions {
    access: KubeAccess;
    namespace: string;
    /** The canary (target) Deployment, e.g. `podinfo`. */
    target: string;
    retry?: RetryOptions;
}

export class KubeCanaryStatus {
    private client?: Promise<KubeClient<CoreV1Api>>;
    private writing?: Promise<void>;
    private pending?: CanaryStatus;
    /** The first write error since the last `flush`, if any. */
    private failure?: Error;

    constructor(private readonly options: KubeCanaryStatusOptions) {}

    private get name(): string {
        return statusConfigMapName(this.options.target);
    }

    private api() {
        this.client ??= connect(this.options.access, (k8s) => k8s.CoreV1Api);
        return this.client;
    }

    /** Queue `status` to be written; a newer one replaces any not yet written. */
    write(status: CanaryStatus): void {
        this.pending = status;
        this.writing ??= this.drain();
    }

    /** Wait for the queued writes; resolves with the first error since the last flush (the status is a side channel). */
    async flush(): Promise<Error | undefined> {
        await this.writing;
        const failure = this.failure;
        this.failure = undefined;
        return failure;
    }

    private async drain(): Promise<void> {
        while (this.pending) {
            const status = this.pending;
            this.pending = undefined;
            try {
                await this.apply(status);
            } catch (error) {
                this.failure ??= error as Error;
            }
        }
        this.writing = undefined;
    }

    private async apply(status: CanaryStatus): Promise<void> {
        const { k8s, api } = await this.api();
        const { namespace } = this.options;
        const body = {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: this.name, namespace, labels: { [STATUS_LABEL]: "true", "app.kubernetes.io/managed-by": ANALYSIS_FIELD_MANAGER } },
            data: statusData(status),
        };
        await withRetries(
            `apply ConfigMap ${namespace}/${this.name}`,
            () => api.patchNamespacedConfigMap({ name: this.name, namespace, body, fieldManager: ANALYSIS_FIELD_MANAGER, force: true }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.ServerSideApply)),
            this.options.retry,
        );
    }

    /** The status as written last, or undefined when there is none. */
    async read(): Promise<CanaryStatus | undefined> {
        const { api } = await this.api();
        const { namespace } = this.options;
        return withRetries(
            `get ConfigMap ${namespace}/${this.name}`,
            async () => parseStatusData((await unlessNotFound(() => api.readNamespacedConfigMap({ name: this.name, namespace })))?.data),
            this.options.retry,
        );
    }

    async remove(): Promise<void> {
        const { api } = await this.api();
        const { namespace } = this.options;
        await withRetries(
            `delete ConfigMap ${namespace}/${this.name}`,
            () => unlessNotFound(() => api.deleteNamespacedConfigMap({ name: this.name, namespace })),
            this.options.retry,
        );
    }
}
