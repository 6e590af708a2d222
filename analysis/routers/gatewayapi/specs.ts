/**
 * The apex HTTPRoute of one Canary as Flagger's `GatewayAPIRouter` generates it, as a pure spec builder: parent
 * Gateways from `service.gatewayRefs`, hostnames from `service.hosts`, matches from `service.match` (`PathPrefix /`
 * when none), the request timeout from `service.timeout`, header modifiers from `service.headers`, a path and
 * Host rewrite from `service.rewrite`, and one rule to `<apex>-primary` / `<apex>-canary` at resting weights. With A/B testing (`iterations` and
 * `analysis.match`) the first rule takes the requests that also match `analysis.match` and a second rule sends
 * the rest to the primary only. The Pulumi component declares this spec and the analysis re-applies its rules
 * with other weights.
 */
import { RESTING_WEIGHTS } from "../../engine/weights";
import { strategyOf, type CanarySpec, type HeaderMatch, type HeaderOperations, type ServiceMatch } from "../../spec/canary";
import type { CanaryNames } from "../../spec/names";
import { serviceBackend, type HTTPHeaderMatch, type HTTPHeaderModifier, type HTTPRouteFilter, type HTTPRouteMatch, type HTTPRouteRule, type HTTPRouteSpec, type ParentReference } from "./routes";

export function buildHTTPRouteSpec(spec: CanarySpec, names: CanaryNames): HTTPRouteSpec {
    const service = spec.service;
    const gateways = service.gatewayRefs ?? [];
    if (gateways.length === 0) {
        throw new Error("service.gatewayRefs is required for the gatewayapi:v1 provider: the Gateways the route attaches to");
    }
    const serviceMatches = (service.match ?? []).length > 0 ? service.match!.map(toRouteMatch) : [{ path: { type: "PathPrefix", value: "/" } } as HTTPRouteMatch];
    const rule = (matches: HTTPRouteMatch[], backendRefs: HTTPRouteRule["backendRefs"]): HTTPRouteRule => {
        const filters = routeFilters(spec, matches);
        return {
            matches,
            ...(filters.length > 0 ? { filters } : {}),
            ...(service.timeout ? { timeouts: { request: service.timeout } } : {}),
            backendRefs,
        };
    };
    const weighted = [serviceBackend(names.nodes.primary, service.port, RESTING_WEIGHTS.primary), serviceBackend(names.nodes.canary, service.port, RESTING_WEIGHTS.canary)];
    const rules =
        strategyOf(spec.analysis) === "ab-testing"
            ? [rule(abMatches(spec, serviceMatches), weighted), rule(serviceMatches, [serviceBackend(names.nodes.primary, service.port, 100)])]
            : [rule(serviceMatches, weighted)];
    return {
        parentRefs: gateways.map(toParentReference),
        ...((service.hosts ?? []).length > 0 ? { hostnames: [...service.hosts!] } : {}),
        rules,
    };
}

function toParentReference(ref: NonNullable<CanarySpec["service"]["gatewayRefs"]>[number]): ParentReference {
    const parent: ParentReference = { name: ref.name };
    for (const key of ["group", "kind", "namespace", "sectionName", "port"] as const) {
        if (ref[key] !== undefined) {
            (parent as unknown as Record<string, unknown>)[key] = ref[key];
        }
    }
    return parent;
}

/** Flagger's mapping of an Istio-style match: uri exact/prefix/regex, method, headers and query parameters. */
function toRouteMatch(match: ServiceMatch): HTTPRouteMatch {
    const route: HTTPRouteMatch = {};
    const uri = match.uri;
    if (uri?.exact !== undefined) {
        route.path = { type: "Exact", value: uri.exact };
    } else if (uri?.regex !== undefined) {
        route.path = { type: "RegularExpression", value: uri.regex };
    } else {
        route.path = { type: "PathPrefix", value: uri?.prefix ?? "/" };
    }
    if (match.method?.exact) {
        route.method = match.method.exact;
    }
    const headers = toStringMatches(match.headers);
    if (headers.length > 0) {
        route.headers = headers;
    }
    const queryParams = toStringMatches(match.queryParams);
    if (queryParams.length > 0) {
        route.queryParams = queryParams;
    }
    return route;
}

/** Header (or query parameter) conditions; prefix and suffix become anchored regular expressions. */
export function toStringMatches(conditions: Record<string, HeaderMatch> | undefined): HTTPHeaderMatch[] {
    return Object.entries(conditions ?? {}).map(([name, condition]) => {
        if (condition.exact !== undefined) {
            return { type: "Exact", name, value: condition.exact };
        }
        if (condition.regex !== undefined) {
            return { type: "RegularExpression", name, value: condition.regex };
        }
        if (condition.prefix !== undefined) {
            return { type: "RegularExpression", name, value: `^${escapeRegex(condition.prefix)}.*` };
        }
        return { type: "RegularExpression", name, value: `.*${escapeRegex(condition.suffix ?? "")}$` };
    });
}

/** Flagger's A/B matches: each `analysis.match` entry's headers laid over each service match. */
function abMatches(spec: CanarySpec, serviceMatches: HTTPRouteMatch[]): HTTPRouteMatch[] {
    const matches: HTTPRouteMatch[] = [];
    for (const entry of spec.analysis?.match ?? []) {
        const headers = toStringMatches(entry.headers);
        for (const base of serviceMatches) {
            const kept = (base.headers ?? []).filter((h) => !headers.some((extra) => extra.name === h.name));
            matches.push({ ...base, headers: [...kept, ...headers] });
        }
    }
    return matches;
}

/** A rule's filters: header modifiers (request, then response), then the rewrite, as Flagger orders them. */
function routeFilters(spec: CanarySpec, matches: HTTPRouteMatch[]): HTTPRouteFilter[] {
    const filters: HTTPRouteFilter[] = [];
    const { headers, rewrite } = spec.service;
    if (headers?.request) {
        filters.push({ type: "RequestHeaderModifier", requestHeaderModifier: headerModifier(headers.request) });
    }
    if (headers?.response) {
        filters.push({ type: "ResponseHeaderModifier", responseHeaderModifier: headerModifier(headers.response) });
    }
    if (rewrite?.uri || rewrite?.authority) {
        filters.push({
            type: "URLRewrite",
            urlRewrite: {
                ...(rewrite.authority ? { hostname: rewrite.authority } : {}),
                ...(rewrite.uri ? { path: pathRewrite(rewrite.uri, matches) } : {}),
            },
        });
    }
    return filters;
}

function headerModifier(operations: HeaderOperations): HTTPHeaderModifier {
    const headers = (values: Record<string, string>) => Object.entries(values).map(([name, value]) => ({ name, value }));
    return {
        ...(operations.add ? { add: headers(operations.add) } : {}),
        ...(operations.set ? { set: headers(operations.set) } : {}),
        ...(operations.remove ? { remove: [...operations.remove] } : {}),
    };
}

/**
 * `service.rewrite.uri`: replaces the matched prefix of a `PathPrefix` match, or the whole path of exact and
 * regular-expression matches. Gateway API takes a prefix rewrite only on a rule with exactly one match, which
 * validation makes sure of.
 */
function pathRewrite(uri: string, matches: HTTPRouteMatch[]): NonNullable<HTTPRouteFilter & { type: "URLRewrite" }>["urlRewrite"]["path"] {
    const prefixMatch = matches.some((match) => (match.path?.type ?? "PathPrefix") === "PathPrefix");
    if (!prefixMatch) {
        return { type: "ReplaceFullPath", replaceFullPath: uri };
    }
    if (matches.length !== 1) {
        throw new Error(
            `service.rewrite.uri rewrites a path prefix, which Gateway API allows only on a route rule with exactly one match; got ${matches.length} ` +
                "(service.match entries, times analysis.match entries for A/B testing)",
        );
    }
    return { type: "ReplacePrefixMatch", replacePrefixMatch: uri };
}

function escapeRegex(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
