/**
 * The mesh data plane: an HTTP forward proxy standing in for the caller's Envoy sidecar. It routes by Host
 * (`podinfo.test:9898`, `podinfo-canary.test:9898`, also `*.svc.cluster.local`) through the VirtualRouter
 * spec of the matching VirtualService, picks a weighted target, balances over the ready pods of the target
 * VirtualNode, and applies the route's retry policy and timeouts. A host no VirtualService answers that names
 * a Service (`<service>.<namespace>:<port>`) goes to the Service's ready pods, as kube-proxy sends it: what a
 * pod outside the mesh (a Gateway API stack's load tester) reaches.
 */
import * as http from "http";
import type { RouteSpec, VirtualRouterSpec } from "../analysis/routers/appmesh/routes";
import { closeServer, listenOnFreePort, readBody } from "./http-util";
import { callUpstream, HOP_BY_HOP, plainAnswer, type UpstreamAnswer } from "./upstream";
import {
    AttemptResult,
    DEFAULT_PER_REQUEST_TIMEOUT_MS,
    durationMs,
    isRetriable,
    pickWeightedTarget,
    selectRoute,
} from "./route-match";

/** A ready pod of a VirtualNode. */
export interface Endpoint {
    pod: string;
    url: string;
}

/** One proxied request, like an Envoy access log line. */
export interface AccessLogEntry {
    time: number;
    host: string;
    method: string;
    path: string;
    headers: http.IncomingHttpHeaders;
    route?: string;
    virtualNode?: string;
    pod?: string;
    status: number;
    attempts: number;
    durationMs: number;
}

/** A VirtualRouter spec as the data plane started routing by it. */
export interface RouteChange {
    time: number;
    namespace: string;
    name: string;
    spec: VirtualRouterSpec;
}

export interface MeshRouterOptions {
    /** The ready pods behind a VirtualNode. */
    endpoints(namespace: string, virtualNode: string): Endpoint[];
    /** The ready pods behind a Service's port; undefined for no such Service port. */
    serviceEndpoints?(namespace: string, service: string, port: number): Endpoint[] | undefined;
    random?: () => number;
    /** Access log entries kept (oldest dropped first). */
    accessLogLimit?: number;
}

type Answer = UpstreamAnswer;

const RETRY_BACKOFF_MS = 25;

/** `podinfo.test`, `podinfo.test.svc`, `podinfo.test.svc.cluster.local` → `podinfo.test`. */
export function virtualServiceName(hostname: string): string {
    return hostname.toLowerCase().replace(/\.svc(\.cluster\.local)?\.?$/, "");
}

export class MeshRouter {
    private readonly routers = new Map<string, VirtualRouterSpec>();
    /** `<service>.<namespace>` → `<namespace>/<router>` */
    private readonly services = new Map<string, string>();
    private readonly nextPod = new Map<string, number>();
    private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    private readonly random: () => number;
    private readonly server: http.Server;
    readonly accessLog: AccessLogEntry[] = [];
    /** Every change of a VirtualRouter's routes in this data plane, when it took effect: the weights history the report draws. */
    readonly routeChanges: RouteChange[] = [];
    private port = 0;

    constructor(private readonly opts: MeshRouterOptions) {
        this.random = opts.random ?? Math.random;
        this.server = http.createServer((req, res) => {
            this.handle(req, res).catch((err) => {
                if (!res.headersSent) {
                    res.writeHead(500, { "content-type": "text/plain" }).end(`mesh router error: ${(err as Error).message}`);
                }
            });
        });
    }

    async start(): Promise<void> {
        this.port = await listenOnFreePort(this.server);
    }

    /** `http://127.0.0.1:<port>`, for `http_proxy` and `hey -x`. */
    get proxyUrl(): string {
        return `http://127.0.0.1:${this.port}`;
    }

    /** Program a VirtualRouter; takes effect for the next request. A changed spec is recorded in `routeChanges`. */
    setRouter(namespace: string, name: string, spec: VirtualRouterSpec): void {
        const key = `${namespace}/${name}`;
        const current = this.routers.get(key);
        if (current === undefined || JSON.stringify(current) !== JSON.stringify(spec)) {
            this.routeChanges.push({ time: Date.now(), namespace, name, spec: structuredClone(spec) });
        }
        this.routers.set(key, spec);
    }

    /** Bind a VirtualService (`<service>.<namespace>`) to the VirtualRouter that provides it. */
    setVirtualService(host: string, namespace: string, routerName: string): void {
        this.services.set(host, `${namespace}/${routerName}`);
    }

    /** Forget the VirtualRouters (`<namespace>/<name>`) and VirtualServices (hosts) the API no longer holds. */
    retainOnly(routers: Set<string>, services: Set<string>): void {
        for (const key of [...this.routers.keys()].filter((k) => !routers.has(k))) {
            this.routers.delete(key);
        }
        for (const host of [...this.services.keys()].filter((h) => !services.has(h))) {
            this.services.delete(host);
        }
    }

    async stop(): Promise<void> {
        await closeServer(this.server);
        this.agent.destroy();
    }

    private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const started = performance.now();
        // A forward proxy receives the absolute URL; a direct call only the path and a Host header.
        const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "unknown"}`);
        const body = await readBody(req);
        const entry: AccessLogEntry = {
            time: Date.now(),
            host: url.host,
            method: req.method ?? "GET",
            path: url.pathname + url.search,
            headers: req.headers,
            status: 0,
            attempts: 0,
            durationMs: 0,
        };
        const answer = await this.route(url, req, body, entry);
        entry.status = answer.status;
        entry.durationMs = performance.now() - started;
        this.log(entry);
        const headers = { ...answer.headers };
        for (const name of HOP_BY_HOP) {
            delete headers[name];
        }
        headers["content-length"] = String(answer.body.length);
        res.writeHead(answer.status, headers);
        res.end(answer.body);
    }

    private log(entry: AccessLogEntry): void {
        this.accessLog.push(entry);
        if (this.accessLog.length > (this.opts.accessLogLimit ?? 200_000)) {
            this.accessLog.splice(0, this.accessLog.length - (this.opts.accessLogLimit ?? 200_000));
        }
    }

    private async route(url: URL, req: http.IncomingMessage, body: Buffer, entry: AccessLogEntry): Promise<Answer> {
        const service = virtualServiceName(url.hostname);
        const routerKey = this.services.get(service);
        if (!routerKey) {
            return this.routeToService(service, url, req, body, entry);
        }
        const spec = this.routers.get(routerKey);
        if (!spec) {
            return plainAnswer(503, `virtual router ${routerKey} for ${service} is not programmed`);
        }
        const port = Number(url.port || 80);
        if (!spec.listeners.some((l) => l.portMapping.port === port)) {
            return plainAnswer(404, `${service} listens on port ${spec.listeners.map((l) => l.portMapping.port).join(", ")}, not ${port}`);
        }
        const route = selectRoute(spec, { path: url.pathname, headers: req.headers });
        if (!route) {
            return plainAnswer(404, `no route of virtual router ${routerKey} matches ${url.pathname}`);
        }
        entry.route = route.name;
        const target = pickWeightedTarget(route.httpRoute.action.weightedTargets, this.random());
        if (!target) {
            return plainAnswer(503, `route ${route.name} has no target with weight > 0`);
        }
        const namespace = target.virtualNodeRef.namespace ?? routerKey.split("/")[0];
        entry.virtualNode = target.virtualNodeRef.name;
        return this.callWithPolicy(route, namespace, target.virtualNodeRef.name, url, req, body, entry);
    }

    private async callWithPolicy(
        route: RouteSpec,
        namespace: string,
        node: string,
        url: URL,
        req: http.IncomingMessage,
        body: Buffer,
        entry: AccessLogEntry,
    ): Promise<Answer> {
        const policy = route.httpRoute.retryPolicy;
        const perRequestMs = route.httpRoute.timeout?.perRequest ? durationMs(route.httpRoute.timeout.perRequest) : DEFAULT_PER_REQUEST_TIMEOUT_MS;
        const deadline = Date.now() + perRequestMs;
        const maxAttempts = 1 + (policy?.maxRetries ?? 0);
        let last: Answer = plainAnswer(503, "no healthy upstream");
        for (let attempt = 1; attempt <= maxAttempts; attempt++) {
            const remaining = deadline - Date.now();
            if (remaining <= 0) {
                return plainAnswer(504, "upstream request timeout");
            }
            const endpoint = this.nextEndpoint(namespace, node);
            entry.attempts = attempt;
            if (!endpoint) {
                return plainAnswer(503, "no healthy upstream");
            }
            entry.pod = endpoint.pod;
            const perTryMs = policy ? durationMs(policy.perRetryTimeout) : Infinity;
            const timeoutMs = Math.min(remaining, perTryMs);
            const { result, answer } = await this.attempt(endpoint, url, req, body, timeoutMs);
            if (result.kind === "timeout" && timeoutMs === remaining) {
                return plainAnswer(504, "upstream request timeout");
            }
            last = answer;
            if (!policy || attempt === maxAttempts || !isRetriable(result, policy.httpRetryEvents ?? [])) {
                return answer;
            }
            await new Promise((resolve) => setTimeout(resolve, RETRY_BACKOFF_MS));
        }
        return last;
    }

    /** kube-proxy's part: a `<service>.<namespace>` host goes to one of the Service's ready pods, no retries, the default timeout. */
    private async routeToService(host: string, url: URL, req: http.IncomingMessage, body: Buffer, entry: AccessLogEntry): Promise<Answer> {
        const [name, namespace, ...rest] = host.split(".");
        const port = Number(url.port || 80);
        const endpoints = rest.length === 0 && namespace ? this.opts.serviceEndpoints?.(namespace, name, port) : undefined;
        if (endpoints === undefined) {
            return plainAnswer(404, `no virtual service ${host} in the mesh (known: ${[...this.services.keys()].join(", ")}), and no Service of that name`);
        }
        const endpoint = this.pick(`service/${namespace}/${name}:${port}`, endpoints);
        entry.attempts = 1;
        if (!endpoint) {
            return plainAnswer(503, `no ready endpoint of Service ${namespace}/${name} port ${port}`);
        }
        entry.pod = endpoint.pod;
        const { result, answer } = await this.attempt(endpoint, url, req, body, DEFAULT_PER_REQUEST_TIMEOUT_MS);
        return result.kind === "timeout" ? plainAnswer(504, "upstream request timeout") : answer;
    }

    private nextEndpoint(namespace: string, node: string): Endpoint | undefined {
        return this.pick(`${namespace}/${node}`, this.opts.endpoints(namespace, node));
    }

    /** Round robin over the endpoints, per key. */
    private pick(key: string, endpoints: Endpoint[]): Endpoint | undefined {
        if (endpoints.length === 0) {
            return undefined;
        }
        const index = (this.nextPod.get(key) ?? 0) % endpoints.length;
        this.nextPod.set(key, index + 1);
        return endpoints[index];
    }

    private attempt(endpoint: Endpoint, url: URL, req: http.IncomingMessage, body: Buffer, timeoutMs: number): Promise<{ result: AttemptResult; answer: Answer }> {
        return callUpstream(this.agent, `${endpoint.url}${url.pathname}${url.search}`, req.method, req.headers, body, timeoutMs);
    }
}
