import * as assert from "node:assert/strict";
import { parseQueryResponse, providerHeaders, queryUrl } from "../../analysis/adapters/metrics";
import { APPMESH_QUERIES } from "../../analysis/routers/appmesh/queries";
import { builtinQuery, collapseWhitespace, renderQuery, TemplateModel } from "../../analysis/adapters/promql";
import { isBuiltinMetric, metricInterval } from "../../analysis/spec/canary";

const model: TemplateModel = { namespace: "default", name: "podinfo", target: "podinfo", service: "podinfo", interval: "1m" };

describe("built-in App Mesh queries", function () {
    // Flagger's own expectations (pkg/metrics/observers/appmesh_test.go), leading space included.
    it("renders request-success-rate exactly as Flagger sends it", function () {
        assert.equal(
            builtinQuery(APPMESH_QUERIES, "request-success-rate", model),
            ' sum( rate( envoy_cluster_upstream_rq{ kubernetes_namespace="default", kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)", envoy_response_code!~"5.*" }[1m] ) ) / sum( rate( envoy_cluster_upstream_rq{ kubernetes_namespace="default", kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[1m] ) ) * 100',
        );
    });

    it("renders request-duration exactly as Flagger sends it", function () {
        assert.equal(
            builtinQuery(APPMESH_QUERIES, "request-duration", model),
            ' histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{ kubernetes_namespace="default", kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[1m] ) ) by (le) )',
        );
    });

    it("selects pods by target, not by canary or service name", function () {
        const query = builtinQuery(APPMESH_QUERIES, "request-duration", { ...model, name: "canary-x", service: "apex", target: "backend", namespace: "test", interval: "2m" });
        assert.match(query, /kubernetes_namespace="test", kubernetes_pod_name=~"backend-\[0-9a-zA-Z\]\+\(-\[0-9a-zA-Z\]\+\)" \}\[2m\]/);
        assert.doesNotMatch(query, /apex|canary-x/);
    });

    it("knows only Flagger's two built-in names", function () {
        assert.ok(isBuiltinMetric("request-success-rate"));
        assert.ok(isBuiltinMetric("request-duration"));
        assert.ok(!isBuiltinMetric("error-rate"));
    });

    it("defaults the interval to 1m, for template metrics too", function () {
        assert.equal(metricInterval({ name: "request-success-rate" }), "1m");
        assert.equal(metricInterval({ name: "x", templateRef: { name: "t" } }), "1m");
        assert.equal(metricInterval({ name: "x", interval: "30s" }), "30s");
    });
});

describe("renderQuery", function () {
    const full: TemplateModel = { namespace: "test", name: "podinfo", target: "podinfo-deploy", service: "podinfo-svc", interval: "30s", variables: { direction: "inbound", code: "5.*" } };

    it("renders every function Flagger defines and template variables", function () {
        assert.equal(
            renderQuery("{{ namespace }}/{{ name }}/{{ target }}/{{ service }}/{{interval}}/{{ ingress }}/{{ route }}/{{ variables.direction }}/{{variables.code}}", full),
            "test/podinfo/podinfo-deploy/podinfo-svc/30s/podinfo-deploy/podinfo-deploy/inbound/5.*",
        );
    });

    it("leaves text outside actions alone and trims around {{- and -}} as Go does", function () {
        assert.equal(renderQuery('rate(x{a="b"}[5m])', full), 'rate(x{a="b"}[5m])');
        assert.equal(renderQuery("a  {{- name -}}  b", full), "apodinfob");
        assert.equal(renderQuery("a  {{ name -}}\n  b", full), "a  podinfob");
    });

    it("fails on a variable that is not set, naming it and the ones that are", function () {
        assert.throws(() => renderQuery("{{ variables.region }}", full), { message: 'template variable "region" is not set in templateVariables (set: direction, code)' });
        assert.throws(() => renderQuery("{{ variables.region }}", model), { message: 'template variable "region" is not set in templateVariables (none set)' });
    });

    it("fails on unknown actions and unclosed braces", function () {
        assert.throws(() => renderQuery("{{ .Values.x }}", full), /unsupported template action "\{\{ \.Values\.x \}\}": use one of \{\{ name \}\}/);
        assert.throws(() => renderQuery("{{ cluster }}", full), /unsupported template action "\{\{ cluster \}\}"/);
        assert.throws(() => renderQuery("{{ variables }}", full), /unsupported template action/);
        assert.throws(() => renderQuery("sum(x[{{ interval ])", full), /unclosed template action "\{\{ interval \]\)": missing "\}\}"/);
    });

    it("collapses whitespace runs to one space without trimming, like Flagger's provider", function () {
        assert.equal(collapseWhitespace("\n\tsum(\n\t\trate(x[1m])\n)  "), " sum( rate(x[1m]) ) ");
    });
});

describe("Prometheus request and response handling", function () {
    it("joins the query path onto the address, keeping a proxy path prefix", function () {
        assert.equal(queryUrl("http://prometheus:9090", "up == 1"), "http://prometheus:9090/api/v1/query?query=up+%3D%3D+1");
        assert.equal(
            queryUrl("https://api:6443/api/v1/namespaces/m/services/p:9090/proxy/", "up"),
            "https://api:6443/api/v1/namespaces/m/services/p:9090/proxy/api/v1/query?query=up",
        );
    });

    it("sends a bearer token, else basic auth, plus the provider's headers", function () {
        assert.deepEqual(providerHeaders({ address: "x", token: "t", username: "u", password: "p", headers: { "X-Scope-OrgID": "1" } }), {
            "X-Scope-OrgID": "1",
            Authorization: "Bearer t",
        });
        assert.deepEqual(providerHeaders({ address: "x", username: "u", password: "p" }), { Authorization: `Basic ${Buffer.from("u:p").toString("base64")}` });
        assert.deepEqual(providerHeaders({ address: "x", username: "u" }), {});
    });

    const vector = (...values: string[]) =>
        JSON.stringify({ status: "success", data: { resultType: "vector", result: values.map((v, i) => ({ metric: { i: String(i) }, value: [1700000000.1, v] })) } });

    it("takes the last series of a vector, and scalars", function () {
        assert.deepEqual(parseQueryResponse(vector("1", "2.5")), { kind: "value", value: 2.5 });
        assert.deepEqual(parseQueryResponse(vector("+Inf")), { kind: "value", value: Infinity });
        assert.deepEqual(parseQueryResponse(JSON.stringify({ status: "success", data: { resultType: "scalar", result: [1, "42"] } })), { kind: "value", value: 42 });
    });

    it("reports an empty vector or NaN as no data", function () {
        assert.deepEqual(parseQueryResponse(vector()), { kind: "no-data", message: "no values found" });
        assert.deepEqual(parseQueryResponse(vector("1", "NaN")), { kind: "no-data", message: "no values found" });
    });

    it("reports matrices, errors and garbage as errors", function () {
        const matrix = JSON.stringify({ status: "success", data: { resultType: "matrix", result: [{ metric: {}, values: [[1, "1"]] }] } });
        assert.deepEqual(parseQueryResponse(matrix), { kind: "error", message: "query returned multiple values" });
        assert.deepEqual(parseQueryResponse(JSON.stringify({ status: "error", errorType: "execution", error: "query timed out" })), {
            kind: "error",
            message: "error response: query timed out",
        });
        const garbage = parseQueryResponse("<html>");
        assert.equal(garbage.kind, "error");
        assert.match(garbage.message, /^error unmarshaling result: .*, '<html>'$/);
        const notANumber = parseQueryResponse(vector("abc"));
        assert.equal(notANumber.kind, "error");
        assert.match(notANumber.message, /^invalid sample value "abc"/);
    });
});
