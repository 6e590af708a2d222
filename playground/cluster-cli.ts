/**
 * `npm run cluster -- up|down|status`: the local control plane (etcd, kube-apiserver,
 * kube-controller-manager) kept running between commands, its state in `.playground/cluster/` of the
 * repository (or `APPMESH_CANARY_CLUSTER_DIR`). `up` prints the kubeconfig to use; `down` stops every process it started and removes the state.
 */
import * as fs from "fs";
import * as path from "path";
import { startControlPlane } from "./control-plane";
import { isRunning } from "./processes";

const STATE_DIR = process.env.APPMESH_CANARY_CLUSTER_DIR ?? path.resolve(__dirname, "..", ".playground", "cluster");
const STATE_FILE = path.join(STATE_DIR, "state.json");

interface ClusterState {
    server: string;
    kubeconfigPath: string;
    pids: number[];
}

const USAGE = "usage: npm run cluster -- up|down|status";

function readState(): ClusterState | undefined {
    try {
        return JSON.parse(fs.readFileSync(STATE_FILE, "utf8")) as ClusterState;
    } catch {
        return undefined;
    }
}

async function stopRecorded(state: ClusterState): Promise<void> {
    for (const pid of [...state.pids].reverse()) {
        try {
            process.kill(-pid, "SIGTERM");
        } catch {
            // already gone
        }
    }
    const deadline = Date.now() + 10_000;
    while (state.pids.some(isRunning) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
    for (const pid of state.pids.filter(isRunning)) {
        process.kill(-pid, "SIGKILL");
    }
}

export async function main(args: string[], say: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Promise<number> {
    const state = readState();
    const running = state !== undefined && state.pids.every(isRunning);
    switch (args[0]) {
        case "up": {
            if (running) {
                say(`already running: ${state!.server}\nexport KUBECONFIG=${state!.kubeconfigPath}`);
                return 0;
            }
            if (state) {
                await stopRecorded(state);
            }
            fs.rmSync(STATE_DIR, { recursive: true, force: true });
            fs.mkdirSync(STATE_DIR, { recursive: true });
            const started = Date.now();
            const cp = await startControlPlane({ dir: STATE_DIR, persist: true, log: say });
            const recorded: ClusterState = { server: cp.server, kubeconfigPath: cp.kubeconfigPath, pids: cp.pids() };
            fs.writeFileSync(STATE_FILE, JSON.stringify(recorded, null, 2));
            say(`control plane up in ${((Date.now() - started) / 1000).toFixed(1)}s: ${cp.server}`);
            say(`export KUBECONFIG=${cp.kubeconfigPath}`);
            say(`logs: ${STATE_DIR}/*.log; stop it with: npm run cluster -- down`);
            return 0;
        }
        case "down": {
            if (!state) {
                say("no local cluster is running");
                return 0;
            }
            await stopRecorded(state);
            fs.rmSync(STATE_DIR, { recursive: true, force: true });
            say("local cluster stopped");
            return 0;
        }
        case "status":
            say(running ? `running: ${state!.server}\nexport KUBECONFIG=${state!.kubeconfigPath}` : state ? "stopped (stale state; `npm run cluster -- down` cleans it up)" : "no local cluster is running");
            return running ? 0 : 1;
        default:
            say(USAGE);
            return 2;
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (error) => {
            process.stderr.write(`cluster failed: ${(error as Error).message}\n`);
            process.exit(1);
        },
    );
}
