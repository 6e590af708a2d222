import * as assert from "node:assert/strict";
import type { CanaryEvent } from "../../analysis/engine/ports";
import { renderReportHtml, reportJson } from "../../analysis/report/report";
import { analysisRunRecord, reportBaseName } from "../../analysis/report/run-record";
import { parseStackConfig } from "../../config/stack";
import { stackFileValues } from "../../scripts/render";

const TARGET = { name: "podinfo", namespace: "test", service: "podinfo" };

function event(at: number, message: string, canaryWeight: number, checks: CanaryEvent["checks"] = []): CanaryEvent {
    return { type: "Normal", message, timestamp: at, phase: "Progressing", canaryWeight, failedChecks: 0, checks };
}

describe("the report of one Analysis run", () => {
    const rate = (value: number) => ({ name: "request-success-rate", kind: "metric" as const, value, unit: "%" as const, window: "1m", threshold: "min 99%", outcome: "pass" as const });
    const events = [
        event(1000, "New revision detected! Scaling up podinfo.test", 0),
        event(2000, "Advance podinfo.test canary weight 5", 5, [{ name: "load-test", kind: "webhook", outcome: "pass" }]),
        event(3000, "Advance podinfo.test canary weight 10", 10, [rate(99.5)]),
        event(4000, "Copying podinfo.test template spec to podinfo-primary.test", 10, [rate(100), { name: "request-duration", kind: "metric", window: "30s", threshold: "max 500ms", outcome: "no-data" }]),
    ];
    const record = analysisRunRecord({ target: TARGET, spec: parseStackConfig(stackFileValues("dev")).apps[0].canary, revision: "r2", previousRevision: "r1", startedAt: 500, finishedAt: 4500, events, result: "promoted" });

    it("charts the weights the events carried and exactly the metric values the analysis checked", () => {
        assert.deepEqual(record.weights, [
            { time: 500, canary: 0, primary: 100 },
            { time: 2000, canary: 5, primary: 95 },
            { time: 3000, canary: 10, primary: 90 },
        ]);
        assert.deepEqual(record.metrics, [
            { time: 3000, name: "request-success-rate", value: 99.5 },
            { time: 4000, name: "request-success-rate", value: 100 },
            { time: 4000, name: "request-duration", value: null },
        ]);
        assert.equal(record.title, "podinfo revision r1 → r2");
        assert.equal(record.intervalMs, 60_000);
        assert.deepEqual(record.bounds.map((b) => b.name), ["request-success-rate", "request-duration"]);
        assert.match(renderReportHtml(record), /over 1m \(min 99%\)/, "the HTML shows each check's window");
    });

    it("keeps every metric check's window in report.json, as the analysis queried it", () => {
        const checks = (JSON.parse(reportJson(record)).events as CanaryEvent[]).flatMap((e) => e.checks ?? []);
        const metrics = checks.filter((c) => c.kind === "metric");
        assert.deepEqual(metrics.map((c) => [c.name, c.window]), [["request-success-rate", "1m"], ["request-success-rate", "1m"], ["request-duration", "30s"]]);
        assert.ok(checks.length > metrics.length, "a webhook check, which has no window, is kept too");
    });

    it("names the files after the app, the revision and the start time, sortable", () => {
        assert.equal(reportBaseName(TARGET, "40a857abea41bb8f", Date.UTC(2026, 11, 2, 17, 58, 41, 123)), "podinfo-40a857abea41bb8f-20261202T175841Z");
    });
});
