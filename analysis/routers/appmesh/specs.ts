/**
 * The App Mesh objects of one Canary as Flagger's `AppMeshv1beta2Router` generates them, as pure spec builders:
 * VirtualNodes `<apex>-primary` / `<apex>-canary`, VirtualRouters and VirtualServices `<apex>` / `<apex>-canary`.
 * The Pulumi component declares them from here, and the analysis re-applies the very same apex router spec with
 * other weights.
 */
import { ALL_ON_CANARY, RESTING_WEIGHTS } from "../../engine/weights";
import { DurationValue, HttpRouteSpec, RouteSpec, VirtualRouterSpec, weightedTargets } from "./routes";
import { CanarySpec, ServiceSpec, parseDuration } from "../../spec/canary";
import { retryEvents } from "../../spec/validation";
import { CanaryNames, podSelector, serviceHostname } from "../../spec/names";

/** Route priorities of Flagger's A/B layout: header route first, everything else after. */
const AB_PRIORITY = { headers: 10, rest: 20 };
/** Flagger's retry defaults when `retries` is given without them. */
const DEFAULT_PER_TRY_TIMEOUT_MS = 250;
const DEFAULT_RETRY_EVENTS = ["gateway-error"];
const ACCESS_LOG = { accessLog: { file: { path: "/dev/stdout" } } };

export type Protocol = "http" | "grpc";

export interface VirtualNodeBackend {
    virtualService: { virtualServiceRef: { name: string; namespace?: string } } | { virtualServiceARN: string };
}

export interface VirtualNodeSpec {
    podSelector: { matchLabels: Record<string, string> };
    listeners: { portMapping: { port: number; protocol: Protocol }; timeout?: { http: { perRequest: DurationValue } } }[];
    serviceDiscovery: { dns: { hostname: string } };
    backends?: VirtualNodeBackend[];
    logging?: typeof ACCESS_LOG;
}

export interface VirtualServiceSpec {
    provider: { virtualRouter: { virtualRouterRef: { name: string } } };
}

/** The App Mesh listener port: an integer `targetPort`, else `port` (a named targetPort is ignored, as in Flagger). */
export function listenerPort(service: ServiceSpec): number {
    return typeof service.targetPort === "number" && service.targetPort > 0 ? service.targetPort : service.port;
}

/** `grpc` when the port name contains "grpc", as Flagger decides; `http` otherwise. */
export function listenerProtocol(service: ServiceSpec): Protocol {
    return (service.portName ?? "").includes("grpc") ? "grpc" : "http";
}

function milliseconds(duration: string): DurationValue {
    return { unit: "ms", value: parseDuration(duration)! };
}

/** Virtual service backends: `arn:aws...` entries by ARN, anything else by name in the same namespace. */
export function buildBackends(backends: readonly string[]): VirtualNodeBackend[] {
    return backends.map((b) => ({
        virtualService: b.startsWith("arn:aws") ? { virtualServiceARN: b } : { virtualServiceRef: { name: b } },
    }));
}

/** The VirtualNode of one side: selects that side's pods only, discovered by its Service's DNS name. */
export function buildVirtualNodeSpec(spec: CanarySpec, names: CanaryNames, side: "primary" | "canary", namespace: string, accessLog = false): VirtualNodeSpec {
    const service = spec.service;
    const listener: VirtualNodeSpec["listeners"][number] = {
        portMapping: { port: listenerPort(service), protocol: listenerProtocol(service) },
    };
    if (service.timeout !== undefined) {
        listener.timeout = { http: { perRequest: milliseconds(service.timeout) } };
    }
    const node: VirtualNodeSpec = {
        podSelector: { matchLabels: podSelector(names, side) },
        listeners: [listener],
        serviceDiscovery: { dns: { hostname: serviceHostname(names.nodes[side], namespace) } },
    };
    if (service.backends && service.backends.length > 0) {
        node.backends = buildBackends(service.backends);
    }
    if (accessLog) {
        node.logging = ACCESS_LOG;
    }
    return node;
}

/** The route fields every route of a Canary shares: prefix match, timeout and retry policy. */
function routeBase(service: ServiceSpec): Omit<HttpRouteSpec, "action"> {
    const route: Omit<HttpRouteSpec, "action"> = { match: { prefix: service.match?.[0]?.uri?.prefix ?? "/" } };
    if (service.timeout !== undefined) {
        route.timeout = { perRequest: milliseconds(service.timeout) };
    }
    if (service.retries !== undefined) {
        const r = service.retries;
        route.retryPolicy = {
            maxRetries: (r.attempts ?? 0) > 0 ? r.attempts! : 1,
            perRetryTimeout: r.perTryTimeout !== undefined ? milliseconds(r.perTryTimeout) : { unit: "ms", value: DEFAULT_PER_TRY_TIMEOUT_MS },
            httpRetryEvents: r.retryOn !== undefined ? retryEvents(r.retryOn) : DEFAULT_RETRY_EVENTS,
        };
    }
    return route;
}

/** Header conditions of all `analysis.match` entries flattened into one route, as Flagger does (App Mesh ANDs them). */
function headerMatches(spec: CanarySpec): NonNullable<HttpRouteSpec["match"]["headers"]> {
    const byName = new Map<string, NonNullable<HttpRouteSpec["match"]["headers"]>[number]>();
    for (const entry of spec.analysis?.match ?? []) {
        for (const [name, condition] of Object.entries(entry.headers ?? {})) {
            const match = Object.fromEntries(Object.entries(condition).filter(([, v]) => typeof v === "string" && v !== ""));
            byName.set(name, { name, match });
        }
    }
    return [...byName.values()];
}

/**
 * A VirtualRouter spec at resting weights. `apex`: primary 100 / canary 0, with Flagger's A/B layout (header
 * route `<apex>-a`, fallback `<apex>-b`) when the analysis has `match`. `canary`: 100 to the canary node.
 */
export function buildVirtualRouterSpec(spec: CanarySpec, names: CanaryNames, router: "apex" | "canary"): VirtualRouterSpec {
    const base = routeBase(spec.service);
    const listeners = [{ portMapping: { port: listenerPort(spec.service), protocol: listenerProtocol(spec.service) } }];
    if (router === "canary") {
        const action = { weightedTargets: weightedTargets(names.nodes, ALL_ON_CANARY) };
        return { listeners, routes: [{ name: names.canaryRouter, httpRoute: { ...base, action } }] };
    }
    const resting = { weightedTargets: weightedTargets(names.nodes, RESTING_WEIGHTS) };
    const headers = headerMatches(spec);
    if (headers.length === 0) {
        return { listeners, routes: [{ name: names.apex, httpRoute: { ...base, action: resting } }] };
    }
    const abRoute: RouteSpec = {
        name: `${names.apex}-a`,
        priority: AB_PRIORITY.headers,
        httpRoute: { ...base, match: { ...base.match, headers }, action: resting },
    };
    const rest: RouteSpec = {
        name: `${names.apex}-b`,
        priority: AB_PRIORITY.rest,
        httpRoute: { ...base, action: { weightedTargets: [{ virtualNodeRef: { name: names.nodes.primary }, weight: 100 }] } },
    };
    return { listeners, routes: [abRoute, rest] };
}

/** A VirtualService provided by the router of the same name, as Flagger pairs them. */
export function buildVirtualServiceSpec(routerName: string): VirtualServiceSpec {
    return { provider: { virtualRouter: { virtualRouterRef: { name: routerName } } } };
}

/**
 * Flagger's gateway annotations on the apex VirtualService when `service.hosts` is set (meant for the legacy
 * appmesh-gateway; the official VirtualGateway is configured by GatewayRoutes instead). None without hosts.
 */
export function apexVirtualServiceAnnotations(service: ServiceSpec): Record<string, string> | undefined {
    if (!service.hosts || service.hosts.length === 0) {
        return undefined;
    }
    const annotations: Record<string, string> = {
        "gateway.appmesh.k8s.aws/expose": "true",
        "gateway.appmesh.k8s.aws/domain": service.hosts.map((h) => `${h},`).join(""),
    };
    if (service.timeout !== undefined) {
        annotations["gateway.appmesh.k8s.aws/timeout"] = service.timeout;
    }
    if ((service.retries?.attempts ?? 0) > 0) {
        annotations["gateway.appmesh.k8s.aws/retries"] = String(service.retries!.attempts);
    }
    return annotations;
}
