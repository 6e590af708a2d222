/**
 * The stack config this program reads (`appmesh-canary:<key>` in `Pulumi.<stack>.yaml`), validated as one
 * object before any resource is created: every bad field is reported together, with its path and the
 * allowed values. Pure: the caller hands in the raw values (from `pulumi.Config` or a stack file).
 */
import { ALERT_PROVIDER_TYPES, AlertProviderSpec, CanarySpec, DEFAULT_METRICS_SERVER, MetricTemplateSpec } from "../analysis/spec/canary";
import { WiredRefs, parseCanarySpec, validateCanarySpec } from "../analysis/spec/validation";
import { FailureCollector, ValidationFailure, formatFailures } from "../analysis/spec/failures";
import { REVISION_PATTERN } from "../analysis/provider/revision";

export const PROJECT = "appmesh-canary";

export interface MeshConfig {
    /** Mesh name (`global` in the tutorial). */
    name: string;
    /** VirtualNodes of the canary write Envoy access logs to /dev/stdout (Flagger's accesslog annotation). */
    accessLog: boolean;
}

export interface GatewayConfig {
    /** Create the App Mesh ingress gateway (VirtualGateway, Envoy, NLB Service, GatewayRoute). */
    enabled: boolean;
    /** Envoy image the gateway runs. */
    image: string;
    replicas: number;
    /** Port the VirtualGateway listens on (the NLB forwards port 80 to it). */
    port: number;
}

export interface LoadTesterConfig {
    /** Create flagger-loadtester (Deployment, Service, VirtualNode). */
    enabled: boolean;
    image: string;
    replicas: number;
}

export interface StackConfig {
    namespace: string;
    mesh: MeshConfig;
    /** Image of the app's container; changing it starts a rollout. */
    image: string;
    /** Prometheus the analysis queries; `canary.metricsServer` is set to it. */
    metricsServer: string;
    gateway: GatewayConfig;
    loadtester: LoadTesterConfig;
    /** Flagger's Canary `spec`, validated. */
    canary: CanarySpec;
    /** MetricTemplates by name, for `templateRef` metrics (may hold credentials: pass them on as secrets). */
    metricTemplates: Record<string, MetricTemplateSpec>;
    /** AlertProviders by name, for `analysis.alerts` (webhook addresses are credentials: pass them on as secrets). */
    alertProviders: Record<string, AlertProviderSpec>;
    /** A revision whose analysis failed, to analyse again on purpose (a failed revision is otherwise held). */
    retryRevision?: string;
}

export const STACK_CONFIG_KEYS = [
    "namespace", "mesh", "image", "metricsServer", "gateway", "loadtester", "canary", "metricTemplates", "alertProviders", "retryRevision",
] as const;

/** First line of the error listing every bad config field. */
export const CONFIG_ERROR_TITLE = `invalid stack config (keys ${PROJECT}:<path>)`;

/** Every `appmesh-canary:<key>` the program reads: the keys above, and `cluster` (validated by components/cluster.ts). */
export const PROGRAM_CONFIG_KEYS: readonly string[] = [...STACK_CONFIG_KEYS, "cluster"];

/** This project's keys (`<key>` of `appmesh-canary:<key>`) among all of a stack's config keys. */
export function projectConfigKeys(allKeys: Iterable<string>): string[] {
    const prefix = `${PROJECT}:`;
    return [...allKeys].filter((key) => key.startsWith(prefix)).map((key) => key.slice(prefix.length));
}

/** Defaults are the tutorial's values. */
export const GATEWAY_DEFAULTS: GatewayConfig = {
    enabled: true,
    image: "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.0-prod",
    replicas: 1,
    port: 8088,
};

export const LOADTESTER_DEFAULTS: LoadTesterConfig = {
    enabled: true,
    image: "ghcr.io/fluxcd/flagger-loadtester:0.34.0",
    replicas: 1,
};

/** An image reference: no whitespace, optional registry/path, tag and/or digest. */
const IMAGE = /^[a-z0-9]+([._\/:@-][a-zA-Z0-9_.-]+)*(@sha256:[a-f0-9]{64})?$/;

/**
 * Raw config values by key from a lookup of their text (Pulumi keeps objects as JSON text). Text that is not
 * JSON stays a string, so `namespace: test` and `canary: {...}` both read naturally. `present` are the keys the
 * stack sets (`projectConfigKeys`): read too, so that a misspelt key is reported instead of silently ignored.
 */
export function rawStackConfig(lookup: (key: string) => string | undefined, present: readonly string[] = []): Record<string, unknown> {
    const raw: Record<string, unknown> = {};
    for (const key of new Set([...STACK_CONFIG_KEYS, ...present])) {
        const text = lookup(key);
        if (text !== undefined) {
            raw[key] = parseConfigText(text);
        }
    }
    return raw;
}

function parseConfigText(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

/** Every problem with the stack config; paths are config keys (`canary.analysis.maxWeight`, `gateway.port`). */
export function validateStackConfig(raw: Record<string, unknown>, refs: WiredRefs): ValidationFailure[] {
    const c = new FailureCollector();
    for (const key of Object.keys(raw).filter((k) => !PROGRAM_CONFIG_KEYS.includes(k))) {
        c.fail(key, `is not a config key of this program (${PROJECT}:${key}); allowed: ${PROGRAM_CONFIG_KEYS.join(", ")}`);
    }
    if (raw.namespace === undefined) {
        c.fail("namespace", "is required: the namespace the app, the mesh objects and the tools live in");
    } else {
        c.dnsLabel("namespace", raw.namespace);
    }
    checkMesh(c, raw.mesh);
    if (raw.image === undefined) {
        c.fail("image", "is required: the app's container image, e.g. ghcr.io/stefanprodan/podinfo:6.0.0");
    } else {
        checkImage(c, "image", raw.image);
    }
    if (raw.metricsServer !== undefined && c.url("metricsServer", raw.metricsServer)) {
        const inCanary = (raw.canary as { metricsServer?: unknown } | undefined)?.metricsServer;
        if (inCanary !== undefined && inCanary !== raw.metricsServer) {
            c.fail("canary.metricsServer", `disagrees with metricsServer (${raw.metricsServer}); set the Prometheus address in one place`);
        }
    }
    if (raw.gateway !== undefined && c.object("gateway", raw.gateway)) {
        c.keys("gateway", raw.gateway, Object.keys(GATEWAY_DEFAULTS));
        optional(raw.gateway.enabled, (v) => c.boolean("gateway.enabled", v));
        optional(raw.gateway.image, (v) => checkImage(c, "gateway.image", v));
        optional(raw.gateway.replicas, (v) => c.integer("gateway.replicas", v, 1));
        optional(raw.gateway.port, (v) => c.integer("gateway.port", v, 1, 65535));
    }
    if (raw.loadtester !== undefined && c.object("loadtester", raw.loadtester)) {
        c.keys("loadtester", raw.loadtester, Object.keys(LOADTESTER_DEFAULTS));
        optional(raw.loadtester.enabled, (v) => c.boolean("loadtester.enabled", v));
        optional(raw.loadtester.image, (v) => checkImage(c, "loadtester.image", v));
        optional(raw.loadtester.replicas, (v) => c.integer("loadtester.replicas", v, 1));
    }
    optional(raw.retryRevision, (v) => {
        if (!(typeof v === "string" && REVISION_PATTERN.test(v))) {
            c.fail("retryRevision", `must be a revision as a failed rollout names it (16 hex digits, e.g. 40a857abea41bb8f), got ${JSON.stringify(v)}`);
        }
    });
    const templates = checkNamedMap(c, "metricTemplates", raw.metricTemplates, checkMetricTemplate);
    const providers = checkNamedMap(c, "alertProviders", raw.alertProviders, checkAlertProvider);
    if (raw.canary === undefined) {
        c.fail("canary", "is required: Flagger's Canary spec (service, analysis, ...)");
    } else {
        c.failures.push(...validateCanarySpec(raw.canary, "canary", refs));
        checkReferences(c, raw.canary, templates, providers);
    }
    return c.failures;
}

/** A map of named objects; returns the names (empty when the map is absent or not an object). */
function checkNamedMap(c: FailureCollector, path: string, value: unknown, check: (c: FailureCollector, path: string, item: unknown) => void): string[] {
    if (value === undefined || !c.object(path, value)) {
        return [];
    }
    for (const [name, item] of Object.entries(value)) {
        if (c.dnsLabel(`${path}.${name}`, name)) {
            check(c, `${path}.${name}`, item);
        }
    }
    return Object.keys(value);
}

function checkMetricTemplate(c: FailureCollector, path: string, template: unknown): void {
    if (!c.object(path, template)) {
        return;
    }
    c.keys(path, template, ["provider", "query"]);
    c.string(`${path}.query`, template.query);
    const provider = template.provider;
    if (!c.object(`${path}.provider`, provider)) {
        return;
    }
    const at = `${path}.provider`;
    c.keys(at, provider, ["type", "address", "token", "username", "password", "headers"]);
    optional(provider.type, (v) => c.oneOf(`${at}.type`, v, ["prometheus"]));
    c.url(`${at}.address`, provider.address);
    for (const key of ["token", "username", "password"] as const) {
        optional(provider[key], (v) => c.string(`${at}.${key}`, v));
    }
    if ((provider.username === undefined) !== (provider.password === undefined)) {
        c.fail(at, "basic auth needs both username and password");
    }
    if (provider.token !== undefined && provider.username !== undefined) {
        c.fail(at, "set either token (Bearer) or username/password (basic auth), not both");
    }
    optional(provider.headers, (v) => c.stringMap(`${at}.headers`, v));
}

function checkAlertProvider(c: FailureCollector, path: string, provider: unknown): void {
    if (!c.object(path, provider)) {
        return;
    }
    c.keys(path, provider, ["type", "address", "channel", "username", "proxy", "token"]);
    c.oneOf(`${path}.type`, provider.type, ALERT_PROVIDER_TYPES);
    c.url(`${path}.address`, provider.address);
    for (const key of ["channel", "username", "token"] as const) {
        optional(provider[key], (v) => c.string(`${path}.${key}`, v));
    }
    optional(provider.proxy, (v) => c.url(`${path}.proxy`, v));
}

/** `templateRef` and `providerRef` names must be defined in this stack's config. */
function checkReferences(c: FailureCollector, canary: unknown, templates: string[], providers: string[]): void {
    const analysis = (canary as { analysis?: { metrics?: unknown; alerts?: unknown } } | undefined)?.analysis;
    const each = (list: unknown, visit: (item: Record<string, any>, i: number) => void) =>
        Array.isArray(list) && list.forEach((item, i) => typeof item === "object" && item !== null && visit(item, i));
    each(analysis?.metrics, (metric, i) => {
        const name = metric.templateRef?.name;
        if (typeof name === "string" && !templates.includes(name)) {
            c.fail(`canary.analysis.metrics[${i}].templateRef.name`,
                `names no template in metricTemplates (defined: ${templates.join(", ") || "none"}), got ${JSON.stringify(name)}`);
        }
    });
    each(analysis?.alerts, (alert, i) => {
        const name = alert.providerRef?.name;
        if (typeof name === "string" && !providers.includes(name)) {
            c.fail(`canary.analysis.alerts[${i}].providerRef.name`,
                `names no provider in alertProviders (defined: ${providers.join(", ") || "none"}), got ${JSON.stringify(name)}`);
        }
    });
}

/** The validated stack config with defaults applied; throws one error listing every problem. */
export function parseStackConfig(raw: Record<string, unknown>, refs: WiredRefs): StackConfig {
    const failures = validateStackConfig(raw, refs);
    if (failures.length > 0) {
        throw new Error(formatFailures(CONFIG_ERROR_TITLE, failures));
    }
    const mesh = typeof raw.mesh === "string" ? { name: raw.mesh } : (raw.mesh as Partial<MeshConfig>);
    const canary = parseCanarySpec(raw.canary, refs);
    const metricsServer = (raw.metricsServer as string | undefined) ?? canary.metricsServer ?? DEFAULT_METRICS_SERVER;
    return {
        namespace: raw.namespace as string,
        mesh: { name: mesh.name!, accessLog: mesh.accessLog ?? false },
        image: raw.image as string,
        metricsServer,
        gateway: { ...GATEWAY_DEFAULTS, ...(raw.gateway as Partial<GatewayConfig> | undefined) },
        loadtester: { ...LOADTESTER_DEFAULTS, ...(raw.loadtester as Partial<LoadTesterConfig> | undefined) },
        canary: { ...canary, metricsServer },
        metricTemplates: (raw.metricTemplates as Record<string, MetricTemplateSpec> | undefined) ?? {},
        alertProviders: (raw.alertProviders as Record<string, AlertProviderSpec> | undefined) ?? {},
        ...(raw.retryRevision === undefined ? {} : { retryRevision: raw.retryRevision as string }),
    };
}

function optional(value: unknown, check: (value: unknown) => void): void {
    if (value !== undefined) {
        check(value);
    }
}

function checkMesh(c: FailureCollector, mesh: unknown): void {
    if (mesh === undefined) {
        c.fail("mesh", "is required: the App Mesh name (e.g. global), or {name, accessLog}");
    } else if (typeof mesh === "string") {
        c.dnsLabel("mesh", mesh);
    } else if (c.object("mesh", mesh)) {
        c.keys("mesh", mesh, ["name", "accessLog"]);
        c.dnsLabel("mesh.name", mesh.name);
        optional(mesh.accessLog, (v) => c.boolean("mesh.accessLog", v));
    }
}

function checkImage(c: FailureCollector, path: string, image: unknown): void {
    if (!(typeof image === "string" && IMAGE.test(image))) {
        c.fail(path, `must be a container image reference such as registry/name:tag, got ${JSON.stringify(image)}`);
    }
}
