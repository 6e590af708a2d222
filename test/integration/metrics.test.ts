import * as assert from "node:assert/strict";
import * as http from "http";
import { APPMESH_QUERIES } from "../../analysis/routers/appmesh/queries";
import { PrometheusMetrics } from "../../analysis/adapters/metrics";
import type { MetricReading, QueryContext } from "../../analysis/engine/ports";
import type { MetricSpec } from "../../analysis/spec/canary";
import { EnvoyStats } from "../../playground/envoy-stats";
import { closeServer, listenOnFreePort } from "../../playground/http-util";
import { PrometheusServer, startPrometheus } from "../../playground/prometheus";

/**
 * A real Prometheus scrapes sidecar statistics served here. Every 100ms tick the canary pod answers 100
 * requests: 90 with 200 and 10 with 500; 60 within 5ms, 30 within 10ms, 8 within 25ms and 2 within 50ms.
 * Every series grows by the same multiple of the tick count, so rate ratios are exact: success rate 90%, and
 * P99 = 25 + 25 * (99 - 98) / (100 - 98) = 37.5ms. The primary pod answers only slow 500s: counted in, it
 * would drag the success rate to 15% and the P99 above 2.5s. The idle pod's counters never move (0/0 = NaN).
 */
const TICK_MS = 100;
const context: QueryContext = { namespace: "test", name: "podinfo", target: "podinfo", service: "podinfo" };

class TickingPod {
    readonly stats = new EnvoyStats("cds_ingress_global_podinfo-canary_http_9898");
    private ticks = 0;
    constructor(private readonly start: number, private readonly perTick: (stats: EnvoyStats) => void) {}

    render(): string {
        const due = Math.floor((Date.now() - this.start) / TICK_MS);
        for (; this.ticks < due; this.ticks++) {
            this.perTick(this.stats);
        }
        return this.stats.render();
    }
}

function canaryTick(stats: EnvoyStats): void {
    for (let i = 0; i < 100; i++) {
        const durationMs = i < 60 ? 3 : i < 90 ? 8 : i < 98 ? 20 : 40;
        stats.record(i % 10 === 9 ? 500 : 200, durationMs);
    }
}

function primaryTick(stats: EnvoyStats): void {
    for (let i = 0; i < 50; i++) {
        stats.record(500, 3000);
    }
}

function value(reading: MetricReading): number {
    assert.equal(reading.kind, "value", `expected a value, got ${JSON.stringify(reading)}`);
    return (reading as { value: number }).value;
}

describe("PrometheusMetrics against a real Prometheus", function () {
    this.timeout(60_000);
    let prometheus: PrometheusServer;
    const servers: http.Server[] = [];
    let proxyUrl: string;
    let hangingUrl: string;
    let sidecars: string;
    const proxied: { path: string; authorization?: string; tenant?: string }[] = [];

    async function serve(handler: http.RequestListener): Promise<string> {
        const server = http.createServer(handler);
        servers.push(server);
        return `127.0.0.1:${await listenOnFreePort(server)}`;
    }

    before(async function () {
        const start = Date.now();
        const pods: Record<string, TickingPod> = {
            "/canary": new TickingPod(start, canaryTick),
            "/primary": new TickingPod(start, primaryTick),
            "/idle": new TickingPod(start, () => undefined),
        };
        // Envoy creates a response-code counter on that code's first request: give each pod a 200 up front.
        pods["/idle"].stats.record(200, 3);
        pods["/primary"].stats.record(200, 3);
        sidecars = await serve((req, res) => {
            const pod = pods[(req.url ?? "").replace("/stats/prometheus", "")];
            res.writeHead(pod ? 200 : 404, { "Content-Type": "text/plain; version=0.0.4" });
            res.end(pod ? pod.render() : "");
        });
        const target = (pod: string, name: string) => ({
            address: sidecars,
            metricsPath: `/${pod}/stats/prometheus`,
            labels: { kubernetes_namespace: "test", kubernetes_pod_name: name },
        });
        prometheus = await startPrometheus({
            scrapeIntervalMs: 1000,
            targets: [
                target("canary", "podinfo-7b9d8c6f5-x2x4z"),
                target("primary", "podinfo-primary-5d8f9b7c6-k8m2q"),
                target("idle", "idle-6c5d4f7b8-qwert"),
            ],
        });

        // Stands in for an authenticating gateway (and for the API server's service proxy): checks the
        // credentials of each route, then forwards to Prometheus with the route prefix removed.
        const routes: [prefix: string, authorization: string][] = [
            ["/bearer", "Bearer t0k3n"],
            ["/basic", `Basic ${Buffer.from("grafana:s3cret").toString("base64")}`],
            ["/api/v1/namespaces/appmesh-system/services/http:appmesh-prometheus:9090/proxy", "Bearer kube-token"],
        ];
        proxyUrl = `http://${await serve((req, res) => {
            const route = routes.find(([prefix]) => req.url!.startsWith(`${prefix}/`));
            proxied.push({ path: req.url!, authorization: req.headers.authorization, tenant: req.headers["x-scope-orgid"] as string | undefined });
            if (!route || req.headers.authorization !== route[1]) {
                res.writeHead(401, { "Content-Type": "text/plain" });
                res.end("Unauthorized");
                return;
            }
            const upstream = http.get(`${prometheus.url}${req.url!.slice(route[0].length)}`, (answer) => {
                res.writeHead(answer.statusCode!, answer.headers);
                answer.pipe(res);
            });
            upstream.on("error", () => res.destroy());
        })}`;
        hangingUrl = `http://${await serve(() => undefined)}`;

        // rate() needs two samples of each series: wait for the second scrape, not longer.
        const metrics = new PrometheusMetrics({ builtinQueries: APPMESH_QUERIES, address: prometheus.url });
        const deadline = Date.now() + 10_000;
        const twoSamples = async () =>
            (await metrics.read({ name: "request-success-rate" }, context)).kind === "value" &&
            (await metrics.read({ name: "request-success-rate" }, { ...context, target: "podinfo-primary" })).kind === "value";
        while (!(await twoSamples())) {
            assert.ok(Date.now() < deadline, "no success rates 10s after Prometheus scraped the pods");
            await new Promise((resolve) => setTimeout(resolve, 200));
        }
    });

    after(async function () {
        await prometheus?.stop();
        await Promise.all(servers.map(closeServer));
    });

    it("computes the canary's success rate with Flagger's query, leaving the primary pods out", async function () {
        const metrics = new PrometheusMetrics({ builtinQueries: APPMESH_QUERIES, address: prometheus.url });
        const rate = value(await metrics.read({ name: "request-success-rate", interval: "1m" }, context));
        assert.ok(Math.abs(rate - 90) < 0.01, `success rate ${rate}, want 90`);
        // The primary pods are there: the same query for the `podinfo-primary` target sees only its 500s.
        const primary = value(await metrics.read({ name: "request-success-rate" }, { ...context, target: "podinfo-primary" }));
        assert.equal(primary, 0);
    });

    it("computes the canary's P99 in whole milliseconds, as Flagger truncates it", async function () {
        const metrics = new PrometheusMetrics({ builtinQueries: APPMESH_QUERIES, address: prometheus.url });
        assert.equal(value(await metrics.read({ name: "request-duration" }, context)), 37);
        const exact: MetricSpec = {
            name: "p99",
            query: 'histogram_quantile(0.99, sum(rate(envoy_cluster_upstream_rq_time_bucket{kubernetes_pod_name="podinfo-7b9d8c6f5-x2x4z"}[{{ interval }}])) by (le))',
        };
        const p99 = value(await metrics.read(exact, context));
        assert.ok(Math.abs(p99 - 37.5) < 0.01, `P99 ${p99}, want 37.5`);
    });

    it("reports no data, not an error, for a target without traffic (NaN) or without series", async function () {
        const metrics = new PrometheusMetrics({ builtinQueries: APPMESH_QUERIES, address: prometheus.url });
        for (const target of ["idle", "ghost"]) {
            for (const name of ["request-success-rate", "request-duration"]) {
                assert.deepEqual(await metrics.read({ name }, { ...context, target }), { kind: "no-data", message: "no values found" }, `${name} of ${target}`);
            }
        }
    });

    it("renders inline queries with the canary's names, interval and variables", async function () {
        const metrics = new PrometheusMetrics({ builtinQueries: APPMESH_QUERIES, address: prometheus.url });
        const errorPercentage: MetricSpec = {
            name: "error-percentage",
            interval: "30s",
            query: `100 * sum(rate(envoy_cluster_upstream_rq{kubernetes_namespace="{{ namespace }}",
                kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)",
                envoy_response_code="{{ variables.code }}"}[{{ interval }}]))
              / sum(rate(envoy_cluster_upstream_rq{kubernetes_namespace="{{ namespace }}",
                kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"}[{{ interval }}]))`,
            templateVariables: { code: "500" },
        };
        const percentage = value(await metrics.read(errorPercentage, context));
        assert.ok(Math.abs(percentage - 10) < 0.01, `500s are ${percentage}% of the canary's requests, want 10%`);
        const missing = await metrics.read({ ...errorPercentage, templateVariables: {} }, context);
        assert.deepEqual(missing, { kind: "error", message: 'query render error: template variable "code" is not set in templateVariables (none set)' });
    });

    it("takes a scalar result, and reports a matrix and a bad query as errors", async function () {
        const metrics = new PrometheusMetrics({ builtinQueries: APPMESH_QUERIES, address: prometheus.url });
        assert.equal(value(await metrics.read({ name: "answer", query: "scalar(vector(6)) * 7" }, context)), 42);
        assert.deepEqual(await metrics.read({ name: "raw", query: "envoy_cluster_upstream_rq[1m]" }, context), {
            kind: "error",
            message: "query returned multiple values",
        });
        const bad = await metrics.read({ name: "broken", query: "sum(rate(envoy_cluster_upstream_rq[1m]" }, context);
        assert.equal(bad.kind, "error");
        assert.match(bad.message, /^error response: Status 400 Bad Request: \{"status":"error","errorType":"bad_data","error":".*parse error/);
    });

    it("reads template metrics from their provider with its bearer token, basic auth and headers", async function () {
        const query = `histogram_quantile(0.50, sum(rate(envoy_cluster_upstream_rq_time_bucket{
            kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"}[{{ interval }}])) by (le))`;
        const metrics = new PrometheusMetrics({
            builtinQueries: APPMESH_QUERIES,
            address: "http://unused.invalid:9090",
            templates: {
                "with-token": { provider: { address: `${proxyUrl}/bearer`, token: "t0k3n", headers: { "X-Scope-OrgID": "tenant-1" } }, query },
                "with-basic-auth": { provider: { address: `${proxyUrl}/basic/`, username: "grafana", password: "s3cret" }, query },
                "wrong-token": { provider: { address: `${proxyUrl}/bearer`, token: "nope" }, query },
            },
        });
        proxied.length = 0;
        // Median: rank 50 of 100 lies in the first 60 requests, within (1ms, 5ms]: 1 + 4 * 50 / 60.
        const median = value(await metrics.read({ name: "p50", templateRef: { name: "with-token" } }, context));
        assert.ok(Math.abs(median - (1 + (4 * 50) / 60)) < 0.01, `P50 ${median}, want 4.33`);
        assert.equal(proxied[0].tenant, "tenant-1");
        const sent = new URL(proxied[0].path, "http://proxy");
        assert.equal(sent.pathname, "/bearer/api/v1/query");
        // The interval defaults to 1m for template metrics too (Flagger renders it empty).
        assert.match(sent.searchParams.get("query")!, /^histogram_quantile\(0\.50, sum\(rate\(envoy_cluster_upstream_rq_time_bucket\{ kubernetes_pod_name=~"podinfo-\[0-9a-zA-Z\]\+\(-\[0-9a-zA-Z\]\+\)"\}\[1m\]\)\) by \(le\)\)$/);
        const viaBasicAuth = value(await metrics.read({ name: "p50", templateRef: { name: "with-basic-auth" } }, context));
        assert.ok(Math.abs(viaBasicAuth - median) < 0.01);
        assert.deepEqual(await metrics.read({ name: "p50", templateRef: { name: "wrong-token" } }, context), {
            kind: "error",
            message: "error response: Status 401 Unauthorized: Unauthorized",
        });
        assert.deepEqual(await metrics.read({ name: "p50", templateRef: { name: "absent" } }, context), {
            kind: "error",
            message: 'metric template "absent" not found (defined: with-token, with-basic-auth, wrong-token)',
        });
    });

    it("sends every query through the endpoint resolver with its headers", async function () {
        const resolved: string[] = [];
        const metrics = new PrometheusMetrics({
            builtinQueries: APPMESH_QUERIES,
            address: "http://appmesh-prometheus.appmesh-system:9090",
            resolve: async (url) => {
                resolved.push(url);
                const { pathname, search } = new URL(url);
                return {
                    url: `${proxyUrl}/api/v1/namespaces/appmesh-system/services/http:appmesh-prometheus:9090/proxy${pathname}${search}`,
                    headers: { Authorization: "Bearer kube-token" },
                };
            },
        });
        const rate = value(await metrics.read({ name: "request-success-rate" }, context));
        assert.ok(Math.abs(rate - 90) < 0.01);
        assert.equal(resolved.length, 1);
        assert.ok(resolved[0].startsWith("http://appmesh-prometheus.appmesh-system:9090/api/v1/query?query=+sum%28+rate%28"), resolved[0]);
    });

    it("reports an unreachable or silent server and an unusable metric as errors", async function () {
        const silent = new PrometheusMetrics({ builtinQueries: APPMESH_QUERIES, address: hangingUrl, timeoutMs: 300 });
        const started = Date.now();
        assert.deepEqual(await silent.read({ name: "request-success-rate" }, context), { kind: "error", message: "request failed: timeout of 300ms exceeded" });
        assert.ok(Date.now() - started < 2000);
        const closed = await closedPort();
        const refused = await new PrometheusMetrics({ builtinQueries: APPMESH_QUERIES, address: `http://127.0.0.1:${closed}` }).read({ name: "request-duration" }, context);
        assert.equal(refused.kind, "error");
        assert.match(refused.message, /^request failed: .*ECONNREFUSED/);
        assert.deepEqual(await new PrometheusMetrics({ builtinQueries: APPMESH_QUERIES, address: prometheus.url }).read({ name: "custom-without-query" }, context), {
            kind: "error",
            message: "no usable metrics template and query were configured",
        });
    });

    it("re-targets the running Prometheus through file_sd, then stops it", async function () {
        const metrics = new PrometheusMetrics({ builtinQueries: APPMESH_QUERIES, address: prometheus.url });
        const up = async (pod: string) => metrics.read({ name: "up", query: `up{kubernetes_pod_name="${pod}"}` }, context);
        await prometheus.setTargets([
            { address: sidecars, metricsPath: "/canary/stats/prometheus", labels: { kubernetes_namespace: "test", kubernetes_pod_name: "podinfo-7b9d8c6f5-n3w9p" } },
        ]);
        // setTargets resolved once the new pod had been scraped: its series are there at once.
        assert.deepEqual(await up("podinfo-7b9d8c6f5-n3w9p"), { kind: "value", value: 1 });

        await prometheus.stop();
        const after = await metrics.read({ name: "up", query: "up" }, context);
        assert.equal(after.kind, "error");
        assert.match(after.message, /ECONNREFUSED/);
    });

    it("names the package to install when the prometheus binary is missing", async function () {
        const path = process.env.PATH;
        process.env.PATH = "/nonexistent";
        try {
            await assert.rejects(startPrometheus({}), /prometheus is not installed \(not found on PATH\): install the Debian\/Ubuntu package "prometheus" \(apt-get install prometheus\) or Homebrew "prometheus"/);
        } finally {
            process.env.PATH = path;
        }
    });
});

async function closedPort(): Promise<number> {
    const server = http.createServer();
    const port = await listenOnFreePort(server);
    await closeServer(server);
    return port;
}
