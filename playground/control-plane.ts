/**
 * A real Kubernetes control plane on this machine, without Docker: etcd, kube-apiserver and
 * kube-controller-manager (built by `npm run toolchain`), with RBAC on, a static admin token, the CRDs the
 * project uses, and the API server's service proxy routed through an egress-selector Unix socket that the
 * playground's node serves. Pod and Service addresses come from ranges no packet is ever sent to: where this
 * process may (root on Linux) they are blackholed first, so a stray dial fails here instead of leaving the
 * machine.
 */
import axios from "axios";
import { execFileSync, spawn, type ChildProcess } from "child_process";
import { generateKeyPairSync, randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseAllDocuments, stringify as stringifyYaml } from "yaml";
import * as https from "https";
import { freePort, startOnFreePort } from "./http-util";
import { findExecutable, requireExecutable, stopChild, trackChild } from "./processes";

/** Pods get addresses from here, the API server advertises one from the same blackholed block. */
export const POD_CIDR = "10.244.0.0/16";
export const SERVICE_CIDR = "10.96.0.0/16";
/** The `kubernetes` Service's endpoint: not loopback (the API server refuses that), inside a blackholed block. */
const ADVERTISE_ADDRESS = "10.245.0.1";
const BLACKHOLED = ["10.244.0.0/15", SERVICE_CIDR];

const REPO_ROOT = path.resolve(__dirname, "..");
/** The CRD sets a cluster can have installed, by name. */
export const CRD_SETS = {
    appmesh: path.join(REPO_ROOT, "crds", "appmesh-v1beta2.yaml"),
    gatewayapi: path.join(REPO_ROOT, "crds", "gateway-api-v1.5.1-standard.yaml"),
} as const;
/** Controllers a cluster without cloud, nodes' IPAM or volumes does not need. */
const CONTROLLERS = "*,-nodeipam,-nodelifecycle,-ttl,-route,-service,-cloud-node-lifecycle,-persistentvolume-binder,-attachdetach";

export interface ControlPlaneOptions {
    /** Where certificates, keys, logs and etcd's data go; a new temporary directory by default. */
    dir?: string;
    /** The Unix socket the API server's service proxy dials through (HTTP CONNECT). */
    egressSocket?: string;
    /** How long to wait for each component to become ready; default 60 s. */
    waitMs?: number;
    /**
     * The CRD sets to install; default App Mesh's only. The Gateway API's (with their CEL rules) add about 5 s
     * to every start, so only the clusters that route by HTTPRoute install them.
     */
    crds?: (keyof typeof CRD_SETS)[];
    log?: (line: string) => void;
}

export interface ControlPlane {
    /** `https://127.0.0.1:<port>` */
    server: string;
    /** The PEM the API server's certificate chains to (for a proxy in front of it). */
    ca: string;
    /** A kubeconfig (admin token, the API server's CA) and where it is written. */
    kubeconfig: string;
    kubeconfigPath: string;
    token: string;
    dir: string;
    egressSocket: string;
    /** Stop the API server for `ms`, then start it again on the same port (etcd keeps the data). */
    restartApiServer(ms: number): Promise<void>;
    /** Process ids of the running components by binary name (`etcd`, `kube-apiserver`, ...), for CPU accounting. */
    processIds(): Record<string, number>;
    stop(): Promise<void>;
}

/** Where `npm run toolchain` put the binaries, read from the toolchain script itself (one source of versions). */
export function toolchainPaths(): Record<string, string> {
    const out = execFileSync("bash", [path.join(REPO_ROOT, "scripts", "toolchain.sh"), "paths"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return Object.fromEntries(out.split("\n").filter((line) => line.includes("=")).map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
}

const KUBE_BINARIES = ["kube-apiserver", "kube-controller-manager"] as const;

/** The control-plane binaries `npm run toolchain -- kube` has not built yet. */
export function missingKubeBinaries(): string[] {
    const dir = toolchainPaths().KUBE_BIN_DIR;
    return KUBE_BINARIES.filter((name) => !fs.existsSync(path.join(dir, name)));
}

function kubeBinary(name: (typeof KUBE_BINARIES)[number]): string {
    const file = path.join(toolchainPaths().KUBE_BIN_DIR, name);
    if (!fs.existsSync(file)) {
        throw new Error(`${name} is not built: run \`npm run toolchain -- kube\` (it builds kube-apiserver and kube-controller-manager once, about 12 minutes on 2 cores)`);
    }
    return file;
}

/** Blackhole the pod and service ranges where allowed; say so where not. */
function blackholeClusterRanges(log: (line: string) => void): void {
    const ip = findExecutable("ip") ?? ["/usr/sbin/ip", "/sbin/ip"].find((p) => fs.existsSync(p));
    if (process.platform !== "linux" || !ip || process.getuid?.() !== 0) {
        log(`not blackholing ${BLACKHOLED.join(" and ")} (needs root on Linux): nothing here dials those addresses, but a stray dial would leave this machine`);
        return;
    }
    const routes = execFileSync(ip, ["route", "show", "type", "blackhole"], { encoding: "utf8" });
    for (const cidr of BLACKHOLED) {
        if (!routes.split("\n").some((line) => line.includes(cidr))) {
            execFileSync(ip, ["route", "add", "blackhole", cidr]);
        }
    }
}

interface Process {
    child: ChildProcess;
    logFile: string;
}

/** `truncate` starts a fresh log, so a failed start's lines never read as the next one's. */
function startProcess(binary: string, args: string[], logFile: string, opts: { truncate?: boolean } = {}): Process {
    const log = fs.openSync(logFile, opts.truncate ? "w" : "a");
    const child = spawn(binary, args, { detached: true, stdio: ["ignore", log, log] });
    fs.closeSync(log);
    trackChild(child);
    return { child, logFile };
}

function lastLines(file: string, n = 15): string {
    try {
        return fs.readFileSync(file, "utf8").trim().split("\n").slice(-n).join("\n");
    } catch {
        return "";
    }
}

/** Poll `check` until it holds; fail with the process's last log lines if it exits or time runs out. */
async function waitFor(what: string, process: Process, waitMs: number, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + waitMs;
    for (;;) {
        if (process.child.exitCode !== null || process.child.signalCode !== null) {
            throw new Error(`${what} exited (${process.child.exitCode ?? process.child.signalCode}):\n${lastLines(process.logFile)}`);
        }
        if (await check().catch(() => false)) {
            return;
        }
        if (Date.now() > deadline) {
            throw new Error(`${what} was not ready within ${waitMs / 1000}s:\n${lastLines(process.logFile)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
}

async function httpGet(url: string, headers: Record<string, string> = {}, ca?: string): Promise<number> {
    const response = await axios.get(url, { headers, timeout: 2000, validateStatus: () => true, proxy: false, httpsAgent: ca ? new https.Agent({ ca }) : undefined });
    return response.status;
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const log = opts.log ?? (() => undefined);
    const waitMs = opts.waitMs ?? 60_000;
    const etcdBinary = requireExecutable("etcd");
    const apiserverBinary = kubeBinary("kube-apiserver");
    const controllerManagerBinary = kubeBinary("kube-controller-manager");
    blackholeClusterRanges(log);

    const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "playground-cluster-"));
    const file = (name: string) => path.join(dir, name);
    fs.mkdirSync(file("certs"), { recursive: true });
    const egressSocket = opts.egressSocket ?? file("egress.sock");
    const token = randomBytes(24).toString("hex");
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    fs.writeFileSync(file("service-account.key"), privateKey.export({ type: "pkcs1", format: "pem" }), { mode: 0o600 });
    fs.writeFileSync(file("tokens.csv"), `${token},admin,admin,system:masters\n`, { mode: 0o600 });
    fs.writeFileSync(
        file("egress.yaml"),
        stringifyYaml({
            apiVersion: "apiserver.k8s.io/v1beta1",
            kind: "EgressSelectorConfiguration",
            egressSelections: [{ name: "cluster", connection: { proxyProtocol: "HTTPConnect", transport: { uds: { udsName: egressSocket } } } }],
        }),
    );

    const processes: Process[] = [];
    const stopAll = async () => {
        for (const p of processes.reverse()) {
            await stopChild(p.child, 5000);
        }
    };
    try {
        const { etcdUrl, etcd } = await startOnFreePort(async (etcdPort) => {
            const url = `http://127.0.0.1:${etcdPort}`;
            const etcdPeerPort = await freePort();
            // A start that lost its port race may have begun the data directory with the other ports.
            fs.rmSync(file("etcd"), { recursive: true, force: true });
            const started = startProcess(etcdBinary, [
                `--data-dir=${file("etcd")}`,
                `--listen-client-urls=${url}`,
                `--advertise-client-urls=${url}`,
                `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
                `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
                `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
                "--log-level=warn",
            ], file("etcd.log"), { truncate: true });
            try {
                await waitFor("etcd", started, waitMs, async () => (await httpGet(`${url}/health`)) === 200);
            } catch (error) {
                await stopChild(started.child, 5000);
                throw error;
            }
            return { etcdUrl: url, etcd: started };
        });
        processes.push(etcd);
        log(`etcd ready at ${etcdUrl}`);

        const auth = { Authorization: `Bearer ${token}` };
        const ca = () => fs.readFileSync(file("certs/apiserver.crt"), "utf8");
        const apiserverArgs = (apiPort: number) => [
            `--etcd-servers=${etcdUrl}`,
            `--service-account-key-file=${file("service-account.key")}`,
            `--service-account-signing-key-file=${file("service-account.key")}`,
            "--service-account-issuer=https://kubernetes.default.svc",
            `--token-auth-file=${file("tokens.csv")}`,
            "--authorization-mode=RBAC",
            "--bind-address=127.0.0.1",
            `--secure-port=${apiPort}`,
            `--cert-dir=${file("certs")}`,
            `--advertise-address=${ADVERTISE_ADDRESS}`,
            `--service-cluster-ip-range=${SERVICE_CIDR}`,
            `--egress-selector-config-file=${file("egress.yaml")}`,
        ];
        const apiserverReady = (started: Process, server: string) =>
            waitFor("kube-apiserver", started, waitMs, async () => fs.existsSync(file("certs/apiserver.crt")) && (await httpGet(`${server}/readyz`, auth, ca())) === 200);
        const first = await startOnFreePort(async (port) => {
            const url = `https://127.0.0.1:${port}`;
            const started = startProcess(apiserverBinary, apiserverArgs(port), file("kube-apiserver.log"), { truncate: true });
            try {
                await apiserverReady(started, url);
            } catch (error) {
                await stopChild(started.child, 5000);
                throw error;
            }
            return { apiserver: started, apiPort: port, server: url };
        });
        const { apiPort, server } = first;
        let apiserver = first.apiserver;
        const apiserverIndex = processes.push(apiserver) - 1;
        log(`kube-apiserver ready at ${server}`);

        const caPem = ca();
        const kubeconfig = stringifyYaml({
            apiVersion: "v1",
            kind: "Config",
            clusters: [{ name: "playground", cluster: { server, "certificate-authority-data": Buffer.from(caPem).toString("base64") } }],
            users: [{ name: "admin", user: { token } }],
            contexts: [{ name: "playground", context: { cluster: "playground", user: "admin" } }],
            "current-context": "playground",
        });
        const kubeconfigPath = file("kubeconfig");
        fs.writeFileSync(kubeconfigPath, kubeconfig, { mode: 0o600 });

        const controllerManager = startProcess(controllerManagerBinary, [
            `--kubeconfig=${kubeconfigPath}`,
            `--service-account-private-key-file=${file("service-account.key")}`,
            "--leader-elect=false",
            "--secure-port=0",
            `--controllers=${CONTROLLERS}`,
        ], file("kube-controller-manager.log"));
        processes.push(controllerManager);

        await applyCrds(kubeconfig, waitMs, (opts.crds ?? ["appmesh"]).map((set) => CRD_SETS[set]));
        log("CRDs established");

        return {
            server,
            ca: caPem,
            kubeconfig,
            kubeconfigPath,
            token,
            dir,
            egressSocket,
            processIds: () => Object.fromEntries(processes.map((p) => [path.basename(p.logFile, ".log"), p.child.pid!])),
            async restartApiServer(ms) {
                await stopChild(apiserver.child, 5000);
                await new Promise((resolve) => setTimeout(resolve, ms));
                apiserver = startProcess(apiserverBinary, apiserverArgs(apiPort), file("kube-apiserver.log"));
                processes[apiserverIndex] = apiserver;
                await apiserverReady(apiserver, server);
            },
            async stop() {
                await stopAll();
                if (!opts.dir) {
                    fs.rmSync(dir, { recursive: true, force: true });
                }
            },
        };
    } catch (error) {
        await stopAll();
        throw error;
    }
}

/** Server-side apply the project's CRDs and wait until each is established. */
async function applyCrds(kubeconfig: string, waitMs: number, files: string[]): Promise<void> {
    const k8s = await import("@kubernetes/client-node");
    const kc = new k8s.KubeConfig();
    kc.loadFromString(kubeconfig);
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    const crds = files.flatMap((f) => parseAllDocuments(fs.readFileSync(f, "utf8")).map((doc) => doc.toJS()));
    const deadline = Date.now() + waitMs;
    for (const crd of crds) {
        // Right after start the API server may still refuse writes for a moment: retry until the deadline.
        for (;;) {
            try {
                await objects.patch(crd, undefined, undefined, "playground", true, k8s.PatchStrategy.ServerSideApply);
                break;
            } catch (error) {
                if (Date.now() > deadline) {
                    throw error;
                }
                await new Promise((resolve) => setTimeout(resolve, 500));
            }
        }
    }
    const api = kc.makeApiClient(k8s.ApiextensionsV1Api);
    for (const crd of crds) {
        for (;;) {
            const live = await api.readCustomResourceDefinition({ name: crd.metadata.name });
            if (live.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) {
                break;
            }
            if (Date.now() > deadline) {
                throw new Error(`CRD ${crd.metadata.name} was not established within ${waitMs / 1000}s`);
            }
            await new Promise((resolve) => setTimeout(resolve, 250));
        }
    }
}
