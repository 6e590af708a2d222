import * as assert from "node:assert";
import { isDeepStrictEqual } from "node:util";
import { readWeights } from "../../analysis/routers/appmesh/routes";
import { routerNodes } from "../../analysis/spec/names";
import { buildVirtualRouterSpec } from "../../analysis/routers/appmesh/specs";
import { canaryFromDocument, loadCanary, type LoadedCanary } from "../../playground/canary-spec";
import { inProcessDriver } from "../../playground/engine-driver";
import { providerHostDriver } from "../../playground/host-driver";
import type { RolloutDriver } from "../../playground/rollout";
import type { AccessLogEntry } from "../../playground/mesh-router";
import { runScenario } from "../../playground/scenario-run";
import { SCENARIOS, type ScenarioName } from "../../playground/scenarios";
import { type RestingObservation, assertAtRest, assertAbTesting, assertHalfAtFifty, assertPromotedInSteps, assertRolledBackOnLatency, assertRolledBackOnSuccessRate, messages } from "./scenario-checks";

/**
 * Integration: the four demo scenarios as `npm run demo` runs them, through Pulumi's dynamic-provider host
 * against the playground on the real control plane (kube-apiserver, etcd, kube-controller-manager; real
 * Prometheus, hey, curl and HTTP), with 1s analysis intervals.
 */
describe("playground scenarios through Pulumi's provider host on the real control plane (1s interval)", function () {
    this.timeout(180_000);

    interface Observed extends RestingObservation {
        /** User requests to the apex while routes[0] sent 50% to the canary. */
        atFifty: AccessLogEntry[];
        apexRequests: AccessLogEntry[];
    }

    async function run(name: ScenarioName, startDriver: () => Promise<RolloutDriver> = providerHostDriver, loaded: LoadedCanary = loadCanary()): Promise<Observed> {
        const driver = await startDriver();
        let observed: Omit<Observed, "run"> | undefined;
        const result = await runScenario({
            loaded,
            scenario: SCENARIOS[name],
            intervalMs: 1000,
            driver,
            userTrafficPerSecond: 20,
            inspect: async (pg, canary) => {
                const live = await pg.virtualRouter(canary.namespace, canary.names.apex);
                const changes = pg.cluster.mesh.routeChanges.filter((c) => c.name === canary.names.apex);
                const nodes = routerNodes(canary.names.apex);
                const fifty = changes.findIndex((c) => readWeights(c.spec, canary.names.apex, nodes).canary === 50);
                const apexRequests = pg.cluster.mesh.accessLog.filter((e) => e.host === `${canary.names.apex}.${canary.namespace}:9898`);
                const atFifty = fifty < 0 ? [] : apexRequests.filter((e) => e.time >= changes[fifty].time && (fifty + 1 >= changes.length || e.time < changes[fifty + 1].time));
                await pg.cluster.waitForRollout(canary.namespace, canary.target);
                observed = {
                    restingMatches: isDeepStrictEqual(live.spec, buildVirtualRouterSpec(canary.spec, canary.names, "apex")),
                    canaryStatusReplicas: (await pg.deployment(canary.namespace, canary.target)).status.replicas ?? 0,
                    atFifty,
                    apexRequests,
                };
            },
        });
        await driver.stop();
        return { run: result, ...observed! };
    }

    const assertResting = (o: Observed) => assertAtRest(o, "the apex router", "podinfo-canary 0, podinfo-primary 100");

    it("healthy: steps 5..50, promotes, and at weight 50 about half the user requests reach the canary", async () => {
        const o = await run("healthy");
        const { record } = o.run;
        assertPromotedInSteps(record);
        assert.ok(messages(record.events).includes("Starting canary analysis for podinfo.test"));
        assertResting(o);
        assertHalfAtFifty(o.atFifty);
        assert.ok(Math.max(...record.weights.map((w) => w.canary)) === 50);
        assert.ok(record.metrics.some((s) => s.name === "request-success-rate" && s.value === 100));
        const checked = record.events.find((e) => e.message === "Advance podinfo.test canary weight 50")!.checks ?? [];
        assert.deepStrictEqual(
            checked.filter((c) => c.kind === "metric").map((c) => [c.name, c.threshold, c.outcome]),
            [["request-success-rate", "min 99%", "pass"], ["request-duration", "max 500ms", "pass"]],
            "the checks the provider host printed with the event reach the demo",
        );
        assert.strictEqual(o.run.userTraffic.ok, o.run.userTraffic.sent, `no user request failed: ${o.run.userTraffic.failures.join("; ")}`);
    });

    it("errors: halts on the success rate and rolls back at the threshold", async () => {
        const o = await run("errors");
        const { record } = o.run;
        assertRolledBackOnSuccessRate(record);
        assert.ok(!messages(record.events).some((x) => x.startsWith("Promotion completed")));
        assert.ok(record.metrics.some((s) => s.name === "request-success-rate" && s.value !== null && s.value < 99));
        const halts = record.events.filter((e) => e.check?.name === "request-success-rate" && e.check.outcome === "fail");
        assert.ok(halts.length >= 1 && halts.every((e) => e.check!.value! < 99 && e.check!.threshold === "min 99%"), "each halt carries the value and threshold the provider printed");
        assert.strictEqual(record.events.find((e) => e.message.startsWith("Rolling back"))!.failedChecks, 5);
        assertResting(o);
    });

    it("errors through the in-process engine (--driver engine): the same rollback, with each halt's value and threshold", async () => {
        const o = await run("errors", async () => inProcessDriver());
        const { record } = o.run;
        assert.strictEqual(record.result, "rolled back");
        const halts = record.events.filter((e) => e.check?.name === "request-success-rate" && e.check.outcome === "fail");
        assert.ok(halts.length >= 1, messages(record.events).join("\n"));
        assert.ok(halts.every((e) => e.check!.value! < 99 && e.check!.threshold !== undefined && e.failedChecks >= 1));
        assert.strictEqual(record.events[record.events.length - 1].message, "Canary failed! Scaling down podinfo.test");
        assertResting(o);
    });

    it("latency: halts on the request duration P99 and rolls back", async () => {
        const o = await run("latency");
        const { record } = o.run;
        assertRolledBackOnLatency(record);
        assert.ok(record.metrics.some((s) => s.name === "request-duration" && s.value !== null && s.value > 500));
        assertResting(o);
    });

    it("a pasted Canary manifest for another Deployment in another namespace (web in shop) is installed and promoted", async () => {
        const dev = loadCanary().spec;
        const retarget = (text: string) => text.replace(/podinfo-canary\.test/g, "web-canary.shop").replace(/flagger-loadtester\.test/g, "flagger-loadtester.shop");
        const spec = {
            ...dev,
            targetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
            analysis: { ...dev.analysis, webhooks: dev.analysis?.webhooks?.map((w) => ({ ...w, url: retarget(w.url), metadata: { ...w.metadata, cmd: retarget(w.metadata?.cmd ?? "") } })) },
        };
        const loaded = canaryFromDocument({ apiVersion: "flagger.app/v1beta1", kind: "Canary", metadata: { name: "web", namespace: "shop" }, spec }, "web.yaml");
        const o = await run("healthy", providerHostDriver, loaded);
        const { record } = o.run;
        assert.strictEqual(record.result, "promoted", record.reason);
        assert.strictEqual(messages(record.events)[0], "New revision detected! Scaling up web.shop");
        assert.strictEqual(messages(record.events).at(-1), "Promotion completed! Scaling down web.shop");
        assert.ok(messages(record.events).some((m) => m.startsWith("Pre-rollout check acceptance-test passed")), "the load tester in shop reached web-canary.shop");
        assert.ok(o.restingMatches);
        assert.strictEqual(o.run.final.weightedTargets, "web-canary 0, web-primary 100");
        assert.strictEqual(o.run.final.canaryReplicas, 0);
    });

    it("ab: header-matched requests reach the canary for 10 iterations, others never do, then promotion", async () => {
        const o = await run("ab");
        assertAbTesting(o.run.record, o.apexRequests);
        assertResting(o);
    });
});
