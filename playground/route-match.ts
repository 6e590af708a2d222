/**
 * How the mesh router reads a VirtualRouter spec, the way Envoy runs the routes App Mesh generates from it:
 * route order, prefix and header matches, weighted targets, retry events and timeouts. Pure functions.
 */
import type { HeaderMatch } from "../analysis/spec/canary";
import type { DurationValue, RouteSpec, VirtualRouterSpec, WeightedTarget } from "../analysis/routers/appmesh/routes";

/** App Mesh's route timeout when the spec sets none (Envoy's default route timeout). */
export const DEFAULT_PER_REQUEST_TIMEOUT_MS = 15_000;

export interface RequestFacts {
    path: string;
    /** Lower-cased header names, as Node delivers them. */
    headers: Record<string, string | string[] | undefined>;
}

export function durationMs(value: DurationValue): number {
    return value.unit === "s" ? value.value * 1000 : value.value;
}

/** Routes in evaluation order: by priority (0 first, unset last), then longer prefixes first. */
export function orderRoutes(routes: RouteSpec[]): RouteSpec[] {
    const priority = (r: RouteSpec) => r.priority ?? Number.MAX_SAFE_INTEGER;
    const prefixLength = (r: RouteSpec) => r.httpRoute.match.prefix?.length ?? 0;
    return [...routes].sort((a, b) => priority(a) - priority(b) || prefixLength(b) - prefixLength(a));
}

function headerValue(headers: RequestFacts["headers"], name: string): string | undefined {
    const value = headers[name.toLowerCase()];
    return Array.isArray(value) ? value.join(",") : value;
}

/** One header condition; a header match without a method only requires the header to be present. */
export function headerMatches(value: string | undefined, match: HeaderMatch | undefined): boolean {
    if (value === undefined) {
        return false;
    }
    if (!match) {
        return true;
    }
    if (match.exact !== undefined && value !== match.exact) {
        return false;
    }
    if (match.prefix !== undefined && !value.startsWith(match.prefix)) {
        return false;
    }
    if (match.suffix !== undefined && !value.endsWith(match.suffix)) {
        return false;
    }
    // Envoy's safe_regex matches the whole value.
    if (match.regex !== undefined && !new RegExp(`^(?:${match.regex})$`).test(value)) {
        return false;
    }
    return true;
}

export function routeMatches(route: RouteSpec, request: RequestFacts): boolean {
    const { prefix, headers } = route.httpRoute.match;
    if (prefix !== undefined && !request.path.startsWith(prefix)) {
        return false;
    }
    return (headers ?? []).every((h) => headerMatches(headerValue(request.headers, h.name), h.match));
}

/** The first route of the router that takes the request, or undefined (Envoy answers 404). */
export function selectRoute(spec: VirtualRouterSpec, request: RequestFacts): RouteSpec | undefined {
    return orderRoutes(spec.routes).find((route) => routeMatches(route, request));
}

/** A target chosen in proportion to the weights; `random` is in [0, 1). Undefined when all weights are 0. */
export function pickWeightedTarget(targets: WeightedTarget[], random: number): WeightedTarget | undefined {
    const total = targets.reduce((sum, t) => sum + t.weight, 0);
    if (total <= 0) {
        return undefined;
    }
    let point = random * total;
    for (const target of targets) {
        if (point < target.weight) {
            return target;
        }
        point -= target.weight;
    }
    return targets.filter((t) => t.weight > 0).pop();
}

/** What an attempt ended with: an HTTP status, a per-try timeout, or a failed connection. */
export type AttemptResult = { kind: "status"; status: number } | { kind: "timeout" } | { kind: "reset" };

/** Whether App Mesh's `httpRetryEvents` retry this attempt result (Envoy's retry_on mapping). */
export function isRetriable(result: AttemptResult, events: string[]): boolean {
    const on = new Set(events);
    if (result.kind === "timeout") {
        return on.has("server-error") || on.has("gateway-error");
    }
    if (result.kind === "reset") {
        return on.has("server-error") || on.has("gateway-error") || on.has("stream-error");
    }
    const status = result.status;
    if (status >= 500 && on.has("server-error")) {
        return true;
    }
    if ((status === 502 || status === 503 || status === 504) && on.has("gateway-error")) {
        return true;
    }
    return status === 409 && on.has("client-error");
}
