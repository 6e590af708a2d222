import assert from "node:assert/strict";
import { describeThreshold, evaluateMetric, goFloat, metricsInRunOrder, unusableMetric } from "../../analysis/engine/checks";
import type { MetricReading } from "../../analysis/engine/ports";
import type { MetricSpec } from "../../analysis/spec/canary";

const target = { name: "podinfo", namespace: "test", service: "podinfo" };
const value = (v: number): MetricReading => ({ kind: "value", value: v });
const successRate: MetricSpec = { name: "request-success-rate", thresholdRange: { min: 99 }, interval: "1m" };
const duration: MetricSpec = { name: "request-duration", thresholdRange: { max: 500 }, interval: "30s" };
const haltOf = (metric: MetricSpec, reading: MetricReading) => evaluateMetric(metric, reading, target, "appmesh").halt;

describe("checks: request-success-rate", () => {
    it("passes at or above min and records the value", () => {
        assert.deepEqual(evaluateMetric(successRate, value(99), target, "appmesh"), {
            record: { name: "request-success-rate", kind: "metric", threshold: "min 99%", window: "1m", value: 99, unit: "%", outcome: "pass" },
        });
    });

    it("halts below min / above max with two decimals", () => {
        assert.equal(haltOf(successRate, value(61.3912)), "Halt podinfo.test advancement success rate 61.39% < 99%");
        assert.equal(haltOf({ name: "request-success-rate", thresholdRange: { max: 99.5 } }, value(100)), "Halt podinfo.test advancement success rate 100.00% > 99.5%");
    });

    it("deprecated threshold is a minimum", () => {
        const metric = { name: "request-success-rate", threshold: 95 };
        assert.equal(haltOf(metric, value(94.5)), "Halt podinfo.test advancement success rate 94.50% < 95%");
        assert.equal(haltOf(metric, value(95)), undefined);
        assert.equal(describeThreshold(metric), "min 95%");
    });

    it("no data and query errors use Flagger's built-in wording", () => {
        const noData = evaluateMetric(successRate, { kind: "no-data", message: "no values found" }, target, "appmesh");
        assert.equal(noData.halt, "Halt advancement no values found for appmesh metric request-success-rate probably podinfo.test is not receiving traffic: no values found");
        assert.equal(noData.record.outcome, "no-data");
        const error = evaluateMetric(successRate, { kind: "error", message: "error response: Status 503 Service Unavailable: down" }, target, "appmesh");
        assert.equal(error.halt, "Prometheus query failed: error response: Status 503 Service Unavailable: down");
        assert.equal(error.record.outcome, "error");
    });
});

describe("checks: request-duration", () => {
    it("truncates to whole milliseconds and prints Go durations", () => {
        assert.equal(haltOf(duration, value(1200.9)), "Halt podinfo.test advancement request duration 1.2s > 500ms");
        assert.equal(evaluateMetric(duration, value(1200.9), target, "appmesh").record.value, 1200);
        assert.equal(haltOf(duration, value(500.9)), undefined);
        assert.equal(haltOf({ name: "request-duration", thresholdRange: { max: 60000 } }, value(65_000)), "Halt podinfo.test advancement request duration 1m5s > 1m0s");
    });

    it("halts below min", () => {
        assert.equal(haltOf({ name: "request-duration", thresholdRange: { min: 10 } }, value(3.7)), "Halt podinfo.test advancement request duration 3ms < 10ms");
    });

    it("deprecated threshold is a maximum", () => {
        assert.equal(haltOf({ name: "request-duration", threshold: 500 }, value(501)), "Halt podinfo.test advancement request duration 501ms > 500ms");
        assert.equal(describeThreshold({ name: "request-duration", threshold: 500 }), "max 500ms");
    });

    it("no data: the duration variant has no error suffix", () => {
        assert.equal(
            haltOf(duration, { kind: "no-data", message: "no values found" }),
            "Halt advancement no values found for appmesh metric request-duration probably podinfo.test is not receiving traffic",
        );
    });
});

describe("checks: custom metrics", () => {
    const inline: MetricSpec = { name: "error-rate", query: "sum(rate(errors[1m]))", thresholdRange: { min: 0, max: 1 } };
    const template: MetricSpec = { name: "latency-p95", templateRef: { name: "latency" }, thresholdRange: { max: 300 } };

    it("halts with the metric name and two decimals", () => {
        assert.equal(haltOf(inline, value(2.5)), "Halt podinfo.test advancement error-rate 2.50 > 1");
        assert.equal(haltOf(inline, value(-0.25)), "Halt podinfo.test advancement error-rate -0.25 < 0");
        assert.equal(haltOf({ name: "queue", query: "q", threshold: 10 }, value(11)), "Halt podinfo.test advancement queue 11.00 > 10");
        assert.equal(describeThreshold(inline), "min 0 max 1");
    });

    it("no data and errors differ for inline queries and templates", () => {
        assert.equal(haltOf(inline, { kind: "no-data", message: "no values found" }), "Halt advancement no values found for metric: error-rate");
        assert.equal(haltOf(inline, { kind: "error", message: "timeout" }), "Prometheus query failed for error-rate: timeout");
        assert.equal(haltOf(template, { kind: "no-data", message: "no values found" }), "Halt advancement no values found for custom metric: latency-p95: no values found");
        assert.equal(haltOf(template, { kind: "error", message: "timeout" }), "Metric query failed for latency-p95: timeout");
    });

    it("a metric with nothing to query is an error", () => {
        assert.deepEqual(unusableMetric({ name: "apdex" }), {
            record: { name: "apdex", kind: "metric", outcome: "error", message: "Metric query failed for no usable metrics template and query were configured" },
            halt: "Metric query failed for no usable metrics template and query were configured",
        });
    });

    it("runs built-in and inline metrics first, then templates, each in list order", () => {
        const order = metricsInRunOrder([template, successRate, inline, duration]).map((m) => m.name);
        assert.deepEqual(order, ["request-success-rate", "error-rate", "request-duration", "latency-p95"]);
    });

    it("records the 1m window for a metric without one", () => {
        assert.equal(evaluateMetric(template, value(1), target, "appmesh").record.window, "1m");
    });
});

describe("checks: Go float formatting", () => {
    it("prints like Go's %v", () => {
        assert.equal(goFloat(99), "99");
        assert.equal(goFloat(99.5), "99.5");
        assert.equal(goFloat(0.00001), "1e-05");
        assert.equal(goFloat(1e21), "1e+21");
    });
});
