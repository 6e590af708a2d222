/**
 * The playground: the local cluster (the real kube-apiserver, etcd and kube-controller-manager, the playground
 * node running the pods, the mesh data plane programmed from the API, appmesh-prometheus as a pod) with
 * canaries installed the way the first `pulumi up` leaves them: the objects the product's components render,
 * server-side applied under Pulumi's field manager; primary running, canary scaled to zero, routers at rest.
 */
import type { CanarySpec } from "../analysis/spec/canary";
import { routerKindOfSpec } from "../analysis/routers/factory";
import { GATEWAY_API_NAME } from "../config/stack";
import { APPMESH_API_VERSION } from "../analysis/routers/appmesh/api";
import { canaryNames, type CanaryNames } from "../analysis/spec/names";
import { prometheusAddress, startLocalCluster, PROMETHEUS_NAME, type LocalCluster } from "./local-cluster";
import { faultSwitches, type Fault } from "./podinfo-app";
import { requireExecutable } from "./processes";
import { renderApps } from "./render-apps";

type KubeObject = Record<string, any>;

/** The tutorial's image repository; a version is its tag. */
export const PODINFO_IMAGE = "ghcr.io/stefanprodan/podinfo";
export const LOADTESTER_NAME = "flagger-loadtester";
export const GATEWAY_NAME = "appmesh-gateway";

export interface CanaryToInstall {
    target: string;
    spec: CanarySpec;
    /** podinfo version the primary (and the canary's template) starts on. */
    version: string;
    /** Primary replicas; with none, the tutorial's HPA (2 to 4) manages them. */
    primaryReplicas?: number;
}

export interface PlaygroundOptions {
    namespace?: string;
    mesh?: string;
    /** Canaries to install once the cluster runs. */
    canaries: CanaryToInstall[];
    log?: (line: string) => void;
}

export interface InstalledCanary {
    target: string;
    namespace: string;
    names: CanaryNames;
    spec: CanarySpec;
    /** The canary Deployment's uid (the Analysis input that pins the object it acts on). */
    targetUid: string;
    /** The target Deployment as the program declares it, on the version its template has now. */
    declared: KubeObject;
    /** The primary Deployment as the program declares it. */
    declaredPrimary: KubeObject;
}

export interface Playground {
    namespace: string;
    /** The local cluster; its mesh's `routeChanges` and `accessLog` are what the report draws, its admin kubeconfig is the analysis's. */
    cluster: LocalCluster;
    canaries: InstalledCanary[];
    /** The appmesh-prometheus pod's address on this machine (for the report's own queries). */
    prometheusUrl: string;
    /**
     * The ingress gateway on this machine, and the address users call: the App Mesh gateway's pod and its
     * LoadBalancer Service's address, or the Gateway API Gateway's listener and its published address.
     */
    gateway: { localUrl: string; loadBalancerUrl: string };
    /** The fault switch of an app version, read by its pods on every request. */
    setFault(version: string, fault: Partial<Fault>): void;
    virtualRouter(namespace: string, name: string): Promise<KubeObject>;
    /** A namespaced custom object, e.g. an HTTPRoute. */
    customObject(group: string, version: string, plural: string, namespace: string, name: string): Promise<KubeObject>;
    deployment(namespace: string, name: string): Promise<KubeObject>;
    /** `pulumi up` with a new image: the target Deployment's template changes, its replicas stay as they are. */
    updateCanaryTemplate(canary: InstalledCanary, version: string): Promise<void>;
    /** Pulumi rolling the primary to the promoted template and waiting for it. */
    rollPrimary(canary: InstalledCanary, version: string): Promise<void>;
    stop(): Promise<void>;
}

/** A declared Deployment with its container on podinfo `version`. */
export function withVersion(deployment: KubeObject, version: string): KubeObject {
    const copy = structuredClone(deployment);
    copy.spec.template.spec.containers[0].image = `${PODINFO_IMAGE}:${version}`;
    return copy;
}

/** The ingress address a LoadBalancer Service gets (the node assigns it, as a cloud controller would). */
async function loadBalancerAddress(readService: () => Promise<KubeObject>, timeoutMs = 30_000): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const ip = (await readService()).status?.loadBalancer?.ingress?.[0]?.ip;
        if (ip || Date.now() > deadline) {
            return ip;
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
}

/** Whether a canary routes through the Gateway API (else App Mesh). */
function usesGatewayApi(spec: CanarySpec): boolean {
    return routerKindOfSpec(spec) === "gatewayapi";
}

/** The App Mesh ingress gateway: its Envoy pod's local listener and its LoadBalancer Service's address. */
async function appMeshGateway(cluster: LocalCluster, namespace: string, readService: () => Promise<KubeObject>): Promise<Playground["gateway"]> {
    await cluster.waitForRollout(namespace, GATEWAY_NAME);
    const gatewayPod = cluster.node.pods().find((p) => p.namespace === namespace && p.labels["app.kubernetes.io/name"] === GATEWAY_NAME);
    const gatewayIngress = await loadBalancerAddress(readService);
    const gatewayListener = gatewayPod?.ports.values().next().value;
    if (!gatewayListener || !gatewayIngress) {
        throw new Error(`the ${GATEWAY_NAME} pod or its LoadBalancer address is missing in ${namespace}`);
    }
    return { localUrl: `http://${gatewayListener}`, loadBalancerUrl: `http://${gatewayIngress}` };
}

/** The stack's Gateway API Gateway: its listener on this machine and the address its status publishes. */
async function gatewayApiGateway(cluster: LocalCluster, namespace: string, timeoutMs = 30_000): Promise<Playground["gateway"]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const listener = cluster.gateways?.listenerUrl(namespace, GATEWAY_API_NAME);
        const address = cluster.gateways?.address(namespace, GATEWAY_API_NAME);
        if (listener && address) {
            return { localUrl: listener, loadBalancerUrl: `http://${address}` };
        }
        if (Date.now() > deadline) {
            throw new Error(`the Gateway ${namespace}/${GATEWAY_API_NAME} is not served by the playground's controller after ${timeoutMs / 1000}s`);
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
}

export async function startPlayground(opts: PlaygroundOptions): Promise<Playground> {
    // Fail before starting anything when a program is missing.
    requireExecutable("prometheus");
    requireExecutable("hey");
    const namespace = opts.namespace ?? "test";
    const fault = faultSwitches();
    const apps = opts.canaries.map((c) => ({ target: c.target, spec: c.spec, image: `${PODINFO_IMAGE}:${c.version}`, replicas: c.primaryReplicas }));
    const rendering = renderApps({ namespace, mesh: opts.mesh ?? "global", apps });
    rendering.catch(() => undefined);
    const cluster = await startLocalCluster({ podinfo: { faults: fault }, gatewayApi: apps.some((app) => usesGatewayApi(app.spec)), log: opts.log });
    try {
        const objects = await rendering;
        await cluster.apply(objects);
        const declared = (name: string) => {
            const object = objects.find((o) => o.kind === "Deployment" && o.metadata.name === name);
            if (!object) {
                throw new Error(`the rendered objects have no Deployment ${namespace}/${name}`);
            }
            return object;
        };
        return await attachPlayground({ cluster, fault, namespace, canaries: opts.canaries, declared });
    } catch (error) {
        await cluster.stop();
        throw error;
    }
}

export interface AttachOptions {
    cluster: LocalCluster;
    /** The fault switches the cluster's podinfo pods read. */
    fault: ReturnType<typeof faultSwitches>;
    namespace: string;
    canaries: { target: string; spec: CanarySpec }[];
    /** A Deployment as the program declares it; the live object by default (what `pulumi up` applied). */
    declared?: (name: string) => KubeObject;
}

/**
 * The playground over a local cluster whose stack is installed (by `startPlayground` or by a real `pulumi
 * up`): waits until the primaries, the load tester and the gateway run and finds their addresses.
 */
export async function attachPlayground(opts: AttachOptions): Promise<Playground> {
    const { cluster, fault, namespace } = opts;
    const k8s = await import("@kubernetes/client-node");
    const kc = new k8s.KubeConfig();
    kc.loadFromString(cluster.kubeconfig);
    const api = k8s.KubernetesObjectApi.makeApiClient(kc);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const read = (apiVersion: string, kind: string, ns: string, name: string) => api.read({ apiVersion, kind, metadata: { name, namespace: ns } }) as Promise<KubeObject>;
    const declared = opts.declared ?? (() => undefined);
    const canaries = await Promise.all(
        opts.canaries.map(async (c): Promise<InstalledCanary> => {
            const names = canaryNames(c.target, c.spec);
            await cluster.waitForRollout(namespace, names.primary);
            const live = await read("apps/v1", "Deployment", namespace, names.target);
            const primary = declared(names.primary) ?? (await read("apps/v1", "Deployment", namespace, names.primary));
            return { target: c.target, namespace, names, spec: c.spec, targetUid: live.metadata.uid, declared: declared(names.target) ?? live, declaredPrimary: primary };
        }),
    );
    await cluster.waitForRollout(namespace, LOADTESTER_NAME);
    const gateway = opts.canaries.some((c) => !usesGatewayApi(c.spec))
        ? await appMeshGateway(cluster, namespace, () => read("v1", "Service", namespace, GATEWAY_NAME))
        : await gatewayApiGateway(cluster, namespace);
    const prometheus = prometheusAddress(cluster.node.pods());
    if (!prometheus) {
        throw new Error(`the ${PROMETHEUS_NAME} pod is not running on the playground node`);
    }
    return {
        namespace,
        cluster,
        canaries,
        prometheusUrl: `http://${prometheus}`,
        gateway,
        setFault(version, change) {
            Object.assign(fault(version), change);
        },
        virtualRouter: (ns, name) => read(APPMESH_API_VERSION, "VirtualRouter", ns, name),
        customObject: (group, version, plural, ns, name) => custom.getNamespacedCustomObject({ group, version, plural, namespace: ns, name }) as Promise<KubeObject>,
        deployment: (ns, name) => read("apps/v1", "Deployment", ns, name),
        async updateCanaryTemplate(canary, version) {
            canary.declared = withVersion(canary.declared, version);
            await cluster.apply([canary.declared]);
        },
        async rollPrimary(canary, version) {
            canary.declaredPrimary = withVersion(canary.declaredPrimary, version);
            await cluster.apply([canary.declaredPrimary]);
            await cluster.waitForRollout(canary.namespace, canary.names.primary, 120_000);
        },
        stop: () => cluster.stop(),
    };
}
