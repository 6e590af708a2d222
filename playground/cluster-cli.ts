/**
 * `npm run cluster -- up|apply|down|status`: the local cluster (control plane, the playground node, the mesh
 * data plane, appmesh-prometheus) kept running between commands. `up` starts one background process that owns
 * all of it and prints the kubeconfig to use; `apply [--stack dev]` puts a stack's objects (podinfo, the load
 * tester, the gateway) into it as Pulumi would; `down` asks that process to stop everything and waits until it has.
 * The state lives in `.playground/cluster/` of the repository (or `APPMESH_CANARY_CLUSTER_DIR`).
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { randomBytes } from "crypto";
import { serverSideApply, startLocalCluster, waitForRollout } from "./local-cluster";
import { isRunning } from "./processes";

const STATE_DIR = process.env.APPMESH_CANARY_CLUSTER_DIR ?? path.resolve(__dirname, "..", ".playground", "cluster");
const STATE_FILE = path.join(STATE_DIR, "state.json");
const LOG_FILE = path.join(path.dirname(STATE_DIR), `${path.basename(STATE_DIR)}.log`);
const START_TIMEOUT_MS = 120_000;

interface ClusterState {
    /** The process that owns the cluster. */
    pid: number;
    server: string;
    kubeconfigPath: string;
    /** `http_proxy` for requests into the mesh (`http://podinfo.test:9898/`). */
    meshProxy: string;
    /** The field manager `apply` uses, named as Pulumi's Kubernetes provider names its own. */
    fieldManager: string;
}

const USAGE = "usage: npm run cluster -- up|apply [--stack dev]|down|status";

function readState(): ClusterState | undefined {
    try {
        return JSON.parse(fs.readFileSync(STATE_FILE, "utf8")) as ClusterState;
    } catch {
        return undefined;
    }
}

function describe(state: ClusterState): string {
    return `API server ${state.server}, mesh proxy ${state.meshProxy}\nexport KUBECONFIG=${state.kubeconfigPath}`;
}

const lastLines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n").slice(-15).join("\n") : "");

/** Start the owning process and wait until it has written its state (or died). */
async function up(say: (line: string) => void): Promise<number> {
    fs.mkdirSync(path.dirname(STATE_DIR), { recursive: true });
    fs.rmSync(STATE_DIR, { recursive: true, force: true });
    const log = fs.openSync(LOG_FILE, "w");
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", __filename, "serve"], {
        cwd: path.resolve(__dirname, ".."),
        detached: true,
        stdio: ["ignore", log, log],
        env: { ...process.env, APPMESH_CANARY_CLUSTER_DIR: STATE_DIR },
    });
    fs.closeSync(log);
    child.unref();
    const started = Date.now();
    for (;;) {
        const state = readState();
        if (state) {
            say(`local cluster up in ${((Date.now() - started) / 1000).toFixed(1)}s: ${describe(state)}`);
            say(`log: ${LOG_FILE}; stop it with: npm run cluster -- down`);
            return 0;
        }
        if (!isRunning(child.pid!) || Date.now() - started > START_TIMEOUT_MS) {
            say(`the local cluster did not start:\n${lastLines(LOG_FILE)}`);
            return 1;
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
}

/** The owning process: runs the cluster until SIGTERM or SIGINT, then stops all of it. */
async function serve(): Promise<void> {
    fs.mkdirSync(STATE_DIR, { recursive: true });
    const cluster = await startLocalCluster({ dir: STATE_DIR, log: (line) => process.stdout.write(`${line}\n`) });
    let stopping = false;
    const stop = async () => {
        if (stopping) {
            return;
        }
        stopping = true;
        await cluster.stop();
        fs.rmSync(STATE_DIR, { recursive: true, force: true });
        process.exit(0);
    };
    process.on("SIGTERM", () => void stop());
    process.on("SIGINT", () => void stop());
    const state: ClusterState = {
        pid: process.pid,
        server: cluster.controlPlane.server,
        kubeconfigPath: cluster.controlPlane.kubeconfigPath,
        meshProxy: cluster.mesh.proxyUrl,
        fieldManager: `pulumi-kubernetes-${randomBytes(4).toString("hex")}`,
    };
    fs.writeFileSync(STATE_FILE, JSON.stringify(state, null, 2));
}

/** Render a stack as `npm run render` does and server-side apply it, then wait for its Deployments. */
async function apply(state: ClusterState, stack: string, say: (line: string) => void): Promise<number> {
    const { renderStack } = await import("../scripts/render");
    const objects = await renderStack(stack, undefined, say);
    const kubeconfig = fs.readFileSync(state.kubeconfigPath, "utf8");
    await serverSideApply(kubeconfig, objects, state.fieldManager);
    say(`applied ${objects.length} objects of stack ${stack} under ${state.fieldManager}`);
    // The canary Deployment rests at zero until a rollout scales it; the gateway's address comes from its Service.
    const deployments = objects.filter((o) => o.kind === "Deployment" && o.spec?.replicas !== 0);
    for (const d of deployments) {
        await waitForRollout(kubeconfig, d.metadata.namespace, d.metadata.name, 120_000);
    }
    say(`ready: ${deployments.map((d) => `${d.metadata.namespace}/${d.metadata.name}`).join(", ")}`);
    say(`try: curl -x ${state.meshProxy} http://podinfo.test:9898/`);
    return 0;
}

async function down(state: ClusterState, say: (line: string) => void): Promise<void> {
    if (isRunning(state.pid)) {
        process.kill(state.pid, "SIGTERM");
    }
    const deadline = Date.now() + 30_000;
    while (isRunning(state.pid) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
    if (isRunning(state.pid)) {
        say("the local cluster did not stop within 30s; killing it");
        process.kill(state.pid, "SIGKILL");
    }
    fs.rmSync(STATE_DIR, { recursive: true, force: true });
}

export async function main(args: string[], say: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Promise<number> {
    const state = readState();
    const running = state !== undefined && isRunning(state.pid);
    switch (args[0]) {
        case "up":
            if (running) {
                say(`already running: ${describe(state!)}`);
                return 0;
            }
            return up(say);
        case "apply": {
            if (!running) {
                say("no local cluster is running: start it with npm run cluster -- up");
                return 1;
            }
            const at = args.indexOf("--stack");
            return apply(state!, at >= 0 && args[at + 1] ? args[at + 1] : "dev", say);
        }
        case "serve":
            await serve();
            return -1;
        case "down":
            if (!state) {
                say("no local cluster is running");
                return 0;
            }
            await down(state, say);
            say("local cluster stopped");
            return 0;
        case "status":
            say(running ? `running: ${describe(state!)}` : state ? "stopped (stale state; `npm run cluster -- down` cleans it up)" : "no local cluster is running");
            return running ? 0 : 1;
        default:
            say(USAGE);
            return 2;
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => {
            // `serve` keeps running until it is told to stop.
            if (code >= 0) {
                process.exit(code);
            }
        },
        (error) => {
            process.stderr.write(`cluster failed: ${(error as Error).message}\n`);
            process.exit(1);
        },
    );
}
