/**
 * What a traffic router is to the rest of the program, as Flagger's `pkg/router` and Argo Rollouts'
 * `trafficrouting` define it: the engine's `RouterPort` over the router's objects, the built-in metrics of its
 * observer, and the checks of its part of the dynamic provider's inputs. One folder per router implements it.
 */
import type { KubeAccess } from "../adapters/kubernetes/client";
import type { BuiltinQueries } from "../adapters/promql";
import type { RouterPort } from "../engine/ports";
import type { CanaryTarget } from "../spec/canary";
import type { ValidationFailure } from "../spec/failures";
import type { AppMeshRouterInput } from "./appmesh/input";
import type { GatewayApiRouterInput } from "./gatewayapi/input";

/** The router part of the providers' inputs: which router, and what Pulumi declares for it at rest. */
export type RouterInput = AppMeshRouterInput | GatewayApiRouterInput;

export type RouterKind = RouterInput["kind"];

/** Where the router's objects live and how to reach them. */
export interface RouterContext {
    access: KubeAccess;
    target: CanaryTarget;
}

export interface Router<I extends RouterInput = RouterInput> {
    kind: I["kind"];
    /** The engine's port: read and set the weights of the target's route. */
    port(input: I, context: RouterContext): RouterPort;
    /** The built-in `request-success-rate` / `request-duration` queries of the router's metrics observer. */
    builtinQueries: BuiltinQueries;
    /** Problems with the input, by property path under `router`; values unknown during preview pass. */
    check(input: I, target: CanaryTarget): ValidationFailure[];
}
