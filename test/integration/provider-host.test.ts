import * as assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import { withoutProvider } from "../../playground/provider-host";
import { ANALYSIS_URN, apexWeights, canaryReplicas, FINALIZE_URN, startHostBench, waitFor, type HostBench } from "./rollout-fixtures";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

describe("the providers in Pulumi's dynamic-provider host, against the playground", function () {
    this.timeout(240_000);
    let bench: HostBench;
    let promoted: Record<string, unknown>;
    /** `npm run status -- --watch` in a process of its own, as an on-call engineer runs it beside `pulumi up`. */
    let watcher: ChildProcess;
    const watched: string[] = [];
    /** Where the Analysis updates write their rollout reports, as the program passes `.rollouts/<stack>` resolved. */
    let reports: string;

    /** The report the last printed line names, after checking it is the run's last line. */
    function lastReport(): { html: string; json: Record<string, any> } {
        const line = bench.lines.at(-1) ?? "";
        const file = /^Normal  Rollout report: (\S+\.html)$/.exec(line)?.[1];
        assert.ok(file && file.startsWith(reports), `the last event line names the report: ${line}`);
        return { html: fs.readFileSync(file, "utf8"), json: JSON.parse(fs.readFileSync(file.replace(/\.html$/, ".json"), "utf8")) };
    }

    /** Every value of `metric` the printed events' checks carried, in order. */
    function checkedValues(metric: string): number[] {
        return bench.lines.flatMap((line) => [...line.matchAll(new RegExp(`metric ${metric} = ([\\d.]+)(%|ms)`, "g"))].map((m) => Number(m[1])));
    }

    /** The values of `metric` a report charts; a check without data is a gap (null), every value checked a point. */
    function chartedValues(report: { json: Record<string, any> }, metric: string): number[] {
        return report.json.metrics.filter((m: any) => m.name === metric && m.value !== null).map((m: any) => m.value);
    }

    before(async () => {
        bench = await startHostBench();
        await bench.host.configure();
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "appmesh-canary-status-"));
        reports = path.join(dir, "rollouts");
        const kubeconfig = path.join(dir, "kubeconfig");
        fs.writeFileSync(kubeconfig, bench.proxy.kubeconfig(bench.token), { mode: 0o600 });
        const root = path.resolve(__dirname, "..", "..");
        watcher = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "cli/appmesh-canary.ts", "status", "--watch", "--kubeconfig", kubeconfig], { cwd: root });
        readline.createInterface({ input: watcher.stdout! }).on("line", (line) => watched.push(line));
        await waitFor("the status watch to start", () => watched.length > 0);
    });

    after(async () => {
        watcher?.kill();
        await bench?.stop();
    });

    it("check fails a bad spec naming the field, and tolerates unknowns during preview", async () => {
        const inputs = bench.analysisInputs() as any;
        const bad = { ...inputs, canary: { ...inputs.canary, analysis: { ...inputs.canary.analysis, stepWeight: -5 } } };
        const { failures } = await bench.host.check(ANALYSIS_URN, {}, bad);
        assert.ok(failures.some((f) => f.property === "canary.analysis.stepWeight"), JSON.stringify(failures));
        assert.ok(failures.every((f) => f.property.startsWith("canary.analysis")), JSON.stringify(failures));
        const preview = { ...inputs, revision: UNKNOWN, template: UNKNOWN, kubeconfig: UNKNOWN };
        assert.deepEqual((await bench.host.check(ANALYSIS_URN, {}, preview)).failures, []);
    });

    it("create bootstraps without analysis; Finalize reports the initialization", async () => {
        const inputs = bench.analysisInputs();
        const created = await bench.host.create(ANALYSIS_URN, inputs);
        assert.equal(created.id, "test/podinfo");
        assert.deepEqual(withoutProvider(created.properties), { ...withoutProvider(inputs), status: "initialized" });
        promoted = created.properties;
        await bench.host.create(FINALIZE_URN, bench.finalizeInputs(String(promoted.revision), "initialized"));
        assert.ok(bench.lines.includes("Normal  Initialization done! podinfo.test"), bench.lines.join("\n"));
        assert.equal(await canaryReplicas(bench), 0);
    });

    it("diff reports no change for identical inputs, and a change while the revision is unknown in preview", async () => {
        assert.deepEqual(await bench.host.diff("test/podinfo", ANALYSIS_URN, promoted, bench.analysisInputs()), { changes: "none", replaces: [], deleteBeforeReplace: false });
        assert.equal((await bench.host.diff("test/podinfo", ANALYSIS_URN, promoted, { ...bench.analysisInputs(), revision: UNKNOWN })).changes, "some");
    });

    it("update with a healthy new revision promotes it, and Finalize routes back to the primary", async () => {
        await bench.updateCanaryTemplate("6.0.1");
        const news: Record<string, unknown> = { ...bench.analysisInputs(), reportDirectory: reports };
        assert.equal((await bench.host.diff("test/podinfo", ANALYSIS_URN, promoted, news)).changes, "some");
        bench.lines.length = 0;
        const updated = await bench.host.update("test/podinfo", ANALYSIS_URN, promoted, news);
        assert.equal(updated.properties.revision, news.revision);
        assert.equal(updated.properties.status, "promoted");
        assert.deepEqual(updated.properties.template, news.template);
        const events = bench.lines.join("\n");
        for (const line of ["New revision detected! Scaling up podinfo.test", "Starting canary analysis for podinfo.test", "Advance podinfo.test canary weight 10", "Advance podinfo.test canary weight 30", "Copying podinfo.test template spec to podinfo-primary.test"]) {
            assert.ok(events.includes(line), `missing "${line}" in:\n${events}`);
        }
        const report = lastReport();
        assert.equal(report.json.result, "promoted");
        assert.deepEqual(chartedValues(report, "request-success-rate"), checkedValues("request-success-rate"), "the charts hold the checked values");
        assert.ok(checkedValues("request-success-rate").length > 0);
        assert.equal(report.json.summary.maxCanaryWeight, 30);
        assert.match(report.html, /<svg/);
        assert.ok(!report.html.includes(bench.token) && !JSON.stringify(report.json).includes(bench.token));
        // The canary still carries maxWeight while Pulumi rolls the primary.
        assert.deepEqual(await apexWeights(bench), { primary: 70, canary: 30 });
        await bench.rollPrimary("6.0.1");
        await bench.host.update("test/podinfo", FINALIZE_URN, bench.finalizeInputs(String(promoted.revision), "initialized"), bench.finalizeInputs(String(news.revision), "promoted"));
        assert.ok(bench.lines.includes("Normal  Promotion completed! Scaling down podinfo.test"), bench.lines.join("\n"));
        assert.deepEqual(await apexWeights(bench), { primary: 100, canary: 0 });
        assert.equal(await canaryReplicas(bench), 0);
        promoted = updated.properties;
    });

    it("update with a slow canary fails with the reason and leaves traffic on the primary", async () => {
        bench.fault("6.0.2").latencyMs = 700;
        await bench.updateCanaryTemplate("6.0.2");
        const news: Record<string, unknown> = { ...bench.analysisInputs(), reportDirectory: reports };
        bench.lines.length = 0;
        await assert.rejects(bench.host.update("test/podinfo", ANALYSIS_URN, promoted, news), (error: Error) => {
            assert.match(error.message, /canary analysis of podinfo\.test failed: Halt podinfo\.test advancement request duration \d+ms > 500ms/);
            assert.match(error.message, /Traffic is back on podinfo-primary, the canary is scaled to zero/);
            assert.ok(!error.message.includes(bench.token));
            return true;
        });
        assert.deepEqual(await apexWeights(bench), { primary: 100, canary: 0 });
        assert.equal(await canaryReplicas(bench), 0);
        const events = bench.lines.join("\n");
        assert.match(events, /Rolling back podinfo\.test failed checks threshold reached 5/);
        assert.match(events, /Canary failed! Scaling down podinfo\.test/);
        assert.ok(!events.includes(bench.token));
        const report = lastReport();
        assert.equal(report.json.result, "rolled back");
        assert.match(report.json.reason, /request duration \d+ms > 500ms/);
        const durations = chartedValues(report, "request-duration");
        assert.deepEqual(durations, checkedValues("request-duration"));
        assert.ok(durations.length > 0 && durations.every((v) => v > 500), `the failing durations are charted: ${durations}`);
    });

    it("the status watch in another process showed each phase and weight as the rollouts moved, ending in Succeeded, then Failed with its failed checks", async () => {
        // NAMESPACE NAME STATUS WEIGHT FAILEDCHECKS LASTTRANSITIONTIME REVISION
        const rows = watched.slice(1).map((line) => line.split(/\s+/)).filter((cells) => cells[0] === "test" && cells[1] === "podinfo");
        const seen = rows.map(([, , phase, weight, failed]) => `${phase} ${weight} ${failed}`).filter((row, i, all) => row !== all[i - 1]);
        const first = (prefix: string, from = 0) => seen.findIndex((row, i) => i >= from && row.startsWith(prefix));
        const succeeded = first("Succeeded 0");
        assert.ok(first("Initializing") >= 0 && first("Initialized") > first("Initializing"), seen.join("\n"));
        for (const step of ["Progressing 10", "Progressing 20", "Progressing 30", "Promoting 30", "Finalising", "Succeeded 0"]) {
            assert.ok(first(step, first("Initialized")) > 0, `"${step}" in:\n${seen.join("\n")}`);
        }
        assert.ok(first("Progressing 10") < first("Progressing 30") && first("Promoting 30") < first("Finalising") && first("Finalising") < succeeded, seen.join("\n"));
        const failed = seen.slice(succeeded).filter((row) => row.startsWith("Failed")).at(-1);
        assert.match(failed ?? "", /^Failed 0 [1-9]\d*$/, seen.join("\n"));
        assert.ok(first("Progressing", succeeded) > succeeded, "the failing revision progressed first");
    });

    it("read reports the live state and the canary's status for refresh; delete removes the analysis Lease and the status and leaves the rest of the cluster alone", async () => {
        const read = await bench.host.read("test/podinfo", ANALYSIS_URN, promoted);
        const { canaryStatus, ...live } = read.properties.live as Record<string, any>;
        assert.deepEqual(live, { primaryWeight: 100, canaryWeight: 0, canaryReplicas: 0, state: "resting" });
        assert.equal(canaryStatus.phase, "Failed", "the last run rolled back");
        assert.ok(canaryStatus.failedChecks >= 1, `failed checks: ${canaryStatus.failedChecks}`);
        assert.equal(canaryStatus.canaryWeight, 0);
        const requests = bench.proxy.requests.length;
        await bench.host.delete("test/podinfo", ANALYSIS_URN, promoted);
        assert.deepEqual(bench.proxy.requests.slice(requests).map((r) => `${r.method} ${r.path} ${r.status}`), [
            "DELETE /apis/coordination.k8s.io/v1/namespaces/test/leases/podinfo-canary-analysis 200",
            "DELETE /api/v1/namespaces/test/configmaps/podinfo-canary-status 200",
        ]);
    });

    it("update with a crash-looping canary rolls back at the progress deadline, naming why the canary was not ready", async () => {
        bench.fault("6.0.3").crashLoop = true;
        await bench.updateCanaryTemplate("6.0.3");
        const inputs = bench.analysisInputs() as Record<string, any>;
        const news = { ...inputs, canary: { ...inputs.canary, progressDeadlineSeconds: 3 } };
        bench.lines.length = 0;
        await assert.rejects(bench.host.update("test/podinfo", ANALYSIS_URN, promoted, news), (error: Error) => {
            // The serialized engine once lost this reason ("progress deadline exceeded undefined"); the soak found it.
            assert.match(error.message, /canary analysis of podinfo\.test failed: Rolling back podinfo\.test progress deadline exceeded canary deployment podinfo\.test not ready: waiting for rollout to finish: \d+ of \d+ \(readyThreshold 100%\) updated replicas are available/);
            assert.match(error.message, /Traffic is back on podinfo-primary, the canary is scaled to zero/);
            return true;
        });
        assert.ok(bench.lines.some((line) => /^Warning Rolling back podinfo\.test progress deadline exceeded canary deployment podinfo\.test not ready: /.test(line)), bench.lines.join("\n"));
        assert.deepEqual(await apexWeights(bench), { primary: 100, canary: 0 });
        assert.equal(await canaryReplicas(bench), 0);
    });
});
