import * as assert from "node:assert/strict";
import { ANALYSIS_URN, apexWeights, isStatusRequest, canaryReplicas, startHostBench, waitFor, type HostBench } from "./rollout-fixtures";


describe("recovery of a rollout whose host was killed mid-way", function () {
    this.timeout(240_000);
    let bench: HostBench;

    before(async () => {
        bench = await startHostBench();
    });

    after(async () => {
        await bench?.stop();
    });

    it("puts traffic back on the primary before anything else, then runs the rollout again", async () => {
        const promoted = (await bench.host.create(ANALYSIS_URN, bench.analysisInputs())).properties;
        await bench.updateCanaryTemplate("6.0.1");
        const news = bench.analysisInputs();

        const interrupted = bench.host.update("test/podinfo", ANALYSIS_URN, promoted, news).then(
            () => "finished",
            (error: Error) => error.message,
        );
        await waitFor("the second weight step", () => bench.lines.some((l) => /^Normal  Advance podinfo\.test canary weight 20( \[|$)/.test(l)));
        bench.host.kill();
        assert.notEqual(await interrupted, "finished");
        assert.deepEqual(await apexWeights(bench), { primary: 80, canary: 20 }, "the killed run left traffic on the canary");
        assert.ok((await canaryReplicas(bench)) > 0);

        // The next `pulumi up`: Pulumi's state still holds the old revision, so the Analysis update runs again.
        const writesBefore = bench.proxy.requests.length;
        bench.lines.length = 0;
        await bench.restartHost();
        const updated = await bench.host.update("test/podinfo", ANALYSIS_URN, promoted, news);
        assert.equal(updated.properties.revision, news.revision);

        // The killed run's lease is still live: the next run waits for it to expire before it touches anything.
        assert.match(bench.lines[0], /^Warning Waiting for podinfo\.test's analysis lease held by [^/\s]+\/\d+\/[0-9a-f]{6} \(expires in \d+s\)$/, bench.lines.join("\n"));
        assert.equal(bench.lines[1], "Warning Recovering interrupted rollout of podinfo.test", bench.lines.join("\n"));
        const writes = bench.proxy.requests.slice(writesBefore).filter((r) => r.method === "PATCH" && !isStatusRequest(r));
        const first = writes[0].body as any;
        assert.match(writes[0].path, /virtualrouters\/podinfo$/);
        assert.deepEqual(first.spec.routes[0].httpRoute.action.weightedTargets.map((t: any) => t.weight), [0, 100], "the first write routes everything to the primary");
        assert.match(writes[1].path, /deployments\/podinfo\/scale$/);
        assert.deepEqual(writes[1].body, { spec: { replicas: 0 } });
        assert.ok(bench.lines.indexOf("Normal  New revision detected! Scaling up podinfo.test") > 0);
    });
});
