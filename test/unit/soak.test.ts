/** The soak's pure parts: seeded plans, the invariants, the closing table, its stack and its hooks' answers. */
import assert from "node:assert/strict";
import * as path from "node:path";
import { parseCanarySpec } from "../../analysis/spec/validation";
import { PROJECT } from "../../config/stack";
import { readStackConfig } from "../../playground/pulumi-cli";
import { hookAnswer } from "../../playground/soak/hook-server";
import { allowedPreviewChanges, invariantViolations, type RolloutObservation } from "../../playground/soak/invariants";
import { allowedOutcomes, APP_FAULTS, appFaultSwitch, describePlan, drawPlans, faultKinds, HOOK_FAULTS, seededRandom, type RolloutPlan } from "../../playground/soak/plan";
import { parseSoakArgs } from "../../playground/soak/soak";
import { soakStackConfig, SOAK_PROGRESS_DEADLINE_SECONDS } from "../../playground/soak/stack";
import { failingCanaryBoundMs, soakTable, type SoakRolloutResult } from "../../playground/soak/summary";

const clean: RolloutPlan = { index: 1, version: "6.1.1", app: "none", errorRate: 0, latencyMs: 0, hook: "none" };
const IMAGE = "ghcr.io/stefanprodan/podinfo:6.1.1";

function observed(change: Partial<RolloutObservation> = {}): RolloutObservation {
    return {
        plan: clean,
        injected: [],
        outcome: "promoted",
        runs: 1,
        weights: { primary: 100, canary: 0 },
        canaryReplicas: 0,
        primaryImage: IMAGE,
        expectedPrimaryImage: IMAGE,
        leftoverProcesses: [],
        previewChanges: [],
        ...change,
    };
}

describe("soak plans", () => {
    it("replay from their seed: the same seed gives the same plans, another seed others", () => {
        assert.deepEqual(drawPlans(42, 30), drawPlans(42, 30));
        assert.notDeepEqual(drawPlans(42, 30), drawPlans(43, 30));
        // A longer run starts with the shorter run's plans: a failing rollout replays with fewer.
        assert.deepEqual(drawPlans(42, 30).slice(0, 5), drawPlans(42, 5));
        const random = seededRandom(1);
        const draws = Array.from({ length: 1000 }, random);
        assert.ok(draws.every((d) => d >= 0 && d < 1));
        assert.ok(new Set(draws).size > 990);
    });

    it("draw every fault kind, within its bounds, over a long run", () => {
        const plans = drawPlans(7, 400);
        assert.deepEqual(new Set(plans.map((p) => p.app)), new Set(APP_FAULTS));
        assert.deepEqual(new Set(plans.map((p) => p.hook)), new Set(HOOK_FAULTS));
        for (const plan of plans) {
            assert.equal(plan.version, `6.1.${plan.index}`);
            assert.ok(plan.app !== "errors" || (plan.errorRate >= 0.2 && plan.errorRate <= 0.6), `${plan.errorRate}`);
            assert.ok(plan.app !== "latency" || (plan.latencyMs >= 600 && plan.latencyMs <= 1000), `${plan.latencyMs}`);
            assert.ok(!plan.prometheusDown || (plan.prometheusDown.atMs >= 3000 && plan.prometheusDown.forMs <= 12_000));
            assert.ok(!plan.apiServerDown || (plan.apiServerDown.atMs >= 2000 && plan.apiServerDown.forMs <= 10_000));
            assert.ok(plan.killAtMs === undefined || (plan.killAtMs >= 3000 && plan.killAtMs <= 30_000));
        }
        const share = (hit: (p: RolloutPlan) => boolean) => plans.filter(hit).length / plans.length;
        for (const [name, hit] of [["Prometheus", (p: RolloutPlan) => !!p.prometheusDown], ["API server", (p: RolloutPlan) => !!p.apiServerDown], ["kill", (p: RolloutPlan) => p.killAtMs !== undefined]] as const) {
            assert.ok(share(hit) > 0.12 && share(hit) < 0.28, `${name} in ${share(hit)} of the plans`);
        }
        assert.ok(share((p) => faultKinds(p).length === 0) > 0.1, "some rollouts run clean, so promotion is soaked too");
    });

    it("print one line each, with every fault and its timing", () => {
        const plan: RolloutPlan = { index: 3, version: "6.1.3", app: "errors", errorRate: 0.35, latencyMs: 0, hook: "gate-closed", prometheusDown: { atMs: 4500, forMs: 6000 }, apiServerDown: { atMs: 2000, forMs: 3000 }, killAtMs: 12_000 };
        assert.equal(describePlan(plan), "#3 podinfo 6.1.3: app: 35% HTTP 500, webhook: gate-closed, Prometheus down 6s at 4.5s, API server down 3s at 2s, pulumi killed at 12s");
        assert.equal(describePlan(clean), "#1 podinfo 6.1.1: app: none, webhook: none");
        assert.deepEqual(faultKinds(plan), ["app errors", "webhook gate-closed", "Prometheus down", "API server down", "pulumi killed"]);
        assert.deepEqual(appFaultSwitch(plan), { errorRate: 0.35, latencyMs: 0, crashLoop: false });
        assert.deepEqual(appFaultSwitch({ ...clean, app: "crash-loop" }), { errorRate: 0, latencyMs: 0, crashLoop: true });
    });

    it("allow promotion only without a fault of the version or its gates; outages and kills may end either way", () => {
        assert.deepEqual(allowedOutcomes(clean), ["promoted"]);
        assert.deepEqual(allowedOutcomes({ ...clean, app: "latency", latencyMs: 700 }), ["rolled back"]);
        assert.deepEqual(allowedOutcomes({ ...clean, hook: "rollback" }), ["rolled back"]);
        assert.deepEqual(allowedOutcomes({ ...clean, hook: "check-timeout", killAtMs: 5000 }), ["rolled back"]);
        assert.deepEqual(allowedOutcomes({ ...clean, killAtMs: 5000 }), ["promoted", "rolled back"]);
        assert.deepEqual(allowedOutcomes({ ...clean, prometheusDown: { atMs: 1, forMs: 1 } }), ["promoted", "rolled back"]);
    });
});

describe("soak invariants", () => {
    it("hold for a rollout that ended at rest", () => {
        assert.deepEqual(invariantViolations(observed()), []);
        const rolledBack = observed({ plan: { ...clean, app: "errors", errorRate: 0.3 }, outcome: "rolled back", primaryImage: "old", expectedPrimaryImage: "old", previewChanges: ["update podinfo-analysis", "update podinfo-primary", "update podinfo-finalize"] });
        assert.deepEqual(invariantViolations(rolledBack), [], "the held Analysis update, and what is built from its outputs, are the changes a rollback leaves");
    });

    it("name each one broken, with what was seen", () => {
        const broken = observed({
            plan: { ...clean, app: "errors", errorRate: 0.3 },
            weights: { primary: 80, canary: 20 },
            canaryReplicas: 2,
            primaryImage: "podinfo:6.0.0",
            leftoverProcesses: ["123 pulumi-resource-kubernetes"],
            previewChanges: ["update podinfo-primary", "create podinfo-extra"],
            leaseHolder: "host-1",
            repair: { leftCanaryWeight: 20, firstChangeCanaryWeight: 25 },
            orphanHostAliveMs: 61_000,
        });
        assert.deepEqual(invariantViolations(broken), [
            "promoted, where the faults allow only rolled back",
            "apex route at primary 80 / canary 20, not at rest (100 / 0)",
            "canary Deployment at 2 replicas, not 0",
            `primary runs podinfo:6.0.0, not the last promoted ${IMAGE}`,
            "processes left running: 123 pulumi-resource-kubernetes",
            "pulumi preview shows changes beyond none: update podinfo-primary, create podinfo-extra",
            "the analysis lease is still held by host-1",
            "the interrupted run left canary weight 20, and the next run's first route change set canary 25, not 0",
            "the killed CLI's provider host still ran 61s after the kill",
        ]);
        assert.deepEqual(invariantViolations(observed({ outcome: "failed", runs: 3, failure: "connection refused" })), ["pulumi up still failed after 3 runs: connection refused"]);
        assert.deepEqual(invariantViolations(observed({ outcome: "rolled back", primaryImage: "old", expectedPrimaryImage: "old", previewChanges: ["update podinfo-analysis"] })), ["rolled back, where the faults allow only promoted"]);
        assert.deepEqual(allowedPreviewChanges("promoted", "web"), []);
        assert.deepEqual(allowedPreviewChanges("rolled back", "web"), ["update web-analysis", "update web-primary", "update web-finalize"]);
    });
});

describe("the soak's table", () => {
    it("counts the faults injected by kind (not those planned after pulumi up ended), outcomes, violations, user requests by cause, and the longest exposure against its bound", () => {
        const results: SoakRolloutResult[] = [
            { observation: observed(), violations: [], traffic: { sent: 300, canaryFaults: 0, routing: 0 }, durationMs: 40_000 },
            {
                observation: observed({ plan: { ...clean, index: 2, app: "errors", errorRate: 0.3, killAtMs: 5000, apiServerDown: { atMs: 60_000, forMs: 1000 } }, injected: ["app errors", "pulumi killed"], outcome: "rolled back", runs: 2 }),
                violations: ["x"],
                traffic: { sent: 200, canaryFaults: 7, routing: 1 },
                failingCanaryMs: 12_500,
                durationMs: 30_000,
            },
        ];
        assert.equal(failingCanaryBoundMs(5, 2000, 4000), 14_000);
        assert.equal(
            soakTable(results, { seed: 9, boundMs: 14_000, elapsedMs: 90_000 }),
            [
                "| | |",
                "|---|---|",
                "| seed | 9 |",
                "| rollouts | 2 in 1.5 min |",
                "| faults injected | app errors 1, pulumi killed 1 |",
                "| outcomes | promoted 1, recovered, then rolled back 1 |",
                "| invariant violations | 1 |",
                "| user requests | 500 sent, 8 failed (7 by the faulty canary, 1 by routing) |",
                "| longest on a failing canary | 12.5 s (#2); threshold × interval + metric window = 14.0 s |",
            ].join("\n"),
        );
    });
});

describe("the soak's stack and hooks", () => {
    it("is the playground stack with a 20 s progress deadline and the soak's gate, check and rollback hooks, and validates", () => {
        const playground = readStackConfig(path.join(__dirname, "..", "..", "Pulumi.playground.yaml"));
        const config = soakStackConfig(playground, "http://127.0.0.1:4321");
        const spec = parseCanarySpec(config[`${PROJECT}:canary`]);
        assert.equal(spec.progressDeadlineSeconds, SOAK_PROGRESS_DEADLINE_SECONDS);
        assert.deepEqual(spec.analysis?.webhooks?.map((h) => [h.name, h.type ?? "rollout", h.url]), [
            ["acceptance-test", "pre-rollout", "http://flagger-loadtester.test/"],
            ["load-test", "rollout", "http://flagger-loadtester.test/"],
            ["soak-gate", "confirm-rollout", "http://127.0.0.1:4321/gate"],
            ["soak-check", "rollout", "http://127.0.0.1:4321/check"],
            ["soak-rollback", "rollback", "http://127.0.0.1:4321/rollback"],
        ]);
        assert.deepEqual((playground[`${PROJECT}:canary`] as { analysis: { webhooks: unknown[] } }).analysis.webhooks.length, 2, "the playground stack is untouched");
    });

    it("answer as Flagger reads them: a 2xx opens the gate, passes the check and asks for a rollback", () => {
        assert.deepEqual(HOOK_FAULTS.map((f) => [f, hookAnswer("/gate", f), hookAnswer("/check", f), hookAnswer("/rollback", f)]), [
            ["none", 200, 200, 404],
            ["check-500", 200, 500, 404],
            ["check-timeout", 200, "late", 404],
            ["gate-closed", 403, 200, 404],
            ["rollback", 200, 200, 200],
        ]);
    });

    it("takes --rollouts and --seed, and names a bad value with what is allowed", () => {
        assert.deepEqual(parseSoakArgs([], () => 5), { rollouts: 30, seed: 5 });
        assert.deepEqual(parseSoakArgs(["--rollouts", "3", "--seed=11"]), { rollouts: 3, seed: 11 });
        assert.throws(() => parseSoakArgs(["--rollouts", "0"]), /--rollouts 0: must be a whole number of at least 1/);
        assert.throws(() => parseSoakArgs(["--seed", "x"]), /--seed x: must be a whole number of at least 0/);
        assert.throws(() => parseSoakArgs(["--rollouts"]), /--rollouts needs a value/);
        assert.throws(() => parseSoakArgs(["--bogus"]), /unknown argument --bogus\nusage: npm run soak/);
    });
});
