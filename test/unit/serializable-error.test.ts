/**
 * The errors the product tells apart keep their message and their kind through Pulumi's function
 * serialization: the soak found "progress deadline exceeded undefined" in a real `pulumi up`, thrown by a
 * serialized `class DeadlineExceeded extends Error {}` that had lost both its message and its parent.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import requireFromString from "require-from-string";
import { isQueryRenderError, renderQuery } from "../../analysis/adapters/promql";
import { errorText } from "../../analysis/engine/session";
import { driverGone, isDriverGone, isLeaseLost, leaseLost } from "../../analysis/engine/stops";

const ANALYSIS = path.join(__dirname, "..", "..", "analysis");

function sourceFiles(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []));
}

describe("errors through Pulumi's function serialization", function () {
    this.timeout(20_000);

    it("keep their message, their fields and their kind, and read as errors", async () => {
        const thrown = () => {
            let renderError: unknown;
            try {
                renderQuery("sum(rate(x[{{ interval }]))", { namespace: "test", name: "podinfo", target: "podinfo", service: "podinfo", interval: "1m" });
            } catch (error) {
                renderError = error;
            }
            return [
                [isDriverGone(driverGone("gone")), driverGone("gone").detail, errorText(driverGone("gone"))],
                [isLeaseLost(leaseLost("host-2")), leaseLost("host-2").holder, errorText(leaseLost("host-2"))],
                [isQueryRenderError(renderError), "", errorText(renderError)],
                [isLeaseLost(driverGone("gone")), "", String(leaseLost("host-3"))],
            ];
        };
        const serialized = await pulumi.runtime.serializeFunction(thrown);
        const revived = requireFromString(serialized.text)[serialized.exportName] as typeof thrown;
        const expected = thrown();
        assert.deepEqual(revived(), expected);
        assert.equal(expected[1][2], "the analysis lease was taken over by host-2");
        assert.match(String(expected[2][2]), /^unclosed template action/);
        assert.equal(expected[3][2], "Error: the analysis lease was taken over by host-3");
    });

    it("no error class under analysis/: a serialized subclass of Error is not one any more", () => {
        const classes = sourceFiles(ANALYSIS).flatMap((file) => [...fs.readFileSync(file, "utf8").matchAll(/class (\w+) extends (\w*Error)\b/g)].map((m) => `${path.relative(ANALYSIS, file)}: ${m[1]} extends ${m[2]}`));
        assert.deepEqual(classes, []);
    });
});
