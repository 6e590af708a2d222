/** The playground Gateway's reading of HTTPRoutes, against Gateway API v1's matching and precedence rules. */
import * as assert from "node:assert/strict";
import type { HTTPRouteSpec } from "../../analysis/routers/gatewayapi/routes";
import {
    answeredHeaders, forwardedRequest, hostnameMatches, pathPrefixMatches, pickBackend, selectRule, type AttachedRoute, type RouteRequest,
} from "../../playground/http-route-match";

const backend = (name: string, weight: number) => ({ group: "", kind: "Service" as const, name, port: 9898, weight });

function request(path: string, extra: Partial<RouteRequest> = {}): RouteRequest {
    const url = new URL(path, "http://app.example.com");
    return { host: "app.example.com", method: "GET", path: url.pathname, query: url.searchParams, headers: {}, ...extra };
}

function route(name: string, spec: Omit<HTTPRouteSpec, "parentRefs">, created = 0): AttachedRoute {
    return { namespace: "test", name, created, spec: { parentRefs: [{ name: "gw" }], ...spec } };
}

describe("playground Gateway: HTTPRoute matching", () => {
    it("matches path prefixes by element, and hostnames exactly or by wildcard", () => {
        assert.ok(pathPrefixMatches("/api", "/api"));
        assert.ok(pathPrefixMatches("/api/", "/api/v1"));
        assert.ok(!pathPrefixMatches("/api", "/apis"));
        assert.ok(pathPrefixMatches("/", "/anything"));
        assert.ok(hostnameMatches(undefined, "x.test"));
        assert.ok(hostnameMatches(["*.example.com"], "a.b.example.com"));
        assert.ok(!hostnameMatches(["*.example.com"], "example.com"));
        assert.ok(!hostnameMatches(["app.example.com"], "api.example.com"));
    });

    it("takes the best match across routes: exact path, then the longest prefix, then method, headers and query parameters", () => {
        const routes = [
            route("catch-all", { rules: [{ backendRefs: [backend("all", 1)] }] }),
            route("api", {
                rules: [
                    { matches: [{ path: { type: "PathPrefix", value: "/api" } }], backendRefs: [backend("api", 1)] },
                    { matches: [{ path: { type: "PathPrefix", value: "/api" }, headers: [{ name: "X-Canary", value: "insider" }] }], backendRefs: [backend("api-canary", 1)] },
                    { matches: [{ path: { type: "Exact", value: "/api/health" } }], backendRefs: [backend("health", 1)] },
                    { matches: [{ path: { type: "PathPrefix", value: "/api" }, method: "POST" }], backendRefs: [backend("api-post", 1)] },
                    { matches: [{ path: { type: "PathPrefix", value: "/api" }, queryParams: [{ type: "RegularExpression", name: "v", value: "2|3" }] }], backendRefs: [backend("api-v2", 1)] },
                ],
            }),
        ];
        const target = (req: RouteRequest) => selectRule(routes, req)?.rule.backendRefs[0].name;
        assert.equal(target(request("/")), "all");
        assert.equal(target(request("/api/items")), "api");
        assert.equal(target(request("/api/health")), "health");
        assert.equal(target(request("/api/items", { method: "POST" })), "api-post");
        assert.equal(target(request("/api/items", { headers: { "x-canary": "insider" } })), "api-canary");
        assert.equal(target(request("/api/items?v=2")), "api-v2");
        assert.equal(target(request("/api/items?v=4")), "api");
    });

    it("breaks ties by the older route, then by rule order", () => {
        const rule = (name: string) => ({ matches: [{ path: { type: "PathPrefix" as const, value: "/" } }], backendRefs: [backend(name, 1)] });
        const routes = [route("newer", { rules: [rule("newer")] }, 2000), route("older", { rules: [rule("older-first"), rule("older-second")] }, 1000)];
        assert.equal(selectRule(routes, request("/x"))?.rule.backendRefs[0].name, "older-first");
    });

    it("ignores a route whose hostnames do not take the host", () => {
        const routes = [route("other", { hostnames: ["other.example.com"], rules: [{ backendRefs: [backend("other", 1)] }] })];
        assert.equal(selectRule(routes, request("/")), undefined);
    });

    it("picks backends in proportion to their weights, none when all are 0", () => {
        const refs = [backend("primary", 90), backend("canary", 10)];
        assert.equal(pickBackend(refs, 0.5)?.name, "primary");
        assert.equal(pickBackend(refs, 0.95)?.name, "canary");
        assert.equal(pickBackend([backend("primary", 0), backend("canary", 0)], 0.5), undefined);
    });

    it("applies header modifiers and rewrites the matched prefix, the whole path or the Host", () => {
        const [selected] = [selectRule([route("r", {
            rules: [{
                matches: [{ path: { type: "PathPrefix", value: "/old" } }],
                filters: [
                    { type: "RequestHeaderModifier", requestHeaderModifier: { set: [{ name: "X-Env", value: "prod" }], add: [{ name: "X-Trace", value: "gw" }], remove: ["x-debug"] } },
                    { type: "ResponseHeaderModifier", responseHeaderModifier: { set: [{ name: "Cache-Control", value: "no-store" }] } },
                    { type: "URLRewrite", urlRewrite: { hostname: "internal", path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/new" } } },
                ],
                backendRefs: [backend("app", 1)],
            }],
        })], request("/old/page", { headers: { "x-debug": "1", "x-trace": "client" } }))!];
        const forwarded = forwardedRequest(selected, request("/old/page", { headers: { "x-debug": "1", "x-trace": "client" } }));
        assert.deepEqual(forwarded, { path: "/new/page", host: "internal", headers: { "x-env": "prod", "x-trace": "client,gw" } });
        assert.deepEqual(answeredHeaders(selected, { "content-type": "text/plain" }), { "content-type": "text/plain", "cache-control": "no-store" });
        const full = selectRule([route("f", { rules: [{ matches: [{ path: { type: "Exact", value: "/a" } }], filters: [{ type: "URLRewrite", urlRewrite: { path: { type: "ReplaceFullPath", replaceFullPath: "/b" } } }], backendRefs: [backend("app", 1)] }] })], request("/a"))!;
        assert.equal(forwardedRequest(full, request("/a")).path, "/b");
    });
});
