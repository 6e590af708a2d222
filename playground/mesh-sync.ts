/**
 * Programs the mesh data plane from the real API server, as the App Mesh controller and Envoy would: every
 * VirtualService names its VirtualRouter, every VirtualRouter's spec is installed as it is stored, and a
 * VirtualNode's endpoints are what its DNS service discovery resolves to in a cluster: the ready addresses of
 * the named Service's EndpointSlices, which the node maps to the pods' local ports. A call to a Service that
 * no VirtualService answers goes to the Service's ready endpoints, as kube-proxy sends it.
 */
import type { VirtualRouterSpec } from "../analysis/routers/appmesh/routes";
import { APPMESH_GROUP, APPMESH_VERSION } from "../analysis/routers/appmesh/api";
import { virtualServiceName, type Endpoint, type MeshRouter } from "./mesh-router";
import type { NodeAgent } from "./node-agent";
import type { GatewayTarget } from "./pod-runners";

const POLL_MS = 250;

export interface MeshSyncOptions {
    kubeconfig: string;
    node: NodeAgent;
    log?: (line: string) => void;
}

export interface MeshSync {
    /** The ready pods behind a VirtualNode right now (the MeshRouter's `endpoints`). */
    endpoints(namespace: string, virtualNode: string): Endpoint[];
    /** The ready pods behind a Service's port right now, as kube-proxy picks from them; undefined for no such Service port. */
    serviceEndpoints(namespace: string, service: string, port: number): Endpoint[] | undefined;
    /** Where the GatewayRoutes of a namespace send requests (the ingress gateway's routes). */
    gatewayTargets(namespace: string): GatewayTarget[];
    /** Start programming `router` and keep it in step until `stop`; resolves after the first full sync. */
    attach(router: MeshRouter): Promise<void>;
    stop(): Promise<void>;
}

type Json = Record<string, any>;

/** `podinfo-primary.test.svc.cluster.local.` → the Service `test/podinfo-primary`. */
function serviceOfHostname(hostname: string): { namespace: string; name: string } | undefined {
    const match = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc(\.cluster\.local)?\.?$/.exec(hostname);
    return match ? { name: match[1], namespace: match[2] } : undefined;
}

/** The host a VirtualService answers on in the mesh: its `awsName`, else `<name>.<namespace>`. */
function virtualServiceHost(service: Json): string {
    return virtualServiceName(service.spec?.awsName ?? `${service.metadata.name}.${service.metadata.namespace}`);
}

/** Each GatewayRoute's prefix and the `host:port` of the virtual service it targets (its router's listener port). */
function gatewayTargets(gateways: Json[], services: Json[], routers: Json[]): Map<string, GatewayTarget[]> {
    const targets = new Map<string, GatewayTarget[]>();
    for (const g of gateways) {
        const ref = g.spec?.httpRoute?.action?.target?.virtualService?.virtualServiceRef;
        const namespace = ref?.namespace ?? g.metadata.namespace;
        const service = services.find((s) => s.metadata.name === ref?.name && s.metadata.namespace === namespace);
        const routerName = service?.spec?.provider?.virtualRouter?.virtualRouterRef?.name;
        const port = routers.find((r) => r.metadata.name === routerName && r.metadata.namespace === namespace)?.spec?.listeners?.[0]?.portMapping?.port;
        if (service && port !== undefined) {
            const host = `${virtualServiceHost(service)}:${port}`;
            const list = targets.get(g.metadata.namespace) ?? [];
            list.push({ prefix: g.spec.httpRoute.match?.prefix ?? "/", host });
            targets.set(g.metadata.namespace, list);
        }
    }
    return targets;
}

export async function startMeshSync(opts: MeshSyncOptions): Promise<MeshSync> {
    const log = opts.log ?? (() => undefined);
    const k8s = await import("@kubernetes/client-node");
    const kc = new k8s.KubeConfig();
    kc.loadFromString(opts.kubeconfig);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    /** `<namespace>/<virtual node>` → `podIP:port` of its ready endpoints. */
    let nodeEndpoints = new Map<string, string[]>();
    /** `<namespace>/<service>:<port>` → `podIP:port` of its ready endpoints. */
    let servicePortEndpoints = new Map<string, string[]>();
    /** `<namespace>` → its GatewayRoutes' prefixes and virtual services. */
    let gatewayRoutes = new Map<string, GatewayTarget[]>();
    let router: MeshRouter | undefined;

    const list = async (plural: string): Promise<Json[]> =>
        ((await custom.listClusterCustomObject({ group: APPMESH_GROUP, version: APPMESH_VERSION, plural })) as Json).items ?? [];

    async function sync(): Promise<void> {
        const [routers, services, nodes, gateways, slices, kubeServices] = await Promise.all([
            list("virtualrouters"),
            list("virtualservices"),
            list("virtualnodes"),
            list("gatewayroutes"),
            discovery.listEndpointSliceForAllNamespaces(),
            core.listServiceForAllNamespaces(),
        ]);
        for (const r of routers) {
            router?.setRouter(r.metadata.namespace, r.metadata.name, r.spec as VirtualRouterSpec);
        }
        for (const s of services) {
            const target = s.spec?.provider?.virtualRouter?.virtualRouterRef?.name;
            if (target) {
                router?.setVirtualService(virtualServiceHost(s), s.metadata.namespace, target);
            }
        }
        // Deleted mesh objects stop routing, as the controller removes them from Envoy's configuration.
        router?.retainOnly(new Set(routers.map((r) => `${r.metadata.namespace}/${r.metadata.name}`)), new Set(services.map(virtualServiceHost)));
        const next = new Map<string, string[]>();
        for (const n of nodes) {
            const service = serviceOfHostname(n.spec?.serviceDiscovery?.dns?.hostname ?? "");
            const port: number | undefined = n.spec?.listeners?.[0]?.portMapping?.port;
            if (!service || port === undefined) {
                continue;
            }
            const ready = slices.items
                .filter((slice) => slice.metadata?.namespace === service.namespace && slice.metadata?.labels?.["kubernetes.io/service-name"] === service.name)
                .flatMap((slice) => {
                    const slicePort = slice.ports?.find((p) => p.port === port)?.port ?? slice.ports?.[0]?.port;
                    return (slice.endpoints ?? []).filter((e) => e.conditions?.ready).flatMap((e) => e.addresses.map((address) => `${address}:${slicePort}`));
                });
            next.set(`${n.metadata.namespace}/${n.metadata.name}`, ready);
        }
        nodeEndpoints = next;
        const byServicePort = new Map<string, string[]>();
        for (const service of kubeServices.items) {
            const namespace = service.metadata!.namespace!;
            const name = service.metadata!.name!;
            const serviceSlices = slices.items.filter((slice) => slice.metadata?.namespace === namespace && slice.metadata?.labels?.["kubernetes.io/service-name"] === name);
            for (const servicePort of service.spec?.ports ?? []) {
                byServicePort.set(`${namespace}/${name}:${servicePort.port}`, serviceSlices.flatMap((slice) => {
                    const slicePort = slice.ports?.find((p) => p.name === (servicePort.name ?? ""))?.port ?? slice.ports?.[0]?.port;
                    return (slice.endpoints ?? []).filter((e) => e.conditions?.ready).flatMap((e) => e.addresses.map((address) => `${address}:${slicePort}`));
                }));
            }
        }
        servicePortEndpoints = byServicePort;
        gatewayRoutes = gatewayTargets(gateways, services, routers);
    }

    /**
     * The addresses the last sync read as ready, as the node serves them on this machine. Like Envoy's, the list
     * lags the pods: a terminating pod stays in it until the next sync, and is reached while it still runs.
     */
    const localEndpoints = (addresses: string[] | undefined): Endpoint[] =>
        (addresses ?? []).flatMap((address) => {
            const [ip, port] = address.split(":");
            const pod = opts.node.podAt(ip);
            const local = pod?.ports.get(Number(port));
            return pod && local ? [{ pod: pod.name, url: `http://${local}` }] : [];
        });

    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let loop: Promise<void> = Promise.resolve();

    return {
        gatewayTargets: (namespace) => gatewayRoutes.get(namespace) ?? [],
        endpoints: (namespace, virtualNode) => localEndpoints(nodeEndpoints.get(`${namespace}/${virtualNode}`)),
        serviceEndpoints(namespace, service, port) {
            const addresses = servicePortEndpoints.get(`${namespace}/${service}:${port}`);
            return addresses && localEndpoints(addresses);
        },
        async attach(meshRouter) {
            router = meshRouter;
            await sync();
            timer = setInterval(() => {
                loop = loop.then(() => (stopped ? undefined : sync().catch((e) => log(`mesh sync: ${(e as Error).message}`))));
            }, POLL_MS);
        },
        async stop() {
            stopped = true;
            clearInterval(timer);
            await loop;
        },
    };
}
