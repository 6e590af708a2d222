import assert from "node:assert/strict";
import { finalizePromotion, runAnalysis } from "../../analysis/engine/engine";
import type { WebhookSpec } from "../../analysis/spec/canary";
import { DRIVER_GONE, harness, healthy, MINUTE, OK, request, START, tutorialAnalysis } from "./engine-harness";

const GONE = `the \`pulumi up\` that started this analysis is gone (${DRIVER_GONE})`;
const ROLLING_BACK = `Rolling back podinfo.test: ${GONE}`;
const ROLLBACK = [`Warning: ${ROLLING_BACK}`, "route 100/0", "Warning: Canary failed! Scaling down podinfo.test", "scale 0", `alert warn: Canary analysis rolled back: ${GONE}`];
const notReady = (what: string) => ({ ready: false, retriable: true, reason: `${what} not ready: waiting for rollout to finish: 0 of 2 (readyThreshold 100%) updated replicas are available` }) as const;

describe("engine: the `pulumi up` driving the run goes away", () => {
    it("mid-interval: the analysis rolls back at once to resting weights with the canary at zero", async () => {
        const goneAt = START + 2.5 * MINUTE;
        const h = harness({ driver: { goneAt }, lease: {} });
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);

        assert.equal(outcome.status, "failed");
        assert.equal(outcome.reason, ROLLING_BACK);
        const advanced = h.trace.indexOf("Normal: Advance podinfo.test canary weight 15");
        assert.deepEqual(h.trace.slice(advanced + 1), [...ROLLBACK, "lease released"]);
        // Woken by the driver, not by the interval's end (a harness sleep that passes goneAt never returns).
        assert.equal(h.now, goneAt);
        assert.deepEqual(h.weights, { primary: 100, canary: 0 });
        assert.equal(h.replicas, 0);
    });

    it("while the canary scales up: the readiness polling wakes too, before the progress deadline", async () => {
        const goneAt = START + 5_000;
        const h = harness({ driver: { goneAt }, readiness: () => notReady("canary deployment podinfo.test") });
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);

        assert.equal(outcome.reason, ROLLING_BACK);
        assert.equal(outcome.rollback, "abandoned");
        assert.deepEqual(h.trace.slice(-ROLLBACK.length), ROLLBACK);
        assert.equal(h.now, goneAt);
    });

    it("at a closed confirm gate: the wait for approval wakes too", async () => {
        const gate: WebhookSpec = { name: "approval", type: "confirm-rollout", url: "http://flagger-loadtester.test/gate/check" };
        const goneAt = START + 30_000;
        const h = harness({ driver: { goneAt }, hook: (hook) => (hook.name === "approval" ? { ok: false, status: 403, message: "Forbidden" } : OK) });
        const outcome = await runAnalysis(request({ ...tutorialAnalysis(), webhooks: [gate] }), h.ports);

        assert.equal(outcome.reason, ROLLING_BACK);
        assert.equal(h.now, goneAt);
        assert.deepEqual(h.weights, { primary: 100, canary: 0 });
    });

    it("the rollback's restore still waits out its backoff", async () => {
        const goneAt = START + 2.5 * MINUTE;
        // Writes 1-3 step to 15; the rollback's first two writes fail as in an API-server outage.
        const h = harness({ driver: { goneAt }, failWrite: (n) => (n === 4 || n === 5 ? new Error("socket hang up") : undefined) });
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);

        assert.equal(outcome.reason, ROLLING_BACK);
        assert.deepEqual(h.sleeps.slice(-2), [1000, 2000]);
        assert.equal(h.now, goneAt + 3000);
        assert.deepEqual(h.weights, { primary: 100, canary: 0 });
        assert.equal(h.replicas, 0);
    });

    it("a promotion nobody will carry out is rolled back", async () => {
        const h = harness({
            driver: {},
            metric: (metric, x) => {
                if (x.weights.canary === 50) {
                    x.abandon();
                }
                return healthy(metric);
            },
        });
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);

        assert.equal(outcome.reason, ROLLING_BACK);
        assert.deepEqual(h.trace.slice(-ROLLBACK.length - 1), ["Normal: Copying podinfo.test template spec to podinfo-primary.test", ...ROLLBACK]);
    });

    it("while another run holds the lease: the run stops without touching anything", async () => {
        const h = harness({ driver: { goneAt: START + 5_000 }, lease: { heldBy: { holder: "laptop/77/0f0f0f", until: START + MINUTE } }, canaryReplicas: 2, weights: { primary: 70, canary: 30 } });
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);

        const reason = `Not starting the analysis of podinfo.test, nothing was changed: ${GONE}`;
        assert.equal(outcome.reason, reason);
        assert.deepEqual(h.trace, ["Warning: Waiting for podinfo.test's analysis lease held by laptop/77/0f0f0f (expires in 60s)", `Warning: ${reason}`]);
        assert.deepEqual(h.writes, []);
    });

    it("Finalize still routes back to the primary, skipping the remaining stepWeightPromotion steps", async () => {
        const goneAt = START + 1.5 * MINUTE;
        const h = harness({ driver: { goneAt }, weights: { primary: 50, canary: 50 }, canaryReplicas: 2 });
        await finalizePromotion(request({ ...tutorialAnalysis(), stepWeightPromotion: 10 }), h.ports, "promoted");

        // Steps of 10 from 50: 60, 70, then straight to 100 instead of 80 once the driver is gone.
        assert.deepEqual(h.writes.map((w) => w.primary), [60, 70, 100]);
        assert.equal(h.events.find((e) => e.message === "Advance podinfo.test primary weight 100")?.timestamp, goneAt);
        assert.deepEqual(h.trace.slice(-2), ["Normal: Promotion completed! Scaling down podinfo.test", "alert info: Canary analysis completed successfully, promotion finished."]);
        assert.equal(h.replicas, 0);
    });

    it("Finalize waiting for a primary that is not ready gives up at once, leaving traffic where it was", async () => {
        const goneAt = START + 10_000;
        const h = harness({ driver: { goneAt }, weights: { primary: 50, canary: 50 }, canaryReplicas: 2 });
        const primary = notReady("podinfo-primary.test");
        h.ports.workloads.primaryReadiness = async () => primary;
        const reason = `${primary.reason}; ${GONE}`;

        await assert.rejects(finalizePromotion(request(tutorialAnalysis()), h.ports, "promoted"), { message: `Promotion of podinfo.test failed, primary not ready: ${reason}` });
        assert.equal(h.now, goneAt);
        assert.deepEqual(h.weights, { primary: 50, canary: 50 });
        assert.equal(h.replicas, 2);
    });

    it("Finalize whose primary is ready at the last look routes back as usual", async () => {
        const goneAt = START + 10_000;
        const h = harness({ driver: { goneAt }, weights: { primary: 50, canary: 50 }, canaryReplicas: 2 });
        h.ports.workloads.primaryReadiness = async () => (h.now < goneAt ? notReady("podinfo-primary.test") : { ready: true });
        await finalizePromotion(request(tutorialAnalysis()), h.ports, "promoted");

        assert.deepEqual(h.trace.slice(0, 3), ["route 100/0", "Normal: Routing all traffic to primary", "scale 0"]);
        assert.equal(h.now, goneAt);
    });
});
