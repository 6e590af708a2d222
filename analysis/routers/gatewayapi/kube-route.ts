/**
 * The Gateway API router adapter: the apex HTTPRoute's weights, read and set through the Kubernetes API.
 *
 * Field ownership is the App Mesh router's story: the analysis server-side applies only `spec.rules` (the
 * declared resting rules with other weights, via `withWeights`) under its own field manager with `force`, and
 * every completed `pulumi up` leaves the resting weights, so Pulumi's next apply of an unchanged route is a
 * no-op. A read is trusted only once every Gateway has accepted the route's current generation (Flagger's
 * gate): before that the data plane may still route by an earlier spec.
 */
import type { RouterPort, RouteWeights } from "../../engine/ports";
import type { KubeCustomObject } from "../../adapters/kubernetes/custom-object";
import type { RouterNodes } from "../../spec/names";
import { routeObject, type RouteObjectOptions } from "../route-object";
import { GATEWAY_API_GROUP, GATEWAY_API_VERSION } from "./api";
import { notAcceptedReason, readWeights, withWeights, type HTTPRouteSpec, type LiveHTTPRoute } from "./routes";

/** How long a read waits for the Gateways to accept the route's current generation. */
export const DEFAULT_ACCEPT_TIMEOUT_MS = 30_000;
const ACCEPT_POLL_MS = 500;

export interface KubeHTTPRouteOptions extends RouteObjectOptions<HTTPRouteSpec> {
    acceptTimeoutMs?: number;
}

/** The apex HTTPRoute's weights, set by server-side applying the resting rules with other weights. */
export class KubeHTTPRoute implements RouterPort {
    private readonly nodes: RouterNodes;
    private readonly object: KubeCustomObject;

    constructor(private readonly options: KubeHTTPRouteOptions) {
        ({ object: this.object, nodes: this.nodes } = routeObject(options, { group: GATEWAY_API_GROUP, version: GATEWAY_API_VERSION, plural: "httproutes", kind: "HTTPRoute" }));
    }

    /** The weights of the live route, once every Gateway has accepted its current generation. */
    async getWeights(): Promise<RouteWeights> {
        const timeoutMs = this.options.acceptTimeoutMs ?? DEFAULT_ACCEPT_TIMEOUT_MS;
        const deadline = Date.now() + timeoutMs;
        const id = `${this.options.namespace}/${this.options.name}`;
        for (;;) {
            const live = (await this.object.get()) as LiveHTTPRoute;
            const reason = notAcceptedReason(live, id);
            if (reason === undefined) {
                return readWeights(live.spec, id, this.nodes);
            }
            if (Date.now() >= deadline) {
                throw new Error(`${reason} after ${Math.round(timeoutMs / 1000)}s`);
            }
            await new Promise((resolve) => setTimeout(resolve, ACCEPT_POLL_MS));
        }
    }

    async setWeights(weights: RouteWeights): Promise<void> {
        const rules = withWeights(this.options.restingSpec, this.nodes, weights).rules;
        await this.object.applySpec({ rules }, `weights primary ${weights.primary} canary ${weights.canary}`);
    }
}
