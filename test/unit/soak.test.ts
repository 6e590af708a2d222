/** The soak's pure parts: seeded plans, the invariants, the closing table, its stack, its hooks' answers, `pulumi up`'s errors. */
import assert from "node:assert/strict";
import * as path from "node:path";
import { parseCanarySpec } from "../../analysis/spec/validation";
import { PROJECT } from "../../config/stack";
import { readStackConfig } from "../../playground/pulumi-cli";
import { hookAnswer } from "../../playground/soak/hook-server";
import { allowedPreviewChanges, invariantViolations, type AppObservation, type RolloutObservation } from "../../playground/soak/invariants";
import { allowedOutcomes, API_ERROR_STATUSES, APP_FAULTS, appFaultSwitch, appNames, describePlan, drawPlans, faultKinds, HOOK_FAULTS, seededRandom, type AppPlan, type RolloutPlan } from "../../playground/soak/plan";
import { MAX_APPS, parseSoakArgs } from "../../playground/soak/soak";
import { imageConfigKey, soakStackConfig, SOAK_PROGRESS_DEADLINE_SECONDS } from "../../playground/soak/stack";
import { failingCanaryBoundMs, soakTable, type SoakRolloutResult } from "../../playground/soak/summary";
import { unexplainedErrors } from "../../playground/soak/up-output";
import { faultMatches } from "../../playground/api-proxy";
import { ANALYSIS_CLIENT } from "../../playground/soak/rollout";

const podinfo: AppPlan = { name: "podinfo", version: "6.1.1", fault: "none", errorRate: 0, latencyMs: 0 };
const clean: RolloutPlan = { index: 1, apps: [podinfo], hook: "none", hookApp: "podinfo" };
const IMAGE = "ghcr.io/stefanprodan/podinfo:6.1.1";
const PLAYGROUND = readStackConfig(path.join(__dirname, "..", "..", "Pulumi.playground.yaml"));

function app(change: Partial<AppObservation> = {}): AppObservation {
    return { name: "podinfo", outcome: "promoted", weights: { primary: 100, canary: 0 }, canaryReplicas: 0, primaryImage: IMAGE, expectedPrimaryImage: IMAGE, ...change };
}

function observed(change: Partial<RolloutObservation> = {}): RolloutObservation {
    return { plan: clean, injected: [], runs: 1, apps: [app()], leftoverProcesses: [], previewChanges: [], ...change };
}

describe("soak plans", () => {
    it("replay from their seed: the same seed gives the same plans, another seed others, a shorter run the first ones", () => {
        assert.deepEqual(drawPlans(42, 30), drawPlans(42, 30));
        assert.notDeepEqual(drawPlans(42, 30), drawPlans(43, 30));
        assert.deepEqual(drawPlans(42, 30).slice(0, 5), drawPlans(42, 5));
        assert.deepEqual(drawPlans(42, 30, 3).slice(0, 5), drawPlans(42, 5, 3));
        const draws = Array.from({ length: 1000 }, seededRandom(1));
        assert.ok(draws.every((d) => d >= 0 && d < 1));
        assert.ok(new Set(draws).size > 990);
    });

    it("draw every fault kind, within its bounds, over a long run", () => {
        const plans = drawPlans(7, 2000);
        const apps = plans.map((p) => p.apps[0]);
        assert.deepEqual(new Set(apps.map((a) => a.fault)), new Set(APP_FAULTS));
        assert.deepEqual(new Set(plans.map((p) => p.hook)), new Set(HOOK_FAULTS));
        assert.deepEqual(new Set(plans.flatMap((p) => (p.apiErrors ? [p.apiErrors.status] : []))), new Set(API_ERROR_STATUSES));
        for (const plan of plans) {
            const [only] = plan.apps;
            assert.deepEqual([only.name, only.version, plan.hookApp], ["podinfo", `6.1.${plan.index}`, "podinfo"]);
            assert.ok(only.fault !== "errors" || (only.errorRate >= 0.2 && only.errorRate <= 0.6), `${only.errorRate}`);
            assert.ok(only.fault !== "latency" || (only.latencyMs >= 600 && only.latencyMs <= 1000), `${only.latencyMs}`);
            for (const timed of [plan.prometheusDown, plan.prometheusErrors]) {
                assert.ok(!timed || (timed.atMs >= 3000 && timed.atMs <= 20_000 && timed.forMs >= 3000 && timed.forMs <= 12_000));
            }
            assert.ok(!plan.apiServerDown || (plan.apiServerDown.atMs >= 2000 && plan.apiServerDown.forMs <= 10_000));
            assert.ok(!plan.apiErrors || (plan.apiErrors.times >= 2 && plan.apiErrors.times <= 4));
            assert.ok(plan.killAtMs === undefined || (plan.killAtMs >= 3000 && plan.killAtMs <= 30_000));
        }
        const share = (hit: (p: RolloutPlan) => boolean) => plans.filter(hit).length / plans.length;
        for (const [name, hit, chance] of [
            ["Prometheus down", (p: RolloutPlan) => !!p.prometheusDown, 0.15],
            ["Prometheus errors", (p: RolloutPlan) => !!p.prometheusErrors, 0.15],
            ["API server", (p: RolloutPlan) => !!p.apiServerDown, 0.15],
            ["API errors", (p: RolloutPlan) => !!p.apiErrors, 0.2],
            ["kill", (p: RolloutPlan) => p.killAtMs !== undefined, 0.2],
        ] as const) {
            assert.ok(Math.abs(share(hit) - chance) < 0.04, `${name} in ${share(hit)} of the plans`);
        }
        assert.ok(share((p) => faultKinds(p).length === 0) > 0.05, "some rollouts run clean, so promotion is soaked too");
    });

    it("give each of several apps its own versions and faults, and the webhook fault to one of them", () => {
        assert.deepEqual(appNames(1), ["podinfo"]);
        assert.deepEqual(appNames(3), ["app1", "app2", "app3"]);
        const plans = drawPlans(5, 200, 3);
        for (const plan of plans) {
            assert.deepEqual(plan.apps.map((a) => a.version), [1, 2, 3].map((i) => `6.${i}.${plan.index}`));
            assert.ok(appNames(3).includes(plan.hookApp));
        }
        assert.ok(plans.some((p) => p.apps.filter((a) => a.fault !== "none").length === 1), "faults on some apps of a rollout only");
        assert.deepEqual(new Set(plans.map((p) => p.hookApp)), new Set(appNames(3)));
    });

    it("print one line each, with every fault and its timing", () => {
        const plan: RolloutPlan = {
            index: 3,
            apps: [{ ...podinfo, version: "6.1.3", fault: "errors", errorRate: 0.35 }],
            hook: "gate-closed",
            hookApp: "podinfo",
            prometheusDown: { atMs: 4500, forMs: 6000 },
            prometheusErrors: { atMs: 3000, forMs: 5000 },
            apiServerDown: { atMs: 2000, forMs: 3000 },
            apiErrors: { atMs: 7000, status: 409, times: 3 },
            killAtMs: 12_000,
        };
        assert.equal(
            describePlan(plan),
            "#3 podinfo 6.1.3: 35% HTTP 500, webhook: gate-closed, Prometheus down 6s at 4.5s, Prometheus answering errors 5s at 3s, API server down 3s at 2s, 3 × HTTP 409 to the analysis at 7s, pulumi killed at 12s",
        );
        assert.equal(describePlan(clean), "#1 podinfo 6.1.1: none, webhook: none");
        const two: RolloutPlan = { index: 2, apps: [{ ...podinfo, name: "app1", version: "6.1.2" }, { ...podinfo, name: "app2", version: "6.2.2", fault: "latency", latencyMs: 700 }], hook: "rollback", hookApp: "app1" };
        assert.equal(describePlan(two), "#2 app1 6.1.2: none, app2 6.2.2: +700ms, webhook: rollback on app1");
        assert.deepEqual(faultKinds(plan), ["app errors", "webhook gate-closed", "Prometheus down", "Prometheus errors", "API server down", "API errors", "pulumi killed"]);
        assert.deepEqual(appFaultSwitch(plan.apps[0]), { errorRate: 0.35, latencyMs: 0, crashLoop: false });
        assert.deepEqual(appFaultSwitch({ ...podinfo, fault: "crash-loop" }), { errorRate: 0, latencyMs: 0, crashLoop: true });
    });

    it("allow promotion only without a fault of the version or its gates; outages and kills may end either way; API error bursts are absorbed", () => {
        assert.deepEqual(allowedOutcomes(clean, podinfo), ["promoted"]);
        assert.deepEqual(allowedOutcomes(clean, { ...podinfo, fault: "latency", latencyMs: 700 }), ["rolled back"]);
        assert.deepEqual(allowedOutcomes({ ...clean, hook: "rollback" }, podinfo), ["rolled back"]);
        assert.deepEqual(allowedOutcomes({ ...clean, hook: "rollback", hookApp: "other" }, podinfo), ["promoted"], "another app's hook fault");
        assert.deepEqual(allowedOutcomes({ ...clean, hook: "check-timeout", killAtMs: 5000 }, podinfo), ["rolled back"]);
        assert.deepEqual(allowedOutcomes({ ...clean, killAtMs: 5000 }, podinfo), ["promoted", "rolled back"]);
        assert.deepEqual(allowedOutcomes({ ...clean, prometheusDown: { atMs: 1, forMs: 1 } }, podinfo), ["promoted", "rolled back"]);
        assert.deepEqual(allowedOutcomes({ ...clean, prometheusErrors: { atMs: 1, forMs: 1 } }, podinfo), ["promoted", "rolled back"]);
        assert.deepEqual(allowedOutcomes({ ...clean, apiErrors: { atMs: 1, status: 503, times: 4 } }, podinfo), ["promoted"]);
    });
});

describe("soak invariants", () => {
    it("hold for a rollout that ended at rest", () => {
        assert.deepEqual(invariantViolations(observed()), []);
        const rolledBack = observed({
            plan: { ...clean, apps: [{ ...podinfo, fault: "errors", errorRate: 0.3 }] },
            apps: [app({ outcome: "rolled back", primaryImage: "old", expectedPrimaryImage: "old" })],
            previewChanges: ["update podinfo-analysis", "update podinfo-primary", "update podinfo-finalize"],
        });
        assert.deepEqual(invariantViolations(rolledBack), [], "the held Analysis update, and what is built from its outputs, are the changes a rollback leaves");
    });

    it("name each one broken, with what was seen", () => {
        const broken = observed({
            plan: { ...clean, apps: [{ ...podinfo, fault: "errors", errorRate: 0.3 }] },
            apps: [app({ weights: { primary: 80, canary: 20 }, canaryReplicas: 2, primaryImage: "podinfo:6.0.0", leaseHolder: "host-1", repair: { leftCanaryWeight: 20, firstChangeCanaryWeight: 25 } })],
            leftoverProcesses: ["123 pulumi-resource-kubernetes"],
            previewChanges: ["update podinfo-primary", "create podinfo-extra"],
            orphanHostAliveMs: 61_000,
        });
        assert.deepEqual(invariantViolations(broken), [
            "promoted, where the faults allow only rolled back",
            "apex route at primary 80 / canary 20, not at rest (100 / 0)",
            "canary Deployment at 2 replicas, not 0",
            `primary runs podinfo:6.0.0, not the last promoted ${IMAGE}`,
            "the analysis lease is still held by host-1",
            "the interrupted run left canary weight 20, and the next run's first route change set canary 25, not 0",
            "processes left running: 123 pulumi-resource-kubernetes",
            "pulumi preview shows changes beyond none: update podinfo-primary, create podinfo-extra",
            "the killed CLI's provider host still ran 61s after the kill",
        ]);
        assert.deepEqual(invariantViolations(observed({ runs: 3, failure: "connection refused" })), ["pulumi up still failed after 3 runs: connection refused"]);
        assert.deepEqual(invariantViolations(observed({ apps: [app({ outcome: "rolled back", primaryImage: "old", expectedPrimaryImage: "old" })], previewChanges: ["update podinfo-analysis"] })), [
            "rolled back, where the faults allow only promoted",
        ]);
    });

    it("name the app with several, and allow each rolled-back app's held update only", () => {
        const plan: RolloutPlan = { index: 1, apps: [{ ...podinfo, name: "app1" }, { ...podinfo, name: "app2", fault: "crash-loop" }], hook: "none", hookApp: "app1" };
        const apps = [app({ name: "app1", weights: { primary: 50, canary: 50 } }), app({ name: "app2", outcome: "rolled back", primaryImage: "old", expectedPrimaryImage: "old" })];
        assert.deepEqual(invariantViolations(observed({ plan, apps, previewChanges: ["update app2-analysis", "update app1-analysis"] })), [
            "app1: apex route at primary 50 / canary 50, not at rest (100 / 0)",
            "pulumi preview shows changes beyond update app2-analysis, update app2-primary, update app2-finalize: update app1-analysis",
        ]);
        assert.deepEqual(allowedPreviewChanges([{ name: "web", outcome: "promoted" }]), []);
    });
});

describe("the soak's table", () => {
    it("counts the faults injected by kind (not those planned after pulumi up ended), outcomes, violations, user requests by cause, and the longest exposure against its bound", () => {
        const results: SoakRolloutResult[] = [
            { observation: observed(), violations: [], traffic: { sent: 300, canaryFaults: 0, routing: 0, failures: [] }, durationMs: 40_000 },
            {
                observation: observed({
                    plan: { ...clean, index: 2, apps: [{ ...podinfo, fault: "errors", errorRate: 0.3 }], killAtMs: 5000, apiServerDown: { atMs: 60_000, forMs: 1000 } },
                    injected: ["app errors", "pulumi killed"],
                    apps: [app({ outcome: "rolled back" })],
                    runs: 2,
                }),
                violations: ["x"],
                traffic: { sent: 200, canaryFaults: 7, routing: 1, failures: [] },
                failingCanaryMs: 12_500,
                durationMs: 30_000,
            },
            { observation: observed({ runs: 3, failure: "refused" }), violations: ["y"], traffic: { sent: 100, canaryFaults: 0, routing: 0, failures: [] }, durationMs: 20_000 },
        ];
        assert.equal(failingCanaryBoundMs(5, 2000, 4000), 14_000);
        assert.equal(
            soakTable(results, { seed: 9, boundMs: 14_000, elapsedMs: 90_000 }),
            [
                "| | |",
                "|---|---|",
                "| seed | 9 |",
                "| rollouts | 3 in 1.5 min |",
                "| faults injected | app errors 1, pulumi killed 1 |",
                "| outcomes | failed 1, promoted 1, recovered, then rolled back 1 |",
                "| invariant violations | 2 |",
                "| user requests | 600 sent, 8 failed (7 by the faulty canary, 1 by routing) |",
                "| longest on a failing canary | 12.5 s (#2); threshold × interval + metric window = 14.0 s |",
            ].join("\n"),
        );
    });
});

describe("the soak's stack, hooks, flags and pulumi up's errors", () => {
    it("is the playground stack with a 20 s progress deadline and the soak's gate, check and rollback hooks, and validates", () => {
        const config = soakStackConfig(PLAYGROUND, "http://127.0.0.1:4321");
        const spec = parseCanarySpec(config[`${PROJECT}:canary`]);
        assert.equal(spec.progressDeadlineSeconds, SOAK_PROGRESS_DEADLINE_SECONDS);
        assert.equal(config[`${PROJECT}:image`], "ghcr.io/stefanprodan/podinfo:6.1.0");
        assert.deepEqual(spec.analysis?.webhooks?.map((h) => [h.name, h.type ?? "rollout", h.url]), [
            ["acceptance-test", "pre-rollout", "http://flagger-loadtester.test/"],
            ["load-test", "rollout", "http://flagger-loadtester.test/"],
            ["soak-gate", "confirm-rollout", "http://127.0.0.1:4321/podinfo/gate"],
            ["soak-check", "rollout", "http://127.0.0.1:4321/podinfo/check"],
            ["soak-rollback", "rollback", "http://127.0.0.1:4321/podinfo/rollback"],
        ]);
        assert.equal((PLAYGROUND[`${PROJECT}:canary`] as { analysis: { webhooks: unknown[] } }).analysis.webhooks.length, 2, "the playground stack is untouched");
        assert.deepEqual(imageConfigKey(["podinfo"], "podinfo"), { key: `${PROJECT}:image`, path: false });
    });

    it("with several apps, gives each the tutorial's canary retargeted, its own hooks and version, and the gateway to the first", () => {
        const config = soakStackConfig(PLAYGROUND, "http://127.0.0.1:4321", ["app1", "app2"]);
        assert.equal(config[`${PROJECT}:canary`], undefined);
        assert.equal(config[`${PROJECT}:image`], undefined);
        assert.equal((config[`${PROJECT}:gateway`] as { app: string }).app, "app1");
        const apps = config[`${PROJECT}:apps`] as Record<string, { workload: { containers: { image: string }[] }; canary: unknown }>;
        assert.deepEqual(Object.keys(apps), ["app1", "app2"]);
        assert.equal(apps.app2.workload.containers[0].image, "ghcr.io/stefanprodan/podinfo:6.2.0");
        const spec = parseCanarySpec(apps.app2.canary);
        assert.equal((apps.app2.canary as { autoscalerRef?: unknown }).autoscalerRef, undefined, "one replica, no HPA");
        assert.equal(spec.analysis?.webhooks?.find((h) => h.name === "load-test")?.metadata?.cmd, "hey -z 2s -q 10 -c 2 http://app2-canary.test:9898/");
        assert.equal(spec.analysis?.webhooks?.find((h) => h.name === "soak-gate")?.url, "http://127.0.0.1:4321/app2/gate");
        assert.deepEqual(imageConfigKey(["app1", "app2"], "app2"), { key: `${PROJECT}:apps.app2.workload.containers[0].image`, path: true });
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

    it("takes --rollouts, --seed and --apps, and names a bad value with what is allowed", () => {
        assert.deepEqual(parseSoakArgs([], () => 5), { rollouts: 30, seed: 5, apps: 1 });
        assert.deepEqual(parseSoakArgs(["--rollouts", "3", "--seed=11", "--apps", "2"]), { rollouts: 3, seed: 11, apps: 2 });
        assert.throws(() => parseSoakArgs(["--rollouts", "0"]), /--rollouts 0: must be a whole number of at least 1/);
        assert.throws(() => parseSoakArgs(["--seed", "x"]), /--seed x: must be a whole number of at least 0/);
        assert.throws(() => parseSoakArgs(["--apps", String(MAX_APPS + 1)]), new RegExp(`--apps ${MAX_APPS + 1}: must be a whole number from 1 to ${MAX_APPS}`));
        assert.throws(() => parseSoakArgs(["--rollouts"]), /--rollouts needs a value/);
        assert.throws(() => parseSoakArgs(["--bogus"]), /unknown argument --bogus\nusage: npm run soak -- \[--rollouts N\] \[--seed S\] \[--apps K\]/);
    });

    it("aims the API error bursts at the analysis's clients, never at Pulumi's Kubernetes provider", () => {
        const burst = { path: "/", status: 503, userAgent: ANALYSIS_CLIENT } as const;
        assert.equal(faultMatches(burst, "GET", "/apis/apps/v1/namespaces/test/deployments/podinfo", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)"), true, "client-node");
        assert.equal(faultMatches(burst, "GET", "/api/v1/namespaces/appmesh-system/services/http:appmesh-prometheus:9090/proxy/api/v1/query", "axios/1.13.2"), true, "the service proxy's axios");
        assert.equal(faultMatches(burst, "PATCH", "/apis/apps/v1/namespaces/test/deployments/podinfo", "pulumi-resource-kubernetes/v0.0.0 (linux/amd64) kubernetes/$Format"), false);
        assert.equal(faultMatches({ ...burst, userAgent: undefined }, "PATCH", "/apis", "pulumi-resource-kubernetes/v0.0.0"), true, "without a client, every caller");
    });

    it("tells a pulumi up that only rolled apps back from one that was interrupted", () => {
        const rolledBack = [
            "     pulumi:pulumi:Stack appmesh-canary-soak  error: update failed",
            "     appmesh-canary:index:Analysis podinfo-analysis **updating failed** error: canary analysis of podinfo.test failed: Halt",
            "Diagnostics:",
            "  appmesh-canary:index:Analysis (podinfo-analysis):",
            "    error: canary analysis of podinfo.test failed: Halt podinfo.test advancement success rate 80.00% < 99%",
            "    Traffic is back on podinfo-primary.",
            "  pulumi:pulumi:Stack (appmesh-canary-soak):",
            "    error: update failed",
        ].join("\n");
        assert.deepEqual(unexplainedErrors(rolledBack), []);
        const interrupted = `${rolledBack}\n  kubernetes:apps/v1:Deployment (app2):\n    error: Get "http://127.0.0.1:1234/apis/apps/v1": dial tcp: connection refused\n    error: Get "http://127.0.0.1:1234/apis/apps/v1": dial tcp: connection refused`;
        assert.deepEqual(unexplainedErrors(interrupted), ['Get "http://127.0.0.1:1234/apis/apps/v1": dial tcp: connection refused']);
        assert.deepEqual(unexplainedErrors("panic: runtime error\ngoroutine 1"), ["panic: runtime error goroutine 1"]);
    });
});
