/**
 * A user's clone has nothing beside it: the project's files are copied to a fresh directory with no sibling
 * folders, and the demo's and the benchmark's modules load there and `npm run render` works.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");

function run(cwd: string, args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile(process.execPath, ["-r", "ts-node/register/transpile-only", ...args], { cwd, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
            if (error) {
                reject(new Error(`${args.join(" ")} failed: ${stderr || error.message}`));
            } else {
                resolve(stdout);
            }
        });
    });
}

describe("the repository on its own, with no folder beside it", function () {
    this.timeout(120_000);
    let parent: string;
    let clone: string;

    before(() => {
        parent = fs.mkdtempSync(path.join(os.tmpdir(), "appmesh-canary-clone-"));
        clone = path.join(parent, "repo");
        const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" }).split("\n").filter(Boolean);
        for (const file of files.filter((f) => fs.existsSync(path.join(ROOT, f)))) {
            fs.mkdirSync(path.dirname(path.join(clone, file)), { recursive: true });
            fs.copyFileSync(path.join(ROOT, file), path.join(clone, file));
        }
        fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(clone, "node_modules"), "dir");
        assert.deepEqual(fs.readdirSync(parent), ["repo"]);
    });

    after(() => {
        fs.rmSync(parent, { recursive: true, force: true });
    });

    it("loads the demo's and the benchmark's modules and the CRD schemas", async () => {
        const out = await run(clone, [
            "-e",
            'require("./playground/demo"); require("./playground/bench"); console.log(new (require("./playground/crd-schemas").AppMeshSchemas)().kinds().join(","))',
        ]);
        assert.equal(out.trim(), "BackendGroup,GatewayRoute,Mesh,VirtualGateway,VirtualNode,VirtualRouter,VirtualService");
    });

    it("renders the dev stack", async () => {
        const out = await run(clone, ["scripts/render.ts", "--stack", "dev"]);
        for (const kind of ["Mesh", "VirtualRouter", "VirtualNode", "VirtualService", "Deployment"]) {
            assert.match(out, new RegExp(`^kind: ${kind}$`, "m"));
        }
    });
});
