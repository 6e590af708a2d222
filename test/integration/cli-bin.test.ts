/**
 * The package's command as `npx appmesh-canary` runs it: `npm run build`'s output at the path package.json's
 * `bin` names, in a process of its own (the ts-node runs of `npm run status` prove nothing about the build).
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { STATUS_USAGE } from "../../cli/status";
import { REPO_ROOT } from "../../scripts/render";

describe("the packaged appmesh-canary command (npm run build)", function () {
    this.timeout(180_000);
    let bin: string;
    let dir: string;

    const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: "utf8", timeout: 30_000 });

    before(() => {
        const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { bin: Record<string, string>; files: string[] };
        bin = path.join(REPO_ROOT, pkg.bin["appmesh-canary"]);
        assert.ok(pkg.files.some((folder) => pkg.bin["appmesh-canary"].startsWith(folder)), "the bin is in the published files");
        const build = spawnSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, encoding: "utf8" });
        assert.equal(build.status, 0, `npm run build failed:\n${build.stdout}${build.stderr}`);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "appmesh-canary-bin-"));
    });

    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("is a node script, so npm links it as a command", () => {
        assert.equal(fs.readFileSync(bin, "utf8").split("\n")[0], "#!/usr/bin/env node");
    });

    it("prints the usage without a command, and names a bad option with it; both exit 1", () => {
        const bare = run();
        assert.deepEqual([bare.status, bare.stdout, bare.stderr], [1, "", `appmesh-canary: ${STATUS_USAGE}\n`]);
        const bad = run("status", "--bogus");
        assert.deepEqual([bad.status, bad.stdout, bad.stderr], [1, "", `appmesh-canary: unknown option --bogus; ${STATUS_USAGE}\n`]);
    });

    it("loads the Kubernetes client and reports an API server it cannot reach as one line, exit 1", () => {
        const kubeconfig = path.join(dir, "kubeconfig");
        fs.writeFileSync(kubeconfig, JSON.stringify({
            apiVersion: "v1", kind: "Config", "current-context": "c",
            // Port 1: nothing listens there, so the list is refused at once.
            clusters: [{ name: "k", cluster: { server: "https://127.0.0.1:1" } }],
            users: [{ name: "u", user: { token: "t" } }],
            contexts: [{ name: "c", context: { cluster: "k", user: "u" } }],
        }));
        const refused = run("status", "--kubeconfig", kubeconfig);
        assert.equal(refused.status, 1, refused.stderr);
        assert.match(refused.stderr, /^appmesh-canary: .*\/api\/v1\/configmaps\?labelSelector=appmesh-canary\.io%2Fcanary-status%3Dtrue.*ECONNREFUSED 127\.0\.0\.1:1\n$/);
    });
});
