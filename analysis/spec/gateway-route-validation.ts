/**
 * Checks of the service fields the Gateway API router turns into an HTTPRoute (limits and formats of the
 * Gateway API v1.5.1 CRD, so the apply never fails on them), and of VPC Lattice's narrower limits when the
 * route's Gateway is Lattice's. Pure.
 */
import { LATTICE_MAX_HEADER_MATCHES } from "../routers/gatewayapi/api";
import { DNS_SUBDOMAIN, FailureCollector, isObject, show, type Json } from "./failures";
import { checkStringConditions, hasInexactCondition } from "./header-match";

/** Gateway API's duration format (GEP-2257). */
const GATEWAY_DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
/** A route hostname: a DNS name, optionally a wildcard's `*.` prefix. */
const HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Characters an Exact or PathPrefix path may hold (CRD rule). */
const PATH_CHARACTERS = /^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})+$/;
export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"] as const;
const GATEWAY_REF_FIELDS = ["name", "namespace", "group", "kind", "sectionName", "port"];
const MATCH_FIELDS = ["uri", "method", "headers", "queryParams"];
const URI_FIELDS = ["exact", "prefix", "regex"];
const REWRITE_FIELDS = ["uri", "authority"];
const HEADER_MODIFIER_FIELDS = ["request", "response"];
const HEADER_OPERATIONS = ["add", "set", "remove"];
/** CRD limits: parentRefs, hostnames, matches per rule, header operations per filter. */
const MAX_PARENT_REFS = 32;
const MAX_HOSTNAMES = 16;
const MAX_MATCHES_PER_RULE = 64;
const MAX_HEADER_OPERATIONS = 16;

export function checkGatewayRefs(c: FailureCollector, path: string, refs: unknown): void {
    if (refs === undefined || (Array.isArray(refs) && refs.length === 0)) {
        c.fail(path, "is required for the gatewayapi:v1 provider: list the Gateways the route attaches to, e.g. [{name: my-gateway, namespace: gateways}]");
        return;
    }
    if (!c.array(path, refs)) {
        return;
    }
    if (refs.length > MAX_PARENT_REFS) {
        c.fail(path, `lists ${refs.length} Gateways; an HTTPRoute takes at most ${MAX_PARENT_REFS}`);
    }
    refs.forEach((ref, i) => {
        const at = `${path}[${i}]`;
        if (!c.object(at, ref)) {
            return;
        }
        c.keys(at, ref, GATEWAY_REF_FIELDS);
        if (!(typeof ref.name === "string" && DNS_SUBDOMAIN.test(ref.name) && ref.name.length <= 253)) {
            c.fail(`${at}.name`, `must be the Gateway's name (a DNS subdomain: lowercase letters, digits, '-' and '.'), got ${show(ref.name)}`);
        }
        if (ref.namespace !== undefined) {
            c.dnsLabel(`${at}.namespace`, ref.namespace);
        }
        for (const key of ["group", "kind", "sectionName"] as const) {
            if (ref[key] !== undefined) {
                c.string(`${at}.${key}`, ref[key]);
            }
        }
        if (ref.port !== undefined) {
            c.integer(`${at}.port`, ref.port, 1, 65535);
        }
    });
}

/** `service.match` as the Gateway API router maps it: each entry a route match. */
export function checkRouteMatches(c: FailureCollector, path: string, match: unknown, maxHeaders: number): void {
    if (!c.array(path, match)) {
        return;
    }
    if (match.length > MAX_MATCHES_PER_RULE) {
        c.fail(path, `has ${match.length} entries; an HTTPRoute rule takes at most ${MAX_MATCHES_PER_RULE} matches`);
    }
    match.forEach((entry, i) => {
        const at = `${path}[${i}]`;
        if (!c.object(at, entry)) {
            return;
        }
        c.keys(at, entry, MATCH_FIELDS);
        if (entry.uri !== undefined) {
            checkUri(c, `${at}.uri`, entry.uri);
        }
        if (entry.method !== undefined && c.object(`${at}.method`, entry.method)) {
            c.keys(`${at}.method`, entry.method, ["exact"]);
            c.oneOf(`${at}.method.exact`, entry.method.exact, HTTP_METHODS);
        }
        if (entry.headers !== undefined && checkStringConditions(c, `${at}.headers`, entry.headers, "header").length > maxHeaders) {
            c.fail(`${at}.headers`, `matches ${Object.keys(entry.headers as Json).length} headers; a route match takes at most ${maxHeaders}`);
        }
        if (entry.queryParams !== undefined && checkStringConditions(c, `${at}.queryParams`, entry.queryParams, "query parameter").length > maxHeaders) {
            c.fail(`${at}.queryParams`, `matches ${Object.keys(entry.queryParams as Json).length} query parameters; a route match takes at most ${maxHeaders}`);
        }
    });
}

function checkUri(c: FailureCollector, path: string, uri: unknown): void {
    if (!c.object(path, uri)) {
        return;
    }
    c.keys(path, uri, URI_FIELDS);
    const kind = c.exactlyOne(path, uri, URI_FIELDS);
    if (kind === undefined) {
        return;
    }
    const value = uri[kind];
    if (kind === "regex") {
        c.string(`${path}.regex`, value);
    } else if (!(typeof value === "string" && value.startsWith("/") && PATH_CHARACTERS.test(value) && !value.includes("//"))) {
        c.fail(`${path}.${kind}`, `must be an absolute path starting with "/" (no "//", URL characters only), got ${show(value)}`);
    }
}

/** `service.headers`: request and response header modifiers, each of add and set (name → value) and remove (names). */
export function checkHeaderModifiers(c: FailureCollector, path: string, headers: unknown): void {
    if (!c.object(path, headers)) {
        return;
    }
    c.keys(path, headers, HEADER_MODIFIER_FIELDS);
    for (const side of HEADER_MODIFIER_FIELDS) {
        const modifier = headers[side];
        const at = `${path}.${side}`;
        if (modifier === undefined || !c.object(at, modifier)) {
            continue;
        }
        c.keys(at, modifier, HEADER_OPERATIONS);
        for (const operation of ["add", "set"] as const) {
            const values = modifier[operation];
            if (values !== undefined && c.stringMap(`${at}.${operation}`, values) && Object.keys(values).length > MAX_HEADER_OPERATIONS) {
                c.fail(`${at}.${operation}`, `sets ${Object.keys(values).length} headers; a header modifier takes at most ${MAX_HEADER_OPERATIONS}`);
            }
        }
        if (modifier.remove !== undefined && c.stringList(`${at}.remove`, modifier.remove) && modifier.remove.length > MAX_HEADER_OPERATIONS) {
            c.fail(`${at}.remove`, `removes ${modifier.remove.length} headers; a header modifier takes at most ${MAX_HEADER_OPERATIONS}`);
        }
    }
}

/**
 * `service.rewrite`: `uri` replaces the matched prefix of a PathPrefix match (Gateway API allows that only on a
 * rule with exactly one match) or the whole path of an Exact or regular-expression one; `authority` the Host.
 */
export function checkRewrite(c: FailureCollector, path: string, rewrite: unknown, spec: Json): void {
    if (!c.object(path, rewrite)) {
        return;
    }
    c.keys(path, rewrite, REWRITE_FIELDS);
    if (rewrite.authority !== undefined && !(typeof rewrite.authority === "string" && HOSTNAME.test(rewrite.authority) && !rewrite.authority.startsWith("*"))) {
        c.fail(`${path}.authority`, `must be a hostname, got ${show(rewrite.authority)}`);
    }
    if (rewrite.uri === undefined) {
        if (rewrite.authority === undefined) {
            c.fail(path, "must set uri, authority or both");
        }
        return;
    }
    if (!(typeof rewrite.uri === "string" && rewrite.uri.startsWith("/"))) {
        c.fail(`${path}.uri`, `must be a path starting with "/", got ${show(rewrite.uri)}`);
        return;
    }
    const service = isObject(spec.service) ? spec.service : {};
    const serviceMatches = Array.isArray(service.match) && service.match.length > 0 ? service.match : [{}];
    const prefixMatch = serviceMatches.some((m) => !isObject(m) || !isObject(m.uri) || (m.uri.exact === undefined && m.uri.regex === undefined));
    const perRule = serviceMatches.length * Math.max(abMatchEntries(spec).length, 1);
    if (prefixMatch && perRule !== 1) {
        c.fail(`${path}.uri`, `rewrites a path prefix, which Gateway API allows only on a route rule with exactly one match; this spec gives ${perRule} ` +
            "(service.match entries, times analysis.match entries for A/B testing): match exact paths or regular expressions, or give one match");
    }
}

/** The `analysis.match` entries the route's A/B rule is built from: none unless iterations select A/B testing. */
function abMatchEntries(spec: Json): unknown[] {
    const analysis = isObject(spec.analysis) ? spec.analysis : {};
    return Array.isArray(analysis.match) && typeof analysis.iterations === "number" && analysis.iterations > 0 ? analysis.match : [];
}

export function checkHostnames(c: FailureCollector, path: string, hosts: unknown): void {
    if (!c.array(path, hosts)) {
        return;
    }
    if (hosts.length > MAX_HOSTNAMES) {
        c.fail(path, `lists ${hosts.length} hostnames; an HTTPRoute takes at most ${MAX_HOSTNAMES}`);
    }
    hosts.forEach((host, i) => {
        if (!(typeof host === "string" && HOSTNAME.test(host) && host.length <= 253)) {
            c.fail(`${path}[${i}]`, `must be a hostname such as app.example.com or *.example.com (lowercase, no port or IP), got ${show(host)}`);
        }
    });
}

/** `service.timeout`, which becomes the rule's request timeout: Gateway API durations have whole numbers only. */
export function checkRouteTimeout(c: FailureCollector, path: string, timeout: unknown): void {
    if (c.duration(path, timeout, 1) && !GATEWAY_DURATION.test(timeout)) {
        c.fail(path, `must be a Gateway API duration (whole numbers of h, m, s or ms, e.g. 1500ms or 1m30s), got ${show(timeout)}`);
    }
}

/**
 * VPC Lattice's limits on the route this spec generates, named by the spec field that causes each: one match
 * per rule, exact header matches only (at most 5), no query parameters, no regular-expression paths.
 */
export function checkLatticeLimits(c: FailureCollector, path: string, spec: Json): void {
    const why = "(the route's Gateway is VPC Lattice's)";
    const service = isObject(spec.service) ? spec.service : {};
    const serviceMatches = Array.isArray(service.match) ? service.match.filter(isObject) : [];
    const abMatches = abMatchEntries(spec).filter(isObject);
    if (serviceMatches.length > 1) {
        c.fail(`${path}.service.match`, `has ${serviceMatches.length} entries; VPC Lattice takes one match per route rule ${why}`);
    }
    if (abMatches.length > 1) {
        c.fail(`${path}.analysis.match`, `has ${abMatches.length} entries; VPC Lattice takes one match per route rule, so A/B testing takes one entry ${why}`);
    }
    serviceMatches.forEach((match, i) => {
        const at = `${path}.service.match[${i}]`;
        if (isObject(match.uri) && match.uri.regex !== undefined) {
            c.fail(`${at}.uri.regex`, `VPC Lattice matches paths by exact or prefix only ${why}`);
        }
        if (match.queryParams !== undefined) {
            c.fail(`${at}.queryParams`, `VPC Lattice does not match query parameters ${why}`);
        }
        if (hasInexactCondition(match.headers)) {
            c.fail(`${at}.headers`, `VPC Lattice matches headers by exact value only ${why}`);
        }
    });
    abMatches.forEach((match, i) => {
        if (hasInexactCondition(match.headers)) {
            c.fail(`${path}.analysis.match[${i}].headers`, `VPC Lattice matches headers by exact value only ${why}`);
        }
    });
    const headerNames = (match: Json | undefined) => (isObject(match?.headers) ? Object.keys(match.headers).map((name) => name.toLowerCase()) : []);
    for (const base of serviceMatches.length > 0 ? serviceMatches : [undefined]) {
        for (const extra of abMatches.length > 0 ? abMatches : [undefined]) {
            const count = new Set([...headerNames(base), ...headerNames(extra)]).size;
            if (count > LATTICE_MAX_HEADER_MATCHES) {
                c.fail(`${path}.${abMatches.length > 0 ? "analysis" : "service"}.match`,
                    `yields a route match of ${count} headers; VPC Lattice takes at most ${LATTICE_MAX_HEADER_MATCHES} ${why}`);
                return;
            }
        }
    }
}
