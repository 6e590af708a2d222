/**
 * The router for a Canary's `provider` (Flagger's `pkg/router/factory.go`): the components choose the inputs by
 * it, the providers choose the implementation by the input's `kind`.
 */
import { APPMESH_PROVIDER } from "./appmesh/api";
import { appMeshRouter } from "./appmesh/router";
import { GATEWAYAPI_PROVIDER } from "./gatewayapi/api";
import { gatewayApiRouter } from "./gatewayapi/router";
import type { Router, RouterInput, RouterKind } from "./router";
import { DEFAULT_PROVIDER, type CanarySpec } from "../spec/canary";

/** Every router, by kind. A plain object: the providers' serialized code captures it. */
const ROUTERS: { [K in RouterKind]: Router<Extract<RouterInput, { kind: K }>> } = {
    appmesh: appMeshRouter,
    gatewayapi: gatewayApiRouter,
};

/** Canary `provider` values, by the router that serves them. */
export const ROUTER_PROVIDERS: Record<RouterKind, string> = {
    appmesh: APPMESH_PROVIDER,
    gatewayapi: GATEWAYAPI_PROVIDER,
};

export const ROUTER_KINDS = Object.keys(ROUTERS) as RouterKind[];

/** The router of a `kind`, or undefined for one this program does not have. */
export function routerFor(kind: unknown): Router | undefined {
    return typeof kind === "string" && Object.prototype.hasOwnProperty.call(ROUTERS, kind) ? (ROUTERS[kind as RouterKind] as Router) : undefined;
}

/** The router of a validated spec: its `provider`'s, App Mesh's when it names none. */
export function routerKindOfSpec(spec: Pick<CanarySpec, "provider">): RouterKind {
    return routerKindOf(spec.provider ?? DEFAULT_PROVIDER)!;
}

/** The router kind serving a Canary `provider`, e.g. `appmesh:v1beta2` → `appmesh`. */
export function routerKindOf(provider: string): RouterKind | undefined {
    return ROUTER_KINDS.find((kind) => ROUTER_PROVIDERS[kind] === provider);
}
