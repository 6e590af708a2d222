import * as assert from "node:assert";
import axios from "axios";
import type { VirtualRouterSpec } from "../../analysis/routers/appmesh/routes";
import { LoadTester, startLoadTester } from "../../playground/loadtester";
import { MeshRouter } from "../../playground/mesh-router";
import { Pod, startPod } from "../../playground/pod";

const canaryRouter: VirtualRouterSpec = {
    listeners: [{ portMapping: { port: 9898, protocol: "http" } }],
    routes: [{ name: "podinfo-canary", httpRoute: { match: { prefix: "/" }, action: { weightedTargets: [{ virtualNodeRef: { name: "podinfo-canary" }, weight: 100 }] } } }],
};

describe("playground load tester: flagger-loadtester protocol with real commands", function () {
    let pod: Pod;
    let mesh: MeshRouter;
    let tester: LoadTester;
    const logs: string[] = [];
    const post = (path: string, body: unknown) => axios.post(`${tester.url}${path}`, body, { validateStatus: () => true, timeout: 30_000 });
    const payload = (metadata?: Record<string, string>) => ({ name: "podinfo", namespace: "test", phase: "Progressing", checksum: "abc", metadata });

    before(async () => {
        pod = await startPod({ namespace: "test", name: "podinfo-7b9c5d6f4d-x2x4k", virtualNode: "podinfo-canary", mesh: "global", port: 9898, app: { version: "6.0.1", color: "#000", message: "hi" }, fault: { errorRate: 0, latencyMs: 0, crashLoop: false }, readyDelayMs: 0 });
        await pod.ready;
        mesh = new MeshRouter({ endpoints: () => [{ pod: pod.name, url: pod.url }] });
        await mesh.start();
        mesh.setVirtualService("podinfo-canary.test", "test", "podinfo-canary");
        mesh.setRouter("test", "podinfo-canary", canaryRouter);
        tester = await startLoadTester({ proxyUrl: mesh.proxyUrl, namespaceRegexp: "^test$", log: (l) => logs.push(l) });
    });

    after(async () => {
        await tester.stop();
        await mesh.stop();
        await pod.stop();
    });

    it("runs the tutorial's blocking acceptance test (bash, curl through the mesh) and reports failures as 500", async () => {
        const ok = await post("/", payload({ type: "bash", cmd: "curl -sd 'test' http://podinfo-canary.test:9898/token | grep token" }));
        assert.strictEqual(ok.status, 200);
        const output = await post("/", payload({ type: "bash", cmd: "curl -s http://podinfo-canary.test:9898/version", returnCmdOutput: "true" }));
        assert.strictEqual(output.status, 200);
        assert.strictEqual(output.data.version, "6.0.1", "returnCmdOutput returns the command output");
        const failed = await post("/", payload({ type: "bash", cmd: "curl -s http://podinfo-canary.test:9898/ | grep no-such-text" }));
        assert.strictEqual(failed.status, 500);
        assert.match(String(failed.data), /^command curl -s http:\/\/podinfo-canary.test:9898\/ \| grep no-such-text failed: .*exit status 1$/s);
    });

    it("runs cmd tasks (real hey through the wrapper) in the background, once per canary and command", async () => {
        const before = pod.stats.total;
        const cmd = "hey -z 1s -q 10 -c 2 http://podinfo-canary.test:9898/";
        const first = await post("/", payload({ cmd }));
        const second = await post("/", payload({ cmd }));
        assert.strictEqual(first.status, 202);
        assert.strictEqual(second.status, 202);
        assert.strictEqual(tester.running(), 1);
        assert.ok(logs.includes(`command skipped ${cmd} is already running`));
        const deadline = Date.now() + 15_000;
        while (tester.running() > 0 && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 100));
        }
        assert.strictEqual(tester.running(), 0);
        assert.strictEqual(tester.commands.filter((c) => c.cmd === cmd).length, 1);
        assert.strictEqual(tester.commands.find((c) => c.cmd === cmd)?.exitCode, 0);
        const served = pod.stats.total - before;
        assert.ok(served >= 10 && served <= 30, `hey -z 1s -q 10 -c 2 sends about 20 requests through the mesh, the pod served ${served}`);
        assert.strictEqual(pod.stats.countOf(200), pod.stats.total);
    });

    it("answers protocol errors as flagger-loadtester does", async () => {
        assert.strictEqual((await post("/", payload())).status, 400);
        assert.match(String((await post("/", payload())).data), /metadata not found in payload/);
        const helm = await post("/", payload({ type: "helm", cmd: "test podinfo" }));
        assert.strictEqual(helm.status, 400);
        assert.match(String(helm.data), /type helm is not supported .*supported: cmd, bash/);
        assert.strictEqual((await post("/", { ...payload({ cmd: "true" }), namespace: "prod" })).status, 403);
    });

    it("keeps manual gates and rollback gates per canary", async () => {
        const gate = { name: "podinfo", namespace: "test" };
        assert.strictEqual((await post("/gate/approve", gate)).status, 200);
        assert.strictEqual((await post("/gate/halt", gate)).status, 403);
        assert.strictEqual((await post("/gate/check", gate)).status, 403);
        assert.strictEqual((await post("/gate/open", gate)).status, 202);
        const check = await post("/gate/check", gate);
        assert.strictEqual(check.status, 200);
        assert.strictEqual(check.data, "Approved");
        assert.strictEqual((await post("/rollback/check", gate)).status, 403, "rollback gates are separate");
        assert.strictEqual((await post("/gate/close", gate)).status, 202);
        assert.strictEqual((await post("/gate/check", gate)).status, 403);
        assert.strictEqual((await post("/rollback/open", gate)).status, 202);
        assert.strictEqual((await post("/rollback/check", gate)).status, 200);
    });
});
