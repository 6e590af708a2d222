/**
 * Kubernetes adapters for the engine's ports: the apex VirtualRouter's weights, the canary and primary
 * Deployments, and the API server's service proxy for cluster-internal URLs. `@kubernetes/client-node` is
 * ESM and heavy, so it is loaded inside the functions that need it (this module is serialized into the
 * dynamic provider).
 *
 * Field ownership of the apex VirtualRouter: `spec.routes` is an atomic list in the App Mesh CRDs, so
 * whoever applies it owns the whole list. The analysis re-applies only `spec.routes` (the declared resting
 * routes with other weights, via `withWeights`) under its own field manager with `force`, taking the list
 * over during a rollout, and every completed `pulumi up` leaves the resting weights in place again, so the
 * live value equals what Pulumi declares and Pulumi's next apply of an unchanged router is a no-op. When the
 * declared routes change, the Pulumi resource carries `pulumi.com/patchForce: "true"` and takes the list
 * back; that happens before the Analysis runs in the same update (the Analysis depends on the router), so
 * the two never write the list at the same time and neither silently reverts the other. `ignoreChanges` on
 * `spec.routes` is not an option: the routes' match, retries and timeouts must still follow the config.
 */
import * as https from "https";
import type { Endpoint, EndpointResolver } from "./endpoints";
import type { Readiness, RouterPort, RouteWeights, WorkloadPort } from "./ports";
import { deploymentReadiness, describeReadiness, scaleFromZeroReplicas, type DeploymentLike } from "./readiness";
import { readWeights, routerNodes, withWeights, type RouterNodes, type VirtualRouterSpec } from "./routes";

/** The field manager the analysis applies router weights with. */
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

type ClientNode = typeof import("@kubernetes/client-node");
type KubeConfig = import("@kubernetes/client-node").KubeConfig;
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
interface KubeClient<T> {
    k8s: ClientNode;
    api: T;
}

/**
 * Build an adapter's client once and keep it: the compiled `import()` copies the library's whole namespace
 * (thousands of exports) on every call, which made loading it per request most of what the provider host
 * allocated.
 */
async function connect<T extends ApiType>(access: KubeAccess, apiType: (k8s: ClientNode) => ApiConstructor<T>): Promise<KubeClient<T>> {
    const k8s = await import("@kubernetes/client-node");
    const config = await loadKubeConfig(access, k8s);
    // As makeApiClient builds it, plus a deadline per request: client-node has none, and an API server that
    // accepts the connection but never answers would hold the analysis (and its rollback) forever.
    const configuration = k8s.createConfiguration({
        baseServer: new k8s.ServerConfiguration(config.getCurrentCluster()!.server, {}),
        authMethods: { default: config },
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

/** How long one Kubernetes API request may take before it counts as a dropped connection. */
export const REQUEST_TIMEOUT_MS = 10_000;

/** Codes of a refused, reset or timed-out connection. A plain array: a captured `Set` does not survive Pulumi's serialization of the provider. */
const TRANSIENT_NETWORK_CODES = ["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_SOCKET"];

/** The request's own deadline fired (node-fetch rejects with an AbortError). */
function isTimeout(error: unknown): boolean {
    return (error as { name?: unknown })?.name === "AbortError";
}

/** HTTP status of a client-node error, when it carries one. */
function statusOf(error: unknown): number | undefined {
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
                throw Object.assign(new Error(`${what} failed${suffix}: ${describeError(error)}`), { transient });
            }
            await new Promise((resolve) => setTimeout(resolve, delay));
            delay = Math.min(delay * 2, 5000);
        }
    }
}

export interface KubeRouterOptions {
    access: KubeAccess;
    namespace: string;
    /** The apex VirtualRouter, e.g. `podinfo`. */
    name: string;
    /** The router spec Pulumi declares, at resting weights. */
    restingSpec: VirtualRouterSpec;
    /** Virtual nodes of the weighted targets; `<name>-primary` / `<name>-canary` by default. */
    nodes?: RouterNodes;
    fieldManager?: string;
    retry?: RetryOptions;
}

/** The apex VirtualRouter's weights, set by server-side applying the resting routes with other weights. */
export class KubeRouter implements RouterPort {
    private readonly nodes: RouterNodes;
    private client?: Promise<KubeClient<import("@kubernetes/client-node").CustomObjectsApi>>;

    constructor(private readonly options: KubeRouterOptions) {
        this.nodes = options.nodes ?? routerNodes(options.name);
    }

    private api() {
        this.client ??= connect(this.options.access, (k8s) => k8s.CustomObjectsApi);
        return this.client;
    }

    private get ref() {
        return { group: "appmesh.k8s.aws", version: "v1beta2", namespace: this.options.namespace, plural: "virtualrouters", name: this.options.name };
    }

    /** The live VirtualRouter object. */
    async get(): Promise<Record<string, any>> {
        const { api } = await this.api();
        return withRetries(`get VirtualRouter ${this.options.namespace}/${this.options.name}`, () => api.getNamespacedCustomObject(this.ref), this.options.retry);
    }

    async getWeights(): Promise<RouteWeights> {
        const live = await this.get();
        return readWeights(live.spec, this.options.name, this.nodes);
    }

    async setWeights(weights: RouteWeights): Promise<void> {
        const { k8s, api } = await this.api();
        const body = {
            apiVersion: "appmesh.k8s.aws/v1beta2",
            kind: "VirtualRouter",
            metadata: { name: this.options.name, namespace: this.options.namespace },
            spec: { routes: withWeights(this.options.restingSpec, this.nodes, weights).routes },
        };
        await withRetries(
            `apply VirtualRouter ${this.options.namespace}/${this.options.name} weights primary ${weights.primary} canary ${weights.canary}`,
            () =>
                api.patchNamespacedCustomObject(
                    // Strict: an unknown field is an error, not silently pruned by the CRD's structural schema.
                    { ...this.ref, body, fieldManager: this.options.fieldManager ?? ANALYSIS_FIELD_MANAGER, force: true, fieldValidation: "Strict" },
                    k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.ServerSideApply),
                ),
            this.options.retry,
        );
    }
}

export interface KubeWorkloadsOptions {
    access: KubeAccess;
    namespace: string;
    /** The canary (target) Deployment, e.g. `podinfo`. */
    canary: string;
    /** The primary Deployment; `<canary>-primary` by default. */
    primary?: string;
    /** `minReplicas` of the HPA attached to the target, when there is one. */
    autoscalerMinReplicas?: number;
    retry?: RetryOptions;
    now?: () => number;
}

/** The canary and primary Deployments: scale through the scale subresource, readiness per Flagger. */
export class KubeWorkloads implements WorkloadPort {
    private client?: Promise<KubeClient<import("@kubernetes/client-node").AppsV1Api>>;

    constructor(private readonly options: KubeWorkloadsOptions) {}

    private get primary(): string {
        return this.options.primary ?? `${this.options.canary}-primary`;
    }

    private api() {
        this.client ??= connect(this.options.access, (k8s) => k8s.AppsV1Api);
        return this.client;
    }

    /** A Deployment object, or undefined when it does not exist. */
    async deployment(name: string): Promise<DeploymentLike | undefined> {
        const { api } = await this.api();
        return withRetries(
            `get Deployment ${this.options.namespace}/${name}`,
            async () => {
                try {
                    return (await api.readNamespacedDeployment({ name, namespace: this.options.namespace })) as DeploymentLike;
                } catch (error) {
                    if (statusOf(error) === 404) {
                        return undefined;
                    }
                    throw error;
                }
            },
            this.options.retry,
        );
    }

    private async required(name: string): Promise<DeploymentLike> {
        const found = await this.deployment(name);
        if (!found) {
            throw new Error(`Deployment ${this.options.namespace}/${name} not found`);
        }
        return found;
    }

    async scaleCanary(replicas: number): Promise<void> {
        const { k8s, api } = await this.api();
        await withRetries(
            `scale Deployment ${this.options.namespace}/${this.options.canary} to ${replicas}`,
            () =>
                api.patchNamespacedDeploymentScale(
                    { name: this.options.canary, namespace: this.options.namespace, body: { spec: { replicas } } },
                    k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
                ),
            this.options.retry,
        );
    }

    async canaryReplicas(): Promise<number> {
        return (await this.required(this.options.canary)).spec?.replicas ?? 0;
    }

    async canaryReplicasWhenActive(): Promise<number> {
        const canary = await this.required(this.options.canary);
        return scaleFromZeroReplicas(canary, await this.deployment(this.primary), this.options.autoscalerMinReplicas);
    }

    async canaryReadiness(readyThreshold: number, progressDeadlineSeconds: number): Promise<Readiness> {
        return this.readiness("canary", this.options.canary, readyThreshold, progressDeadlineSeconds);
    }

    async primaryReadiness(readyThreshold: number, progressDeadlineSeconds: number): Promise<Readiness> {
        return this.readiness("primary", this.primary, readyThreshold, progressDeadlineSeconds);
    }

    private async readiness(role: "canary" | "primary", name: string, readyThreshold: number, progressDeadlineSeconds: number): Promise<Readiness> {
        const deployment = await this.required(name);
        const now = (this.options.now ?? Date.now)();
        return describeReadiness(deploymentReadiness(deployment, readyThreshold, progressDeadlineSeconds, now), role, name, this.options.namespace);
    }
}

export interface ServiceProxyOptions {
    access: KubeAccess;
    /**
     * Namespaces whose `<service>.<namespace>` hosts are cluster-internal (e.g. `test`, `appmesh-system`).
     * `*.svc` and `*.svc.<clusterDomain>` hosts always are; single-label hosts resolve in `defaultNamespace`.
     */
    namespaces: string[];
    defaultNamespace?: string;
    clusterDomain?: string;
}

/** Service, namespace and port of a cluster-internal URL, or undefined for a URL to call directly. */
export function clusterService(url: URL, namespaces: string[], defaultNamespace?: string, clusterDomain = "cluster.local"): { name: string; namespace: string } | undefined {
    const host = url.hostname.replace(/\.$/, "");
    if (host === "localhost" || /^[\d.]+$/.test(host) || host.includes(":") || host.startsWith("[")) {
        return undefined;
    }
    const labels = host.split(".");
    if (labels.length === 1) {
        return defaultNamespace ? { name: labels[0], namespace: defaultNamespace } : undefined;
    }
    const suffixes = ["svc", `svc.${clusterDomain}`];
    for (const suffix of suffixes) {
        if (host.endsWith(`.${suffix}`) && labels.length === 2 + suffix.split(".").length) {
            return { name: labels[0], namespace: labels[1] };
        }
    }
    if (labels.length === 2 && namespaces.includes(labels[1])) {
        return { name: labels[0], namespace: labels[1] };
    }
    return undefined;
}

/**
 * Reaches cluster-internal URLs (`http://appmesh-prometheus.appmesh-system:9090`, `http://flagger-loadtester.test/`)
 * through the API server's service proxy with the kubeconfig's credentials; other URLs are called directly.
 */
export function serviceProxyResolver(options: ServiceProxyOptions): EndpointResolver {
    let config: Promise<KubeConfig> | undefined;
    // One agent while the TLS material stays the same, so each query and hook call does not start a new TLS context.
    let agent: { material: string; agent: https.Agent } | undefined;
    return async (address: string): Promise<Endpoint> => {
        const url = new URL(address);
        const service = clusterService(url, options.namespaces, options.defaultNamespace, options.clusterDomain);
        if (!service) {
            return { url: address };
        }
        config ??= loadKubeConfig(options.access);
        const kc = await config;
        const server = kc.getCurrentCluster()!.server.replace(/\/$/, "");
        const scheme = url.protocol.replace(":", "");
        const port = url.port || (scheme === "https" ? "443" : "80");
        const proxied = `${server}/api/v1/namespaces/${service.namespace}/services/${scheme}:${service.name}:${port}/proxy${url.pathname}${url.search}`;
        const request: https.RequestOptions = {};
        await kc.applyToHTTPSOptions(request);
        const headers: Record<string, string> = {};
        for (const [key, value] of Object.entries(request.headers ?? {})) {
            if (typeof value === "string" || typeof value === "number") {
                headers[key] = String(value);
            }
        }
        if (request.auth) {
            headers.Authorization = `Basic ${Buffer.from(request.auth).toString("base64")}`;
        }
        if (!server.startsWith("https:")) {
            return { url: proxied, headers };
        }
        const material = JSON.stringify([request.ca, request.cert, request.key].map((part) => (part === undefined ? null : String(part))).concat(String(request.rejectUnauthorized)));
        if (agent?.material !== material) {
            agent = { material, agent: new https.Agent({ ca: request.ca, cert: request.cert, key: request.key, rejectUnauthorized: request.rejectUnauthorized }) };
        }
        return { url: proxied, headers, httpsAgent: agent.agent };
    };
}
