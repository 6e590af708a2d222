/**
 * Validation of a Canary spec for the Gateway API router (`provider: gatewayapi:v1`): what it honours, ignores
 * and refuses, the Gateway API CRD's formats and limits, and VPC Lattice's limits when the route's Gateway is
 * Lattice's; every failure names its field. The generated route of every accepted spec must build.
 */
import * as assert from "node:assert/strict";
import { buildHTTPRouteSpec } from "../../analysis/routers/gatewayapi/specs";
import { latticeProblems } from "../../analysis/routers/gatewayapi/lattice";
import type { CanarySpec } from "../../analysis/spec/canary";
import { canaryNames } from "../../analysis/spec/names";
import { parseCanarySpec, validateCanarySpec, type WiredRefs } from "../../analysis/spec/validation";
import { itRejects, type RejectionRule } from "./config-failures";

const REFS: WiredRefs = { deployment: "podinfo", autoscaler: "podinfo" };

/** Flagger's Gateway API tutorial canary, for podinfo. */
function gatewayCanary(): any {
    return {
        provider: "gatewayapi:v1",
        targetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "podinfo" },
        progressDeadlineSeconds: 60,
        service: {
            port: 9898,
            targetPort: 9898,
            hosts: ["www.example.com"],
            gatewayRefs: [{ name: "gateway", namespace: "istio-ingress" }],
        },
        analysis: {
            interval: "1m",
            threshold: 5,
            maxWeight: 50,
            stepWeight: 10,
            metrics: [{ name: "request-success-rate", thresholdRange: { min: 99 }, interval: "1m" }],
        },
    };
}

function abCanary(): any {
    const spec = gatewayCanary();
    spec.analysis = { interval: "1m", threshold: 5, iterations: 10, match: [{ headers: { "x-canary": { exact: "insider" } } }] };
    return spec;
}

const validate = (spec: any) => validateCanarySpec(spec, "canary", REFS);
const validateLattice = (spec: any) => validateCanarySpec(spec, "canary", REFS, { lattice: true });

const GATEWAY_RULES: RejectionRule<any>[] = [
    ["no gatewayRefs", (s) => { delete s.service.gatewayRefs; }, "canary.service.gatewayRefs", /is required for the gatewayapi:v1 provider/],
    ["empty gatewayRefs", (s) => { s.service.gatewayRefs = []; }, "canary.service.gatewayRefs", /is required/],
    ["gatewayRef without a name", (s) => { s.service.gatewayRefs = [{ namespace: "gw" }]; }, "canary.service.gatewayRefs[0].name", /DNS subdomain/],
    ["gatewayRef port", (s) => { s.service.gatewayRefs[0].port = 70000; }, "canary.service.gatewayRefs[0].port", /65535/],
    ["gatewayRef unknown field", (s) => { s.service.gatewayRefs[0].listener = "http"; }, "canary.service.gatewayRefs[0].listener", /allowed: name, namespace, group, kind, sectionName, port/],
    ["v1beta1 provider", (s) => { s.provider = "gatewayapi:v1beta1"; }, "canary.provider", /use gatewayapi:v1/],
    ["retries", (s) => { s.service.retries = { attempts: 3 }; }, "canary.service.retries", /does not map retries.*v1\.7\.0/],
    ["corsPolicy", (s) => { s.service.corsPolicy = { allowOrigins: [] }; }, "canary.service.corsPolicy", /this program does not yet/],
    ["mirroring", (s) => { s.analysis.mirror = true; }, "canary.analysis.mirror", /this program does not yet/],
    ["session affinity", (s) => { s.analysis.sessionAffinity = { cookieName: "flagger" }; }, "canary.analysis.sessionAffinity", /does not yet/],
    ["fractional timeout", (s) => { s.service.timeout = "1.5s"; }, "canary.service.timeout", /Gateway API duration \(whole numbers/],
    ["timeout not a duration", (s) => { s.service.timeout = "soon"; }, "canary.service.timeout", /must be a duration/],
    ["hostname with a port", (s) => { s.service.hosts = ["www.example.com:80"]; }, "canary.service.hosts[0]", /must be a hostname/],
    ["match uri two kinds", (s) => { s.service.match = [{ uri: { prefix: "/", exact: "/a" } }]; }, "canary.service.match[0].uri", /exactly one of exact, prefix, regex, got exact, prefix|exactly one of exact, prefix, regex, got prefix, exact/],
    ["match path not absolute", (s) => { s.service.match = [{ uri: { prefix: "api" } }]; }, "canary.service.match[0].uri.prefix", /absolute path starting with "\/"/],
    ["match method", (s) => { s.service.match = [{ method: { exact: "FETCH" } }]; }, "canary.service.match[0].method.exact", /one of GET, HEAD, POST/],
    ["match header with two conditions", (s) => { s.service.match = [{ headers: { "x-a": { exact: "1", regex: "1" } } }]; }, "canary.service.match[0].headers.x-a", /exactly one of exact, prefix, suffix, regex/],
    ["match header name", (s) => { s.service.match = [{ headers: { "x a": { exact: "1" } } }]; }, "canary.service.match[0].headers.x a", /not a valid HTTP header name/],
    ["match unknown field", (s) => { s.service.match = [{ authority: { exact: "x" } }]; }, "canary.service.match[0].authority", /allowed: uri, method, headers, queryParams/],
    ["prefix rewrite on several matches", (s) => { s.service.match = [{ uri: { prefix: "/a" } }, { uri: { prefix: "/b" } }]; s.service.rewrite = { uri: "/" }; },
        "canary.service.rewrite.uri", /only on a route rule with exactly one match; this spec gives 2/],
    ["prefix rewrite with two A/B entries", (s) => { s.service.rewrite = { uri: "/" }; s.analysis = { ...abCanary().analysis, match: [{ headers: { a: { exact: "1" } } }, { headers: { b: { exact: "1" } } }] }; },
        "canary.service.rewrite.uri", /this spec gives 2/],
    ["rewrite unknown field", (s) => { s.service.rewrite = { path: "/" }; }, "canary.service.rewrite.path", /allowed: uri, authority/],
    ["rewrite authority", (s) => { s.service.rewrite = { authority: "*.example.com" }; }, "canary.service.rewrite.authority", /must be a hostname/],
    ["header modifier unknown operation", (s) => { s.service.headers = { request: { append: { a: "1" } } }; }, "canary.service.headers.request.append", /allowed: add, set, remove/],
    ["header modifier value", (s) => { s.service.headers = { response: { set: { "x-n": 1 } } }; }, "canary.service.headers.response.set.x-n", /must be a string/],
    ["header modifier remove", (s) => { s.service.headers = { request: { remove: "x-debug" } }; }, "canary.service.headers.request.remove", /must be a list/],
];

const LATTICE_RULES: RejectionRule<any>[] = [
    ["two service matches", (s) => { s.service.match = [{ uri: { prefix: "/a" } }, { uri: { prefix: "/b" } }]; }, "canary.service.match", /VPC Lattice takes one match per route rule/],
    ["regex path", (s) => { s.service.match = [{ uri: { regex: "/v[0-9]+" } }]; }, "canary.service.match[0].uri.regex", /exact or prefix only/],
    ["query parameters", (s) => { s.service.match = [{ queryParams: { debug: { exact: "1" } } }]; }, "canary.service.match[0].queryParams", /does not match query parameters/],
    ["regex header on the service match", (s) => { s.service.match = [{ headers: { "user-agent": { regex: ".*Firefox.*" } } }]; }, "canary.service.match[0].headers", /exact value only/],
];

const LATTICE_AB_RULES: RejectionRule<any>[] = [
    ["two A/B entries", (s) => { s.analysis.match.push({ headers: { "x-beta": { exact: "1" } } }); }, "canary.analysis.match", /A\/B testing takes one entry/],
    ["A/B by cookie regex", (s) => { s.analysis.match = [{ headers: { cookie: { regex: "^(.*?;)?(canary=always)(;.*)?$" } } }]; }, "canary.analysis.match[0].headers", /exact value only/],
    ["six headers on one match", (s) => { s.service.match = [{ headers: { a: { exact: "1" }, b: { exact: "1" }, c: { exact: "1" } } }]; s.analysis.match = [{ headers: { d: { exact: "1" }, e: { exact: "1" }, f: { exact: "1" } } }]; },
        "canary.analysis.match", /route match of 6 headers; VPC Lattice takes at most 5/],
];

describe("Gateway API canary spec validation", () => {
    it("accepts Flagger's Gateway API tutorial canary, and its A/B variant", () => {
        assert.deepEqual(validate(gatewayCanary()), []);
        assert.deepEqual(validate(abCanary()), []);
    });

    it("accepts every field the router maps, and the route builds from it", () => {
        const spec = gatewayCanary();
        spec.service.timeout = "15s";
        spec.service.match = [
            { uri: { prefix: "/api" }, method: { exact: "GET" }, headers: { "x-tier": { exact: "gold" }, "user-agent": { suffix: "Firefox" } } },
            { uri: { exact: "/healthz" }, queryParams: { debug: { prefix: "tr" } } },
        ];
        spec.service.rewrite = { authority: "podinfo.internal" };
        spec.service.headers = { request: { add: { "x-from": "gateway" }, set: { "x-env": "prod" }, remove: ["x-debug"] }, response: { remove: ["server"] } };
        spec.service.gatewayRefs = [{ name: "public.gw", namespace: "gateway", group: "gateway.networking.k8s.io", kind: "Gateway", sectionName: "https", port: 443 }];
        assert.deepEqual(validate(spec), []);
        const parsed: CanarySpec = parseCanarySpec(spec, REFS);
        assert.equal(buildHTTPRouteSpec(parsed, canaryNames("podinfo", parsed)).rules[0].matches?.length, 2);
    });

    it("accepts, and ignores, the fields of other routers that Flagger's Gateway API router ignores too", () => {
        const spec = gatewayCanary();
        spec.service.backends = ["backend.test"];
        spec.service.meshName = "global";
        spec.service.trafficPolicy = { tls: { mode: "ISTIO_MUTUAL" } };
        spec.routeRef = { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", name: "other" };
        assert.deepEqual(validate(spec), []);
    });

    it("App Mesh ignores gatewayRefs, and keeps refusing what only the Gateway API router honours", () => {
        const spec = gatewayCanary();
        delete spec.provider;
        delete spec.service.hosts;
        assert.deepEqual(validate(spec), []);
        spec.service.match = [{ uri: { exact: "/a" } }];
        const failures = validate(spec);
        assert.ok(failures.some((f) => f.property === "canary.service.match[0].uri.exact"), JSON.stringify(failures));
    });

    describe("the Gateway API CRD's rules, at preview", () => {
        itRejects(GATEWAY_RULES, gatewayCanary, validate);
    });

    describe("VPC Lattice's limits, when the stack says the Gateway is Lattice's", () => {
        it("accepts the tutorial canary and a one-entry exact-header A/B canary", () => {
            assert.deepEqual(validateLattice(gatewayCanary()), []);
            assert.deepEqual(validateLattice(abCanary()), []);
        });
        itRejects(LATTICE_RULES, gatewayCanary, validateLattice);
        itRejects(LATTICE_AB_RULES, abCanary, validateLattice);

        it("applies them only to Lattice: the same specs pass for any other Gateway", () => {
            for (const [, edit] of [...LATTICE_RULES, ...LATTICE_AB_RULES.slice(0, 2)]) {
                const spec = LATTICE_RULES.some(([, e]) => e === edit) ? gatewayCanary() : abCanary();
                edit(spec);
                assert.deepEqual(validate(spec), []);
            }
        });

        it("agrees with the router's own check of the generated route: a spec preview accepts yields a route Lattice takes", () => {
            for (const spec of [gatewayCanary(), abCanary()]) {
                const parsed: CanarySpec = parseCanarySpec(spec, REFS);
                assert.deepEqual(latticeProblems(buildHTTPRouteSpec(parsed, canaryNames("podinfo", parsed))), []);
            }
            for (const [title, edit] of [...LATTICE_RULES, ...LATTICE_AB_RULES]) {
                const spec = LATTICE_AB_RULES.some(([t]) => t === title) ? abCanary() : gatewayCanary();
                edit(spec);
                const parsed: CanarySpec = parseCanarySpec(spec, REFS);
                assert.notDeepEqual(latticeProblems(buildHTTPRouteSpec(parsed, canaryNames("podinfo", parsed))), [], title);
            }
        });
    });
});
