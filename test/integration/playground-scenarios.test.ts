import * as assert from "node:assert";
import { isDeepStrictEqual } from "node:util";
import type { CanaryEvent } from "../../analysis/engine/ports";
import { readWeights } from "../../analysis/routers/appmesh/routes";
import { routerNodes } from "../../analysis/spec/names";
import { buildVirtualRouterSpec } from "../../analysis/routers/appmesh/specs";
import { canaryFromDocument, loadCanary, type LoadedCanary } from "../../playground/canary-spec";
import { inProcessDriver } from "../../playground/engine-driver";
import { providerHostDriver } from "../../playground/host-driver";
import type { RolloutDriver } from "../../playground/rollout";
import type { AccessLogEntry } from "../../playground/mesh-router";
import { runScenario, type ScenarioRun } from "../../playground/scenario-run";
import { SCENARIOS, type ScenarioName } from "../../playground/scenarios";

/**
 * Integration: the four demo scenarios as `npm run demo` runs them, through Pulumi's dynamic-provider host
 * against the playground on the real control plane (kube-apiserver, etcd, kube-controller-manager; real
 * Prometheus, hey, curl and HTTP), with 1s analysis intervals.
 */
describe("playground scenarios through Pulumi's provider host on the real control plane (1s interval)", function () {
    this.timeout(180_000);

    const messages = (events: CanaryEvent[]) => events.map((e) => e.message);
    const advances = (events: CanaryEvent[]) =>
        messages(events)
            .map((m) => /^Advance podinfo\.test canary weight (\d+)$/.exec(m)?.[1])
            .filter((w): w is string => w !== undefined)
            .map(Number);

    interface Observed {
        run: ScenarioRun;
        restingMatches: boolean;
        canaryStatusReplicas: number;
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

    function assertResting(o: Observed): void {
        assert.ok(o.restingMatches, "the apex router is back at its declared resting spec");
        assert.strictEqual(o.run.final.weightedTargets, "podinfo-canary 0, podinfo-primary 100");
        assert.strictEqual(o.run.final.canaryReplicas, 0);
        assert.strictEqual(o.canaryStatusReplicas, 0, "no canary pod runs any more");
    }

    it("healthy: steps 5..50, promotes, and at weight 50 about half the user requests reach the canary", async () => {
        const o = await run("healthy");
        const { record } = o.run;
        assert.strictEqual(record.result, "promoted", record.reason);
        const m = messages(record.events);
        assert.strictEqual(m[0], "New revision detected! Scaling up podinfo.test");
        assert.ok(m.includes("Starting canary analysis for podinfo.test"));
        assert.ok(m.some((x) => x.startsWith("Pre-rollout check acceptance-test passed")));
        assert.deepStrictEqual([...new Set(advances(record.events))], [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]);
        assert.deepStrictEqual(m.slice(-3), ["Copying podinfo.test template spec to podinfo-primary.test", "Routing all traffic to primary", "Promotion completed! Scaling down podinfo.test"]);
        assertResting(o);
        assert.ok(o.atFifty.length >= 40, `enough user requests at weight 50 (${o.atFifty.length})`);
        const share = o.atFifty.filter((e) => e.virtualNode === "podinfo-canary").length / o.atFifty.length;
        assert.ok(share > 0.3 && share < 0.7, `about half reach the canary at weight 50, got ${(share * 100).toFixed(0)}% of ${o.atFifty.length}`);
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
        assert.strictEqual(record.result, "rolled back");
        const m = messages(record.events);
        assert.ok(m.filter((x) => /^Halt podinfo\.test advancement success rate \d+\.\d\d% < 99%$/.test(x)).length >= 1, m.join("\n"));
        assert.deepStrictEqual(m.slice(-2), ["Rolling back podinfo.test failed checks threshold reached 5", "Canary failed! Scaling down podinfo.test"]);
        assert.ok(!m.some((x) => x.startsWith("Promotion completed")));
        assert.match(record.reason ?? "", /Traffic is back on podinfo-primary/);
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
        assert.strictEqual(record.result, "rolled back");
        const m = messages(record.events);
        assert.ok(m.some((x) => /^Halt podinfo\.test advancement request duration [\d.]+m?s > 500ms$/.test(x)), m.join("\n"));
        assert.strictEqual(m[m.length - 1], "Canary failed! Scaling down podinfo.test");
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
        const { record } = o.run;
        assert.strictEqual(record.result, "promoted", record.reason);
        const m = messages(record.events);
        const iterations = m.map((x) => /^Advance podinfo\.test canary iteration (\d+)\/10$/.exec(x)?.[1]).filter(Boolean);
        assert.deepStrictEqual([...new Set(iterations)].map(Number), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert.strictEqual(m[m.length - 1], "Promotion completed! Scaling down podinfo.test");
        const withoutHeader = o.apexRequests.filter((e) => e.headers["x-canary"] !== "insider");
        const withHeader = o.apexRequests.filter((e) => e.headers["x-canary"] === "insider");
        assert.ok(withoutHeader.length > 100, `user traffic without the header was sent (${withoutHeader.length})`);
        assert.deepStrictEqual(withoutHeader.filter((e) => e.virtualNode === "podinfo-canary"), [], "no request without the header reached the canary");
        assert.ok(withHeader.filter((e) => e.virtualNode === "podinfo-canary").length > 50, "the load test's insider requests reached the canary");
        assertResting(o);
    });
});
