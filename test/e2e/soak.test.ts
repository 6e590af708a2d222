/**
 * A short seeded soak (`npm run soak -- --rollouts 3 --seed 1503 --apps 2`) through the real `pulumi up` on the
 * local control plane: both apps faulty (one slow, the other's gate closed) and `pulumi up` killed mid-way;
 * one app failing while the other rides out Prometheus answering errors and a burst of API errors; then a clean
 * rollout of both. Every invariant must hold after each. Needs `npm run toolchain`.
 */
import assert from "node:assert/strict";
import { runSoak } from "../../playground/soak/soak";

describe("npm run soak: seeded faults through the real pulumi up, the invariants after each rollout", function () {
    this.timeout(900_000);

    it("seed 1503, 3 rollouts of 2 apps: a killed run repaired, one app failing beside a passing one, a clean promotion; zero invariant violations", async () => {
        const lines: string[] = [];
        const { results, table } = await runSoak({ rollouts: 3, seed: 1503, apps: 2 }, (line) => lines.push(line));
        const log = lines.join("\n");
        assert.deepEqual(
            results.map((r) => r.violations),
            [[], [], []],
            log,
        );
        const [killed, split, clean] = results.map((r) => r.observation);
        assert.deepEqual(killed.injected, ["app latency", "webhook gate-closed", "pulumi killed"], log);
        assert.deepEqual(killed.apps.map((a) => a.outcome), ["rolled back", "rolled back"]);
        assert.ok(killed.runs >= 2, "the killed run was followed by `pulumi cancel` and another `pulumi up`");
        assert.equal(split.apps[0].outcome, "rolled back", "app1's 45% HTTP 500s are never promoted; app2 may end either way through Prometheus's errors");
        assert.ok(split.injected.includes("Prometheus errors") && split.injected.includes("app errors"), split.injected.join(", "));
        assert.deepEqual([clean.injected, clean.apps.map((a) => a.outcome), clean.runs], [[], ["promoted", "promoted"], 1]);
        assert.match(log, /seed 1503 \(replay with --seed 1503 --apps 2\)/);
        assert.ok(results.every((r) => r.traffic.sent > 100), `users sent requests all along: ${results.map((r) => r.traffic.sent)}`);
        // A clean rollout fails nobody: the canary goes one interval after the resting route, and leaving pods
        // serve until the data plane has dropped them.
        const cleanTraffic = results[2].traffic;
        assert.deepEqual([cleanTraffic.canaryFaults, cleanTraffic.routing], [0, 0], `user requests failed in a clean rollout: ${cleanTraffic.failures.join("; ")}`);
        assert.match(table, /\| invariant violations \| 0 \|/);
        assert.match(table, /\| rollouts \| 3 of 2 apps each in /);
    });
});
