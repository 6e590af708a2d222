import assert from "node:assert/strict";
import { finalizePromotion, recoverInterruptedRollout, runAnalysis } from "../../analysis/engine/engine";
import { LEASE_POLL_MS, leaseDurationSeconds } from "../../analysis/engine/lease";
import { resolveAnalysis } from "../../analysis/spec/canary";
import { harness, leaseTakenBy, request, START, tutorialAnalysis, type Harness, type HarnessOptions } from "./engine-harness";

const FOREIGN = "ci-runner-7/4242/a1b2c3";
const TAKEN_OVER = `Stopping the analysis of podinfo.test without touching it: its analysis lease was taken over by ${FOREIGN}, which owns the canary now`;
const FAILING = { kind: "value", value: 80 } as const;

/** A harness whose router reads show in the trace, to see what came before the lease. */
function tracingReads(options: HarnessOptions): Harness {
    const h: Harness = harness({
        ...options,
        failRead: () => {
            h.trace.push("read weights");
            return undefined;
        },
    });
    return h;
}

describe("engine: the canary's lease", () => {
    it("is taken before the first router read, renewed at every wait and released after a promotion", async () => {
        const h = tracingReads({ lease: {} });
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);

        assert.equal(outcome.status, "succeeded");
        assert.deepEqual(h.trace.slice(0, 2), ["lease taken", "read weights"]);
        assert.equal(h.trace.at(-1), "lease released");
        assert.equal(h.trace.filter((line) => line.startsWith("lease")).length, 2);
        // One renewal per wait: the ten intervals of the tutorial's analysis.
        assert.equal(h.sleeps.length, 10);
        assert.equal(h.renewals, 10);
    });

    it("is released after a rollback, once traffic is back on the primary", async () => {
        const h = harness({ lease: {}, metric: () => FAILING });
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);

        assert.equal(outcome.status, "failed");
        assert.equal(h.trace[0], "lease taken");
        assert.equal(h.trace.at(-1), "lease released");
        assert.ok(h.trace.indexOf("scale 0") < h.trace.indexOf("lease released"));
    });

    it("is released when Finalize throws, and held around a recovery", async () => {
        const forbidden = () => Object.assign(new Error("forbidden"), { transient: false });
        const h = harness({ lease: {}, weights: { primary: 50, canary: 50 }, canaryReplicas: 2, failWrite: forbidden });
        await assert.rejects(finalizePromotion(request(tutorialAnalysis()), h.ports, "promoted"), /finalizing podinfo\.test failed: .*forbidden/);
        assert.equal(h.trace[0], "lease taken");
        assert.equal(h.trace.at(-1), "lease released");

        const r = harness({ lease: {}, weights: { primary: 70, canary: 30 }, canaryReplicas: 2 });
        assert.equal(await recoverInterruptedRollout(request(tutorialAnalysis()), r.ports), true);
        assert.deepEqual(r.trace, ["lease taken", "Warning: Recovering interrupted rollout of podinfo.test", "route 100/0", "scale 0", "lease released"]);
    });

    it("waits while another run holds it: one event naming the holder and its expiry, then goes on once it expired", async () => {
        const expiry = START + 40_500;
        const takenAt = START + 42_000;
        // Not ready for 30 s after the lease is taken: the wait for the lease must not count toward the progress deadline (60 s).
        const notReady = { ready: false, retriable: true, reason: "canary deployment podinfo.test not ready" } as const;
        const h = harness({ lease: { heldBy: { holder: FOREIGN, until: expiry } }, readiness: (x) => (x.now < takenAt + 30_000 ? notReady : { ready: true }) });
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);

        assert.equal(outcome.status, "succeeded", outcome.reason);
        assert.deepEqual(h.trace.slice(0, 2), [`Warning: Waiting for podinfo.test's analysis lease held by ${FOREIGN} (expires in 41s)`, "lease taken"]);
        assert.equal(h.trace.filter((line) => line.includes("analysis lease held by")).length, 1);
        assert.deepEqual(h.sleeps.slice(0, 21), Array(21).fill(LEASE_POLL_MS));
        assert.equal(h.events.find((e) => e.message === "New revision detected! Scaling up podinfo.test")?.timestamp, takenAt);
    });

    it("taken over mid-analysis: the run stops at once, failed, naming the new holder, and writes nothing more", async () => {
        const h = harness({ lease: { failRenewal: (n) => (n === 3 ? leaseTakenBy(FOREIGN) : undefined) } });
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);

        assert.equal(outcome.status, "failed");
        assert.equal(outcome.reason, TAKEN_OVER);
        assert.equal(outcome.rollback, undefined, "nothing was rolled back");
        assert.deepEqual(h.trace.slice(-3), ["route 85/15", "Normal: Advance podinfo.test canary weight 15", `Warning: ${TAKEN_OVER}`]);
        assert.deepEqual(h.weights, { primary: 85, canary: 15 });
        assert.equal(h.replicas, 2);
        assert.ok(!h.trace.includes("lease released"));
    });

    it("taken over while the rollback retries a restore: the restore stops, the canary is not touched", async () => {
        const h = harness({
            lease: { failRenewal: (_n, x) => (x.trace.some((line) => line.includes("Could not route all traffic")) ? leaseTakenBy(FOREIGN) : undefined) },
            metric: () => FAILING,
            failWrite: (_n, weights) => (weights.canary === 0 ? new Error("socket hang up") : undefined),
        });
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);

        assert.equal(outcome.reason, TAKEN_OVER);
        assert.equal(h.writes.filter((w) => w.canary === 0).length, 1);
        assert.ok(!h.trace.includes("scale 0"));
        assert.equal(h.trace.at(-1), `Warning: ${TAKEN_OVER}`);
    });

    it("ignores renewals the API fails: the run goes on", async () => {
        const unreachable = () => Object.assign(new Error("renew Lease test/podinfo-canary-analysis failed (after 2 attempts): the Kubernetes API server could not be reached"), { transient: true });
        const h = harness({ lease: { failRenewal: unreachable } });
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);

        assert.equal(outcome.status, "succeeded");
        assert.equal(h.renewals, 10);
        assert.equal(h.trace.at(-1), "lease released");
    });

    it("not taken (the API refuses it): the run fails before it touches anything", async () => {
        const h = harness({ lease: {}, weights: { primary: 70, canary: 30 }, canaryReplicas: 2 });
        const refused = "take Lease test/podinfo-canary-analysis failed: 403 Forbidden: leases.coordination.k8s.io is forbidden";
        h.ports.lease!.tryAcquire = async () => {
            throw Object.assign(new Error(refused), { transient: false });
        };
        const outcome = await runAnalysis(request(tutorialAnalysis()), h.ports);

        const reason = `Not starting the analysis of podinfo.test, nothing was changed: ${refused}`;
        assert.equal(outcome.reason, reason);
        assert.deepEqual(h.trace, [`Warning: ${reason}`]);
        assert.deepEqual(h.writes, []);
    });

    it("lasts three intervals, at least 15 s", () => {
        assert.equal(leaseDurationSeconds(resolveAnalysis({ interval: "1m" })), 180);
        assert.equal(leaseDurationSeconds(resolveAnalysis({ interval: "1s" })), 15);
    });
});
