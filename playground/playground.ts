/**
 * The whole local stand-in for EKS + App Mesh, started in one call: a real Prometheus scraping every pod's
 * sidecar, the mesh router (as the callers' sidecar proxy), the load tester, the cluster backend and the
 * Kubernetes API server in front of it. Canaries are installed into it the way the first `pulumi up` leaves
 * them: primary running, canary Deployment scaled to zero, VirtualRouters at resting weights.
 */
import axios from "axios";
import type { CanarySpec } from "../analysis/spec/canary";
import { APPMESH_API_VERSION } from "../analysis/routers/appmesh/api";
import { buildVirtualRouterSpec } from "../analysis/routers/appmesh/specs";
import { canaryNames, type CanaryNames } from "../analysis/spec/names";
import { PlaygroundCluster } from "./cluster";
import { KubeApiServer, startKubeApiServer } from "./kube-api-server";
import { LoadTester, startLoadTester } from "./loadtester";
import { MeshRouter } from "./mesh-router";
import type { Pod } from "./pod";
import { PrometheusServer, ScrapeTarget, startPrometheus } from "./prometheus";
import { requireExecutable } from "./processes";
import { TargetSync } from "./target-sync";

/** Where the appmesh-prometheus chart and the tutorial's load tester live. */
export const PROMETHEUS_SERVICE = { namespace: "appmesh-system", name: "appmesh-prometheus", port: 9090 };
export const LOADTESTER_SERVICE = { name: "flagger-loadtester", port: 80 };
/** The field manager Pulumi's Kubernetes provider applies declared objects with. */
export const PULUMI_FIELD_MANAGER = "pulumi-kubernetes";

export interface PlaygroundOptions {
    namespace?: string;
    mesh?: string;
    /** Prometheus scrape interval; 1s by default. */
    scrapeIntervalMs?: number;
    /** Time from pod start to ready. */
    podReadyDelayMs?: number;
    log?: (line: string) => void;
}

export interface InstalledCanary {
    target: string;
    namespace: string;
    names: CanaryNames;
    spec: CanarySpec;
}

export interface Playground {
    namespace: string;
    cluster: PlaygroundCluster;
    router: MeshRouter;
    prometheus: PrometheusServer;
    loadtester: LoadTester;
    kube: KubeApiServer;
    /** The mesh proxy URL (`http_proxy` for callers inside the mesh). */
    proxyUrl: string;
    /** What the first `pulumi up` leaves: primary on `version`, canary scaled to zero, routers at rest. */
    installCanary(opts: { target: string; spec: CanarySpec; version: string; primaryReplicas?: number }): Promise<InstalledCanary>;
    /** `pulumi up` with a new image: the target Deployment's template changes, its replicas stay as they are. */
    updateCanaryTemplate(canary: InstalledCanary, version: string): Promise<void>;
    /** Pulumi rolling the primary to the promoted template and waiting for it. */
    rollPrimary(canary: InstalledCanary, version: string): Promise<void>;
    stop(): Promise<void>;
}

function scrapeTargets(pods: Pod[]): ScrapeTarget[] {
    // Labels as the appmesh-prometheus chart's kubernetes-pods job adds them.
    return pods.map((pod) => ({
        address: pod.adminAddress,
        metricsPath: "/stats/prometheus",
        labels: { kubernetes_namespace: pod.namespace, kubernetes_pod_name: pod.name },
    }));
}

export async function startPlayground(opts: PlaygroundOptions = {}): Promise<Playground> {
    // Fail before starting anything when a program is missing.
    requireExecutable("prometheus");
    requireExecutable("hey");
    const namespace = opts.namespace ?? "test";
    const log = opts.log ?? (() => undefined);
    const stops: (() => Promise<void>)[] = [];
    let markStopping = () => undefined as void;
    const stopAll = async () => {
        markStopping();
        for (const stop of stops.reverse()) {
            await stop().catch((err) => log(`stopping the playground: ${(err as Error).message}`));
        }
        stops.length = 0;
    };
    try {
        let router: MeshRouter | undefined;
        let prometheus: PrometheusServer | undefined;
        let stopping = false;
        markStopping = () => {
            stopping = true;
        };
        const targets = new TargetSync(
            (list) => prometheus?.setTargets(list) ?? Promise.resolve(),
            (error) => {
                if (!stopping) {
                    log(`updating Prometheus targets: ${error.message}`);
                }
            },
        );
        const cluster = new PlaygroundCluster({
            mesh: opts.mesh,
            podReadyDelayMs: opts.podReadyDelayMs,
            onVirtualRouter: (ns, name, spec) => router?.setRouter(ns, name, spec),
            onPodsChanged: (pods) => targets.update(scrapeTargets(pods)),
        });
        stops.push(() => cluster.stop());
        router = new MeshRouter({ endpoints: (ns, node) => cluster.endpoints(ns, node) });
        await router.start();
        stops.push(() => router!.stop());
        prometheus = await startPrometheus({ scrapeIntervalMs: opts.scrapeIntervalMs ?? 1000 });
        stops.push(() => prometheus!.stop());
        const loadtester = await startLoadTester({ proxyUrl: router.proxyUrl, log: (line) => log(`loadtester: ${line}`) });
        stops.push(() => loadtester.stop());
        cluster.addService(PROMETHEUS_SERVICE.namespace, PROMETHEUS_SERVICE.name, PROMETHEUS_SERVICE.port, prometheus.url);
        cluster.addService(namespace, LOADTESTER_SERVICE.name, LOADTESTER_SERVICE.port, loadtester.url);
        cluster.addService(namespace, LOADTESTER_SERVICE.name, "http", loadtester.url);
        const kube = await startKubeApiServer(cluster, { namespace });
        stops.push(() => kube.stop());

        /** Server-side apply a declared VirtualRouter as Pulumi does. */
        const applyRouter = async (name: string, spec: unknown) => {
            const body = { apiVersion: APPMESH_API_VERSION, kind: "VirtualRouter", metadata: { name, namespace }, spec };
            await axios.patch(`${kube.url}/apis/appmesh.k8s.aws/v1beta2/namespaces/${namespace}/virtualrouters/${name}`, JSON.stringify(body), {
                params: { fieldManager: PULUMI_FIELD_MANAGER, force: "true" },
                headers: { "content-type": "application/apply-patch+yaml", authorization: `Bearer ${kube.token}` },
            });
        };

        return {
            namespace,
            cluster,
            router,
            prometheus,
            loadtester,
            kube,
            proxyUrl: router.proxyUrl,
            async installCanary({ target, spec, version, primaryReplicas }) {
                const names = canaryNames(target, spec);
                cluster.addVirtualNode(namespace, names.nodes.primary, names.primary);
                cluster.addVirtualNode(namespace, names.nodes.canary, names.target);
                router!.setVirtualService(`${names.apex}.${namespace}`, namespace, names.apex);
                router!.setVirtualService(`${names.canaryRouter}.${namespace}`, namespace, names.canaryRouter);
                const deadline = spec.progressDeadlineSeconds ?? 600;
                await cluster.applyDeployment(namespace, names.primary, { version, virtualNode: names.nodes.primary }, primaryReplicas ?? 2, deadline);
                await cluster.applyDeployment(namespace, names.target, { version, virtualNode: names.nodes.canary }, 0, deadline);
                await applyRouter(names.apex, buildVirtualRouterSpec(spec, names, "apex"));
                await applyRouter(names.canaryRouter, buildVirtualRouterSpec(spec, names, "canary"));
                await cluster.waitForRollout(namespace, names.primary);
                return { target, namespace, names, spec };
            },
            async updateCanaryTemplate(canary, version) {
                await cluster.applyDeployment(namespace, canary.names.target, { version, virtualNode: canary.names.nodes.canary });
            },
            async rollPrimary(canary, version) {
                await cluster.applyDeployment(namespace, canary.names.primary, { version, virtualNode: canary.names.nodes.primary });
                await cluster.waitForRollout(namespace, canary.names.primary);
            },
            stop: stopAll,
        };
    } catch (error) {
        await stopAll();
        throw error;
    }
}
