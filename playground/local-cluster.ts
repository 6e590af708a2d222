/**
 * The whole local cluster: the real control plane, the playground node with its pod runners, the mesh data
 * plane (and the ingress gateway's routes) programmed from the API server, on request the Gateway API's CRDs
 * with the playground's Gateway controller, and appmesh-prometheus as a pod in
 * `appmesh-system` (the real `prometheus` binary scraping the pods' sidecars). Objects go in as Pulumi's Kubernetes provider puts them:
 * server-side apply under a `pulumi-kubernetes-<suffix>` field manager.
 */
import axios from "axios";
import { randomBytes } from "crypto";
import { parseAllDocuments } from "yaml";
import { startControlPlane, type ControlPlane } from "./control-plane";
import { GATEWAY_API_API_VERSION } from "../analysis/routers/gatewayapi/api";
import { PLAYGROUND_GATEWAY_CLASSES, PLAYGROUND_GATEWAY_CONTROLLER, startGatewayController, type GatewayDataPlane } from "./gateway-api";
import { MeshRouter } from "./mesh-router";
import { startMeshSync } from "./mesh-sync";
import { startNodeAgent, type NodeAgent, type RunningPod } from "./node-agent";
import { gatewayRunner, loadtesterRunner, podinfoRunner, prometheusRunner, type PodinfoRunnerOptions } from "./pod-runners";
import type { ScrapeTarget } from "./prometheus";

type KubeObject = Record<string, any>;

export const PROMETHEUS_NAMESPACE = "appmesh-system";
export const PROMETHEUS_NAME = "appmesh-prometheus";
const PROMETHEUS_IMAGE = "prom/prometheus:v2.53.0";

export interface LocalClusterOptions {
    /** Where the control plane keeps its files; a new temporary directory by default. */
    dir?: string;
    /** Install the Gateway API CRDs and run the playground's Gateway controller for its GatewayClasses (`eg`). */
    gatewayApi?: boolean;
    podinfo?: PodinfoRunnerOptions;
    /** While this gives a message, appmesh-prometheus answers every query with it as an error (HTTP 503). */
    prometheusQueryError?: () => string | undefined;
    log?: (line: string) => void;
}

export interface LocalCluster {
    controlPlane: ControlPlane;
    kubeconfig: string;
    node: NodeAgent;
    mesh: MeshRouter;
    /** The Gateway API data plane, with `gatewayApi`. */
    gateways?: GatewayDataPlane;
    /** The field manager objects are applied with, named as Pulumi's Kubernetes provider names its own. */
    fieldManager: string;
    /** Server-side apply objects in order (force only where `pulumi.com/patchForce` says so, as Pulumi does). */
    apply(objects: KubeObject[]): Promise<void>;
    /** Wait until a Deployment has all its replicas updated and available. */
    waitForRollout(namespace: string, name: string, timeoutMs?: number): Promise<void>;
    stop(): Promise<void>;
}

/** The Kubernetes objects of a multi-document YAML text (`npm run render`'s output). */
export function parseObjects(text: string): KubeObject[] {
    return parseAllDocuments(text).map((doc) => doc.toJS()).filter((o) => o && typeof o === "object" && o.kind);
}

/**
 * Scrape targets of the node's pods: Envoy sidecars and apps' own `/metrics`, labelled as the
 * appmesh-prometheus chart (and Flagger's docs for other Prometheus setups) label pod series.
 */
function podTargets(pods: RunningPod[]): ScrapeTarget[] {
    return pods.flatMap((pod) => {
        const labels = { kubernetes_namespace: pod.namespace, kubernetes_pod_name: pod.name };
        return [
            ...(pod.container.sidecarAdmin ? [{ address: pod.container.sidecarAdmin, metricsPath: "/stats/prometheus", labels }] : []),
            ...(pod.container.appMetrics ? [{ address: pod.container.appMetrics, metricsPath: "/metrics", labels }] : []),
        ];
    });
}

/** The pod's scrape targets, for the readiness gate. */
function scrapeAddresses(pod: RunningPod): string[] {
    return [pod.container.sidecarAdmin, pod.container.appMetrics].filter((address): address is string => address !== undefined);
}

/** The GatewayClasses the playground's controller serves, as a Gateway implementation's install creates them. */
function gatewayClasses(): KubeObject[] {
    return PLAYGROUND_GATEWAY_CLASSES.map((name) => ({
        apiVersion: GATEWAY_API_API_VERSION,
        kind: "GatewayClass",
        metadata: { name },
        spec: { controllerName: PLAYGROUND_GATEWAY_CONTROLLER },
    }));
}

function prometheusObjects(): KubeObject[] {
    const labels = { app: PROMETHEUS_NAME };
    return [
        { apiVersion: "v1", kind: "Namespace", metadata: { name: PROMETHEUS_NAMESPACE } },
        {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: PROMETHEUS_NAME, namespace: PROMETHEUS_NAMESPACE },
            spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: "prometheus", image: PROMETHEUS_IMAGE, ports: [{ name: "http", containerPort: 9090 }] }] } } },
        },
        { apiVersion: "v1", kind: "Service", metadata: { name: PROMETHEUS_NAME, namespace: PROMETHEUS_NAMESPACE }, spec: { selector: labels, ports: [{ name: "http", port: 9090, targetPort: "http" }] } },
    ];
}

/** The local `host:port` of the appmesh-prometheus pod among the node's pods, once it runs. */
export function prometheusAddress(pods: RunningPod[]): string | undefined {
    return pods.find((p) => p.namespace === PROMETHEUS_NAMESPACE && p.labels.app === PROMETHEUS_NAME)?.ports.get(9090);
}

/** Until the Prometheus pod has stored a scrape of `address` (`up` is 1). */
async function scrapedBy(pods: () => RunningPod[], address: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const prometheus = prometheusAddress(pods());
        if (prometheus) {
            const answer = await axios
                .get(`http://${prometheus}/api/v1/query`, { params: { query: `up{instance="${address}"}` }, timeout: 2000, proxy: false, validateStatus: () => true })
                .catch(() => undefined);
            if (answer?.data?.data?.result?.some((r: { value: [number, string] }) => r.value[1] === "1")) {
                return;
            }
        }
        if (Date.now() > deadline) {
            throw new Error(`Prometheus did not scrape ${address} within ${timeoutMs / 1000}s`);
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
}

/** Server-side apply objects in order, as Pulumi's provider does: force only where `pulumi.com/patchForce` says so. */
export async function serverSideApply(kubeconfig: string, list: KubeObject[], fieldManager: string): Promise<void> {
    const k8s = await import("@kubernetes/client-node");
    const kc = new k8s.KubeConfig();
    kc.loadFromString(kubeconfig);
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    for (const object of list) {
        const force = object.metadata?.annotations?.["pulumi.com/patchForce"] === "true";
        await objects.patch(object as any, undefined, undefined, fieldManager, force, k8s.PatchStrategy.ServerSideApply);
    }
}

/** Wait until a Deployment has all its replicas updated and available (what Pulumi's provider waits for). */
export async function waitForRollout(kubeconfig: string, namespace: string, name: string, timeoutMs = 60_000): Promise<void> {
    const k8s = await import("@kubernetes/client-node");
    const kc = new k8s.KubeConfig();
    kc.loadFromString(kubeconfig);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const d = await apps.readNamespacedDeployment({ name, namespace });
        const want = d.spec?.replicas ?? 1;
        const s = d.status;
        if ((s?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) && (s?.updatedReplicas ?? 0) === want && (s?.availableReplicas ?? 0) === want && (s?.replicas ?? 0) === want) {
            return;
        }
        if (Date.now() > deadline) {
            throw new Error(`Deployment ${namespace}/${name} did not roll out within ${timeoutMs / 1000}s: ${JSON.stringify(s)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
}

export async function startLocalCluster(opts: LocalClusterOptions = {}): Promise<LocalCluster> {
    const log = opts.log ?? (() => undefined);
    const controlPlane = await startControlPlane({ dir: opts.dir, log, crds: opts.gatewayApi ? ["appmesh", "gatewayapi"] : ["appmesh"] });
    const stops: (() => Promise<void>)[] = [() => controlPlane.stop()];
    // One stop, however many callers ask (a Ctrl-C handler and a run's own cleanup may both).
    let stopping: Promise<void> | undefined;
    const stopAll = () =>
        (stopping ??= (async () => {
            for (const stop of stops.reverse()) {
                await stop().catch((e) => log(`stopping the local cluster: ${(e as Error).message}`));
            }
        })());
    let gateways: GatewayDataPlane | undefined;
    try {
        let pods: RunningPod[] = [];
        const podsChanged: (() => void)[] = [];
        let sync: Awaited<ReturnType<typeof startMeshSync>> | undefined;
        const mesh = new MeshRouter({
            endpoints: (namespace, virtualNode) => sync?.endpoints(namespace, virtualNode) ?? [],
            serviceEndpoints: (namespace, service, port) => gateways?.serviceEndpoints(namespace, service, port) ?? sync?.serviceEndpoints(namespace, service, port),
        });
        await mesh.start();
        stops.push(() => mesh.stop());
        const node = await startNodeAgent({
            kubeconfig: controlPlane.kubeconfig,
            egressSocket: controlPlane.egressSocket,
            runners: [
                podinfoRunner(opts.podinfo),
                loadtesterRunner(() => mesh.proxyUrl, (line) => log(`loadtester: ${line}`)),
                gatewayRunner((namespace) => sync?.gatewayTargets(namespace) ?? [], () => mesh.proxyUrl),
                prometheusRunner(() => podTargets(pods), (onChange) => podsChanged.push(onChange), log, opts.prometheusQueryError),
            ],
            onPodsChanged: (running) => {
                pods = running;
                podsChanged.forEach((notify) => notify());
            },
            // A pod with metrics counts as ready once Prometheus has scraped them, so the first checks after a
            // scale-up see it (Prometheus hands discovery changes to its scrapers only every 5 s).
            readinessGate: (pod) => Promise.all(scrapeAddresses(pod).map((address) => scrapedBy(() => pods, address))).then(() => undefined),
            log,
        });
        stops.push(() => node.stop());
        sync = await startMeshSync({ kubeconfig: controlPlane.kubeconfig, node, log });
        await sync.attach(mesh);
        stops.push(() => sync!.stop());

        if (opts.gatewayApi) {
            await serverSideApply(controlPlane.kubeconfig, gatewayClasses(), "playground");
            gateways = await startGatewayController({
                kubeconfig: controlPlane.kubeconfig,
                serviceEndpoints: (namespace, service, port) => sync?.serviceEndpoints(namespace, service, port),
                log,
            });
            stops.push(() => gateways!.stop());
        }

        const fieldManager = `pulumi-kubernetes-${randomBytes(4).toString("hex")}`;
        const cluster: LocalCluster = {
            controlPlane,
            kubeconfig: controlPlane.kubeconfig,
            node,
            mesh,
            gateways,
            fieldManager,
            apply: (list) => serverSideApply(controlPlane.kubeconfig, list, fieldManager),
            waitForRollout: (namespace, name, timeoutMs) => waitForRollout(controlPlane.kubeconfig, namespace, name, timeoutMs),
            stop: stopAll,
        };
        await cluster.apply(prometheusObjects());
        await cluster.waitForRollout(PROMETHEUS_NAMESPACE, PROMETHEUS_NAME);
        return cluster;
    } catch (error) {
        await stopAll();
        throw error;
    }
}
