/** `npm run cluster -- up|apply|status|down` keeps the local cluster running between commands, applies a stack into it, and stops all of it. */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { requestThroughProxy } from "../../playground/http-util";
import { isRunning } from "../../playground/processes";

const ROOT = path.resolve(__dirname, "..", "..");

function cluster(dir: string, ...command: string[]): Promise<{ code: number; out: string }> {
    return new Promise((resolve) => {
        execFile("npm", ["run", "--silent", "cluster", "--", ...command], { cwd: ROOT, env: { ...process.env, APPMESH_CANARY_CLUSTER_DIR: dir } }, (error, stdout, stderr) => {
            resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, out: stdout + stderr });
        });
    });
}

describe("npm run cluster", function () {
    this.timeout(180_000);
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cluster-cli-")), "cluster");

    after(async () => {
        await cluster(dir, "down");
        fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    });

    it("up starts the local cluster and prints the kubeconfig; status sees it; down stops every process", async () => {
        const up = await cluster(dir, "up");
        assert.equal(up.code, 0, up.out);
        const kubeconfigPath = path.join(dir, "kubeconfig");
        assert.match(up.out, new RegExp(`export KUBECONFIG=${kubeconfigPath}`));
        assert.match(up.out, /local cluster up in [\d.]+s: API server https:\/\/127\.0\.0\.1:\d+, mesh proxy http:\/\/127\.0\.0\.1:\d+/);
        const { pid } = JSON.parse(fs.readFileSync(path.join(dir, "state.json"), "utf8")) as { pid: number };
        const owned = () => execFileSync("ps", ["-eo", "pid=,ppid="], { encoding: "utf8" }).trim().split("\n").map((l) => l.trim().split(/\s+/).map(Number)).filter(([, ppid]) => ppid === pid).map(([child]) => child);
        const children = owned();
        assert.ok(children.length >= 3, `etcd, kube-apiserver and kube-controller-manager run under the cluster's process: ${children}`);

        const k8s = await import("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        kc.loadFromFile(kubeconfigPath);
        const core = kc.makeApiClient(k8s.CoreV1Api);
        assert.ok((await core.listNamespace()).items.some((ns) => ns.metadata?.name === "appmesh-system"));
        const nodes = (await core.listNode()).items.map((n) => n.metadata?.name);
        assert.deepEqual(nodes, ["playground"]);

        const applied = await cluster(dir, "apply", "--stack", "dev");
        assert.equal(applied.code, 0, applied.out);
        assert.match(applied.out, /applied 22 objects of stack dev under pulumi-kubernetes-[0-9a-f]{8}/);
        assert.match(applied.out, /ready: .*test\/flagger-loadtester.*test\/podinfo-primary/);
        const meshProxy = /curl -x (http:\/\/127\.0\.0\.1:\d+) http:\/\/podinfo\.test:9898\//.exec(applied.out)![1];
        const answer = await requestThroughProxy(meshProxy, "http://podinfo.test:9898/version");
        assert.equal(JSON.parse(answer.body).version, "6.0.0");

        assert.equal((await cluster(dir, "status")).code, 0);
        assert.match((await cluster(dir, "up")).out, /already running/);
        const down = await cluster(dir, "down");
        assert.match(down.out, /local cluster stopped/);
        assert.ok(![pid, ...children].some(isRunning), "no process is left");
        assert.ok(!fs.existsSync(dir));
        assert.equal((await cluster(dir, "status")).code, 1);
    });

    it("names the commands it knows", async () => {
        const wrong = await cluster(dir, "sideways");
        assert.equal(wrong.code, 2);
        assert.match(wrong.out, /usage: npm run cluster -- up\|apply \[--stack dev\]\|down\|status/);
        const nothing = await cluster(dir, "apply");
        assert.equal(nothing.code, 1);
        assert.match(nothing.out, /no local cluster is running: start it with npm run cluster -- up/);
    });
});
