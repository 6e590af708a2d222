import * as assert from "node:assert";
import type { CanaryEvent, CheckRecord } from "../../analysis/engine/ports";
import { describeHeaderMatch, formatBound, formatMetricLine, formatTrafficRow, metricBounds, renderReportHtml, reportCharts, reportJson, type RolloutRecord } from "../../analysis/report/report";
import { formatEventChecks, formatEventLine, parseEventChecks } from "../../analysis/report/event-line";
import type { VirtualRouterSpec } from "../../analysis/routers/appmesh/routes";
import type { AccessLogEntry } from "../../playground/mesh-router";
import { appMeshRuleOf, trafficRows } from "../../playground/router-view";
import type { CanarySpec } from "../../analysis/spec/canary";

const spec: CanarySpec = {
    service: { port: 9898 },
    analysis: {
        interval: "2s",
        metrics: [
            { name: "request-success-rate", thresholdRange: { min: 99 }, interval: "4s" },
            { name: "request-duration", thresholdRange: { max: 500 }, interval: "4s" },
            { name: "legacy", threshold: 5, query: "vector(1)" },
        ],
    },
};

const event = (seconds: number, message: string, extra: Partial<CanaryEvent> = {}): CanaryEvent => ({
    type: "Normal",
    message,
    timestamp: 1_000_000 + seconds * 1000,
    phase: "Progressing",
    canaryWeight: 0,
    failedChecks: 0,
    ...extra,
});

function record(): RolloutRecord {
    return {
        canary: "podinfo.test",
        title: "podinfo 6.0.0 → 6.0.1, scenario errors",
        driver: "test <driver>",
        startedAt: 1_000_000,
        finishedAt: 1_020_000,
        result: "rolled back",
        reason: "Halt podinfo.test advancement success rate 84.00% < 99%",
        intervalMs: 2000,
        events: [
            event(0, "New revision detected! Scaling up podinfo.test"),
            event(4, "Advance podinfo.test canary weight 5", { canaryWeight: 5 }),
            event(6, "Halt podinfo.test advancement success rate 84.00% < 99% <script>", {
                type: "Warning",
                canaryWeight: 5,
                failedChecks: 1,
                check: { name: "request-success-rate", kind: "metric", value: 84, threshold: "min 99", outcome: "fail" },
            }),
        ],
        weights: [
            { time: 1_000_000, canary: 0, primary: 100 },
            { time: 1_004_000, canary: 5, primary: 95 },
            { time: 1_018_000, canary: 0, primary: 100 },
        ],
        metrics: [
            { time: 1_002_000, name: "request-success-rate", value: null },
            { time: 1_004_000, name: "request-success-rate", value: 100 },
            { time: 1_006_000, name: "request-success-rate", value: null },
            { time: 1_008_000, name: "request-success-rate", value: 84 },
            { time: 1_010_000, name: "request-success-rate", value: 85 },
            { time: 1_008_000, name: "request-duration", value: 12.5 },
        ],
        bounds: metricBounds(spec),
    };
}

describe("playground report (analysis/report.ts)", () => {
    it("takes each metric's bound from thresholdRange or the deprecated threshold", () => {
        assert.deepStrictEqual(metricBounds(spec), [
            { name: "request-success-rate", min: 99, max: undefined, unit: "%" },
            { name: "request-duration", min: undefined, max: 500, unit: "ms" },
            { name: "legacy", max: 5, unit: "" },
        ]);
        assert.deepStrictEqual(metricBounds(spec).map(formatBound), ["min 99%", "max 500ms", "max 5"]);
    });

    it("formats event and metric lines with values, bounds and verdicts", () => {
        const r = record();
        assert.strictEqual(formatEventLine(r.events[1], r.startedAt), "   4.0s  Normal   Advance podinfo.test canary weight 5");
        assert.match(formatEventLine(r.events[2], r.startedAt), /Warning  Halt .* \[metric request-success-rate = 84 \(min 99\): fail\]$/);
        const line = formatMetricLine(
            [
                { time: 1_008_000, name: "request-success-rate", value: 84 },
                { time: 1_008_000, name: "request-duration", value: 12.46 },
            ],
            r.bounds,
            5,
            r.startedAt,
        );
        assert.strictEqual(line, "   8.0s  metrics   canary weight 5  request-success-rate 84.00% (min 99%) FAIL  request-duration 12.5ms (max 500ms) ok");
        assert.match(formatMetricLine([{ time: 1_002_000, name: "request-duration", value: null }], r.bounds, 0, r.startedAt), /request-duration no data \(max 500ms\) \?$/);
    });

    it("reads back the checks a printed event line carries, as the provider host prints them", () => {
        const checks: CheckRecord[] = [
            { name: "load-test", kind: "webhook", outcome: "pass" },
            { name: "request-success-rate", kind: "metric", value: 84.38, unit: "%", window: "1m", threshold: "min 99%", outcome: "fail" },
            { name: "request-duration", kind: "metric", value: 12, unit: "ms", window: "30s", threshold: "max 500ms", outcome: "pass" },
            { name: "my custom: check", kind: "metric", window: "2m", threshold: "min 1 max 5", outcome: "no-data" },
            { name: "errors", kind: "metric", value: 0.5, threshold: "max 1", outcome: "pass" },
        ];
        const text = formatEventChecks(event(1, "Advance podinfo.test canary weight 10", { checks }));
        assert.strictEqual(
            text,
            "[webhook load-test: pass; metric request-success-rate = 84.38% over 1m (min 99%): fail; metric request-duration = 12ms over 30s (max 500ms): pass; " +
                "metric my custom: check over 2m (min 1 max 5): no-data; metric errors = 0.5 (max 1): pass]",
        );
        assert.deepStrictEqual(parseEventChecks(text.slice(1, -1)), checks);
        assert.deepStrictEqual(parseEventChecks("not a check; webhook smoke: error"), [{ name: "smoke", kind: "webhook", outcome: "error" }]);
    });

    it("lists every check behind an event in the event table, failed ones marked", () => {
        const r = record();
        r.events[1].checks = [
            { name: "request-success-rate", kind: "metric", value: 100, threshold: "min 99%", outcome: "pass" },
            { name: "request-duration", kind: "metric", value: 3, threshold: "max 500ms", outcome: "pass" },
        ];
        const html = renderReportHtml(r);
        assert.match(html, /<td class="checks"><span class="pass">metric request-success-rate = 100 \(min 99%\): pass<\/span><br><span class="pass">metric request-duration = 3 \(max 500ms\): pass<\/span><\/td>/);
        assert.match(html, /<td class="checks"><span class="fail">metric request-success-rate = 84 \(min 99\): fail<\/span><\/td>/);
    });

    it("says in A/B testing that the weights are the header route's and other requests stay on the primary", () => {
        const headerMatch = describeHeaderMatch([{ headers: { "x-canary": { exact: "insider" } } }, { headers: { cookie: { regex: "^(.*?;)?(canary=always)(;.*)?$" }, "x-user": { prefix: "qa-" } } }]);
        assert.strictEqual(headerMatch, 'x-canary exact "insider" or cookie regex "^(.*?;)?(canary=always)(;.*)?$" and x-user prefix "qa-"');
        const ab = { ...record(), headerMatch: 'x-canary exact "insider"' };
        assert.strictEqual(reportCharts(ab)[0].title, 'Canary weight (%) for requests with x-canary exact "insider"; all others go to the primary');
        assert.match(renderReportHtml(ab), /max canary weight 5 \(requests with x-canary exact &quot;insider&quot; only\)/);
        assert.match(formatMetricLine([{ time: 1_008_000, name: "request-duration", value: 3 }], ab.bounds, 100, ab.startedAt, ab.headerMatch), /metrics   canary weight 100 \(requests with x-canary exact "insider"\)  request-duration 3ms/);
        assert.strictEqual(reportCharts(record())[0].title, "Canary weight (%)");
    });

    it("charts weight as steps and breaks metric lines where there was no data", () => {
        const charts = reportCharts(record());
        assert.deepStrictEqual(charts.map((c) => c.title), ["Canary weight (%)", "Success rate (%) of canary pods", "P99 request duration (ms) of canary pods", "legacy (custom)"]);
        const html = renderReportHtml(record());
        assert.strictEqual(html.match(/<svg /g)?.length, 4);
        const successPath = html.split("<svg ")[2].match(/<path d="([^"]+)"/)![1];
        assert.strictEqual(successPath.match(/M/g)?.length, 2, "a gap (no data) starts a new segment");
        const weightPath = html.split("<svg ")[1].match(/<path d="([^"]+)"/)![1];
        assert.match(weightPath, /^M[\d.]+,[\d.]+H[\d.]+V[\d.]+H[\d.]+V[\d.]+H[\d.]+$/, "weights hold until the next write");
        assert.match(html.split("<svg ")[2], /class="threshold"/);
        assert.match(html.split("<svg ")[2], />min 99%</);
        assert.match(html.split("<svg ")[3], />max 500ms</);
        assert.deepStrictEqual(charts[1].checked, [{ time: 1_006_000, value: 84, outcome: "fail" }], "the value the halt checked");
        assert.match(html.split("<svg ")[2], /<circle [^>]*r="5" fill="none" stroke="#cf222e"[^>]*><title>6\.0s: analysis checked 84%, fail<\/title>/);
        assert.deepStrictEqual(charts[2].checked, []);
        assert.ok(!html.includes("<script>"), "event text is escaped");
        assert.match(html, /&lt;script&gt;/);
        assert.match(html, /test &lt;driver&gt;/);
        assert.match(html, /<span class="rolled">rolled back<\/span>/);
    });

    it("writes report.json with the record, a summary and readable bounds", () => {
        const parsed = JSON.parse(reportJson(record()));
        assert.strictEqual(parsed.result, "rolled back");
        assert.deepStrictEqual(parsed.summary, { durationMs: 20_000, maxCanaryWeight: 5, warnings: 1, events: 3 });
        assert.strictEqual(parsed.bounds[0].text, "min 99%");
        assert.strictEqual(parsed.metrics.length, 6);
        assert.strictEqual(parsed.events[2].check.value, 84);
    });

    it("groups the requests served by route and the canary weight in force, and lists them in the page", () => {
        const router = (canary: number): VirtualRouterSpec => ({
            listeners: [{ portMapping: { port: 9898, protocol: "http" } }],
            routes: [{ name: "podinfo", httpRoute: { match: { prefix: "/" }, action: { weightedTargets: [{ virtualNodeRef: { name: "podinfo-canary" }, weight: canary }, { virtualNodeRef: { name: "podinfo-primary" }, weight: 100 - canary }] } } }],
        });
        const writes = [{ time: 0, spec: router(0) }, { time: 100, spec: router(50) }];
        const entry = (time: number, virtualNode: string): AccessLogEntry => ({ time, host: "podinfo.test:9898", method: "GET", path: "/", headers: {}, route: "podinfo", virtualNode, status: 200, attempts: 1, durationMs: 1 });
        const entries = [entry(50, "podinfo-primary"), entry(150, "podinfo-canary"), entry(160, "podinfo-primary"), entry(170, "podinfo-canary")];
        const rows = trafficRows(entries, appMeshRuleOf(writes, "podinfo-canary"), "podinfo-canary");
        assert.deepStrictEqual(rows, [
            { route: "podinfo", canaryWeight: 0, requests: 1, toCanary: 0 },
            { route: "podinfo", canaryWeight: 50, requests: 3, toCanary: 2 },
        ]);
        assert.strictEqual(formatTrafficRow(rows[1]), "route podinfo at canary weight 50: 2 of 3 requests (67%) reached the canary");
        assert.match(renderReportHtml({ ...record(), traffic: rows }), /<h2>Traffic served<\/h2>\n<ul><li>route podinfo at canary weight 0: 0 of 1 requests \(0%\)/);
    });
});
