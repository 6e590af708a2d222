/**
 * One custom object a router owns part of (the App Mesh VirtualRouter, the Gateway API HTTPRoute): read it,
 * and server-side apply part of its spec under the analysis's field manager with `force`, with the shared
 * client's retries. The routers decide which part and what it means.
 */
import { ANALYSIS_FIELD_MANAGER, connect, withRetries, type KubeAccess, type KubeClient, type RetryOptions } from "./client";

export interface CustomObjectRef {
    group: string;
    version: string;
    plural: string;
    kind: string;
    namespace: string;
    name: string;
}

export interface KubeCustomObjectOptions {
    access: KubeAccess;
    ref: CustomObjectRef;
    fieldManager?: string;
    retry?: RetryOptions;
}

export class KubeCustomObject {
    private client?: Promise<KubeClient<import("@kubernetes/client-node").CustomObjectsApi>>;

    constructor(private readonly options: KubeCustomObjectOptions) {}

    /** `<kind> <namespace>/<name>`, for messages. */
    get id(): string {
        return `${this.options.ref.kind} ${this.options.ref.namespace}/${this.options.ref.name}`;
    }

    private api() {
        this.client ??= connect(this.options.access, (k8s) => k8s.CustomObjectsApi);
        return this.client;
    }

    private get path() {
        const { group, version, namespace, plural, name } = this.options.ref;
        return { group, version, namespace, plural, name };
    }

    async get(): Promise<Record<string, any>> {
        const { api } = await this.api();
        return withRetries(`get ${this.id}`, () => api.getNamespacedCustomObject(this.path), this.options.retry);
    }

    /** Server-side apply `spec` (the fields to own, nothing else) with `force`; `what` names the change in messages. */
    async applySpec(spec: Record<string, unknown>, what: string): Promise<void> {
        const { k8s, api } = await this.api();
        const { group, version, kind, namespace, name } = this.options.ref;
        const body = { apiVersion: `${group}/${version}`, kind, metadata: { name, namespace }, spec };
        await withRetries(
            `apply ${this.id} ${what}`,
            () =>
                api.patchNamespacedCustomObject(
                    // Strict: an unknown field is an error, not silently pruned by the CRD's structural schema.
                    { ...this.path, body, fieldManager: this.options.fieldManager ?? ANALYSIS_FIELD_MANAGER, force: true, fieldValidation: "Strict" },
                    k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.ServerSideApply),
                ),
            this.options.retry,
        );
    }
}
