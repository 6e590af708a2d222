/**
 * App Mesh v1beta2 VirtualRouter spec shapes and the two pure operations the analysis needs on them:
 * read the weights of the first route, and produce the same spec with other weights. Traffic moves only
 * through `routes[0].httpRoute.action.weightedTargets`, exactly as Flagger's SetRoutes does.
 */
import type { RouteWeights } from "../../engine/ports";
import type { HeaderMatch } from "../../spec/canary";
import type { RouterNodes } from "../../spec/names";

export interface DurationValue {
    unit: "ms" | "s";
    value: number;
}

export interface WeightedTarget {
    virtualNodeRef: { name: string; namespace?: string };
    weight: number;
}

export interface HttpRouteSpec {
    match: { prefix?: string; headers?: { name: string; match?: HeaderMatch }[] };
    action: { weightedTargets: WeightedTarget[] };
    timeout?: { perRequest?: DurationValue };
    retryPolicy?: { maxRetries: number; perRetryTimeout: DurationValue; httpRetryEvents?: string[] };
}

export interface RouteSpec {
    name: string;
    priority?: number;
    httpRoute: HttpRouteSpec;
}

export interface VirtualRouterSpec {
    listeners: { portMapping: { port: number; protocol: "http" | "http2" | "grpc" | "tcp" } }[];
    routes: RouteSpec[];
}

/** Weighted targets in Flagger's order: canary first, then primary. */
export function weightedTargets(nodes: RouterNodes, weights: RouteWeights): WeightedTarget[] {
    return [
        { virtualNodeRef: { name: nodes.canary }, weight: weights.canary },
        { virtualNodeRef: { name: nodes.primary }, weight: weights.primary },
    ];
}

/** The same router spec with `routes[0]` sending the given weights; every other field is kept. */
export function withWeights(spec: VirtualRouterSpec, nodes: RouterNodes, weights: RouteWeights): VirtualRouterSpec {
    if (weights.primary + weights.canary !== 100 || weights.primary < 0 || weights.canary < 0) {
        throw new Error(`route weights must be non-negative and sum to 100, got primary ${weights.primary} canary ${weights.canary}`);
    }
    if (spec.routes.length === 0) {
        throw new Error("VirtualRouter spec has no routes to weight");
    }
    const [first, ...rest] = spec.routes;
    const weighted: RouteSpec = {
        ...first,
        httpRoute: { ...first.httpRoute, action: { weightedTargets: weightedTargets(nodes, weights) } },
    };
    return { ...spec, routes: [weighted, ...rest] };
}

/** Flagger's GetRoutes: the weights of `routes[0]`, or an error naming what is missing. */
export function readWeights(spec: VirtualRouterSpec | undefined, routerName: string, nodes: RouterNodes): RouteWeights {
    const targets = spec?.routes?.[0]?.httpRoute?.action?.weightedTargets;
    if (!targets || targets.length !== 2) {
        throw new Error(`VirtualRouter routes ${routerName} not found`);
    }
    const weightOf = (node: string) => targets.find((t) => t.virtualNodeRef.name === node)?.weight ?? 0;
    const weights = { primary: weightOf(nodes.primary), canary: weightOf(nodes.canary) };
    if (weights.primary === 0 && weights.canary === 0) {
        throw new Error(`VirtualRouter ${routerName} does not contain routes for ${nodes.primary} and ${nodes.canary}`);
    }
    return weights;
}
