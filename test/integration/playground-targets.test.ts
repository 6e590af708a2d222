import * as assert from "node:assert";
import type { ScrapeTarget } from "../../playground/prometheus";
import { TargetSync } from "../../playground/target-sync";

const target = (port: number): ScrapeTarget => ({ address: `127.0.0.1:${port}`, labels: {}, metricsPath: "/stats/prometheus" });

describe("playground scrape target sync", () => {
    it("applies one set at a time, always the newest, and releases every caller covered by it", async () => {
        const applied: number[][] = [];
        let active = 0;
        const sync = new TargetSync(async (list) => {
            active += 1;
            assert.strictEqual(active, 1, "updates never overlap");
            applied.push(list.map((t) => Number(t.address.split(":")[1])));
            await new Promise((resolve) => setTimeout(resolve, 30));
            active -= 1;
        }, assert.fail);
        const first = sync.update([target(1)]);
        const second = sync.update([target(1), target(2)]);
        const third = sync.update([target(1), target(2), target(3)]);
        await Promise.all([first, second, third]);
        assert.deepStrictEqual(applied, [[1], [1, 2, 3]], "the middle set was superseded before it was applied");
    });

    it("reports a failed update and still releases its callers", async () => {
        const errors: string[] = [];
        const sync = new TargetSync(() => Promise.reject(new Error("prometheus exited")), (e) => errors.push(e.message));
        await sync.update([target(1)]);
        assert.deepStrictEqual(errors, ["prometheus exited"]);
    });
});
