/**
 * The Kubernetes API client the adapters share: the kubeconfig (a Pulumi secret, else `KUBECONFIG`), one API
 * client per adapter with a deadline per request, and retries that say whether an error is transient.
 * `@kubernetes/client-node` is ESM and heavy, so it is loaded inside the functions that need it (this module
 * is serialized into the dynamic provider).
 */

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

/**
 * Build an adapter's client once and keep it: the compiled `import()` copies the library's whole namespace
 * (thousands of exports) on every call, which made loading it per request most of what the provider host
 * allocated.
 */
export async function connect<T extends ApiType>(access: KubeAccess, apiType: (k8s: ClientNode) => ApiConstructor<T>): Promise<KubeClient<T>> {
    const k8s = await import("@kubernetes/client-node");
    const config = await loadKubeConfig(access, k8s);
    // As makeApiClient builds it, plus a deadline per request: client-node has none, and an API server that
    // accepts the connection but never answers would hold the analysis (and its rollback) forever.
    const configuration = k8s.createConfiguration({
        baseServer: new k8s.ServerConfiguration(config.getCurrentCluster()!.server, {}),
        authMethods: { default: reusingConnections(config, [(await import("http")).Agent, (await import("https")).Agent]) },
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
    return { k8s, api: new (apiType(k8s))(configuration) };
}

type SecurityAuthentication = import("@kubernetes/client-node").SecurityAuthentication;
type RequestContext = import("@kubernetes/client-node").RequestContext;
type Agent = import("http").Agent;

type AgentClass = new (options: Record<string, unknown>) => Agent;

/** The TLS settings that make one agent's connections unusable for another. */
const TLS_MATERIAL = ["ca", "cert", "key", "pfx", "rejectUnauthorized", "servername"];

/**
 * One keep-alive agent, rebuilt only when the TLS material changes (a rotated client certificate from an exec
 * plugin). Opening a TLS connection with a fresh secure context per request was most of the provider's CPU
 * per analysis tick.
 */
export function keepAliveAgents(): (Class: AgentClass, options: Record<string, unknown>) => Agent {
    let pooled: { material: string; agent: Agent } | undefined;
    return (Class, options) => {
        const material = JSON.stringify(TLS_MATERIAL.map((k) => (options[k] === undefined ? null : String(options[k]))));
        if (pooled?.material !== material) {
            pooled?.agent.destroy();
            pooled = { material, agent: new Class({ ...options, keepAlive: true }) };
        }
        return pooled.agent;
    };
}

/**
 * The kubeconfig's authentication with one keep-alive agent per adapter: client-node builds a new agent for
 * every request. Headers (tokens) are still applied per request.
 */
function reusingConnections(config: KubeConfig, plainAgents: AgentClass[]): SecurityAuthentication {
    const agentFor = keepAliveAgents();
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
