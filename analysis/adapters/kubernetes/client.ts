/**
 * The Kubernetes API client the adapters share: the kubeconfig (a Pulumi secret, else `KUBECONFIG`), API
 * clients with a deadline per request shared by every adapter of the process that reaches the same cluster,
 * and retries that say whether an error is transient. `@kubernetes/client-node` is ESM and heavy, so it is
 * loaded inside the functions that need it (this module is serialized into the dynamic provider).
 */
import * as tls from "tls";

/**
 * The field manager the analysis applies router weights (and, in other routers, route rules) with, and
 * annotates the canary Deployment with.
 */
export const ANALYSIS_FIELD_MANAGER = "appmesh-canary-analysis";

/** How to reach the cluster: a kubeconfig document (YAML or JSON; a Pulumi secret), else `KUBECONFIG`. */
export interface KubeAccess {
    kubeconfig?: string;
    /** Context to use instead of the kubeconfig's current one. */
    context?: string;
}

export interface RetryOptions {
    /** Attempts in all, first one included. */
    attempts?: number;
    /** Delay before the first retry; doubled each time, capped at 5 s. */
    initialDelayMs?: number;
}

export type ClientNode = typeof import("@kubernetes/client-node");
export type KubeConfig = import("@kubernetes/client-node").KubeConfig;
type ApiType = import("@kubernetes/client-node").ApiType;
type ApiConstructor<T extends ApiType> = import("@kubernetes/client-node").ApiConstructor<T>;
type SecurityAuthentication = import("@kubernetes/client-node").SecurityAuthentication;
type RequestContext = import("@kubernetes/client-node").RequestContext;
type Agent = import("http").Agent;
type AgentClass = new (options: Record<string, unknown>) => Agent;
type AgentFor = (Class: AgentClass, options: Record<string, unknown>) => Agent;

/** A KubeConfig from the access settings; exec credentials (EKS `aws eks get-token`) work as with kubectl. */
export async function loadKubeConfig(access: KubeAccess, library?: ClientNode): Promise<KubeConfig> {
    const k8s = library ?? (await import("@kubernetes/client-node"));
    const config = new k8s.KubeConfig();
    try {
        if (access.kubeconfig && access.kubeconfig.trim() !== "") {
            config.loadFromString(access.kubeconfig);
        } else {
            config.loadFromDefault();
        }
    } catch (error) {
        throw new Error(`the kubeconfig could not be read: ${kubeconfigParseError(error)}`);
    }
    if (access.context) {
        config.setCurrentContext(access.context);
    }
    if (!config.getCurrentCluster()) {
        throw new Error("the kubeconfig has no current cluster: set the Analysis kubeconfig input or KUBECONFIG");
    }
    return config;
}

/**
 * A kubeconfig parse error without the document: the YAML parser's message quotes the lines around the
 * error, which hold tokens and keys. Only the reason and the position are kept.
 */
function kubeconfigParseError(error: unknown): string {
    const { reason, mark } = error as { reason?: unknown; mark?: { line?: number; column?: number } };
    if (typeof reason === "string" && typeof mark?.line === "number" && typeof mark.column === "number") {
        return `not valid YAML or JSON: ${reason} at line ${mark.line + 1}, column ${mark.column + 1}`;
    }
    // Other errors come from client-node's own checks, which name fields, never values.
    const message = (error as Error)?.message ?? String(error);
    return message.split("\n")[0];
}

/** The library and one API client over the access settings' KubeConfig. */
export interface KubeClient<T> {
    k8s: ClientNode;
    api: T;
}

/** What every adapter of the process that reaches one cluster with the same kubeconfig shares. */
export interface SharedCluster {
    config: Promise<KubeConfig>;
    /** One keep-alive agent for the API clients, one for the service proxy: their TLS options are built apart. */
    agents: { api: AgentFor; proxy: AgentFor };
    /** One API client per API class. */
    apis: Map<unknown, Promise<unknown>>;
}

interface SharedClients {
    library?: Promise<ClientNode>;
    /** By kubeconfig text (`KUBECONFIG` and its path for none), then by context. */
    clusters: Map<string, Map<string, SharedCluster>>;
}

const SHARED_CLIENTS_KEY = "appmesh-canary-analysis/kubernetes-clients";

/**
 * The process's clients, kept on `globalThis`: Pulumi serializes this module into each provider by value, so
 * module-level state would be one copy per serialized provider. A provider host runs every Analysis and
 * Finalize of a `pulumi up` at once; with clients of their own, each run held its own KubeConfig, TLS
 * connections and copy of the library's namespace.
 */
function sharedClients(): SharedClients {
    const global = globalThis as Record<symbol, SharedClients | undefined>;
    return (global[Symbol.for(SHARED_CLIENTS_KEY)] ??= { clusters: new Map() });
}

/** The library, loaded once per process: the compiled `import()` copies its whole namespace (842 exports) on every call. */
export function clientLibrary(): Promise<ClientNode> {
    const shared = sharedClients();
    shared.library ??= import("@kubernetes/client-node");
    return shared.library;
}

/**
 * The shared clients of the cluster `access` reaches, keyed by the kubeconfig text and context (with none,
 * by `KUBECONFIG`). A kubeconfig that fails to load is not kept, so a fixed file is read again.
 */
export function sharedCluster(access: KubeAccess): SharedCluster {
    const { clusters } = sharedClients();
    // The kubeconfig text itself is the key (no copy of it is made per call): adapters call this per request.
    const source = access.kubeconfig && access.kubeconfig.trim() !== "" ? access.kubeconfig : `KUBECONFIG=${process.env.KUBECONFIG ?? ""}`;
    const contexts = clusters.get(source) ?? new Map<string, SharedCluster>();
    clusters.set(source, contexts);
    const context = access.context ?? "";
    let cluster = contexts.get(context);
    if (!cluster) {
        const config = clientLibrary().then((k8s) => loadKubeConfig(access, k8s));
        config.catch(() => contexts.delete(context));
        cluster = { config, agents: { api: keepAliveAgents(), proxy: keepAliveAgents() }, apis: new Map() };
        contexts.set(context, cluster);
    }
    return cluster;
}

/**
 * The cluster's API client of one type, built once per process and shared by the adapters: requests go
 * through one keep-alive agent, which opens as many connections as there are requests in flight and keeps
 * them for the next ones.
 */
export async function connect<T extends ApiType>(access: KubeAccess, apiType: (k8s: ClientNode) => ApiConstructor<T>): Promise<KubeClient<T>> {
    const k8s = await clientLibrary();
    const cluster = sharedCluster(access);
    const Api = apiType(k8s);
    let api = cluster.apis.get(Api) as Promise<T> | undefined;
    if (!api) {
        api = buildApi(k8s, cluster, Api);
        api.catch(() => cluster.apis.delete(Api));
        cluster.apis.set(Api, api);
    }
    return { k8s, api: await api };
}

async function buildApi<T extends ApiType>(k8s: ClientNode, cluster: SharedCluster, Api: ApiConstructor<T>): Promise<T> {
    const config = await cluster.config;
    // As makeApiClient builds it, plus a deadline per request: client-node has none, and an API server that
    // accepts the connection but never answers would hold the analysis (and its rollback) forever.
    const configuration = k8s.createConfiguration({
        baseServer: new k8s.ServerConfiguration(config.getCurrentCluster()!.server, {}),
        authMethods: { default: reusingConnections(config, cluster.agents.api, [(await import("http")).Agent, (await import("https")).Agent]) },
        promiseMiddleware: [
            {
                pre: async (context) => {
                    context.setSignal(AbortSignal.timeout(REQUEST_TIMEOUT_MS));
                    return context;
                },
                post: async (response) => response,
            },
        ],
    });
    return new Api(configuration);
}

/** The TLS settings that make one agent's connections unusable for another. */
const TLS_MATERIAL = ["ca", "cert", "key", "pfx", "passphrase", "rejectUnauthorized", "servername"];

/** Equal TLS settings; certificates and keys are compared as bytes, not turned into text on every request. */
function sameSetting(a: unknown, b: unknown): boolean {
    if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) {
        return a.equals(b);
    }
    if (Array.isArray(a) && Array.isArray(b)) {
        return a.length === b.length && a.every((item, i) => sameSetting(item, b[i]));
    }
    return a === b;
}

/**
 * One keep-alive agent, rebuilt only when the TLS material changes (a rotated client certificate from an exec
 * plugin). Opening a TLS connection with a fresh secure context per request was most of the provider's CPU
 * per analysis tick.
 */
function keepAliveAgents(): AgentFor {
    let pooled: { options: Record<string, unknown>; agent: Agent } | undefined;
    return (Class, options) => {
        if (!pooled || !TLS_MATERIAL.every((k) => sameSetting(pooled!.options[k], options[k]))) {
            pooled?.agent.destroy();
            pooled = { options, agent: keepAliveAgent(Class, options) };
        }
        return pooled.agent;
    };
}

/**
 * A keep-alive agent whose connections share one secure context. With the certificates and keys in its
 * options instead, https.Agent turns them into text for every request (its connection pool's key), and every
 * new connection parses them again.
 */
function keepAliveAgent(Class: AgentClass, options: Record<string, unknown>): Agent {
    const { ca, cert, key, pfx, passphrase, ...connection } = options;
    if ([ca, cert, key, pfx].every((setting) => setting === undefined)) {
        return new Class({ ...options, keepAlive: true });
    }
    const secureContext = tls.createSecureContext({ ca, cert, key, pfx, passphrase } as tls.SecureContextOptions);
    return new Class({ ...connection, secureContext, keepAlive: true });
}

/**
 * The kubeconfig's authentication with the cluster's keep-alive agent: client-node builds a new agent for
 * every request. Headers (tokens) are still applied per request.
 */
function reusingConnections(config: KubeConfig, agentFor: AgentFor, plainAgents: AgentClass[]): SecurityAuthentication {
    return {
        getName: () => config.getName(),
        async applySecurityAuthentication(context: RequestContext) {
            await config.applySecurityAuthentication(context);
            const fresh = context.getAgent() as (Agent & { options?: Record<string, unknown> }) | undefined;
            // Only plain HTTP(S) agents: proxy agents (a kubeconfig's proxy-url) stay client-node's own.
            const Class = plainAgents.find((plain) => fresh?.constructor === plain);
            if (fresh && Class) {
                context.setAgent(agentFor(Class, fresh.options ?? {}));
            }
        },
    };
}

/** How long one Kubernetes API request may take before it counts as a dropped connection. */
export const REQUEST_TIMEOUT_MS = 10_000;

/** Codes of a refused, reset or timed-out connection. A plain array: a captured `Set` does not survive Pulumi's serialization of the provider. */
const TRANSIENT_NETWORK_CODES = ["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_SOCKET"];

/** The request's own deadline fired (node-fetch rejects with an AbortError). */
function isTimeout(error: unknown): boolean {
    return (error as { name?: unknown })?.name === "AbortError";
}

/** HTTP status of a client-node error, when it carries one. */
/** `call`'s answer, or undefined when the object is not there (404): a read of something absent, a delete of something gone. */
export async function unlessNotFound<T>(call: () => Promise<T>): Promise<T | undefined> {
    try {
        return await call();
    } catch (error) {
        if (statusOf(error) === 404) {
            return undefined;
        }
        throw error;
    }
}

export function statusOf(error: unknown): number | undefined {
    const code = (error as { code?: unknown })?.code;
    return typeof code === "number" ? code : undefined;
}

/** Conflicts, throttling, server errors and dropped connections are worth another try; the rest are not. */
export function isTransient(error: unknown): boolean {
    const status = statusOf(error);
    if (status !== undefined) {
        return status === 409 || status === 429 || status >= 500;
    }
    for (let e: any = error; e; e = e.cause) {
        if (isTimeout(e) || TRANSIENT_NETWORK_CODES.includes(e.code) || /socket hang up|ECONNRESET|terminated|other side closed/i.test(String(e.message ?? ""))) {
            return true;
        }
    }
    return false;
}

/** The API server's own message (from its Status body) for an error, or the error's message. */
function describeError(error: unknown): string {
    const status = statusOf(error);
    if (status !== undefined) {
        const body = (error as { body?: unknown }).body;
        let parsed: any = body;
        if (typeof body === "string") {
            try {
                parsed = JSON.parse(body);
            } catch {
                parsed = undefined;
            }
        }
        if (parsed?.message) {
            return `${status} ${parsed.reason ?? ""}: ${parsed.message}`.replace(" :", ":");
        }
        return status === 401 ? "401 Unauthorized: the API server rejected the kubeconfig's credentials" : `HTTP ${status}`;
    }
    if (isTimeout(error)) {
        return `the Kubernetes API server did not answer within ${REQUEST_TIMEOUT_MS / 1000}s`;
    }
    const message = (error as Error)?.message ?? String(error);
    return isTransient(error) ? `the Kubernetes API server could not be reached: ${message}` : message;
}

/**
 * Run a Kubernetes call, retrying transient failures with exponential backoff (6 attempts over about 6 s by
 * default); permanent ones surface at once. The error thrown says which it was (`transient`), so the
 * engine's rollback knows whether trying again for longer can help.
 */
export async function withRetries<T>(what: string, call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
    const attempts = options.attempts ?? 6;
    let delay = options.initialDelayMs ?? 200;
    for (let attempt = 1; ; attempt++) {
        try {
            return await call();
        } catch (error) {
            const transient = isTransient(error);
            if (!transient || attempt >= attempts) {
                const suffix = transient ? ` (after ${attempt} attempts)` : "";
                const status = statusOf(error);
                throw Object.assign(new Error(`${what} failed${suffix}: ${describeError(error)}`), { transient, denied: status === 401 || status === 403 });
            }
            await new Promise((resolve) => setTimeout(resolve, delay));
            delay = Math.min(delay * 2, 5000);
        }
    }
}
