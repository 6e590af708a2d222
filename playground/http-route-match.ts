/**
 * How a Gateway's data plane reads the HTTPRoutes attached to it, as Gateway API v1 specifies: hostnames,
 * path (Exact, element-wise PathPrefix, RegularExpression), method, header and query parameter matches with the
 * spec's precedence across routes and rules, weighted backendRefs, header modifiers and URL rewrites. Pure.
 */
import type { HTTPBackendRef, HTTPHeaderModifier, HTTPRouteMatch, HTTPRouteRule, HTTPRouteSpec } from "../analysis/routers/gatewayapi/routes";

/** An accepted route attached to the Gateway. */
export interface AttachedRoute {
    namespace: string;
    name: string;
    /** Creation time (ms): the older route wins a tie. */
    created: number;
    spec: HTTPRouteSpec;
}

export interface RouteRequest {
    /** Host without port, lower case. */
    host: string;
    method: string;
    path: string;
    query: URLSearchParams;
    /** Lower-cased header names, as Node delivers them. */
    headers: Record<string, string | string[] | undefined>;
}

export interface SelectedRule {
    route: AttachedRoute;
    rule: HTTPRouteRule;
    /** The match that took the request (the default `PathPrefix /` when the rule lists none). */
    match: HTTPRouteMatch;
}

const DEFAULT_MATCH: HTTPRouteMatch = { path: { type: "PathPrefix", value: "/" } };

/** A route hostname takes the host exactly, or as a wildcard `*.example.com` for any host under it. */
export function hostnameMatches(hostnames: string[] | undefined, host: string): boolean {
    if (!hostnames || hostnames.length === 0) {
        return true;
    }
    return hostnames.some((name) => (name.startsWith("*.") ? host.endsWith(name.slice(1)) && host.length > name.length - 1 : host === name.toLowerCase()));
}

/** `PathPrefix /foo` takes `/foo` and `/foo/bar`, not `/foobar`: prefixes compare by path element. */
export function pathPrefixMatches(prefix: string, path: string): boolean {
    const trimmed = prefix.length > 1 ? prefix.replace(/\/+$/, "") : prefix;
    return trimmed === "/" || path === trimmed || path.startsWith(`${trimmed}/`);
}

function headerValue(headers: RouteRequest["headers"], name: string): string | undefined {
    const value = headers[name.toLowerCase()];
    return Array.isArray(value) ? value.join(",") : value;
}

function valueMatches(type: string | undefined, expected: string, value: string | undefined): boolean {
    if (value === undefined) {
        return false;
    }
    return (type ?? "Exact") === "Exact" ? value === expected : new RegExp(`^(?:${expected})$`).test(value);
}

export function matchTakes(match: HTTPRouteMatch, request: RouteRequest): boolean {
    const path = match.path ?? DEFAULT_MATCH.path!;
    const value = path.value ?? "/";
    const pathOk = path.type === "Exact" ? request.path === value
        : path.type === "RegularExpression" ? new RegExp(`^(?:${value})$`).test(request.path)
            : pathPrefixMatches(value, request.path);
    return pathOk
        && (match.method === undefined || match.method === request.method)
        && (match.headers ?? []).every((h) => valueMatches(h.type, h.value, headerValue(request.headers, h.name)))
        && (match.queryParams ?? []).every((q) => valueMatches(q.type, q.value, request.query.get(q.name) ?? undefined));
}

/** Gateway API's precedence of matches: exact path, longest prefix, method, most headers, most query parameters. */
function precedence(match: HTTPRouteMatch): number[] {
    const path = match.path ?? DEFAULT_MATCH.path!;
    const kind = path.type === "Exact" ? 3 : path.type === "RegularExpression" ? 1 : 2;
    return [kind, kind === 2 ? (path.value ?? "/").length : 0, match.method ? 1 : 0, (match.headers ?? []).length, (match.queryParams ?? []).length];
}

function compare(a: number[], b: number[]): number {
    for (let i = 0; i < a.length; i++) {
        if (a[i] !== b[i]) {
            return b[i] - a[i];
        }
    }
    return 0;
}

/** The rule that takes the request: the best match by precedence, then the oldest route, then its name, then rule order. */
export function selectRule(routes: AttachedRoute[], request: RouteRequest): SelectedRule | undefined {
    const candidates: (SelectedRule & { rank: number[]; order: number })[] = [];
    const ordered = [...routes].sort((a, b) => a.created - b.created || `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
    ordered.forEach((route, routeIndex) => {
        if (!hostnameMatches(route.spec.hostnames, request.host)) {
            return;
        }
        route.spec.rules.forEach((rule, ruleIndex) => {
            for (const match of rule.matches && rule.matches.length > 0 ? rule.matches : [DEFAULT_MATCH]) {
                if (matchTakes(match, request)) {
                    candidates.push({ route, rule, match, rank: precedence(match), order: routeIndex * 1000 + ruleIndex });
                }
            }
        });
    });
    candidates.sort((a, b) => compare(a.rank, b.rank) || a.order - b.order);
    return candidates[0];
}

/** A backend chosen in proportion to the weights (unset counts 1); undefined when every weight is 0. */
export function pickBackend(backends: HTTPBackendRef[], random: number): HTTPBackendRef | undefined {
    const weight = (b: HTTPBackendRef) => b.weight ?? 1;
    const total = backends.reduce((sum, b) => sum + weight(b), 0);
    if (total <= 0) {
        return undefined;
    }
    let point = random * total;
    for (const backend of backends) {
        if (point < weight(backend)) {
            return backend;
        }
        point -= weight(backend);
    }
    return backends.filter((b) => weight(b) > 0).pop();
}

/** Headers after a header modifier: set replaces, add appends, remove deletes (names are case-insensitive). */
export function modifyHeaders(headers: Record<string, string | string[] | undefined>, modifier: HTTPHeaderModifier): Record<string, string | string[] | undefined> {
    const out = { ...headers };
    for (const { name, value } of modifier.set ?? []) {
        out[name.toLowerCase()] = value;
    }
    for (const { name, value } of modifier.add ?? []) {
        const current = out[name.toLowerCase()];
        out[name.toLowerCase()] = current === undefined ? value : `${Array.isArray(current) ? current.join(",") : current},${value}`;
    }
    for (const name of modifier.remove ?? []) {
        delete out[name.toLowerCase()];
    }
    return out;
}

/** The request as the rule's filters forward it: request headers modified, path and Host rewritten. */
export function forwardedRequest(selected: SelectedRule, request: RouteRequest): { path: string; host?: string; headers: RouteRequest["headers"] } {
    let headers = request.headers;
    let path = request.path;
    let host: string | undefined;
    for (const filter of selected.rule.filters ?? []) {
        if (filter.type === "RequestHeaderModifier") {
            headers = modifyHeaders(headers, filter.requestHeaderModifier);
        } else if (filter.type === "URLRewrite") {
            host = filter.urlRewrite.hostname ?? host;
            const rewrite = filter.urlRewrite.path;
            if (rewrite?.type === "ReplaceFullPath") {
                path = rewrite.replaceFullPath;
            } else if (rewrite?.type === "ReplacePrefixMatch") {
                const prefix = (selected.match.path?.value ?? "/").replace(/\/+$/, "");
                const rest = path.slice(prefix.length);
                path = `${rewrite.replacePrefixMatch.replace(/\/+$/, "")}${rest.startsWith("/") || rest === "" ? rest : `/${rest}`}` || "/";
            }
        }
    }
    return { path, host, headers };
}

/** The response headers after the rule's response header modifier. */
export function answeredHeaders(selected: SelectedRule, headers: Record<string, string | string[] | undefined>): Record<string, string | string[] | undefined> {
    const filter = (selected.rule.filters ?? []).find((f) => f.type === "ResponseHeaderModifier");
    return filter?.type === "ResponseHeaderModifier" ? modifyHeaders(headers, filter.responseHeaderModifier) : headers;
}
