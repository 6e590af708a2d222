/**
 * One "pod": the podinfo app on its own port, serving its own request metrics on `/metrics` there and on a
 * metrics port of its own as podinfo does (`--port-metrics`), plus its sidecar's admin port serving Envoy
 * statistics on `/stats/prometheus`. Both count what the app
 * actually answered, with the time it took.
 */
import * as http from "http";
import { setTimeout as sleep } from "timers/promises";
import { EnvoyStats, ingressClusterName } from "./envoy-stats";
import { closeServer, drainServer, listenOnFreePort, readBody } from "./http-util";
import { AppInfo, Fault, podinfoHandler } from "./podinfo-app";
import { HttpRequestMetrics } from "./podinfo-metrics";

/**
 * How long a stopping pod lets requests in flight finish (Kubernetes allows 30s by default; shorter here so
 * the playground stops quickly, and still longer than the slow scenarios' requests).
 */
const TERMINATION_GRACE_MS = 3000;

/**
 * podinfo's answer to SIGTERM: `/readyz` fails at once, the app serves on for 3s so the load balancers take the
 * pod out, then it shuts its server down.
 */
const SHUTDOWN_DELAY_MS = 3000;

export interface PodOptions {
    namespace: string;
    /** Kubernetes-style pod name, e.g. `podinfo-primary-5d8f7c6b9c-x7k2p`. */
    name: string;
    /** App Mesh VirtualNode the pod belongs to; names the sidecar's ingress cluster. */
    virtualNode: string;
    mesh: string;
    port: number;
    app: Omit<AppInfo, "hostname">;
    fault: Fault;
    /** How long after start `/readyz` begins to answer 200. */
    readyDelayMs: number;
}

export interface Pod {
    readonly namespace: string;
    readonly name: string;
    /** `http://127.0.0.1:<port>` of the app. */
    readonly url: string;
    /** `127.0.0.1:<port>` of the sidecar admin (Prometheus scrape target). */
    readonly adminAddress: string;
    /** `127.0.0.1:<port>` of the app's metrics port (podinfo's 9797, a Prometheus scrape target). */
    readonly metricsAddress: string;
    readonly stats: EnvoyStats;
    /** podinfo's own `http_request_duration_seconds`, served on the app's `/metrics`. */
    readonly metrics: HttpRequestMetrics;
    readonly version: string;
    /** Resolves once the pod's readiness probe (`/readyz` over HTTP) passes. */
    readonly ready: Promise<void>;
    isReady(): boolean;
    /** Termination as podinfo meets SIGTERM: not ready, serving on for its shutdown delay, then drained. */
    terminate(): Promise<void>;
    /** Drain and stop now. */
    stop(): Promise<void>;
}

const PROBES = new Set(["/readyz", "/healthz"]);
const METRICS_PATH = "/metrics";

async function probeUntilReady(url: string, stopped: () => boolean): Promise<void> {
    for (;;) {
        if (stopped()) {
            throw new Error("pod stopped before it became ready");
        }
        const status = await new Promise<number>((resolve) => {
            http.get(`${url}/readyz`, (res) => {
                res.resume();
                resolve(res.statusCode ?? 0);
            }).on("error", () => resolve(0));
        });
        if (status === 200) {
            return;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
}

export async function startPod(opts: PodOptions): Promise<Pod> {
    const stats = new EnvoyStats(ingressClusterName(opts.mesh, opts.virtualNode, opts.port));
    const readyAt = Date.now() + opts.readyDelayMs;
    const metrics = new HttpRequestMetrics();
    let terminating = false;
    const handle = podinfoHandler({ ...opts.app, hostname: opts.name }, opts.fault, () => Date.now() >= readyAt && !terminating);
    const app = http.createServer(async (req, res) => {
        const started = performance.now();
        const body = await readBody(req);
        if (req.url === METRICS_PATH) {
            res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(metrics.render());
            return;
        }
        // Probes reach the app directly, not through the sidecar, and their answers say nothing of the canary: not counted.
        if (!PROBES.has(req.url ?? "")) {
            res.on("finish", () => {
                const elapsed = performance.now() - started;
                stats.record(res.statusCode, elapsed);
                metrics.record(req.method ?? "GET", req.url ?? "/", res.statusCode, elapsed / 1000);
            });
        }
        await handle(req, res, body);
    });
    const metricsServer = http.createServer((req, res) => {
        if (req.url === METRICS_PATH) {
            res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(metrics.render());
        } else {
            res.writeHead(404).end();
        }
    });
    const admin = http.createServer((req, res) => {
        if (req.url === "/stats/prometheus") {
            const text = stats.render();
            res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
            res.end(text);
        } else {
            res.writeHead(404).end();
        }
    });
    const appPort = await listenOnFreePort(app);
    const adminPort = await listenOnFreePort(admin);
    const metricsPort = await listenOnFreePort(metricsServer);
    const url = `http://127.0.0.1:${appPort}`;
    let stopped = false;
    let ready = false;
    const readyPromise = probeUntilReady(url, () => stopped).then(() => {
        ready = true;
    });
    readyPromise.catch(() => undefined);
    const stop = async () => {
        stopped = true;
        await Promise.all([drainServer(app, TERMINATION_GRACE_MS), closeServer(admin), closeServer(metricsServer)]);
    };
    return {
        namespace: opts.namespace,
        name: opts.name,
        url,
        adminAddress: `127.0.0.1:${adminPort}`,
        metricsAddress: `127.0.0.1:${metricsPort}`,
        stats,
        metrics,
        version: opts.app.version,
        ready: readyPromise,
        isReady: () => ready && !stopped && !terminating,
        async terminate() {
            terminating = true;
            await sleep(SHUTDOWN_DELAY_MS);
            await stop();
        },
        stop,
    };
}
