/**
 * The App Mesh router adapter: the apex VirtualRouter's weights, read and set through the Kubernetes API.
 *
 * Field ownership of the apex VirtualRouter: `spec.routes` is an atomic list in the App Mesh CRDs, so
 * whoever applies it owns the whole list. The analysis re-applies only `spec.routes` (the declared resting
 * routes with other weights, via `withWeights`) under its own field manager with `force`, taking the list
 * over during a rollout, and every completed `pulumi up` leaves the resting weights in place again, so the
 * live value equals what Pulumi declares and Pulumi's next apply of an unchanged router is a no-op. When the
 * declared routes change, the Pulumi resource carries `pulumi.com/patchForce: "true"` and takes the list
 * back; that happens before the Analysis runs in the same update (the Analysis depends on the router), so
 * the two never write the list at the same time and neither silently reverts the other. `ignoreChanges` on
 * `spec.routes` is not an option: the routes' match, retries and timeouts must still follow the config.
 */
import type { RouterPort, RouteWeights } from "../../engine/ports";
import { ANALYSIS_FIELD_MANAGER, connect, withRetries, type KubeAccess, type KubeClient, type RetryOptions } from "../../adapters/kubernetes/client";
import { APPMESH_API_VERSION, APPMESH_GROUP, APPMESH_VERSION } from "./api";
import { readWeights, withWeights, type VirtualRouterSpec } from "./routes";
import { routerNodes, type RouterNodes } from "../../spec/names";

export interface KubeRouterOptions {
    access: KubeAccess;
    namespace: string;
    /** The apex VirtualRouter, e.g. `podinfo`. */
    name: string;
    /** The router spec Pulumi declares, at resting weights. */
    restingSpec: VirtualRouterSpec;
    /** Virtual nodes of the weighted targets; `<name>-primary` / `<name>-canary` by default. */
    nodes?: RouterNodes;
    fieldManager?: string;
    retry?: RetryOptions;
}

/** The apex VirtualRouter's weights, set by server-side applying the resting routes with other weights. */
export class KubeRouter implements RouterPort {
    private readonly nodes: RouterNodes;
    private client?: Promise<KubeClient<import("@kubernetes/client-node").CustomObjectsApi>>;

    constructor(private readonly options: KubeRouterOptions) {
        this.nodes = options.nodes ?? routerNodes(options.name);
    }

    private api() {
        this.client ??= connect(this.options.access, (k8s) => k8s.CustomObjectsApi);
        return this.client;
    }

    private get ref() {
        return { group: APPMESH_GROUP, version: APPMESH_VERSION, namespace: this.options.namespace, plural: "virtualrouters", name: this.options.name };
    }

    /** The live VirtualRouter object. */
    async get(): Promise<Record<string, any>> {
        const { api } = await this.api();
        return withRetries(`get VirtualRouter ${this.options.namespace}/${this.options.name}`, () => api.getNamespacedCustomObject(this.ref), this.options.retry);
    }

    async getWeights(): Promise<RouteWeights> {
        const live = await this.get();
        return readWeights(live.spec, this.options.name, this.nodes);
    }

    async setWeights(weights: RouteWeights): Promise<void> {
        const { k8s, api } = await this.api();
        const body = {
            apiVersion: APPMESH_API_VERSION,
            kind: "VirtualRouter",
            metadata: { name: this.options.name, namespace: this.options.namespace },
            spec: { routes: withWeights(this.options.restingSpec, this.nodes, weights).routes },
        };
        await withRetries(
            `apply VirtualRouter ${this.options.namespace}/${this.options.name} weights primary ${weights.primary} canary ${weights.canary}`,
            () =>
                api.patchNamespacedCustomObject(
                    // Strict: an unknown field is an error, not silently pruned by the CRD's structural schema.
                    { ...this.ref, body, fieldManager: this.options.fieldManager ?? ANALYSIS_FIELD_MANAGER, force: true, fieldValidation: "Strict" },
                    k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.ServerSideApply),
                ),
            this.options.retry,
        );
    }
}
