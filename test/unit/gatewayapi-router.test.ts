import * as assert from "node:assert/strict";
import { builtinQuery, type TemplateModel } from "../../analysis/adapters/promql";
import { gatewayApiRouterInput } from "../../analysis/routers/gatewayapi/input";
import { latticeProblems } from "../../analysis/routers/gatewayapi/lattice";
import { HTTP_QUERIES } from "../../analysis/routers/gatewayapi/queries";
import { gatewayApiRouter } from "../../analysis/routers/gatewayapi/router";
import { notAcceptedReason, readWeights, withWeights, type LiveHTTPRoute } from "../../analysis/routers/gatewayapi/routes";
import { buildHTTPRouteSpec } from "../../analysis/routers/gatewayapi/specs";
import { routerFor, routerKindOf } from "../../analysis/routers/factory";
import type { CanarySpec } from "../../analysis/spec/canary";
import { canaryNames } from "../../analysis/spec/names";

const NODES = { primary: "podinfo-primary", canary: "podinfo-canary" };
const TARGET = { name: "podinfo", namespace: "test", service: "podinfo" };

function tutorial(extra: Partial<CanarySpec["service"]> = {}, analysis: CanarySpec["analysis"] = { interval: "1m", threshold: 5, maxWeight: 50, stepWeight: 5 }): CanarySpec {
    return {
        provider: "gatewayapi:v1",
        service: { port: 9898, timeout: "15s", gatewayRefs: [{ name: "public", namespace: "gateway" }], ...extra },
        analysis,
    };
}

const route = (spec: CanarySpec) => buildHTTPRouteSpec(spec, canaryNames("podinfo", spec));

describe("Gateway API router: the apex HTTPRoute", () => {
    it("is selected by Flagger's provider name", () => {
        assert.equal(routerKindOf("gatewayapi:v1"), "gatewayapi");
        assert.equal(routerFor("gatewayapi"), gatewayApiRouter);
    });

    it("attaches to the Gateways and sends everything to the primary at rest, as Flagger writes it", () => {
        assert.deepEqual(route(tutorial()), {
            parentRefs: [{ name: "public", namespace: "gateway" }],
            rules: [
                {
                    matches: [{ path: { type: "PathPrefix", value: "/" } }],
                    timeouts: { request: "15s" },
                    backendRefs: [
                        { group: "", kind: "Service", name: "podinfo-primary", port: 9898, weight: 100 },
                        { group: "", kind: "Service", name: "podinfo-canary", port: 9898, weight: 0 },
                    ],
                },
            ],
        });
    });

    it("maps hosts, Istio-style matches (uri, method, headers, query parameters) and a prefix rewrite", () => {
        const spec = tutorial({
            hosts: ["app.example.com"],
            gatewayRefs: [{ name: "public", namespace: "gateway", sectionName: "https", port: 443 }],
            match: [
                { uri: { prefix: "/api" }, method: { exact: "GET" }, headers: { "x-tier": { exact: "gold" }, "user-agent": { regex: ".*Firefox.*" } } },
                { uri: { exact: "/healthz" }, queryParams: { debug: { prefix: "tr" } } },
                { uri: { regex: "/v[0-9]+/.*" } },
            ],
        });
        const built = route(spec);
        assert.deepEqual(built.parentRefs, [{ name: "public", namespace: "gateway", sectionName: "https", port: 443 }]);
        assert.deepEqual(built.hostnames, ["app.example.com"]);
        assert.deepEqual(built.rules[0].matches, [
            {
                path: { type: "PathPrefix", value: "/api" },
                method: "GET",
                headers: [
                    { type: "Exact", name: "x-tier", value: "gold" },
                    { type: "RegularExpression", name: "user-agent", value: ".*Firefox.*" },
                ],
            },
            { path: { type: "Exact", value: "/healthz" }, queryParams: [{ type: "RegularExpression", name: "debug", value: "^tr.*" }] },
            { path: { type: "RegularExpression", value: "/v[0-9]+/.*" } },
        ]);
        const prefixOnly = route(tutorial({ match: [{ uri: { prefix: "/api" } }], rewrite: { uri: "/v2" } }));
        assert.deepEqual(prefixOnly.rules[0].filters, [{ type: "URLRewrite", urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/v2" } } }]);
        const exact = route(tutorial({ match: [{ uri: { exact: "/old" } }], rewrite: { uri: "/new" } }));
        assert.deepEqual(exact.rules[0].filters, [{ type: "URLRewrite", urlRewrite: { path: { type: "ReplaceFullPath", replaceFullPath: "/new" } } }]);
        // Gateway API takes a prefix rewrite only on a rule with one match (the CRD's own rule); whole-path rewrites of several exact matches are fine.
        assert.throws(() => route({ ...spec, service: { ...spec.service, rewrite: { uri: "/" } } }), /rewrites a path prefix, which Gateway API allows only on a route rule with exactly one match; got 3/);
        const exacts = route(tutorial({ match: [{ uri: { exact: "/a" } }, { uri: { regex: "/b.*" } }], rewrite: { uri: "/c", authority: "internal.example.com" } }));
        assert.deepEqual(exacts.rules[0].filters, [{ type: "URLRewrite", urlRewrite: { hostname: "internal.example.com", path: { type: "ReplaceFullPath", replaceFullPath: "/c" } } }]);
    });

    it("maps service.headers to request and response header modifiers ahead of the rewrite, on every rule", () => {
        const built = route(tutorial(
            {
                headers: { request: { add: { "x-from": "gateway" }, remove: ["x-debug"] }, response: { set: { "cache-control": "no-store" } } },
                rewrite: { authority: "podinfo.internal" },
            },
            { interval: "1m", threshold: 5, iterations: 10, match: [{ headers: { "x-canary": { exact: "insider" } } }] },
        ));
        const filters = [
            { type: "RequestHeaderModifier", requestHeaderModifier: { add: [{ name: "x-from", value: "gateway" }], remove: ["x-debug"] } },
            { type: "ResponseHeaderModifier", responseHeaderModifier: { set: [{ name: "cache-control", value: "no-store" }] } },
            { type: "URLRewrite", urlRewrite: { hostname: "podinfo.internal" } },
        ];
        assert.equal(built.rules.length, 2);
        assert.deepEqual(built.rules[0].filters, filters);
        assert.deepEqual(built.rules[1].filters, filters);
    });

    it("A/B testing: the analysis headers laid over each service match go to the weighted rule, the rest to the primary", () => {
        const spec = tutorial(
            { match: [{ uri: { prefix: "/" }, headers: { "x-canary": { exact: "never" } } }] },
            { interval: "1m", threshold: 5, iterations: 10, match: [{ headers: { "x-canary": { exact: "insider" } } }, { headers: { cookie: { regex: "^(.*?;)?(canary=always)(;.*)?$" } } }] },
        );
        const built = route(spec);
        assert.equal(built.rules.length, 2);
        assert.deepEqual(built.rules[0].matches, [
            { path: { type: "PathPrefix", value: "/" }, headers: [{ type: "Exact", name: "x-canary", value: "insider" }] },
            { path: { type: "PathPrefix", value: "/" }, headers: [{ type: "Exact", name: "x-canary", value: "never" }, { type: "RegularExpression", name: "cookie", value: "^(.*?;)?(canary=always)(;.*)?$" }] },
        ]);
        assert.deepEqual(readWeights(built, "test/podinfo", NODES), { primary: 100, canary: 0 });
        assert.deepEqual(built.rules[1], {
            matches: [{ path: { type: "PathPrefix", value: "/" }, headers: [{ type: "Exact", name: "x-canary", value: "never" }] }],
            timeouts: { request: "15s" },
            backendRefs: [{ group: "", kind: "Service", name: "podinfo-primary", port: 9898, weight: 100 }],
        });
    });

    it("needs at least one Gateway", () => {
        assert.throws(() => route(tutorial({ gatewayRefs: [] })), /service\.gatewayRefs is required for the gatewayapi:v1 provider/);
    });
});

describe("Gateway API router: weights", () => {
    const resting = route(tutorial());

    it("moves only the primary and canary weights of the first rule, keeping every other field", () => {
        const moved = withWeights(resting, NODES, { primary: 70, canary: 30 });
        assert.deepEqual(readWeights(moved, "test/podinfo", NODES), { primary: 70, canary: 30 });
        assert.deepEqual({ ...moved, rules: [{ ...moved.rules[0], backendRefs: [] }] }, { ...resting, rules: [{ ...resting.rules[0], backendRefs: [] }] });
        assert.deepEqual(readWeights(resting, "test/podinfo", NODES), { primary: 100, canary: 0 }, "the input is not changed");
    });

    it("refuses weights that do not sum to 100, and a route without the two backends", () => {
        assert.throws(() => withWeights(resting, NODES, { primary: 60, canary: 30 }), /sum to 100/);
        const other = { ...resting, rules: [{ ...resting.rules[0], backendRefs: [resting.rules[0].backendRefs[0]] }] };
        assert.throws(() => readWeights(other, "test/podinfo", NODES), /HTTPRoute test\/podinfo does not contain a rule with backends podinfo-primary and podinfo-canary/);
        assert.throws(() => withWeights(other, NODES, { primary: 100, canary: 0 }), /no rule with backends podinfo-primary and podinfo-canary/);
    });

    it("reads an unset weight as Gateway API's default of 1", () => {
        const unset = structuredClone(resting) as any;
        delete unset.rules[0].backendRefs[1].weight;
        assert.deepEqual(readWeights(unset, "test/podinfo", NODES), { primary: 100, canary: 1 });
    });
});

describe("Gateway API router: the accepted gate", () => {
    const live = (conditions: object[], generation = 3, parentRef: object = { group: "gateway.networking.k8s.io", kind: "Gateway", namespace: "gateway", name: "public" }): LiveHTTPRoute => ({
        metadata: { generation, namespace: "test" },
        spec: route(tutorial()),
        status: { parents: [{ parentRef: parentRef as any, conditions: conditions as any }] },
    });

    it("trusts a route every Gateway accepted at its current generation", () => {
        assert.equal(notAcceptedReason(live([{ type: "Accepted", status: "True", observedGeneration: 3 }]), "test/podinfo"), undefined);
    });

    it("says why it does not trust one: an older generation, a refusal, or no status from a Gateway", () => {
        assert.equal(
            notAcceptedReason(live([{ type: "Accepted", status: "True", observedGeneration: 2 }]), "test/podinfo"),
            "HTTPRoute test/podinfo is not accepted yet by Gateway gateway/public at generation 3 (observed 2)",
        );
        assert.equal(
            notAcceptedReason(live([{ type: "Accepted", status: "False", reason: "NotAllowedByListeners", message: "no listener allows routes from test", observedGeneration: 3 }]), "test/podinfo"),
            "HTTPRoute test/podinfo is not accepted by Gateway gateway/public: NotAllowedByListeners: no listener allows routes from test",
        );
        assert.equal(
            notAcceptedReason(live([{ type: "Accepted", status: "True", observedGeneration: 3 }], 3, { name: "internal", namespace: "gateway" }), "test/podinfo"),
            "HTTPRoute test/podinfo is not accepted yet by Gateway gateway/public: no status from it",
        );
    });

    it("takes the route's namespace for a parent named without one", () => {
        const spec = route(tutorial({ gatewayRefs: [{ name: "mesh" }] }));
        const accepted: LiveHTTPRoute = { metadata: { generation: 1, namespace: "test" }, spec, status: { parents: [{ parentRef: { name: "mesh", namespace: "test" }, conditions: [{ type: "Accepted", status: "True", observedGeneration: 1 }] }] } };
        assert.equal(notAcceptedReason(accepted, "test/podinfo"), undefined);
    });
});

describe("Gateway API router: checks", () => {
    const input = (spec: CanarySpec, lattice = false) => gatewayApiRouterInput(spec, canaryNames("podinfo", spec), lattice);

    it("accepts the declared route at rest, and names a route that is not", () => {
        assert.deepEqual(gatewayApiRouter.check(input(tutorial()), TARGET), []);
        const moved = input(tutorial());
        moved.route = withWeights(moved.route, NODES, { primary: 50, canary: 50 });
        assert.deepEqual(gatewayApiRouter.check(moved, TARGET), [{ property: "router.route", reason: "must be the apex route at resting weights (primary 100, canary 0), got primary 50 canary 50" }]);
    });

    it("for VPC Lattice, names every rule it cannot route", () => {
        const ab = tutorial(
            { match: [{ uri: { regex: "/v[0-9]+" }, queryParams: { debug: { exact: "1" } } }] },
            { interval: "1m", iterations: 10, match: [{ headers: { "user-agent": { regex: ".*Firefox.*" } } }, { headers: { "x-canary": { exact: "insider" } } }] },
        );
        assert.deepEqual(gatewayApiRouter.check(input(ab), TARGET), [], "other Gateways route it");
        assert.deepEqual(
            gatewayApiRouter.check(input(ab, true), TARGET).map((f) => f.property),
            [
                "router.route.rules[0].matches",
                "router.route.rules[0].matches[0].headers[0]",
                "router.route.rules[0].matches[0].queryParams",
                "router.route.rules[0].matches[0].path",
                "router.route.rules[0].matches[1].queryParams",
                "router.route.rules[0].matches[1].path",
                "router.route.rules[1].matches[0].queryParams",
                "router.route.rules[1].matches[0].path",
            ],
        );
        const heavy = route(tutorial());
        heavy.rules[0].backendRefs[0].weight = 1000;
        assert.deepEqual(latticeProblems(heavy), [{ path: "rules[0].backendRefs[0].weight", message: "is 1000; VPC Lattice takes weights of 0 to 999" }]);
    });
});

describe("Gateway API router: built-in metrics of Flagger's HTTP observer", () => {
    const model: TemplateModel = { namespace: "test", name: "podinfo", target: "podinfo", service: "podinfo", interval: "1m" };
    const compact = (text: string) => text.replace(/\s+/g, "");

    it("renders request-success-rate as Flagger's query", () => {
        assert.equal(
            compact(builtinQuery(HTTP_QUERIES, "request-success-rate", model)),
            compact('sum(rate(http_request_duration_seconds_count{kubernetes_namespace="test",kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)",status!~"5.*"}[1m])) / sum(rate(http_request_duration_seconds_count{kubernetes_namespace="test",kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"}[1m])) * 100'),
        );
    });

    it("renders request-duration as Flagger's query, in milliseconds as Flagger converts its seconds", () => {
        assert.equal(
            compact(builtinQuery(HTTP_QUERIES, "request-duration", model)),
            compact('histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{kubernetes_namespace="test",kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"}[1m])) by (le)) * 1000'),
        );
    });
});
