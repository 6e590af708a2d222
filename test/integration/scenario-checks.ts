/** What every router's playground scenarios must show, in the same words: the tests of both routers use these. */
import * as assert from "node:assert";
import type { CanaryEvent } from "../../analysis/engine/ports";
import type { RolloutRecord } from "../../analysis/report/report";
import type { AccessLogEntry } from "../../playground/mesh-router";
import type { ScenarioRun } from "../../playground/scenario-run";

export const messages = (events: CanaryEvent[]) => events.map((e) => e.message);

export const advances = (events: CanaryEvent[]) =>
    messages(events).map((m) => /^Advance podinfo\.test canary weight (\d+)$/.exec(m)?.[1]).filter((w): w is string => w !== undefined).map(Number);

/** Promoted after stepping 5..50, in Flagger's words from the first event to the last three. */
export function assertPromotedInSteps(record: RolloutRecord): void {
    assert.strictEqual(record.result, "promoted", record.reason);
    const m = messages(record.events);
    assert.strictEqual(m[0], "New revision detected! Scaling up podinfo.test");
    assert.ok(m.some((x) => x.startsWith("Pre-rollout check acceptance-test passed")), "the load tester reached podinfo-canary.test");
    assert.deepStrictEqual([...new Set(advances(record.events))], [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]);
    assert.deepStrictEqual(m.slice(-3), ["Copying podinfo.test template spec to podinfo-primary.test", "Routing all traffic to primary", "Promotion completed! Scaling down podinfo.test"]);
}

/** About half the user requests reached the canary while the route said 50. */
export function assertHalfAtFifty(atFifty: AccessLogEntry[]): void {
    assert.ok(atFifty.length >= 40, `enough user requests at weight 50 (${atFifty.length})`);
    const share = atFifty.filter((e) => e.virtualNode === "podinfo-canary").length / atFifty.length;
    assert.ok(share > 0.3 && share < 0.7, `about half reach the canary at weight 50, got ${(share * 100).toFixed(0)}% of ${atFifty.length}`);
}

/** Halted on the success rate, rolled back at the threshold, traffic back on the primary. */
export function assertRolledBackOnSuccessRate(record: RolloutRecord): void {
    assert.strictEqual(record.result, "rolled back");
    const m = messages(record.events);
    assert.ok(m.filter((x) => /^Halt podinfo\.test advancement success rate \d+\.\d\d% < 99%$/.test(x)).length >= 1, m.join("\n"));
    assert.deepStrictEqual(m.slice(-2), ["Rolling back podinfo.test failed checks threshold reached 5", "Canary failed! Scaling down podinfo.test"]);
    assert.match(record.reason ?? "", /Traffic is back on podinfo-primary/);
}

/** Halted on the P99 and rolled back. */
export function assertRolledBackOnLatency(record: RolloutRecord): void {
    assert.strictEqual(record.result, "rolled back");
    const m = messages(record.events);
    assert.ok(m.some((x) => /^Halt podinfo\.test advancement request duration [\d.]+m?s > 500ms$/.test(x)), m.join("\n"));
    assert.strictEqual(m[m.length - 1], "Canary failed! Scaling down podinfo.test");
}

/** A/B: 10 iterations, promoted; no request without the header reached the canary, the insiders' did. */
export function assertAbTesting(record: RolloutRecord, requests: AccessLogEntry[]): void {
    assert.strictEqual(record.result, "promoted", record.reason);
    const m = messages(record.events);
    const iterations = m.map((x) => /^Advance podinfo\.test canary iteration (\d+)\/10$/.exec(x)?.[1]).filter(Boolean);
    assert.deepStrictEqual([...new Set(iterations)].map(Number), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.strictEqual(m[m.length - 1], "Promotion completed! Scaling down podinfo.test");
    const withoutHeader = requests.filter((e) => e.headers["x-canary"] !== "insider");
    const withHeader = requests.filter((e) => e.headers["x-canary"] === "insider");
    assert.ok(withoutHeader.length > 100, `user traffic without the header was sent (${withoutHeader.length})`);
    assert.deepStrictEqual(withoutHeader.filter((e) => e.virtualNode === "podinfo-canary"), [], "no request without the header reached the canary");
    assert.ok(withHeader.filter((e) => e.virtualNode === "podinfo-canary").length > 50, "the load test's insider requests reached the canary");
}

/** What a scenario left: the route at its declared resting spec with these weights, and no canary pod. */
export interface RestingObservation {
    run: ScenarioRun;
    restingMatches: boolean;
    canaryStatusReplicas: number;
}

export function assertAtRest(o: RestingObservation, route: string, weightedTargets: string): void {
    assert.ok(o.restingMatches, `${route} is back at its declared resting spec`);
    assert.strictEqual(o.run.final.weightedTargets, weightedTargets);
    assert.strictEqual(o.run.final.canaryReplicas, 0);
    assert.strictEqual(o.canaryStatusReplicas, 0, "no canary pod runs any more");
}
