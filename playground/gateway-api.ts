/**
 * The playground's Gateway API controller and data plane, standing in for Envoy Gateway (or the AWS Gateway API
 * Controller): for every GatewayClass whose `controllerName` is the playground's, it accepts the class, serves
 * each of its Gateways' HTTP listeners on a local port, publishes the Gateway's address, and accepts the
 * HTTPRoutes attached to them in their parent status with the generation it read, as a real controller does
 * (so the analysis's readiness gate is exercised). Requests to a listener are routed by the accepted routes'
 * rules (`http-route-match.ts`) to the backend Services' ready pods, as kube-proxy reaches them. As Istio's
 * Gateway controller does, it fronts each Gateway with a Service `<gateway>-<class>` in the Gateway's namespace,
 * through which in-cluster callers (the load tester) reach the listeners.
 */
import * as http from "http";
import { GATEWAY_API_GROUP, GATEWAY_API_VERSION } from "../analysis/routers/gatewayapi/api";
import type { HTTPRouteSpec, ParentReference } from "../analysis/routers/gatewayapi/routes";
import { parseDuration } from "../analysis/spec/canary";
import { closeServer, listenOnFreePort, readBody } from "./http-util";
import { answeredHeaders, forwardedRequest, pickBackend, selectRule, type AttachedRoute } from "./http-route-match";
import type { AccessLogEntry, Endpoint } from "./mesh-router";
import { callUpstream, HOP_BY_HOP, plainAnswer, type UpstreamAnswer } from "./upstream";

/** The playground's controller name; a GatewayClass naming it is served here. */
export const PLAYGROUND_GATEWAY_CONTROLLER = "appmesh-canary.local/playground-gateway";
/** GatewayClasses the local cluster installs for the playground's controller (Envoy Gateway's class name). */
export const PLAYGROUND_GATEWAY_CLASSES = ["eg"];
/** Gateways get addresses from this range: labels in the blackholed range, never dialled (the listener's local port is). */
const ADDRESS_BASE = "10.245.2.";
const POLL_MS = 250;
/** Envoy's route timeout when the route sets none. */
const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;

type Json = Record<string, any>;

export interface GatewayApiOptions {
    kubeconfig: string;
    /** The ready pods behind a Service's port; undefined for no such Service port. */
    serviceEndpoints(namespace: string, service: string, port: number): Endpoint[] | undefined;
    random?: () => number;
    log?: (line: string) => void;
}

/** An HTTPRoute spec as the data plane started routing by it. */
export interface HTTPRouteChange {
    time: number;
    namespace: string;
    name: string;
    spec: HTTPRouteSpec;
}

export interface GatewayDataPlane {
    /** `http://127.0.0.1:<port>` of a Gateway's listener, once it is served. */
    listenerUrl(namespace: string, gateway: string, listener?: string): string | undefined;
    /** The address the Gateway's status publishes (what users call), once it is published. */
    address(namespace: string, gateway: string): string | undefined;
    /** The listener behind a Gateway's Service `<gateway>-<class>` port, as an endpoint; undefined for any other Service. */
    serviceEndpoints(namespace: string, service: string, port: number): Endpoint[] | undefined;
    /** Every request the listeners answered; `route` is `<namespace>/<name>#<rule index>`, `virtualNode` the backend Service. */
    readonly accessLog: AccessLogEntry[];
    /** Every change of an accepted route's spec, when the data plane started using it. */
    readonly routeChanges: HTTPRouteChange[];
    stop(): Promise<void>;
}

interface Listener {
    server: http.Server;
    port: number;
    routes: AttachedRoute[];
}

const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

function condition(type: string, status: boolean, reason: string, generation: number, message = ""): Json {
    return { type, status: status ? "True" : "False", reason, message, observedGeneration: generation, lastTransitionTime: now() };
}

/** Whether a route's parent reference names this Gateway (and, when it says so, this listener). */
function refersTo(ref: ParentReference, routeNamespace: string, gateway: Json, listener?: string): boolean {
    return (ref.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP
        && (ref.kind ?? "Gateway") === "Gateway"
        && (ref.namespace ?? routeNamespace) === gateway.metadata.namespace
        && ref.name === gateway.metadata.name
        && (listener === undefined || ref.sectionName === undefined || ref.sectionName === listener);
}

/** The listener admits routes from the route's namespace (`Same` unless it says `All`). */
function admits(listener: Json, gateway: Json, routeNamespace: string): boolean {
    const from = listener.allowedRoutes?.namespaces?.from ?? "Same";
    return from === "All" || (from === "Same" && routeNamespace === gateway.metadata.namespace);
}

/** The routes a listener takes: admitted from their namespace, and naming the Gateway (and this listener, if any). */
function attachedRoutes(routes: Json[], gateway: Json, listener: Json): Json[] {
    return routes.filter((r) => admits(listener, gateway, r.metadata.namespace)
        && (r.spec?.parentRefs ?? []).some((ref: ParentReference) => refersTo(ref, r.metadata.namespace, gateway, listener.name)));
}

export async function startGatewayController(opts: GatewayApiOptions): Promise<GatewayDataPlane> {
    const log = opts.log ?? (() => undefined);
    const random = opts.random ?? Math.random;
    const k8s = await import("@kubernetes/client-node");
    const kc = new k8s.KubeConfig();
    kc.loadFromString(opts.kubeconfig);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    /** `<namespace>/<gateway>-<class>` → the Gateway's listeners by port. */
    const gatewayServices = new Map<string, Map<number, string>>();
    const applyStatus = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.ServerSideApply);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    const listeners = new Map<string, Listener>();
    const addresses = new Map<string, string>();
    const lastSpecs = new Map<string, string>();
    const accessLog: AccessLogEntry[] = [];
    const routeChanges: HTTPRouteChange[] = [];
    const nextPod = new Map<string, number>();

    const list = async (plural: string): Promise<Json[]> => {
        try {
            return ((await custom.listClusterCustomObject({ group: GATEWAY_API_GROUP, version: GATEWAY_API_VERSION, plural })) as Json).items ?? [];
        } catch (error) {
            // Without the Gateway API CRDs there is nothing to serve.
            if ((error as { code?: number }).code === 404) {
                return [];
            }
            throw error;
        }
    };
    const writeStatus = (plural: string, object: Json, status: Json, namespaced = true) => {
        const body = { apiVersion: `${GATEWAY_API_GROUP}/${GATEWAY_API_VERSION}`, kind: object.kind, metadata: { name: object.metadata.name, ...(namespaced ? { namespace: object.metadata.namespace } : {}) }, status };
        const params = { group: GATEWAY_API_GROUP, version: GATEWAY_API_VERSION, plural, name: object.metadata.name, body, fieldManager: "playground-gateway", force: true };
        return namespaced
            ? custom.patchNamespacedCustomObjectStatus({ ...params, namespace: object.metadata.namespace }, applyStatus)
            : custom.patchClusterCustomObjectStatus(params, applyStatus);
    };

    function serve(key: string): http.Server {
        return http.createServer((req, res) => {
            handle(key, req, res).catch((error) => {
                if (!res.headersSent) {
                    res.writeHead(500, { "content-type": "text/plain" }).end(`gateway error: ${(error as Error).message}`);
                }
            });
        });
    }

    async function handle(key: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const started = performance.now();
        const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "gateway"}`);
        const body = await readBody(req);
        const entry: AccessLogEntry = { time: Date.now(), host: url.host, method: req.method ?? "GET", path: url.pathname + url.search, headers: req.headers, status: 0, attempts: 0, durationMs: 0 };
        const answer = await route(key, url, req, body, entry);
        entry.status = answer.status;
        entry.durationMs = performance.now() - started;
        accessLog.push(entry);
        if (accessLog.length > 200_000) {
            accessLog.splice(0, accessLog.length - 200_000);
        }
        res.writeHead(answer.status, { ...answer.headers, "content-length": String(answer.body.length) });
        res.end(answer.body);
    }

    async function route(key: string, url: URL, req: http.IncomingMessage, body: Buffer, entry: AccessLogEntry): Promise<UpstreamAnswer> {
        const request = { host: url.hostname.toLowerCase(), method: req.method ?? "GET", path: url.pathname, query: url.searchParams, headers: req.headers };
        const selected = selectRule(listeners.get(key)?.routes ?? [], request);
        if (!selected) {
            return plainAnswer(404, `no route of ${key} takes ${request.host}${request.path}`);
        }
        // The rule that took it, so a report can tell the A/B rule from the fallback.
        entry.route = `${selected.route.namespace}/${selected.route.name}#${selected.route.spec.rules.indexOf(selected.rule)}`;
        const backend = pickBackend(selected.rule.backendRefs, random());
        if (!backend) {
            return plainAnswer(500, `route ${entry.route} has no backend with weight > 0`);
        }
        entry.virtualNode = backend.name;
        const namespace = (backend as { namespace?: string }).namespace ?? selected.route.namespace;
        const endpoints = opts.serviceEndpoints(namespace, backend.name, backend.port);
        if (!endpoints || endpoints.length === 0) {
            return plainAnswer(503, `no healthy upstream: Service ${namespace}/${backend.name} port ${backend.port}`);
        }
        const index = (nextPod.get(`${namespace}/${backend.name}`) ?? 0) % endpoints.length;
        nextPod.set(`${namespace}/${backend.name}`, index + 1);
        const endpoint = endpoints[index];
        entry.pod = endpoint.pod;
        entry.attempts = 1;
        const forwarded = forwardedRequest(selected, request);
        const requestTimeout = selected.rule.timeouts?.request;
        const timeoutMs = (requestTimeout ? parseDuration(requestTimeout) : undefined) ?? DEFAULT_REQUEST_TIMEOUT_MS;
        const requestHeaders = { ...forwarded.headers, ...(forwarded.host ? { host: forwarded.host } : {}) } as http.IncomingHttpHeaders;
        const { answer } = await callUpstream(agent, `${endpoint.url}${forwarded.path}${url.search}`, request.method, requestHeaders, body, timeoutMs);
        const headers = answeredHeaders(selected, answer.headers) as http.IncomingHttpHeaders;
        for (const name of [...HOP_BY_HOP, "content-length"]) {
            delete headers[name];
        }
        return { status: answer.status, headers, body: answer.body };
    }

    async function sync(): Promise<void> {
        const [classes, gateways, routes] = await Promise.all([list("gatewayclasses"), list("gateways"), list("httproutes")]);
        const ours = classes.filter((c) => c.spec?.controllerName === PLAYGROUND_GATEWAY_CONTROLLER);
        for (const gatewayClass of ours) {
            const generation = gatewayClass.metadata.generation ?? 1;
            if (!gatewayClass.status?.conditions?.some((c: Json) => c.type === "Accepted" && c.status === "True" && c.observedGeneration === generation)) {
                await writeStatus("gatewayclasses", gatewayClass, { conditions: [condition("Accepted", true, "Accepted", generation)] }, false);
            }
        }
        const served = gateways.filter((g) => ours.some((c) => c.metadata.name === g.spec?.gatewayClassName));
        const wanted = new Set<string>();
        for (const gateway of served) {
            const gatewayKey = `${gateway.metadata.namespace}/${gateway.metadata.name}`;
            for (const listener of (gateway.spec?.listeners ?? []).filter((l: Json) => l.protocol === "HTTP")) {
                const key = `${gatewayKey}/${listener.name}`;
                wanted.add(key);
                if (!listeners.has(key)) {
                    const server = serve(key);
                    listeners.set(key, { server, port: await listenOnFreePort(server), routes: [] });
                    log(`gateway ${key} listens on 127.0.0.1:${listeners.get(key)!.port}`);
                }
                const accepted = attachedRoutes(routes, gateway, listener);
                listeners.get(key)!.routes = accepted.map((r) => ({ namespace: r.metadata.namespace, name: r.metadata.name, created: Date.parse(r.metadata.creationTimestamp ?? "") || 0, spec: r.spec }));
            }
            if (!addresses.has(gatewayKey)) {
                addresses.set(gatewayKey, `${ADDRESS_BASE}${addresses.size + 1}`);
            }
            await provisionService(gateway);
            await publishGatewayStatus(gateway, routes);
        }
        for (const [key, listener] of listeners) {
            if (!wanted.has(key)) {
                listeners.delete(key);
                await closeServer(listener.server);
            }
        }
        for (const routeObject of routes) {
            await acceptRoute(routeObject, served);
        }
        recordRouteChanges(routes, served);
    }

    /** The Gateway's Service `<gateway>-<class>`, with the HTTP listeners' ports; its traffic reaches the listeners. */
    async function provisionService(gateway: Json): Promise<void> {
        const name = `${gateway.metadata.name}-${gateway.spec.gatewayClassName}`;
        const key = `${gateway.metadata.namespace}/${name}`;
        const httpListeners = (gateway.spec?.listeners ?? []).filter((l: Json) => l.protocol === "HTTP");
        const ports = new Map<number, string>(httpListeners.map((l: Json) => [l.port, `${gateway.metadata.namespace}/${gateway.metadata.name}/${l.name}`]));
        if (JSON.stringify([...(gatewayServices.get(key) ?? new Map()).entries()]) === JSON.stringify([...ports.entries()])) {
            return;
        }
        await objects.patch({
            apiVersion: "v1",
            kind: "Service",
            metadata: { name, namespace: gateway.metadata.namespace, labels: { "gateway.networking.k8s.io/gateway-name": gateway.metadata.name } },
            spec: { type: "ClusterIP", ports: httpListeners.map((l: Json) => ({ name: l.name, port: l.port, protocol: "TCP" })) },
        } as any, undefined, undefined, "playground-gateway", true, k8s.PatchStrategy.ServerSideApply);
        gatewayServices.set(key, ports);
    }

    async function publishGatewayStatus(gateway: Json, routes: Json[]): Promise<void> {
        const generation = gateway.metadata.generation ?? 1;
        const listenerStatus = (gateway.spec?.listeners ?? []).map((listener: Json) => {
            const isHttp = listener.protocol === "HTTP";
            return {
                name: listener.name,
                supportedKinds: isHttp ? [{ group: GATEWAY_API_GROUP, kind: "HTTPRoute" }] : [],
                attachedRoutes: attachedRoutes(routes, gateway, listener).length,
                conditions: [
                    condition("Accepted", isHttp, isHttp ? "Accepted" : "UnsupportedProtocol", generation),
                    condition("Programmed", isHttp, isHttp ? "Programmed" : "Invalid", generation),
                    condition("ResolvedRefs", true, "ResolvedRefs", generation),
                ],
            };
        });
        const address = addresses.get(`${gateway.metadata.namespace}/${gateway.metadata.name}`)!;
        const current = gateway.status;
        const upToDate = current?.addresses?.[0]?.value === address
            && current?.conditions?.some((c: Json) => c.type === "Programmed" && c.observedGeneration === generation)
            && JSON.stringify((current?.listeners ?? []).map((l: Json) => [l.name, l.attachedRoutes])) === JSON.stringify(listenerStatus.map((l: Json) => [l.name, l.attachedRoutes]));
        if (!upToDate) {
            await writeStatus("gateways", gateway, {
                addresses: [{ type: "IPAddress", value: address }],
                conditions: [condition("Accepted", true, "Accepted", generation), condition("Programmed", true, "Programmed", generation)],
                listeners: listenerStatus,
            });
        }
    }

    /** Our parent entries of a route: Accepted for the generation read, ResolvedRefs as its Services exist; other controllers' entries kept. */
    async function acceptRoute(routeObject: Json, served: Json[]): Promise<void> {
        const namespace = routeObject.metadata.namespace;
        const generation = routeObject.metadata.generation ?? 1;
        const refs: ParentReference[] = (routeObject.spec?.parentRefs ?? []).filter((ref: ParentReference) => served.some((g) => refersTo(ref, namespace, g)));
        if (refs.length === 0) {
            return;
        }
        const parents = refs.map((ref) => {
            const gateway = served.find((g) => refersTo(ref, namespace, g))!;
            const allowed = (gateway.spec?.listeners ?? []).some((l: Json) => admits(l, gateway, namespace) && (ref.sectionName === undefined || ref.sectionName === l.name));
            const backends = (routeObject.spec?.rules ?? []).flatMap((rule: Json) => rule.backendRefs ?? []);
            const resolved = backends.every((b: Json) => opts.serviceEndpoints(b.namespace ?? namespace, b.name, b.port) !== undefined);
            return {
                parentRef: { group: GATEWAY_API_GROUP, kind: "Gateway", namespace: ref.namespace ?? namespace, name: ref.name, ...(ref.sectionName ? { sectionName: ref.sectionName } : {}) },
                controllerName: PLAYGROUND_GATEWAY_CONTROLLER,
                conditions: [
                    condition("Accepted", allowed, allowed ? "Accepted" : "NotAllowedByListeners", generation),
                    condition("ResolvedRefs", resolved, resolved ? "ResolvedRefs" : "BackendNotFound", generation),
                ],
            };
        });
        const current: Json[] = routeObject.status?.parents ?? [];
        const mine = current.filter((p) => p.controllerName === PLAYGROUND_GATEWAY_CONTROLLER);
        const same = mine.length === parents.length && parents.every((p, i) =>
            mine[i]?.conditions?.every((c: Json, j: number) => c.observedGeneration === generation && c.status === p.conditions[j].status));
        if (!same) {
            await writeStatus("httproutes", routeObject, { parents: [...current.filter((p) => p.controllerName !== PLAYGROUND_GATEWAY_CONTROLLER), ...parents] });
        }
    }

    function recordRouteChanges(routes: Json[], served: Json[]): void {
        for (const routeObject of routes) {
            if (!(routeObject.spec?.parentRefs ?? []).some((ref: ParentReference) => served.some((g) => refersTo(ref, routeObject.metadata.namespace, g)))) {
                continue;
            }
            const key = `${routeObject.metadata.namespace}/${routeObject.metadata.name}`;
            const text = JSON.stringify(routeObject.spec);
            if (lastSpecs.get(key) !== text) {
                lastSpecs.set(key, text);
                routeChanges.push({ time: Date.now(), namespace: routeObject.metadata.namespace, name: routeObject.metadata.name, spec: structuredClone(routeObject.spec) });
            }
        }
    }

    let stopped = false;
    let loop: Promise<void> = sync();
    await loop;
    const timer = setInterval(() => {
        loop = loop.then(() => (stopped ? undefined : sync().catch((e) => log(`gateway controller: ${(e as Error).message}`))));
    }, POLL_MS);

    return {
        listenerUrl(namespace, gateway, listener = "http") {
            const served = listeners.get(`${namespace}/${gateway}/${listener}`);
            return served ? `http://127.0.0.1:${served.port}` : undefined;
        },
        address: (namespace, gateway) => addresses.get(`${namespace}/${gateway}`),
        serviceEndpoints(namespace, service, port) {
            const listenerKey = gatewayServices.get(`${namespace}/${service}`)?.get(port);
            const listener = listenerKey ? listeners.get(listenerKey) : undefined;
            return listener ? [{ pod: `gateway ${listenerKey}`, url: `http://127.0.0.1:${listener.port}` }] : undefined;
        },
        accessLog,
        routeChanges,
        async stop() {
            stopped = true;
            clearInterval(timer);
            await loop.catch(() => undefined);
            await Promise.all([...listeners.values()].map((l) => closeServer(l.server)));
            agent.destroy();
        },
    };
}
