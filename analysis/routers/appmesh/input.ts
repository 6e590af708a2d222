/** The App Mesh router's part of the providers' inputs. */
import type { CanarySpec } from "../../spec/canary";
import type { CanaryNames } from "../../spec/names";
import type { VirtualRouterSpec } from "./routes";
import { buildVirtualRouterSpec } from "./specs";

export interface AppMeshRouterInput {
    kind: "appmesh";
    /** The apex VirtualRouter spec as Pulumi declares it, at resting weights. */
    virtualRouter: VirtualRouterSpec;
}

/** The input for a Canary's apex router as the program declares it. */
export function appMeshRouterInput(spec: CanarySpec, names: CanaryNames): AppMeshRouterInput {
    return { kind: "appmesh", virtualRouter: buildVirtualRouterSpec(spec, names, "apex") };
}
