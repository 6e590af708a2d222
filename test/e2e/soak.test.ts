/**
 * A short seeded soak (`npm run soak -- --rollouts 3 --seed 22`) through the real `pulumi up` on the local
 * control plane: a faulty version whose `pulumi up` is killed mid-way, a clean one, and one whose rollout
 * loses Prometheus and the API server for a while. Every invariant must hold after each. Needs `npm run toolchain`.
 */
import assert from "node:assert/strict";
import { runSoak } from "../../playground/soak/soak";

describe("npm run soak: seeded faults through the real pulumi up, the invariants after each rollout", function () {
    this.timeout(900_000);

    it("seed 22, 3 rollouts: a killed run recovered, a clean promotion, outages survived; zero invariant violations", async () => {
        const lines: string[] = [];
        const { results, table } = await runSoak({ rollouts: 3, seed: 22 }, (line) => lines.push(line));
        const log = lines.join("\n");
        assert.deepEqual(
            results.map((r) => r.violations),
            [[], [], []],
            log,
        );
        const [killed, clean, outages] = results.map((r) => r.observation);
        assert.deepEqual(killed.injected, ["app errors", "pulumi killed"], log);
        assert.equal(killed.outcome, "rolled back");
        assert.ok(killed.runs >= 2, "the killed run was followed by `pulumi cancel` and another `pulumi up`");
        assert.deepEqual([clean.injected, clean.outcome, clean.runs], [[], "promoted", 1]);
        assert.deepEqual(outages.injected.sort(), ["API server down", "Prometheus down"]);
        assert.match(log, /seed 22 \(replay with --seed 22\)/);
        assert.ok(results.every((r) => r.traffic.sent > 100), `users sent requests all along: ${results.map((r) => r.traffic.sent)}`);
        assert.equal(results[1].traffic.canaryFaults + results[1].traffic.routing, 0, "a clean rollout fails no user request");
        assert.match(table, /\| invariant violations \| 0 \|/);
        assert.match(table, /\| rollouts \| 3 in /);
    });
});
