/**
 * HTTPRoute spec shapes (the part of Gateway API v1 the router writes) and the pure operations the analysis
 * needs on them: read the weights of the weighted rule, produce the same spec with other weights, and tell
 * whether every Gateway has accepted the route's current generation. Traffic moves only through the primary and
 * canary `backendRefs` of `rules[0]`, as Flagger's SetRoutes does.
 */
import type { RouteWeights } from "../../engine/ports";
import type { RouterNodes } from "../../spec/names";

export interface ParentReference {
    group?: string;
    kind?: string;
    namespace?: string;
    name: string;
    sectionName?: string;
    port?: number;
}

export type StringMatchType = "Exact" | "RegularExpression";

export interface HTTPHeaderMatch {
    type?: StringMatchType;
    name: string;
    value: string;
}

export interface HTTPPathMatch {
    type?: "Exact" | "PathPrefix" | "RegularExpression";
    value?: string;
}

export interface HTTPRouteMatch {
    path?: HTTPPathMatch;
    headers?: HTTPHeaderMatch[];
    queryParams?: HTTPHeaderMatch[];
    method?: string;
}

export interface HTTPURLRewriteFilter {
    type: "URLRewrite";
    urlRewrite: {
        hostname?: string;
        path?: { type: "ReplacePrefixMatch"; replacePrefixMatch: string } | { type: "ReplaceFullPath"; replaceFullPath: string };
    };
}

export interface HTTPHeader {
    name: string;
    value: string;
}

export interface HTTPHeaderModifier {
    add?: HTTPHeader[];
    set?: HTTPHeader[];
    remove?: string[];
}

export type HTTPHeaderModifierFilter =
    | { type: "RequestHeaderModifier"; requestHeaderModifier: HTTPHeaderModifier }
    | { type: "ResponseHeaderModifier"; responseHeaderModifier: HTTPHeaderModifier };

export type HTTPRouteFilter = HTTPURLRewriteFilter | HTTPHeaderModifierFilter;

export interface HTTPBackendRef {
    group: string;
    kind: "Service";
    name: string;
    port: number;
    weight: number;
}

export interface HTTPRouteRule {
    matches?: HTTPRouteMatch[];
    filters?: HTTPRouteFilter[];
    backendRefs: HTTPBackendRef[];
    timeouts?: { request?: string; backendRequest?: string };
}

export interface HTTPRouteSpec {
    parentRefs: ParentReference[];
    hostnames?: string[];
    rules: HTTPRouteRule[];
}

/** What the analysis reads of a live HTTPRoute. */
export interface LiveHTTPRoute {
    metadata?: { generation?: number; namespace?: string };
    spec?: HTTPRouteSpec;
    status?: { parents?: { parentRef?: ParentReference; conditions?: { type?: string; status?: string; reason?: string; message?: string; observedGeneration?: number }[] }[] };
}

/** A Service backend of the route: core group, kind Service, as Flagger writes them. */
export function serviceBackend(name: string, port: number, weight: number): HTTPBackendRef {
    return { group: "", kind: "Service", name, port, weight };
}

/** The same spec with the primary and canary backends of `rules[0]` at the given weights; every other field is kept. */
export function withWeights(spec: HTTPRouteSpec, nodes: RouterNodes, weights: RouteWeights): HTTPRouteSpec {
    if (weights.primary + weights.canary !== 100 || weights.primary < 0 || weights.canary < 0) {
        throw new Error(`route weights must be non-negative and sum to 100, got primary ${weights.primary} canary ${weights.canary}`);
    }
    const [first, ...rest] = spec.rules;
    if (!first || !hasBothBackends(first, nodes)) {
        throw new Error(`HTTPRoute spec has no rule with backends ${nodes.primary} and ${nodes.canary} to weight`);
    }
    const backendRefs = first.backendRefs.map((ref) => ({ ...ref, weight: ref.name === nodes.primary ? weights.primary : ref.name === nodes.canary ? weights.canary : ref.weight }));
    return { ...spec, rules: [{ ...first, backendRefs }, ...rest] };
}

/** Flagger's GetRoutes: the weights of the primary and canary backends of `rules[0]`, or an error naming what is missing. */
export function readWeights(spec: HTTPRouteSpec | undefined, routeName: string, nodes: RouterNodes): RouteWeights {
    const first = spec?.rules?.[0];
    if (!first || !hasBothBackends(first, nodes)) {
        throw new Error(`HTTPRoute ${routeName} does not contain a rule with backends ${nodes.primary} and ${nodes.canary}`);
    }
    // An unset weight is 1 in Gateway API.
    const weightOf = (name: string) => first.backendRefs.find((ref) => ref.name === name)?.weight ?? 1;
    return { primary: weightOf(nodes.primary), canary: weightOf(nodes.canary) };
}

function hasBothBackends(rule: HTTPRouteRule, nodes: RouterNodes): boolean {
    const names = (rule.backendRefs ?? []).map((ref) => ref.name);
    return names.length === 2 && names.includes(nodes.primary) && names.includes(nodes.canary);
}

/**
 * Flagger's readiness gate for a route: every Gateway the spec names reports `Accepted=True` for the route's
 * current generation. Until then a read of the weights is not to be trusted: the Gateway may still route by an
 * earlier spec. Undefined when accepted, else why not.
 */
export function notAcceptedReason(route: LiveHTTPRoute, routeName: string): string | undefined {
    const generation = route.metadata?.generation ?? 0;
    for (const parent of route.spec?.parentRefs ?? []) {
        const status = route.status?.parents?.find((p) => sameParent(p.parentRef, parent, route.metadata?.namespace ?? ""));
        const accepted = status?.conditions?.find((c) => c.type === "Accepted");
        const gateway = `${parent.namespace ? `${parent.namespace}/` : ""}${parent.name}`;
        if (!accepted) {
            return `HTTPRoute ${routeName} is not accepted yet by Gateway ${gateway}: no status from it`;
        }
        if (accepted.status !== "True") {
            return `HTTPRoute ${routeName} is not accepted by Gateway ${gateway}: ${accepted.reason ?? "no reason"}${accepted.message ? `: ${accepted.message}` : ""}`;
        }
        if ((accepted.observedGeneration ?? 0) < generation) {
            return `HTTPRoute ${routeName} is not accepted yet by Gateway ${gateway} at generation ${generation} (observed ${accepted.observedGeneration ?? 0})`;
        }
    }
    return undefined;
}

/** A status entry for a spec parentRef: same name, namespace (the route's when unset), section and port. */
function sameParent(status: ParentReference | undefined, spec: ParentReference, routeNamespace: string): boolean {
    return (
        status !== undefined &&
        status.name === spec.name &&
        (status.namespace ?? routeNamespace) === (spec.namespace ?? routeNamespace) &&
        (status.sectionName ?? "") === (spec.sectionName ?? "") &&
        (status.port ?? 0) === (spec.port ?? 0)
    );
}
