/**
 * What the playground node runs for each image, in place of a container: podinfo versions as in-process
 * servers with their Envoy sidecar's statistics, the flagger-loadtester protocol with real `hey` and `curl`
 * through the mesh proxy, and Prometheus as the real binary scraping the sidecars of the node's pods, labelled
 * as the appmesh-prometheus chart labels them.
 */
import { startLoadTester } from "./loadtester";
import { startPod } from "./pod";
import type { Fault } from "./podinfo-app";
import { startPrometheus, type PrometheusServer, type ScrapeTarget } from "./prometheus";
import { TargetSync } from "./target-sync";

/** The port of the Envoy sidecar's admin interface (`/stats/prometheus`), as App Mesh injects it. */
export const SIDECAR_ADMIN_PORT = 9901;

/** What a runner started: local `host:port` per container port, readiness and a stop that drains. */
export interface RunningContainer {
    ports: Map<number, string>;
    /** Resolves once the readiness probe passes. */
    ready: Promise<void>;
    isReady(): boolean;
    /** `host:port` of an Envoy sidecar admin interface, when the pod has one (a Prometheus target). */
    sidecarAdmin?: string;
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
    start(pod: PodToRun): Promise<RunningContainer>;
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
            const started = await startPod({
                namespace: pod.namespace,
                name: pod.name,
                virtualNode: pod.labels.app ?? pod.name,
                mesh: opts.mesh ?? "global",
                port: appPort,
                app: { version, color: "#34577c", message: `greetings from podinfo v${version}` },
                fault: (opts.faults ?? (() => ({ errorRate: 0, latencyMs: 0 })))(version),
                readyDelayMs: opts.readyDelayMs ?? 300,
            });
            return {
                ports: new Map([[appPort, local(started.url)], [SIDECAR_ADMIN_PORT, started.adminAddress]]),
                ready: started.ready,
                isReady: started.isReady,
                sidecarAdmin: started.adminAddress,
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
            return { ports: new Map([[port(pod, "http", 8080), local(loadtester.url)]]), ready: Promise.resolve(), isReady: () => true, stop: () => loadtester.stop() };
        },
    };
}

/** Prometheus pods scrape the sidecars of the pods `targets` lists, refreshed through `subscribe`. */
export function prometheusRunner(targets: () => ScrapeTarget[], subscribe: (onChange: () => void) => void, log?: (line: string) => void): PodRunner {
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
            return {
                ports: new Map([[port(pod, "http", 9090), local(server.url)]]),
                ready: Promise.resolve(),
                isReady: () => !stopped,
                async stop() {
                    stopped = true;
                    await server.stop();
                },
            };
        },
    };
}
