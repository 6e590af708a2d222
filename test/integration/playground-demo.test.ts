import * as assert from "node:assert";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { abVariant, canaryFromDocument, loadCanary, withInterval } from "../../playground/canary-spec";
import { parseDemoArgs } from "../../playground/demo";
import { PULUMI_WORK_DIR } from "../../playground/drivers";
import { workspaceProcesses } from "../../playground/pulumi-cli";
import { startPlayground } from "../../playground/playground";
import { findExecutable, requireExecutable } from "../../playground/processes";

const ROOT = path.resolve(__dirname, "..", "..");

describe("playground demo: arguments, canary spec and prerequisites", () => {
    it("parses the demo's flags and names the allowed values of a bad one", () => {
        assert.deepStrictEqual(parseDemoArgs([]), { scenario: "healthy", interval: "2s", out: ".", router: "appmesh" });
        assert.deepStrictEqual(parseDemoArgs(["--scenario", "ab", "--interval=1s", "--canary", "c.yaml", "--driver", "engine", "--out", "/tmp/x", "--router", "gatewayapi"]), {
            scenario: "ab",
            interval: "1s",
            canary: "c.yaml",
            driver: "engine",
            out: "/tmp/x",
            router: "gatewayapi",
        });
        assert.throws(() => parseDemoArgs(["--router", "istio"]), /--router istio: must be one of appmesh, gatewayapi/);
        assert.throws(() => parseDemoArgs(["--scenario", "chaos"]), /--scenario chaos: must be one of healthy, errors, latency, ab/);
        assert.throws(() => parseDemoArgs(["--interval", "500ms"]), /--interval 500ms: must be a duration of at least 1s/);
        assert.throws(() => parseDemoArgs(["--interval", "fast"]), /--interval fast/);
        assert.throws(() => parseDemoArgs(["--driver", "kubectl"]), /--driver kubectl: must be one of pulumi, provider-host, engine/);
        assert.throws(() => parseDemoArgs(["--verbose"]), /unknown argument --verbose\nusage: npm run demo/);
        assert.throws(() => parseDemoArgs(["--canary"]), /--canary needs a value/);
    });

    it("reads the dev stack's canary, a pasted Canary manifest or a bare spec, and reports bad fields by path", () => {
        const dev = loadCanary();
        assert.strictEqual(dev.target, "podinfo");
        assert.strictEqual(dev.namespace, "test");
        assert.strictEqual(dev.spec.analysis?.maxWeight, 50);
        assert.strictEqual((dev.spec as unknown as Record<string, unknown>).targetRef, undefined, "the program wires targetRef itself");
        const manifest = { apiVersion: "flagger.app/v1beta1", kind: "Canary", metadata: { name: "web", namespace: "shop" }, spec: { targetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" }, service: { port: 8080 } } };
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "canary-spec-"));
        try {
            fs.writeFileSync(path.join(dir, "canary.yaml"), stringify(manifest));
            const fromFile = loadCanary(path.join(dir, "canary.yaml"));
            assert.deepStrictEqual([fromFile.target, fromFile.namespace, fromFile.spec.service.port], ["web", "shop", 8080]);
            fs.writeFileSync(path.join(dir, "broken.yaml"), "spec:\n  service:\n    port: 9898\n```\n");
            assert.throws(() => loadCanary(path.join(dir, "broken.yaml")), /--canary .*broken\.yaml: not one valid YAML document: /);
        } finally {
            fs.rmSync(dir, { recursive: true });
        }
        assert.strictEqual(canaryFromDocument({ service: { port: 9898 } }, "bare").target, "podinfo");
        assert.throws(() => canaryFromDocument({ service: { port: 9898 }, analysis: { stepWeight: -5 } }, "bad.yaml"), /bad\.yaml: .*canary\.analysis\.stepWeight/s);
        assert.throws(() => loadCanary("/nonexistent/canary.yaml"), /--canary \/nonexistent\/canary\.yaml: no such file/);
        assert.throws(() => canaryFromDocument(["a"], "list.yaml"), /list\.yaml: expected a Flagger Canary manifest or a canary spec/);
    });

    it("scales the interval, metric windows and hey durations together, and builds the tutorial's A/B variant", () => {
        const dev = loadCanary().spec;
        const fast = withInterval(dev, 2000);
        assert.strictEqual(fast.analysis?.interval, "2s");
        assert.deepStrictEqual(fast.analysis?.metrics?.map((m) => m.interval), ["4s", "4s"], "1m and 30s scale to 2s and 1s, raised to the 4s minimum window");
        assert.deepStrictEqual(withInterval(dev, 30_000).analysis?.metrics?.map((m) => m.interval), ["30s", "15s"]);
        const loadTest = fast.analysis?.webhooks?.find((w) => w.name === "load-test");
        assert.strictEqual(loadTest?.metadata?.cmd, "hey -z 2s -q 10 -c 2 http://podinfo-canary.test:9898/");
        assert.strictEqual(fast.analysis?.webhooks?.find((w) => w.name === "acceptance-test")?.metadata?.cmd, dev.analysis?.webhooks?.[0].metadata?.cmd);
        const ab = abVariant(dev);
        assert.deepStrictEqual(ab.analysis?.match, [{ headers: { "x-canary": { exact: "insider" } } }]);
        assert.strictEqual(ab.analysis?.iterations, 10);
        assert.strictEqual(ab.analysis?.maxWeight, undefined);
        assert.deepStrictEqual(ab.analysis?.metrics, dev.analysis?.metrics);
        assert.deepStrictEqual(ab.analysis?.webhooks?.map((w) => w.name), ["acceptance-test", "load-test"]);
        assert.match(ab.analysis?.webhooks?.[1].metadata?.cmd ?? "", /-H 'X-Canary: insider' http:\/\/podinfo\.test:9898\//);
    });

    it("names the package to install when prometheus or hey is missing, before starting anything", async () => {
        const saved = process.env.PATH;
        const noTools = fs.mkdtempSync(path.join(os.tmpdir(), "no-tools-"));
        try {
            process.env.PATH = noTools;
            assert.strictEqual(findExecutable("hey"), undefined);
            assert.throws(() => requireExecutable("hey"), /hey is not installed \(not found on PATH\): install the Debian\/Ubuntu package "hey" \(apt-get install hey\)/);
            await assert.rejects(startPlayground({ canaries: [] }), /prometheus is not installed \(not found on PATH\): install the Debian\/Ubuntu package "prometheus"/);
        } finally {
            process.env.PATH = saved;
            fs.rmSync(noTools, { recursive: true });
        }
    });
});

describe("playground demo: Ctrl-C stops every child process", function () {
    this.timeout(120_000);

    const refused = (url: string) =>
        new Promise<boolean>((resolve) => {
            http.get(url, (res) => {
                res.resume();
                resolve(false);
            }).on("error", () => resolve(true));
        });

    it("exits 130 on Ctrl-C mid-rollout without a result, and the control plane, Prometheus, the host, the mesh proxy and load tests are gone", async () => {
        // Its own process group, so the signal goes to the whole group as a terminal's Ctrl-C does.
        const demo = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "playground/demo.ts", "--interval", "2s", "--out", os.tmpdir()], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], detached: true });
        let output = "";
        demo.stderr.on("data", (d: Buffer) => (output += d.toString()));
        const exited = new Promise<number | null>((resolve) => demo.on("exit", (code) => resolve(code)));
        await new Promise<void>((resolve, reject) => {
            demo.stdout.on("data", (d: Buffer) => {
                output += d.toString();
                if (/Advance podinfo\.test canary weight 5/.test(output)) {
                    resolve();
                }
            });
            demo.on("exit", () => reject(new Error(`demo ended before the rollout advanced:\n${output}`)));
        });
        const [, prometheusUrl, proxyUrl] = /Prometheus (http:\/\/\S+), mesh proxy (http:\/\/\S+)/.exec(output)!;
        const children = execFileSync("ps", ["-o", "pid=", "--ppid", String(demo.pid)], { encoding: "utf8" }).trim().split(/\s+/).map(Number);
        assert.ok(children.length >= 4, `etcd, kube-apiserver, kube-controller-manager, prometheus and the provider host run under the demo: ${children}`);
        process.kill(-demo.pid!, "SIGINT");
        assert.strictEqual(await exited, 130, output);
        assert.match(output, /SIGINT: stopping the playground/);
        assert.doesNotMatch(output, /result: |demo failed|wrote /, "an interrupted demo reports no result");
        assert.ok(await refused(`${prometheusUrl}/-/ready`), "Prometheus stopped");
        assert.ok(await refused(proxyUrl), "mesh proxy stopped");
        const alive = children.filter((pid) => {
            try {
                process.kill(pid, 0);
                return true;
            } catch {
                return false;
            }
        });
        assert.deepStrictEqual(alive, [], "no child process of the demo survives it");
        // With the real CLI, its plugins are not the demo's children: they are found by their PULUMI_HOME.
        assert.deepStrictEqual(workspaceProcesses({ env: { PULUMI_HOME: path.join(PULUMI_WORK_DIR, "home") } }), [], "no pulumi process or plugin survives the demo");
    });
});
