import * as assert from "node:assert/strict";
import { announcedLast } from "../../analysis/provider/last-line";
import { trackStatus } from "../../analysis/provider/status-tracker";

describe("an Analysis update's report line comes last", () => {
    /** A status tracker whose ConfigMap cannot be written, so its flush warns as the provider's does. */
    async function failingStatus() {
        const store = { read: async () => undefined, write: () => undefined, flush: async () => new Error("403 Forbidden") };
        const status = await trackStatus(store, "r2");
        status.note("Progressing", "started");
        return status;
    }

    it("after a rolled-back run's warnings and the status flush's, and the failure still reaches Pulumi", async () => {
        const lines: string[] = [];
        const status = await failingStatus();
        const update = announcedLast(
            async (announce) => {
                announce("Rollout report: /prog/.rollouts/dev/podinfo-r2-20261202T175841Z.html");
                // What the failure path prints after writing the report: the failed revision's record could not be kept.
                lines.push("Warning Could not record the failure of revision r2 on the canary Deployment");
                throw new Error("canary analysis of podinfo.test failed: Halt");
            },
            () => status.flush((message) => lines.push(`Warning ${message}`)),
            (line) => lines.push(`Normal  ${line}`),
        );
        await assert.rejects(update, /canary analysis of podinfo\.test failed: Halt/);
        assert.deepEqual(lines, [
            "Warning Could not record the failure of revision r2 on the canary Deployment",
            "Warning Could not write the canary status ConfigMap, so `npm run status` shows an older state: 403 Forbidden",
            "Normal  Rollout report: /prog/.rollouts/dev/podinfo-r2-20261202T175841Z.html",
        ]);
    });

    it("after a promoted run's status warning, with the run's outputs returned", async () => {
        const lines: string[] = [];
        const status = await failingStatus();
        const outs = await announcedLast(
            async (announce) => {
                announce("Rollout report: /prog/.rollouts/dev/podinfo-r2-20261202T175841Z.html");
                return { status: "promoted" };
            },
            () => status.flush((message) => lines.push(`Warning ${message}`)),
            (line) => lines.push(`Normal  ${line}`),
        );
        assert.deepEqual(outs, { status: "promoted" });
        assert.equal(lines.length, 2);
        assert.match(lines[1], /^Normal  Rollout report: /);
    });

    it("prints nothing more when no report was written (a held revision, no report directory)", async () => {
        const lines: string[] = [];
        await announcedLast(async () => "held", async () => void lines.push("settled"), (line) => lines.push(line));
        assert.deepEqual(lines, ["settled"]);
    });
});
