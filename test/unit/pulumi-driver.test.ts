/** Reading `pulumi up` back: engine-event-log diagnostics, canary events and the rollback message; the playground stack's config. */
import assert from "node:assert/strict";
import * as fs from "fs";
import { parse } from "yaml";
import { diagnosticsOf, PLAYGROUND_STACK_FILE, upFailure } from "../../playground/pulumi-driver";
import { parseEventLine, tallyEvent, type EventTally } from "../../playground/provider-events";
import { readStackConfig } from "../../playground/pulumi-cli";
import { DEV_STACK_FILE, withInterval } from "../../playground/canary-spec";

describe("pulumi up, read back", () => {
    it("takes the info diagnostics of an engine event log, one per line, with the event's time", () => {
        const lines = [
            JSON.stringify({ sequence: 1, timestamp: 1700000000, preludeEvent: { config: {} } }),
            JSON.stringify({ sequence: 2, timestamp: 1700000001, diagnosticEvent: { urn: "urn:x", message: "Normal  New revision detected! Scaling up podinfo.test\n", severity: "info" } }),
            JSON.stringify({ sequence: 3, timestamp: 1700000002, diagnosticEvent: { message: "warning: using pulumi-resource-kubernetes from $PATH\n", severity: "warning" } }),
            "{not json",
            JSON.stringify({ sequence: 4, timestamp: 1700000003, diagnosticEvent: { message: "Normal  a\nWarning  b\n", severity: "info" } }),
        ];
        assert.deepStrictEqual(diagnosticsOf(lines), [
            { message: "Normal  New revision detected! Scaling up podinfo.test", time: 1700000001000 },
            { message: "Normal  a", time: 1700000003000 },
            { message: "Warning  b", time: 1700000003000 },
        ]);
    });

    it("turns provider lines into events with the weight and failed checks they imply", () => {
        const tally: EventTally = { weight: 0, failedChecks: 0 };
        const events = [
            "Normal  Advance podinfo.test canary weight 10 [metric request-success-rate = 100 (min 99): pass]",
            "Warning Halt podinfo.test advancement request-success-rate 50.00 < 99 [metric request-success-rate = 50 (min 99): fail]",
            "Warning Rolling back podinfo.test failed checks threshold reached 1",
            "Normal  Scaling down podinfo.test",
        ].map((line, i) => tallyEvent(parseEventLine(line)!, tally, i));
        assert.deepStrictEqual(events.map((e) => [e.type, e.canaryWeight, e.failedChecks]), [["Normal", 10, 0], ["Warning", 10, 1], ["Warning", 10, 1], ["Normal", 0, 1]]);
        assert.strictEqual(events[1].check?.name, "request-success-rate");
        assert.strictEqual(parseEventLine("    pulumi-nodejs:dynamic:Resource (podinfo-analysis):"), undefined);
    });

    it("tells a rollback from any other failure of pulumi up", () => {
        const rolledBack = "error: update failed\n  canary analysis of podinfo.test failed: Canary failed (failed checks: 5). Traffic is back on podinfo-primary.\nResources: 1 unchanged";
        assert.deepStrictEqual(upFailure(rolledBack), { rolledBack: true, message: "canary analysis of podinfo.test failed: Canary failed (failed checks: 5). Traffic is back on podinfo-primary." });
        const other = upFailure("error: the stack is currently locked by 1 lock(s)");
        assert.strictEqual(other.rolledBack, false);
        assert.match(other.message, /currently locked/);
    });

    it("keeps Pulumi.playground.yaml the dev stack with the demo's 2 s interval", () => {
        const dev = (parse(fs.readFileSync(DEV_STACK_FILE, "utf8")) as { config: Record<string, any> }).config;
        const playground = readStackConfig(PLAYGROUND_STACK_FILE);
        assert.deepStrictEqual(playground, { ...dev, "appmesh-canary:canary": withInterval(dev["appmesh-canary:canary"], 2000) });
    });
});
