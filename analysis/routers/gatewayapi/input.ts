/** The Gateway API router's part of the providers' inputs. */
import type { CanarySpec } from "../../spec/canary";
import type { CanaryNames } from "../../spec/names";
import type { HTTPRouteSpec } from "./routes";
import { buildHTTPRouteSpec } from "./specs";

export interface GatewayApiRouterInput {
    kind: "gatewayapi";
    /** The apex HTTPRoute spec as Pulumi declares it, at resting weights. */
    route: HTTPRouteSpec;
    /** The route's Gateways are VPC Lattice's (GatewayClass `amazon-vpc-lattice`): its limits apply. */
    lattice?: boolean;
}

/** The input for a Canary's apex route as the program declares it. */
export function gatewayApiRouterInput(spec: CanarySpec, names: CanaryNames, lattice = false): GatewayApiRouterInput {
    return { kind: "gatewayapi", route: buildHTTPRouteSpec(spec, names), ...(lattice ? { lattice } : {}) };
}
