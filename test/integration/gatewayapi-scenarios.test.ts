/**
 * Integration: the four demo scenarios on the Gateway API (`Pulumi.gatewayapi.yaml`'s canary), as
 * `npm run demo` runs them, through Pulumi's dynamic-provider host against the playground on the real control
 * plane with the playground's Gateway controller and data plane; 1s analysis intervals. The same assertions
 * as App Mesh's: the traffic split measured at weight 50, no header-less request reaching the canary in A/B,
 * the route back at its declared resting spec.
 */
import * as assert from "node:assert";
import { isDeepStrictEqual } from "node:util";
import { buildHTTPRouteSpec } from "../../analysis/routers/gatewayapi/specs";
import { GATEWAYAPI_STACK_FILE, loadCanary } from "../../playground/canary-spec";
import { providerHostDriver } from "../../playground/host-driver";
import type { AccessLogEntry } from "../../playground/mesh-router";
import { routerView } from "../../playground/router-view";
import { runScenario } from "../../playground/scenario-run";
import { SCENARIOS, type ScenarioName } from "../../playground/scenarios";
import { type RestingObservation, assertAtRest, assertAbTesting, assertHalfAtFifty, assertPromotedInSteps, assertRolledBackOnLatency, assertRolledBackOnSuccessRate } from "./scenario-checks";

describe("playground scenarios on the Gateway API, through Pulumi's provider host (1s interval)", function () {
    this.timeout(180_000);

    interface Observed extends RestingObservation {
        /** User requests through the Gateway while the route sent 50% to the canary. */
        atFifty: AccessLogEntry[];
        routeRequests: AccessLogEntry[];
    }

    async function run(name: ScenarioName): Promise<Observed> {
        const driver = await providerHostDriver();
        let observed: Omit<Observed, "run"> | undefined;
        try {
            const result = await runScenario({
                loaded: loadCanary(undefined, GATEWAYAPI_STACK_FILE),
                scenario: SCENARIOS[name],
                intervalMs: 1000,
                driver,
                userTrafficPerSecond: 20,
                inspect: async (pg, canary) => {
                    const view = routerView(pg, canary);
                    const live = await view.live();
                    const history = view.weightHistory(0);
                    const fifty = history.findIndex((w) => w.canary === 50);
                    const routeRequests = view.served(0);
                    const atFifty = fifty < 0 ? [] : routeRequests.filter((e) => e.time >= history[fifty].time && (fifty + 1 >= history.length || e.time < history[fifty + 1].time));
                    await pg.cluster.waitForRollout(canary.namespace, canary.target);
                    observed = {
                        // The API server fills in the parentRefs' group and kind (CRD defaults); the rules are the program's.
                        restingMatches: isDeepStrictEqual(live.spec.rules, buildHTTPRouteSpec(canary.spec, canary.names).rules),
                        canaryStatusReplicas: (await pg.deployment(canary.namespace, canary.target)).status.replicas ?? 0,
                        atFifty,
                        routeRequests,
                    };
                },
            });
            return { run: result, ...observed! };
        } finally {
            await driver.stop();
        }
    }

    const assertResting = (o: Observed) => assertAtRest(o, "the HTTPRoute", "podinfo-primary 100, podinfo-canary 0");

    it("healthy: steps 5..50 on the HTTPRoute, promotes, and at weight 50 about half the user requests reach the canary", async () => {
        const o = await run("healthy");
        const { record } = o.run;
        assertPromotedInSteps(record);
        assertResting(o);
        assertHalfAtFifty(o.atFifty);
        assert.ok(record.metrics.some((s) => s.name === "request-success-rate" && s.value === 100), "the HTTP observer's success rate, from podinfo's histogram");
        assert.ok((record.traffic ?? []).some((row) => row.route === "podinfo rule 0" && row.canaryWeight === 50 && row.toCanary > 0));
        assert.strictEqual(o.run.userTraffic.ok, o.run.userTraffic.sent, `no user request failed: ${o.run.userTraffic.failures.join("; ")}`);
    });

    it("errors: halts on the HTTP observer's success rate and rolls back at the threshold", async () => {
        const o = await run("errors");
        assertRolledBackOnSuccessRate(o.run.record);
        assertResting(o);
    });

    it("latency: halts on the HTTP observer's request duration P99 and rolls back", async () => {
        const o = await run("latency");
        assertRolledBackOnLatency(o.run.record);
        assertResting(o);
    });

    it("ab: only requests with the header reach the canary through the Gateway's A/B rule, then promotion", async () => {
        const o = await run("ab");
        assertAbTesting(o.run.record, o.routeRequests);
        assertResting(o);
    });
});
