import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { formatStatusTable, nextStatus, parseStatusData, STATUS_LABEL, statusConfigMapName, statusData, statusTarget, type CanaryStatus } from "../../analysis/report/status";
import { REPO_ROOT } from "../../scripts/render";
import { parseStatusArguments } from "../../cli/status";
import { trackStatus } from "../../analysis/provider/status-tracker";

const event = (phase: string, at: number, canaryWeight = 0, failedChecks = 0) => ({ message: `${phase} at ${at}`, timestamp: at, phase, canaryWeight, failedChecks });

describe("canary status", () => {
    it("moves with each event; the transition time changes with the phase only, and a new revision starts afresh", () => {
        const s1 = nextStatus(undefined, event("Progressing", 1000, 5), "r1");
        const s2 = nextStatus(s1, event("Progressing", 2000, 10, 1), "r1");
        const s3 = nextStatus(s2, event("Promoting", 3000, 50, 1), "r1");
        assert.deepEqual(s2, {
            phase: "Progressing", canaryWeight: 10, failedChecks: 1, iterations: 0,
            lastTransitionTime: new Date(1000).toISOString(), lastUpdateTime: new Date(2000).toISOString(), lastEvent: "Progressing at 2000", revision: "r1",
        });
        assert.equal(s3.lastTransitionTime, new Date(3000).toISOString());
        const next = nextStatus({ ...s3, phase: "Failed" }, event("Failed", 4000), "r2");
        assert.equal(next.lastTransitionTime, new Date(4000).toISOString(), "another revision's Failed is a transition of its own");
        assert.equal(nextStatus(s3, { ...event("Progressing", 5000, 100), iterations: 3 }, "r1").iterations, 3);
        assert.equal(nextStatus(s3, event("Bogus", 5000), "r1").phase, "Promoting", "an unknown phase keeps the last one");
    });

    it("round-trips through ConfigMap data, and refuses data that is no status", () => {
        const status = nextStatus(undefined, event("WaitingPromotion", 1000, 30, 2), "40a857abea41bb8f");
        const data = statusData(status);
        assert.equal(data.canaryWeight, "30");
        assert.deepEqual(parseStatusData(data), status);
        assert.equal(parseStatusData({ phase: "Running" }), undefined);
        assert.equal(parseStatusData(undefined), undefined);
        assert.equal(statusTarget(statusConfigMapName("checkout")), "checkout");
    });

    it("prints the table as kubectl get canaries -A does: aligned, sorted by namespace and name", () => {
        const status = (phase: CanaryStatus["phase"], canaryWeight: number): CanaryStatus => ({
            ...nextStatus(undefined, event(phase, Date.UTC(2026, 11, 2, 17, 58, 41, 123), canaryWeight), "40a857abea41bb8f"),
        });
        const lines = formatStatusTable([
            { namespace: "shop", name: "checkout", status: status("Progressing", 20) },
            { namespace: "shop", name: "catalog", status: status("Succeeded", 0) },
        ]);
        assert.deepEqual(lines, [
            "NAMESPACE   NAME       STATUS        WEIGHT   FAILEDCHECKS   LASTTRANSITIONTIME     REVISION",
            "shop        catalog    Succeeded     0        0              2026-12-02T17:58:41Z   40a857abea41bb8f",
            "shop        checkout   Progressing   20       0              2026-12-02T17:58:41Z   40a857abea41bb8f",
        ]);
        assert.equal(formatStatusTable([{ namespace: "shop", name: "catalog", status: status("Failed", 0) }], false).length, 1, "watch lines come without the header");
    });

    it("the README's plain-kubectl line per canary selects the status ConfigMaps and reads the table's columns from keys statusData writes", () => {
        const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
        const command = readme.split("\n").find((line) => line.startsWith("kubectl get configmaps -A ") && line.includes("custom-columns="));
        assert.ok(command, "the README shows the kubectl command");
        assert.ok(command.includes(` -l ${STATUS_LABEL}=true `), command);
        const columns = /custom-columns='([^']+)'/.exec(command)![1].split(",").map((column) => column.split(":"));
        assert.deepEqual(columns.map(([header]) => header), formatStatusTable([])[0].split(/\s+/), "the same columns as npm run status");
        const written = statusData(nextStatus(undefined, event("Progressing", 1000, 5, 1), "r1"));
        const fields = columns.map(([, field]) => field);
        assert.deepEqual(fields.slice(0, 2), [".metadata.namespace", ".metadata.name"]);
        for (const field of fields.slice(2)) {
            assert.ok(field.startsWith(".data.") && field.slice(".data.".length) in written, `${field} is a key the status ConfigMap holds: ${Object.keys(written)}`);
        }
    });

    it("reads the command's options and names a bad one", () => {
        assert.deepEqual(parseStatusArguments(["--watch", "-n", "shop", "--kubeconfig", "kc", "--context", "prod"]), { watch: true, namespace: "shop", kubeconfig: "kc", context: "prod" });
        assert.deepEqual(parseStatusArguments([]), { watch: false });
        assert.throws(() => parseStatusArguments(["--namespace"]), /--namespace needs a value; usage: appmesh-canary status/);
        assert.throws(() => parseStatusArguments(["--all"]), /unknown option --all; usage/);
    });
});

describe("the status tracker of one provider run", () => {
    /** An in-memory store: the ConfigMap adapter's contract (writes queued, errors reported at flush). */
    function memoryStore(initial?: CanaryStatus, failWith?: Error) {
        const written: CanaryStatus[] = [];
        return {
            written,
            read: async () => initial,
            write: (status: CanaryStatus) => void written.push(status),
            flush: async () => failWith,
        };
    }

    it("moves with the engine's events from the status already there, and a wait of a second or more refreshes only the update time", async () => {
        let clock = 10_000;
        const before = nextStatus(undefined, event("Promoting", 5_000, 50, 0), "r1");
        const store = memoryStore(before);
        const tracker = await trackStatus(store, "r1", () => clock);
        tracker.record({ type: "Normal", ...event("Promoting", 9_000, 50, 0) });
        assert.equal(store.written[0].lastTransitionTime, before.lastTransitionTime, "the same phase of the same revision is no transition");
        clock = 9_500;
        tracker.touch();
        assert.equal(store.written.length, 1, "a short wait (a retry backoff) writes nothing");
        clock = 12_000;
        tracker.touch();
        assert.deepEqual(store.written[1], { ...store.written[0], lastUpdateTime: new Date(12_000).toISOString() });
        tracker.note("Failed", "held", { canaryWeight: 0, failedChecks: 2 });
        assert.deepEqual([store.written[2].phase, store.written[2].lastEvent, store.written[2].failedChecks], ["Failed", "held", 2]);
    });

    it("reports a failed write once, as a warning", async () => {
        const warnings: string[] = [];
        const tracker = await trackStatus(memoryStore(undefined, new Error("403 Forbidden")), "r1");
        tracker.note("Initializing", "first");
        await tracker.flush((message) => warnings.push(message));
        assert.deepEqual(warnings, ["Could not write the canary status ConfigMap, so `npm run status` shows an older state: 403 Forbidden"]);
    });
});
