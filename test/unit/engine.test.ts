import assert from "node:assert/strict";
import { finalizePromotion, recoverInterruptedRollout, RESTORE_BUDGET_MS, runAnalysis } from "../../analysis/engine/engine";
import type { WebhookResult } from "../../analysis/engine/ports";
import type { AnalysisSpec, WebhookSpec } from "../../analysis/spec/canary";
import { acceptanceTest, elapsedFrom, harness, healthy, loadTest, MINUTE, OK, request, START, tutorialAnalysis } from "./engine-harness";

const NEW_REVISION = ["Normal: New revision detected! Scaling up podinfo.test", "alert info: New revision detected, progressing canary analysis.", "scale 2"];
const STARTING = "Normal: Starting canary analysis for podinfo.test";
const COPYING = "Normal: Copying podinfo.test template spec to podinfo-primary.test";
const FORBIDDEN: WebhookResult = { ok: false, status: 403, message: "Forbidden" };

function advances(weights: number[]): string[] {
    return weights.flatMap((w) => [`route ${100 - w}/${w}`, `Normal: Advance podinfo.test canary weight ${w}`]);
}

function rollbackTail(cause: string, alert: string): string[] {
    return [cause, "route 100/0", "Warning: Canary failed! Scaling down podinfo.test", "scale 0", alert];
}

/** A hook answering from a per-hook script of results (the last one repeats). */
function scripted(script: Record<string, WebhookResult[]>) {
    const seen: Record<string, number> = {};
    return (hook: WebhookSpec): WebhookResult => {
        const results = script[hook.name];
        if (!results) {
            return OK;
        }
        const n = (seen[hook.name] = (seen[hook.name] ?? 0) + 1);
        return results[Math.min(n, results.length) - 1];
    };
}

describe("engine: canary strategy", () => {
    it("steps 5..50 on a healthy canary, one interval per step, then promotes", async () => {
        const h = harness();
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);

        assert.deepEqual(h.trace, [
            ...NEW_REVISION,
            STARTING,
            "Normal: Pre-rollout check acceptance-test passed",
            ...advances([5, 10, 15, 20, 25, 30, 35, 40, 45, 50]),
            COPYING,
        ]);
        assert.equal(outcome.status, "succeeded");
        assert.equal(outcome.canaryWeight, 50);
        assert.equal(outcome.failedChecks, 0);
        assert.equal(elapsedFrom(h, "Starting canary analysis for podinfo.test"), 10 * MINUTE);
        // pre-rollout once, the load test started with the first step, then load test and both metrics in
        // each of the 10 intervals
        assert.equal(outcome.checks.length, 1 + 1 + 10 * 3);
        assert.deepEqual(outcome.checks.slice(0, 3).map((c) => c.name), ["acceptance-test", "load-test", "load-test"]);
        assert.ok(outcome.checks.every((c) => c.outcome === "pass"));
        assert.deepEqual(h.metricReads.slice(0, 2), ["request-success-rate", "request-duration"]);
        assert.deepEqual(outcome.checks[3], { name: "request-success-rate", kind: "metric", threshold: "min 99%", window: "1m", value: 99.9, unit: "%", outcome: "pass" });
        assert.deepEqual(outcome.checks[4], { name: "request-duration", kind: "metric", threshold: "max 500ms", window: "30s", value: 120, unit: "ms", outcome: "pass" });

        const advance10 = h.events.find((e) => e.message === "Advance podinfo.test canary weight 10")!;
        assert.deepEqual(advance10.checks?.map((c) => c.name), ["load-test", "request-success-rate", "request-duration"]);
        assert.equal(advance10.phase, "Progressing");
        assert.equal(advance10.canaryWeight, 10);
        assert.equal(h.events.at(-1)!.phase, "Promoting");

        const newRevisionAlert = h.alerts[0];
        assert.deepEqual(newRevisionAlert, {
            canary: "podinfo.test",
            message: "New revision detected, progressing canary analysis.",
            severity: "info",
            fields: [
                { name: "Target", value: "Deployment/podinfo.test" },
                { name: "Failed checks threshold", value: "5" },
                { name: "Progress deadline", value: "60s" },
                { name: "Traffic routing", value: "Weight step: 5 max: 50" },
            ],
        });
        assert.deepEqual(h.calls[0], {
            hook: "acceptance-test",
            payload: { name: "podinfo", namespace: "test", phase: "Progressing", checksum: "7c9f6b5d", metadata: acceptanceTest.metadata },
        });
        assert.deepEqual(h.calls[1].payload, { name: "podinfo", namespace: "test", phase: "Progressing", checksum: "7c9f6b5d", metadata: loadTest.metadata });
    });

    it("then finalizes: all traffic to the primary, canary to zero, post-rollout hooks, success alert", async () => {
        const analysis = tutorialAnalysis();
        analysis.webhooks!.push({ name: "notify", type: "post-rollout", url: "http://flagger-loadtester.test/" });
        const h = harness({ weights: { primary: 50, canary: 50 }, canaryReplicas: 2 });
        await finalizePromotion(request(analysis), h.ports, "promoted");

        assert.deepEqual(h.trace, [
            "route 100/0",
            "Normal: Routing all traffic to primary",
            "scale 0",
            "Normal: Post-rollout check notify passed",
            "Normal: Promotion completed! Scaling down podinfo.test",
            "alert info: Canary analysis completed successfully, promotion finished.",
        ]);
        assert.deepEqual(h.calls.map((c) => [c.hook, c.payload.phase]), [["notify", "Succeeded"]]);
        assert.deepEqual(h.events.map((e) => e.phase), ["Finalising", "Succeeded", "Succeeded"]);
        // Flagger's Finalising run: the canary is scaled down one interval after the route rests.
        assert.deepEqual(h.sleeps, [MINUTE]);
        assert.equal(h.now, START + MINUTE);
    });

    it("follows stepWeights", async () => {
        const analysis: AnalysisSpec = { ...tutorialAnalysis(), stepWeight: undefined, maxWeight: undefined, stepWeights: [1, 5, 10, 20, 50] };
        const h = harness();
        const outcome = await runAnalysis(request(analysis), h.ports);

        assert.deepEqual(h.trace, [...NEW_REVISION, STARTING, "Normal: Pre-rollout check acceptance-test passed", ...advances([1, 5, 10, 20, 50]), COPYING]);
        assert.equal(outcome.status, "succeeded");
        assert.equal(elapsedFrom(h, "Starting canary analysis for podinfo.test"), 5 * MINUTE);
        assert.deepEqual(h.alerts[0].fields.at(-1), { name: "Traffic routing", value: "Weight steps: 1,5,10,20,50 max: 50" });
    });

    it("overshoots maxWeight with the last step, as Flagger does", async () => {
        const analysis: AnalysisSpec = { interval: "30s", stepWeight: 20, maxWeight: 50 };
        const h = harness();
        const outcome = await runAnalysis(request(analysis), h.ports);

        assert.deepEqual(h.trace, [...NEW_REVISION, STARTING, ...advances([20, 40, 60]), COPYING]);
        assert.equal(outcome.canaryWeight, 60);
        assert.equal(elapsedFrom(h, "Starting canary analysis for podinfo.test"), 3 * 30_000);
    });

    it("returns traffic in stepWeightPromotion steps, one per interval", async () => {
        const h = harness({ weights: { primary: 50, canary: 50 }, canaryReplicas: 2 });
        await finalizePromotion(request({ ...tutorialAnalysis(), stepWeightPromotion: 20 }), h.ports, "promoted");

        assert.deepEqual(h.trace, [
            "route 70/30",
            "Normal: Advance podinfo.test primary weight 70",
            "route 90/10",
            "Normal: Advance podinfo.test primary weight 90",
            "route 100/0",
            "Normal: Advance podinfo.test primary weight 100",
            "scale 0",
            "Normal: Promotion completed! Scaling down podinfo.test",
            "alert info: Canary analysis completed successfully, promotion finished.",
        ]);
        assert.deepEqual(h.sleeps, [MINUTE, MINUTE, MINUTE]);
        assert.deepEqual(h.events.map((e) => e.phase), ["Promoting", "Promoting", "Finalising", "Succeeded"]);
    });
});

describe("engine: A/B testing and blue/green", () => {
    it("A/B: routes matching traffic to the canary for every iteration, then promotes", async () => {
        const analysis: AnalysisSpec = {
            interval: "1m",
            threshold: 10,
            iterations: 10,
            match: [{ headers: { "x-canary": { exact: "insider" } } }],
            metrics: tutorialAnalysis().metrics,
            webhooks: [loadTest],
        };
        const h = harness();
        const outcome = await runAnalysis(request(analysis), h.ports);

        const iterations = Array.from({ length: 10 }, (_, i) => `Normal: Advance podinfo.test canary iteration ${i + 1}/10`);
        assert.deepEqual(h.trace, [...NEW_REVISION, STARTING, "route 0/100", ...iterations, COPYING]);
        assert.deepEqual(h.writes, [{ primary: 0, canary: 100 }]);
        assert.equal(outcome.status, "succeeded");
        assert.equal(outcome.canaryWeight, 100);
        assert.equal(elapsedFrom(h, "Starting canary analysis for podinfo.test"), 10 * MINUTE);
        assert.deepEqual(h.alerts[0].fields.at(-1), { name: "Traffic routing", value: "A/B Testing" });
        // the load test starts with the first iteration; checks run from the second interval on: 9 intervals
        // of load test + 2 metrics
        assert.equal(outcome.checks.length, 1 + 9 * 3 + 3);
    });

    it("blue/green: iterations at 0%, then all traffic to the canary for one interval, then promotes", async () => {
        const analysis: AnalysisSpec = { interval: "1m", threshold: 2, iterations: 3, metrics: tutorialAnalysis().metrics, webhooks: [loadTest] };
        const h = harness();
        const outcome = await runAnalysis(request(analysis), h.ports);

        assert.deepEqual(h.trace, [
            ...NEW_REVISION,
            STARTING,
            "Normal: Advance podinfo.test canary iteration 1/3",
            "Normal: Advance podinfo.test canary iteration 2/3",
            "Normal: Advance podinfo.test canary iteration 3/3",
            "route 0/100",
            "Normal: Routing all traffic to canary",
            COPYING,
        ]);
        assert.equal(outcome.status, "succeeded");
        assert.equal(outcome.canaryWeight, 100);
        assert.equal(elapsedFrom(h, "Starting canary analysis for podinfo.test"), 4 * MINUTE);
        assert.deepEqual(h.alerts[0].fields.at(-1), { name: "Traffic routing", value: "Blue/Green" });
    });
});

describe("engine: failed checks and rollback", () => {
    it("rolls back as soon as the success rate fails `threshold` times", async () => {
        const analysis: AnalysisSpec = { ...tutorialAnalysis(), threshold: 2 };
        analysis.webhooks!.push({ name: "notify", type: "post-rollout", url: "http://flagger-loadtester.test/" });
        const h = harness({
            metric: (metric, h) =>
                metric.name === "request-success-rate" && h.weights.canary >= 15 ? { kind: "value", value: 61.3912 } : healthy(metric),
        });
        const outcome = await runAnalysis(request(analysis), h.ports);

        const halt = "Halt podinfo.test advancement success rate 61.39% < 99%";
        assert.deepEqual(h.trace, [
            ...NEW_REVISION,
            STARTING,
            "Normal: Pre-rollout check acceptance-test passed",
            ...advances([5, 10, 15]),
            `Warning: ${halt}`,
            `Warning: ${halt}`,
            ...rollbackTail("Warning: Rolling back podinfo.test failed checks threshold reached 2", "alert error: Failed checks threshold reached 2"),
            "Normal: Post-rollout check notify passed",
        ]);
        assert.deepEqual(outcome, { ...outcome, status: "failed", reason: halt, failedChecks: 2, canaryWeight: 0, rollback: "threshold" });
        assert.equal(elapsedFrom(h, "Starting canary analysis for podinfo.test"), 4 * MINUTE);
        const haltEvent = h.events.find((e) => e.message === halt)!;
        assert.deepEqual(haltEvent.check, { name: "request-success-rate", kind: "metric", threshold: "min 99%", window: "1m", value: 61.3912, unit: "%", outcome: "fail", message: halt });
        assert.equal(haltEvent.failedChecks, 1);
        assert.equal(haltEvent.canaryWeight, 15);
        // the failing success rate short-circuits: request-duration is not read in failing intervals
        assert.equal(h.metricReads.length, 2 * 2 + 2);
        assert.deepEqual(h.calls.at(-1)!.payload.phase, "Failed");
        assert.deepEqual(h.events.at(-1)!.phase, "Failed");
    });

    it("rolls back on latency with Flagger's duration wording", async () => {
        const h = harness({
            metric: (metric, h) => (metric.name === "request-duration" && h.weights.canary >= 10 ? { kind: "value", value: 1200.7 } : healthy(metric)),
        });
        const outcome = await runAnalysis(request({ ...tutorialAnalysis(), threshold: 1 }), h.ports);

        const halt = "Halt podinfo.test advancement request duration 1.2s > 500ms";
        assert.deepEqual(h.trace, [
            ...NEW_REVISION,
            STARTING,
            "Normal: Pre-rollout check acceptance-test passed",
            ...advances([5, 10]),
            `Warning: ${halt}`,
            ...rollbackTail("Warning: Rolling back podinfo.test failed checks threshold reached 1", "alert error: Failed checks threshold reached 1"),
        ]);
        assert.equal(outcome.reason, halt);
        assert.deepEqual(outcome.checks.at(-1), { name: "request-duration", kind: "metric", threshold: "max 500ms", window: "30s", value: 1200, unit: "ms", outcome: "fail", message: halt });
    });

    it("counts 'no values found' as a failed check and rolls back at the threshold", async () => {
        const h = harness({
            metric: (metric) => (metric.name === "request-success-rate" ? { kind: "no-data", message: "no values found" } : healthy(metric)),
        });
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);

        const halt = "Halt advancement no values found for appmesh metric request-success-rate probably podinfo.test is not receiving traffic: no values found";
        assert.deepEqual(h.trace, [
            ...NEW_REVISION,
            STARTING,
            "Normal: Pre-rollout check acceptance-test passed",
            ...advances([5]),
            ...Array.from({ length: 5 }, () => `Warning: ${halt}`),
            ...rollbackTail("Warning: Rolling back podinfo.test failed checks threshold reached 5", "alert error: Failed checks threshold reached 5"),
        ]);
        assert.equal(outcome.failedChecks, 5);
        assert.equal(outcome.checks.at(-1)!.outcome, "no-data");
        // threshold 5 reached at the fifth failing interval, not one interval later as in Flagger
        assert.equal(elapsedFrom(h, "Starting canary analysis for podinfo.test"), 5 * MINUTE);
    });

    it("counts a failing rollout hook and skips the metrics of that interval", async () => {
        const h = harness({ hook: scripted({ "load-test": [{ ok: false, status: 500, message: "command hey failed: exit status 1" }] }) });
        const outcome = await runAnalysis(request({ ...tutorialAnalysis(), threshold: 1 }), h.ports);

        const halt = "Halt podinfo.test advancement external check load-test failed command hey failed: exit status 1";
        assert.deepEqual(h.trace, [
            ...NEW_REVISION,
            STARTING,
            "Normal: Pre-rollout check acceptance-test passed",
            ...advances([5]),
            `Warning: ${halt}`,
            ...rollbackTail("Warning: Rolling back podinfo.test failed checks threshold reached 1", "alert error: Failed checks threshold reached 1"),
        ]);
        assert.equal(outcome.reason, halt);
        // the load test starts with the first step, so its failure counts in that same interval
        assert.equal(elapsedFrom(h, "Starting canary analysis for podinfo.test"), 0);
        assert.deepEqual(h.metricReads, []);
        assert.deepEqual(outcome.checks.at(-1), { name: "load-test", kind: "webhook", outcome: "fail", message: "command hey failed: exit status 1" });
    });

    it("retries a failing pre-rollout hook every interval, counting each failure", async () => {
        const h = harness({ hook: scripted({ "acceptance-test": [{ ok: false, status: 500, message: "token not found" }] }) });
        const outcome = await runAnalysis(request({ ...tutorialAnalysis(), threshold: 2 }), h.ports);

        const halt = "Warning: Halt podinfo.test advancement pre-rollout check acceptance-test failed token not found";
        assert.deepEqual(h.trace, [
            ...NEW_REVISION,
            STARTING,
            halt,
            STARTING,
            halt,
            ...rollbackTail("Warning: Rolling back podinfo.test failed checks threshold reached 2", "alert error: Failed checks threshold reached 2"),
        ]);
        assert.deepEqual(h.writes, [{ primary: 100, canary: 0 }]);
        assert.equal(outcome.status, "failed");
        assert.equal(outcome.failedChecks, 2);
    });

    it("rolls back when a rollback hook signals, without counting a failed check", async () => {
        const analysis = tutorialAnalysis();
        analysis.webhooks!.push({ name: "manual", type: "rollback", url: "http://flagger-loadtester.test/rollback/check" });
        const h = harness({ hook: scripted({ manual: [FORBIDDEN, FORBIDDEN, { ok: true, status: 200, message: "Approved" }] }) });
        const outcome = await runAnalysis(request(analysis), h.ports);

        const idle = "Normal: Rollback hook manual not signaling a rollback";
        assert.deepEqual(h.trace, [
            ...NEW_REVISION,
            idle,
            STARTING,
            "Normal: Pre-rollout check acceptance-test passed",
            ...advances([5]),
            idle,
            ...advances([10]),
            "Warning: Rollback check manual passed",
            ...rollbackTail("Warning: Rolling back podinfo.test manual webhook invoked", "alert warn: Rolling back manual webhook invoked"),
        ]);
        assert.deepEqual(outcome, { ...outcome, status: "failed", reason: "Rolling back podinfo.test manual webhook invoked", failedChecks: 0, canaryWeight: 0, rollback: "manual" });
        assert.equal(h.calls.find((c) => c.hook === "manual")!.payload.phase, "Progressing");
    });
});

describe("engine: confirm gates", () => {
    it("waits at closed gates, re-checking every interval, and goes on once they open", async () => {
        const analysis: AnalysisSpec = {
            interval: "1m",
            stepWeight: 25,
            maxWeight: 50,
            webhooks: [
                { name: "rollout-gate", type: "confirm-rollout", url: "http://flagger-loadtester.test/gate/check" },
                { name: "traffic-gate", type: "confirm-traffic-increase", url: "http://flagger-loadtester.test/gate/check" },
                { name: "promotion-gate", type: "confirm-promotion", url: "http://flagger-loadtester.test/gate/check" },
            ],
        };
        const h = harness({
            hook: scripted({
                "rollout-gate": [FORBIDDEN, FORBIDDEN, OK],
                "traffic-gate": [OK, FORBIDDEN, OK],
                "promotion-gate": [FORBIDDEN, FORBIDDEN, OK],
            }),
        });
        const outcome = await runAnalysis(request(analysis, { progressDeadlineSeconds: 600 }), h.ports);

        const trafficPassed = "Normal: Confirm-traffic-increase check traffic-gate passed";
        assert.deepEqual(h.trace, [
            "Warning: Halt podinfo.test advancement waiting for approval rollout-gate",
            "alert warn: Canary is waiting for approval.",
            "Normal: Confirm-rollout check rollout-gate passed",
            ...NEW_REVISION,
            STARTING,
            trafficPassed,
            ...advances([25]),
            "Warning: Halt podinfo.test advancement waiting for traffic increase approval traffic-gate",
            "alert warn: Canary traffic increase is waiting for approval.",
            trafficPassed,
            ...advances([50]),
            trafficPassed,
            "Warning: Halt podinfo.test advancement waiting for promotion approval promotion-gate",
            "alert warn: Canary promotion is waiting for approval.",
            trafficPassed,
            trafficPassed,
            "Normal: Confirm-promotion check promotion-gate passed",
            COPYING,
        ]);
        assert.equal(outcome.status, "succeeded");
        assert.equal(outcome.failedChecks, 0);
        assert.equal(h.events.find((e) => e.message.startsWith("New revision"))!.timestamp - START, 2 * MINUTE);
        assert.equal(elapsedFrom(h, "Starting canary analysis for podinfo.test"), 5 * MINUTE);
        assert.deepEqual(
            h.calls.filter((c) => c.hook === "rollout-gate").map((c) => c.payload.phase),
            ["Progressing", "Waiting", "Waiting"],
        );
        assert.deepEqual(
            h.events.filter((e) => e.message.includes("promotion")).map((e) => e.phase),
            ["WaitingPromotion", "WaitingPromotion"],
        );
    });

    it("does not alert for a muted gate", async () => {
        const gate: WebhookSpec = { name: "rollout-gate", type: "confirm-rollout", url: "http://flagger-loadtester.test/gate/check", muteAlert: true };
        const h = harness({ hook: scripted({ "rollout-gate": [FORBIDDEN, OK] }) });
        await runAnalysis(request({ interval: "1m", stepWeight: 50, webhooks: [gate] }), h.ports);

        assert.deepEqual(h.trace.slice(0, 3), [
            "Warning: Halt podinfo.test advancement waiting for approval rollout-gate",
            "Normal: Confirm-rollout check rollout-gate passed",
            ...NEW_REVISION.slice(0, 1),
        ]);
    });

    it("rolls back when a gate stays closed past the progress deadline", async () => {
        const gate: WebhookSpec = { name: "promotion-gate", type: "confirm-promotion", url: "http://flagger-loadtester.test/gate/check" };
        const h = harness({ hook: scripted({ "promotion-gate": [FORBIDDEN] }) });
        const outcome = await runAnalysis(request({ interval: "1m", stepWeight: 50, maxWeight: 50, webhooks: [gate] }), h.ports);

        const error = "confirm-promotion hook promotion-gate did not approve within 60s";
        assert.deepEqual(h.trace, [
            ...NEW_REVISION,
            STARTING,
            ...advances([50]),
            "Warning: Halt podinfo.test advancement waiting for promotion approval promotion-gate",
            "alert warn: Canary promotion is waiting for approval.",
            ...rollbackTail(`Warning: Rolling back podinfo.test progress deadline exceeded ${error}`, `alert error: Progress deadline exceeded ${error}`),
        ]);
        assert.equal(outcome.status, "failed");
        assert.equal(outcome.reason, `Rolling back podinfo.test progress deadline exceeded ${error}`);
        assert.equal(outcome.rollback, "deadline");
        assert.equal(elapsedFrom(h, "Starting canary analysis for podinfo.test"), 2 * MINUTE);
    });
});

describe("engine: progress deadline", () => {
    const waiting = "canary deployment podinfo.test not ready: waiting for rollout to finish: 0 of 2 (readyThreshold 100%) updated replicas are available";

    it("rolls back a canary that is not ready within progressDeadlineSeconds", async () => {
        const h = harness({ readiness: () => ({ ready: false, retriable: true, reason: waiting }) });
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);

        assert.deepEqual(h.trace, [
            ...NEW_REVISION,
            `Warning: ${waiting}`,
            ...rollbackTail(`Warning: Rolling back podinfo.test progress deadline exceeded ${waiting}`, `alert error: Progress deadline exceeded ${waiting}`),
        ]);
        assert.equal(outcome.status, "failed");
        assert.equal(outcome.reason, `Rolling back podinfo.test progress deadline exceeded ${waiting}`);
        assert.equal(h.now - START, 60_000);
        assert.deepEqual(outcome.checks, []);
    });

    it("starts the analysis once the canary becomes ready", async () => {
        const h = harness({ readiness: (h) => (h.now - START >= 10_000 ? { ready: true } : { ready: false, retriable: true, reason: waiting }) });
        const outcome = await runAnalysis(request({ interval: "1m", stepWeight: 50, maxWeight: 50 }), h.ports);

        assert.deepEqual(h.trace, [...NEW_REVISION, `Warning: ${waiting}`, STARTING, ...advances([50]), COPYING]);
        assert.equal(outcome.status, "succeeded");
        assert.equal(h.events.find((e) => e.message.startsWith("Starting"))!.timestamp - START, 10_000);
    });

    it("holds the analysis while the canary is not ready mid-rollout, without counting a failed check", async () => {
        const crashing = "canary deployment podinfo.test not ready: waiting for rollout to finish: 1 of 2 (readyThreshold 100%) updated replicas are available";
        const h = harness({
            readiness: (h) => (h.now - START === 2 * MINUTE ? { ready: false, retriable: true, reason: crashing } : { ready: true }),
        });
        const outcome = await runAnalysis(request({ interval: "1m", stepWeight: 25, maxWeight: 50 }), h.ports);

        assert.deepEqual(h.trace, [...NEW_REVISION, STARTING, ...advances([25, 50]), `Warning: ${crashing}`, COPYING]);
        assert.equal(outcome.failedChecks, 0);
        assert.equal(elapsedFrom(h, "Starting canary analysis for podinfo.test"), 3 * MINUTE);
    });

    it("rolls back when the canary stays not ready mid-rollout past the deadline", async () => {
        const crashing = "canary deployment podinfo.test not ready: waiting for rollout to finish: 1 of 2 (readyThreshold 100%) updated replicas are available";
        const h = harness({
            readiness: (h) => (h.now - START >= MINUTE ? { ready: false, retriable: true, reason: crashing } : { ready: true }),
        });
        const outcome = await runAnalysis(request({ interval: "1m", stepWeight: 25, maxWeight: 50 }), h.ports);

        assert.deepEqual(h.trace, [
            ...NEW_REVISION,
            STARTING,
            ...advances([25]),
            `Warning: ${crashing}`,
            ...rollbackTail(`Warning: Rolling back podinfo.test progress deadline exceeded ${crashing}`, `alert error: Progress deadline exceeded ${crashing}`),
        ]);
        assert.equal(outcome.status, "failed");
        assert.equal(h.now - START, 2 * MINUTE);
    });

    it("rolls back at once when readiness is not retriable", async () => {
        const reason = 'canary deployment podinfo.test not ready: deployment "podinfo" exceeded its progress deadline';
        const h = harness({ readiness: () => ({ ready: false, retriable: false, reason }) });
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);

        assert.deepEqual(h.trace, [
            ...NEW_REVISION,
            ...rollbackTail(`Warning: Rolling back podinfo.test progress deadline exceeded ${reason}`, `alert error: Progress deadline exceeded ${reason}`),
        ]);
        assert.equal(outcome.status, "failed");
        assert.equal(h.now, START);
    });
});

describe("engine: skipAnalysis", () => {
    it("promotes a ready canary without analysis, and finalizes with the skipped wording", async () => {
        const analysis = tutorialAnalysis();
        analysis.webhooks!.push({ name: "notify", type: "post-rollout", url: "http://flagger-loadtester.test/" });
        const h = harness();
        const outcome = await runAnalysis(request(analysis, { skipAnalysis: true }), h.ports);

        assert.deepEqual(h.trace, [...NEW_REVISION, "route 100/0", COPYING]);
        assert.deepEqual(outcome, { status: "skipped", failedChecks: 0, canaryWeight: 0, checks: [] });
        assert.deepEqual(h.calls, []);

        const sleepsBefore = h.sleeps.length;
        await finalizePromotion(request(analysis, { skipAnalysis: true }), h.ports, "skipped");
        assert.equal(h.sleeps.length, sleepsBefore, "a canary that never took traffic goes without a Finalising interval");
        assert.deepEqual(h.trace.slice(5), [
            "scale 0",
            "Normal: Post-rollout check notify passed",
            "Normal: Promotion completed! Canary analysis was skipped for podinfo.test",
            "alert info: Canary analysis was skipped, promotion finished.",
        ]);
    });

    it("treats a spec without analysis as skipAnalysis", async () => {
        const h = harness();
        const outcome = await runAnalysis(request(undefined), h.ports);
        assert.equal(outcome.status, "skipped");
        assert.deepEqual(h.trace, [...NEW_REVISION, "route 100/0", COPYING]);
    });
});

describe("engine: exceptions from ports", () => {
    it("a router write throwing midway ends at resting weights with the canary scaled down", async () => {
        const h = harness({ failWrite: (n) => (n === 3 ? new Error("connect ECONNREFUSED 127.0.0.1:6443") : undefined) });
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);

        assert.deepEqual(h.trace, [
            ...NEW_REVISION,
            STARTING,
            "Normal: Pre-rollout check acceptance-test passed",
            ...advances([5, 10]),
            "route 85/15 failed",
            ...rollbackTail("Warning: connect ECONNREFUSED 127.0.0.1:6443", "alert error: Canary analysis failed: connect ECONNREFUSED 127.0.0.1:6443"),
        ]);
        assert.deepEqual(outcome, { ...outcome, status: "failed", reason: "connect ECONNREFUSED 127.0.0.1:6443", canaryWeight: 0, rollback: "error" });
        assert.deepEqual(h.weights, { primary: 100, canary: 0 });
    });

    it("still scales the canary down and reports both errors when the router stays unreachable past the restore budget", async () => {
        const h = harness({ failWrite: (n) => (n >= 2 ? new Error("router unavailable") : undefined) });
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);

        assert.equal(outcome.status, "failed");
        // Delays 1, 2, 4, 8, then 10 s: the 15th attempt, at 115 s, is the last one that fits in 120 s.
        assert.equal(outcome.reason, "router unavailable; could not route all traffic to the primary (gave up after 15 attempts over 115s): router unavailable");
        assert.equal(outcome.canaryWeight, 5);
        assert.deepEqual(h.trace.slice(-4), ["route 100/0 failed", "Warning: Canary failed! Scaling down podinfo.test", "scale 0", "alert error: Canary analysis failed: router unavailable"]);
        const retries = h.events.filter((e) => e.message.startsWith("Could not route all traffic to the primary for podinfo.test"));
        assert.equal(retries.length, 14);
        assert.equal(retries[0].message, "Could not route all traffic to the primary for podinfo.test (attempt 1), retrying in 1s: router unavailable");
        assert.ok(retries.at(-1)!.timestamp - retries[0].timestamp <= RESTORE_BUDGET_MS);
    });

    it("keeps restoring through an API-server outage: an event per attempt, then traffic on the primary and the canary at zero", async () => {
        const refused = () => new Error("get VirtualRouter test/podinfo failed (after 6 attempts): the Kubernetes API server could not be reached: connect ECONNREFUSED 127.0.0.1:6443");
        // The write to 85/15 fails (the outage starts), then the first three restore attempts fail too.
        const h = harness({ failWrite: (n) => (n >= 3 && n <= 6 ? refused() : undefined) });
        let scaleFailures = 2;
        const scale = h.ports.workloads.scaleCanary;
        h.ports.workloads.scaleCanary = async (replicas) => {
            if (replicas === 0 && scaleFailures-- > 0) {
                throw Object.assign(refused(), { transient: true });
            }
            return scale(replicas);
        };
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);

        assert.equal(outcome.status, "failed");
        assert.equal(outcome.reason, refused().message);
        assert.deepEqual(h.weights, { primary: 100, canary: 0 });
        assert.equal(h.replicas, 0);
        const tail = h.trace.slice(h.trace.indexOf("route 85/15 failed"));
        assert.deepEqual(tail.map((line) => line.replace(/: get VirtualRouter.*$/, "")), [
            "route 85/15 failed",
            `Warning: ${refused().message}`.replace(/: get VirtualRouter.*$/, ""),
            "route 100/0 failed",
            "Warning: Could not route all traffic to the primary for podinfo.test (attempt 1), retrying in 1s",
            "route 100/0 failed",
            "Warning: Could not route all traffic to the primary for podinfo.test (attempt 2), retrying in 2s",
            "route 100/0 failed",
            "Warning: Could not route all traffic to the primary for podinfo.test (attempt 3), retrying in 4s",
            "route 100/0",
            "Warning: Canary failed! Scaling down podinfo.test",
            "Warning: Could not scale the canary to zero for podinfo.test (attempt 1), retrying in 1s",
            "Warning: Could not scale the canary to zero for podinfo.test (attempt 2), retrying in 2s",
            "scale 0",
            `alert error: Canary analysis failed: ${refused().message}`.replace(/: get VirtualRouter.*$/, ""),
        ]);
    });

    it("keeps retrying a restore step the API server denies: right after a restart it refuses valid credentials until its caches sync", async () => {
        const denied = () => Object.assign(new Error("403 Forbidden: virtualrouters is forbidden"), { transient: false, denied: true });
        const h = harness({ failWrite: (n) => (n >= 3 && n <= 5 ? denied() : undefined) });
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);
        assert.equal(outcome.reason, "403 Forbidden: virtualrouters is forbidden");
        assert.equal(h.events.filter((e) => e.message.startsWith("Could not route all traffic to the primary")).length, 2);
        assert.deepEqual(h.weights, { primary: 100, canary: 0 });
    });

    it("does not retry a restore step whose error says retrying cannot help", async () => {
        const forbidden = () => Object.assign(new Error("403 Forbidden: virtualrouters is forbidden"), { transient: false });
        const h = harness({ failWrite: (n) => (n >= 3 ? forbidden() : undefined) });
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);
        assert.equal(outcome.reason, "403 Forbidden: virtualrouters is forbidden; could not route all traffic to the primary: 403 Forbidden: virtualrouters is forbidden");
        assert.ok(!h.events.some((e) => e.message.startsWith("Could not")), h.trace.join("\n"));
        assert.equal(h.replicas, 0);
    });

    it("refuses a spec that can never advance before touching anything", async () => {
        const h = harness();
        const outcome = await runAnalysis(request({ interval: "1m", maxWeight: 50 }), h.ports);
        assert.equal(outcome.status, "failed");
        assert.match(outcome.reason!, /never advances: set analysis.stepWeight, analysis.stepWeights or analysis.iterations/);
        assert.deepEqual(h.trace.slice(1), ["route 100/0", "Warning: Canary failed! Scaling down podinfo.test", "scale 0", `alert error: Canary analysis failed: ${outcome.reason}`]);
    });

    it("a metrics port throwing ends the run the same way", async () => {
        const h = harness({
            metric: (metric, h) => {
                if (h.weights.canary >= 10) {
                    throw new Error("socket hang up");
                }
                return healthy(metric);
            },
        });
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);
        assert.equal(outcome.status, "failed");
        assert.equal(outcome.reason, "socket hang up");
        assert.deepEqual(h.trace.slice(-5), rollbackTail("Warning: socket hang up", "alert error: Canary analysis failed: socket hang up"));
    });

    it("alert and event-webhook failures never change the outcome", async () => {
        const analysis: AnalysisSpec = {
            interval: "1m",
            stepWeight: 50,
            webhooks: [{ name: "events", type: "event", url: "http://events.example/", metadata: { eventMessage: "not mine", team: "payments" } }],
        };
        const h = harness({ hook: () => ({ ok: false, status: 500, message: "boom" }) });
        h.ports.alerts.send = async () => {
            throw new Error("slack down");
        };
        const outcome = await runAnalysis(request(analysis), h.ports);

        assert.equal(outcome.status, "succeeded");
        assert.equal(h.calls.length, h.events.length);
        assert.deepEqual(h.calls[0].payload, {
            name: "podinfo",
            namespace: "test",
            phase: "Progressing",
            checksum: "7c9f6b5d",
            metadata: { eventMessage: "New revision detected! Scaling up podinfo.test", eventType: "Normal", team: "payments", timestamp: String(START) },
        });
    });

    it("an event sink throwing mid-rollout ends at resting weights with the canary scaled down", async () => {
        const h = harness();
        const record = h.ports.events.emit;
        h.ports.events.emit = (event) => {
            record(event);
            if (event.message === "Advance podinfo.test canary weight 10") {
                throw new Error("stdout closed");
            }
        };
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);
        assert.equal(outcome.status, "failed");
        assert.equal(outcome.reason, "stdout closed");
        assert.deepEqual(h.trace.slice(-6), ["Normal: Advance podinfo.test canary weight 10", ...rollbackTail("Warning: stdout closed", "alert error: Canary analysis failed: stdout closed")]);
        assert.deepEqual(h.weights, { primary: 100, canary: 0 });
    });

    it("an event webhook port throwing synchronously never changes the outcome", async () => {
        const analysis: AnalysisSpec = { interval: "1m", stepWeight: 50, webhooks: [{ name: "events", type: "event", url: "http://events.example/" }] };
        const h = harness();
        let calls = 0;
        h.ports.webhooks.call = ((() => {
            calls += 1;
            throw new Error("not a promise");
        }) as unknown) as typeof h.ports.webhooks.call;
        const outcome = await runAnalysis(request(analysis), h.ports);
        assert.equal(outcome.status, "succeeded");
        assert.equal(calls, h.events.length);
    });

    it("finalizePromotion rethrows after returning traffic and scaling the canary down", async () => {
        const h = harness({ weights: { primary: 50, canary: 50 }, failWrite: (n) => (n === 1 ? new Error("conflict") : undefined) });
        await assert.rejects(finalizePromotion(request(tutorialAnalysis()), h.ports, "promoted"), /finalizing podinfo.test failed: conflict/);
        assert.deepEqual(h.trace, ["route 100/0 failed", "Warning: conflict", "route 100/0", "scale 0"]);
    });
});

describe("engine: promotion waits for the primary", () => {
    const notReady = { ready: false, retriable: true, reason: "podinfo-primary.test not ready: waiting for rollout to finish: 0 of 2 (readyThreshold 100%) updated replicas are available" };

    it("holds Finalize until the primary is ready, then routes back", async () => {
        const h = harness({ weights: { primary: 50, canary: 50 }, canaryReplicas: 2 });
        let polls = 0;
        h.ports.workloads.primaryReadiness = async () => (++polls < 3 ? notReady : { ready: true });
        await finalizePromotion(request(tutorialAnalysis()), h.ports, "promoted");
        assert.equal(polls, 3);
        // Two readiness polls, then the Finalising interval before the canary goes.
        assert.deepEqual(h.sleeps, [2000, 2000, MINUTE]);
        assert.deepEqual(h.trace.slice(0, 3), ["route 100/0", "Normal: Routing all traffic to primary", "scale 0"]);
    });

    it("fails the promotion past the progress deadline with Flagger's event and alert, leaving traffic where it was", async () => {
        const h = harness({ weights: { primary: 50, canary: 50 }, canaryReplicas: 2 });
        h.ports.workloads.primaryReadiness = async () => notReady;
        await assert.rejects(finalizePromotion(request(tutorialAnalysis()), h.ports, "promoted"), { message: `Promotion of podinfo.test failed, primary not ready: ${notReady.reason}` });
        assert.deepEqual(h.trace, [`Warning: Promotion of podinfo.test failed, primary not ready: ${notReady.reason}`, `alert error: Promotion failed, primary not ready: ${notReady.reason}`]);
        assert.equal(h.now - START, 60_000);
        assert.deepEqual(h.weights, { primary: 50, canary: 50 });
        assert.equal(h.replicas, 2);
    });

    it("does not wait for a first deployment's primary", async () => {
        const h = harness({ canaryReplicas: 1 });
        h.ports.workloads.primaryReadiness = async () => assert.fail("a first deployment has nothing to promote");
        await finalizePromotion(request(tutorialAnalysis()), h.ports, "initialized");
        assert.equal(h.replicas, 0);
    });
});

describe("engine: initialization and recovery", () => {
    it("finalizes a first deployment with Flagger's initialization messages", async () => {
        const h = harness({ canaryReplicas: 1 });
        await finalizePromotion(request(tutorialAnalysis()), h.ports, "initialized");
        assert.deepEqual(h.trace, ["scale 0", "Normal: Initialization done! podinfo.test", "alert info: New Deployment detected, initialization completed."]);
        assert.equal(h.alerts[0].fields.length, 4);
    });

    it("recovers an interrupted rollout: resting weights and canary to zero", async () => {
        const h = harness({ weights: { primary: 70, canary: 30 }, canaryReplicas: 2 });
        assert.equal(await recoverInterruptedRollout(request(tutorialAnalysis()), h.ports), true);
        assert.deepEqual(h.trace, ["Warning: Recovering interrupted rollout of podinfo.test", "route 100/0", "scale 0"]);
    });

    it("recovers a canary left running at resting weights without touching the router", async () => {
        const h = harness({ canaryReplicas: 2 });
        assert.equal(await recoverInterruptedRollout(request(tutorialAnalysis()), h.ports), true);
        assert.deepEqual(h.trace, ["Warning: Recovering interrupted rollout of podinfo.test", "scale 0"]);
    });

    it("re-applies resting weights when the router cannot be read", async () => {
        const h = harness({ failRead: () => new Error("VirtualRouter routes podinfo not found") });
        assert.equal(await recoverInterruptedRollout(request(tutorialAnalysis()), h.ports), true);
        assert.deepEqual(h.trace, ["Warning: Recovering interrupted rollout of podinfo.test", "route 100/0", "scale 0"]);
    });

    it("does nothing when nothing was interrupted", async () => {
        const h = harness();
        assert.equal(await recoverInterruptedRollout(request(tutorialAnalysis()), h.ports), false);
        assert.deepEqual(h.trace, []);
    });

    it("throws when the interrupted rollout cannot be recovered", async () => {
        const h = harness({ weights: { primary: 70, canary: 30 }, failWrite: () => Object.assign(new Error("forbidden"), { transient: false }) });
        await assert.rejects(recoverInterruptedRollout(request(tutorialAnalysis()), h.ports), /could not route all traffic to the primary: forbidden/);
        assert.deepEqual(h.trace.slice(-1), ["scale 0"]);
    });

    it("retries the recovery's restore through a short outage", async () => {
        const h = harness({ weights: { primary: 70, canary: 30 }, canaryReplicas: 2, failWrite: (n) => (n <= 2 ? new Error("socket hang up") : undefined) });
        assert.equal(await recoverInterruptedRollout(request(tutorialAnalysis()), h.ports), true);
        assert.deepEqual(h.weights, { primary: 100, canary: 0 });
        assert.equal(h.replicas, 0);
        assert.deepEqual(h.sleeps, [1000, 2000]);
    });

    it("runAnalysis recovers first, then starts from resting weights", async () => {
        const h = harness({ weights: { primary: 70, canary: 30 }, canaryReplicas: 2 });
        const outcome = await runAnalysis(request({ interval: "1m", stepWeight: 50, maxWeight: 50 }), h.ports);
        assert.deepEqual(h.trace, [
            "Warning: Recovering interrupted rollout of podinfo.test",
            "route 100/0",
            "scale 0",
            ...NEW_REVISION,
            STARTING,
            ...advances([50]),
            COPYING,
        ]);
        assert.equal(outcome.status, "succeeded");
    });
});
