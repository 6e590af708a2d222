/**
 * What the playground node runs for each image, in place of a container: podinfo versions as in-process
 * servers with their own request metrics and their Envoy sidecar's statistics, the flagger-loadtester protocol with real `hey` and `curl`
 * through the mesh proxy, the App Mesh ingress gateway's Envoy as the mesh proxy's ingress (by the GatewayRoutes
 * in the API), and Prometheus as the real binary scraping the sidecars of the node's pods, labelled as the
 * appmesh-prometheus chart labels them.
 */
import * as http from "http";
import { closeServer, listenOnFreePort } from "./http-util";
import { startLoadTester } from "./loadtester";
import { startPod } from "./pod";
import type { Fault } from "./podinfo-app";
import { startPrometheus, type PrometheusServer, type ScrapeTarget } from "./prometheus";
import { startPrometheusFront } from "./prometheus-front";
import { TargetSync } from "./target-sync";

/** The port of the Envoy sidecar's admin interface (`/stats/prometheus`), as App Mesh injects it. */
export const SIDECAR_ADMIN_PORT = 9901;

/** What a runner started: local `host:port` per container port, readiness and a stop that drains. */
export interface RunningContainer {
    ports: Map<number, string>;
    /** Resolves once the readiness probe passes. */
    ready: Promise<void>;
    /** `host:port` of an Envoy sidecar admin interface, when the pod has one (a Prometheus target). */
    sidecarAdmin?: string;
    /** `host:port` serving the app's own `/metrics` (a Prometheus target), when it has them. */
    appMetrics?: string;
    /** What the image does on SIGTERM before it exits, when that is more than `stop`. */
    terminate?(): Promise<void>;
    /** Drain and stop now. */
    stop(): Promise<void>;
}

export interface PodToRun {
    namespace: string;
    name: string;
    labels: Record<string, string>;
    image: string;
    /** The container's port, by name and number. */
    ports: { name?: string; containerPort: number }[];
}

export interface PodRunner {
    /** Images this runner runs (any registry). */
    image: RegExp;
    /** Rejects with ContainerExited when the container exits at start (the node agent then restarts it after a back-off). */
    start(pod: PodToRun): Promise<RunningContainer>;
}

/** A container that exited instead of running: the node agent reports it as kubelet reports a crash loop. */
export class ContainerExited extends Error {
    constructor(readonly exitCode: number) {
        super(`the container exited with code ${exitCode}`);
        this.name = "ContainerExited";
    }
}

const port = (pod: PodToRun, name: string, fallback: number) => pod.ports.find((p) => p.name === name)?.containerPort ?? pod.ports[0]?.containerPort ?? fallback;
const local = (url: string) => url.replace(/^http:\/\//, "");

export interface PodinfoRunnerOptions {
    faults?: (version: string) => Fault;
    readyDelayMs?: number;
    mesh?: string;
}

export function podinfoRunner(opts: PodinfoRunnerOptions = {}): PodRunner {
    return {
        image: /(^|\/)podinfo:(\d+\.\d+\.\d+)$/,
        async start(pod) {
            const version = /:(\d+\.\d+\.\d+)$/.exec(pod.image)![1];
            const appPort = port(pod, "http", 9898);
            const fault = (opts.faults ?? (() => ({ errorRate: 0, latencyMs: 0, crashLoop: false })))(version);
            if (fault.crashLoop) {
                throw new ContainerExited(1);
            }
            const started = await startPod({
                namespace: pod.namespace,
                name: pod.name,
                virtualNode: pod.labels.app ?? pod.name,
                mesh: opts.mesh ?? "global",
                port: appPort,
                app: { version, color: "#34577c", message: `greetings from podinfo v${version}` },
                fault,
                readyDelayMs: opts.readyDelayMs ?? 300,
            });
            // podinfo's metrics port when the pod declares it (the tutorial's template scrapes 9797), else the app port's /metrics.
            const metricsPort = pod.ports.find((p) => p.name === "http-metrics")?.containerPort;
            return {
                ports: new Map([[appPort, local(started.url)], [SIDECAR_ADMIN_PORT, started.adminAddress], ...(metricsPort ? [[metricsPort, started.metricsAddress] as [number, string]] : [])]),
                ready: started.ready,
                sidecarAdmin: started.adminAddress,
                appMetrics: metricsPort ? started.metricsAddress : local(started.url),
                terminate: () => started.terminate(),
                stop: () => started.stop(),
            };
        },
    };
}

export function loadtesterRunner(proxyUrl: () => string, log?: (line: string) => void): PodRunner {
    return {
        image: /(^|\/)flagger-loadtester:[\w.-]+$/,
        async start(pod) {
            const loadtester = await startLoadTester({ proxyUrl: proxyUrl(), log });
            return { ports: new Map([[port(pod, "http", 8080), local(loadtester.url)]]), ready: Promise.resolve(), stop: () => loadtester.stop() };
        },
    };
}

/**
 * Prometheus pods scrape the sidecars of the pods `targets` lists, refreshed through `subscribe`; with
 * `queryError`, their port answers queries with that error while it gives one.
 */
export function prometheusRunner(targets: () => ScrapeTarget[], subscribe: (onChange: () => void) => void, log?: (line: string) => void, queryError?: () => string | undefined): PodRunner {
    return {
        image: /(^|\/)prometheus:v?[\w.-]+$/,
        async start(pod) {
            let prometheus: PrometheusServer | undefined;
            const sync = new TargetSync((list) => prometheus?.setTargets(list) ?? Promise.resolve(), (error) => log?.(`prometheus targets: ${error.message}`));
            prometheus = await startPrometheus({ scrapeIntervalMs: 1000, targets: targets() });
            let stopped = false;
            subscribe(() => {
                if (!stopped) {
                    void sync.update(targets());
                }
            });
            const server = prometheus;
            const front = queryError ? await startPrometheusFront(server.url, queryError) : undefined;
            return {
                ports: new Map([[port(pod, "http", 9090), local(front?.url ?? server.url)]]),
                ready: Promise.resolve(),
                async stop() {
                    stopped = true;
                    await front?.stop();
                    await server.stop();
                },
            };
        },
    };
}

/** Where a GatewayRoute sends a path prefix: a virtual service's `host:port` in the mesh. */
export interface GatewayTarget {
    prefix: string;
    host: string;
}

/**
 * The ingress gateway's Envoy: each request goes into the mesh (through the mesh proxy) to the virtual service
 * of the longest GatewayRoute prefix that matches it, among the routes of the gateway pod's namespace.
 */
export function gatewayRunner(targets: (namespace: string) => GatewayTarget[], proxyUrl: () => string): PodRunner {
    return {
        image: /(^|\/)aws-appmesh-envoy:[\w.-]+$/,
        async start(pod) {
            const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
            const server = http.createServer((req, res) => {
                const url = new URL(req.url ?? "/", "http://gateway");
                const target = targets(pod.namespace)
                    .filter((t) => url.pathname.startsWith(t.prefix))
                    .sort((a, b) => b.prefix.length - a.prefix.length)[0];
                if (!target) {
                    res.writeHead(404, { "content-type": "text/plain" }).end(`no GatewayRoute in ${pod.namespace} matches ${url.pathname}`);
                    return;
                }
                const proxy = new URL(proxyUrl());
                const forwarded = http.request(
                    { host: proxy.hostname, port: proxy.port, method: req.method, path: `http://${target.host}${url.pathname}${url.search}`, headers: { ...req.headers, host: target.host }, agent },
                    (answer) => {
                        res.writeHead(answer.statusCode ?? 502, answer.headers);
                        answer.pipe(res);
                    },
                );
                forwarded.on("error", (error) => {
                    if (!res.headersSent) {
                        res.writeHead(503, { "content-type": "text/plain" }).end(`upstream connect error: ${error.message}`);
                    }
                });
                req.pipe(forwarded);
            });
            const local = await listenOnFreePort(server);
            return {
                ports: new Map([[port(pod, "http", 8088), `127.0.0.1:${local}`]]),
                ready: Promise.resolve(),
                async stop() {
                    await closeServer(server);
                    agent.destroy();
                },
            };
        },
    };
}
