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
import type { KubeCustomObject } from "../../adapters/kubernetes/custom-object";
import type { RouterNodes } from "../../spec/names";
import { routeObject, type RouteObjectOptions } from "../route-object";
import { APPMESH_GROUP, APPMESH_VERSION } from "./api";
import { readWeights, withWeights, type VirtualRouterSpec } from "./routes";

export type KubeRouterOptions = RouteObjectOptions<VirtualRouterSpec>;

/** The apex VirtualRouter's weights, set by server-side applying the resting routes with other weights. */
export class KubeRouter implements RouterPort {
    private readonly nodes: RouterNodes;
    private readonly object: KubeCustomObject;

    constructor(private readonly options: KubeRouterOptions) {
        ({ object: this.object, nodes: this.nodes } = routeObject(options, { group: APPMESH_GROUP, version: APPMESH_VERSION, plural: "virtualrouters", kind: "VirtualRouter" }));
    }

    /** The live VirtualRouter object. */
    get(): Promise<Record<string, any>> {
        return this.object.get();
    }

    async getWeights(): Promise<RouteWeights> {
        const live = await this.get();
        return readWeights(live.spec, this.options.name, this.nodes);
    }

    async setWeights(weights: RouteWeights): Promise<void> {
        const routes = withWeights(this.options.restingSpec, this.nodes, weights).routes;
        await this.object.applySpec({ routes }, `weights primary ${weights.primary} canary ${weights.canary}`);
    }
}
