/**
 * The stack config this program reads (`appmesh-canary:<key>` in `Pulumi.<stack>.yaml`), validated as one
 * object before any resource is created: every bad field is reported together, with its path and the
 * allowed values. Pure: the caller hands in the raw values (from `pulumi.Config` or a stack file).
 */
import { ALERT_PROVIDER_TYPES, AlertProviderSpec, MetricTemplateSpec } from "../analysis/spec/canary";
import { FailureCollector, ValidationFailure, formatFailures, isObject, optional } from "../analysis/spec/failures";
import { checkMetricTemplate } from "../analysis/spec/metric-templates";
import { SHORTHAND_KEYS, canarySpecPath, parseApp, parseShorthand, validateApp, validateShorthand, type AppConfig, type AppContext } from "./apps";
import { checkImage } from "./image";
import { appObjectNames, checkUniqueObjectNames, sharedObjectNames, type ClaimedName } from "./object-names";

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
    /** The app the gateway sends requests to (required with several apps). */
    app?: string;
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

export interface GrafanaConfig {
    /** Provision the canary dashboard as a ConfigMap for Grafana's dashboard sidecar. */
    enabled: boolean;
    /** Namespace the sidecar watches (default: the stack's namespace). */
    namespace?: string;
    /** Grafana folder of the dashboard (the `grafana_folder` annotation). */
    folder?: string;
}

export interface StackConfig {
    namespace: string;
    mesh: MeshConfig;
    gateway: GatewayConfig;
    loadtester: LoadTesterConfig;
    grafana: GrafanaConfig;
    /** The apps, each with its workload and canary spec, in config order (`apps`, or the one-app shorthand). */
    apps: AppConfig[];
    /** MetricTemplates by name, for `templateRef` metrics (may hold credentials: pass them on as secrets). */
    metricTemplates: Record<string, MetricTemplateSpec>;
    /** AlertProviders by name, for `analysis.alerts` (webhook addresses are credentials: pass them on as secrets). */
    alertProviders: Record<string, AlertProviderSpec>;
    /** Where each analysis writes its rollout report, relative to the program's directory (the Canary's default when absent). */
    reportDirectory?: string;
}

export const STACK_CONFIG_KEYS = [
    "namespace", "mesh", "apps", "image", "metricsServer", "gateway", "loadtester", "grafana", "canary", "metricTemplates", "alertProviders", "retryRevision", "reportDirectory",
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

export const GRAFANA_DEFAULTS: GrafanaConfig = { enabled: false };
const GRAFANA_KEYS: readonly (keyof GrafanaConfig)[] = ["enabled", "namespace", "folder"];

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

/** Every problem with the stack config; paths are config keys (`apps.checkout.canary.service.port`, `gateway.port`). */
export function validateStackConfig(raw: Record<string, unknown>): ValidationFailure[] {
    const c = new FailureCollector();
    for (const key of Object.keys(raw).filter((k) => !PROGRAM_CONFIG_KEYS.includes(k))) {
        c.fail(key, `is not a config key of this program (${PROJECT}:${key}); allowed: ${PROGRAM_CONFIG_KEYS.join(", ")}`);
    }
    if (raw.namespace === undefined) {
        c.fail("namespace", "is required: the namespace the apps, the mesh objects and the tools live in");
    } else {
        c.dnsLabel("namespace", raw.namespace);
    }
    checkMesh(c, raw.mesh);
    optional(raw.metricsServer, (v) => c.url("metricsServer", v));
    const gatewayEnabled = raw.gateway === undefined || (isObject(raw.gateway) && raw.gateway.enabled !== false);
    if (raw.gateway !== undefined && c.object("gateway", raw.gateway)) {
        c.keys("gateway", raw.gateway, [...Object.keys(GATEWAY_DEFAULTS), "app"]);
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
    if (raw.grafana !== undefined && c.object("grafana", raw.grafana)) {
        c.keys("grafana", raw.grafana, GRAFANA_KEYS);
        // Required: the default is off, so `grafana: {namespace: monitoring}` alone would silently provision nothing.
        if (raw.grafana.enabled === undefined) {
            c.fail("grafana.enabled", "is required when grafana is set: true provisions the dashboard ConfigMap, false does not");
        } else {
            c.boolean("grafana.enabled", raw.grafana.enabled);
        }
        optional(raw.grafana.namespace, (v) => c.dnsLabel("grafana.namespace", v));
        optional(raw.grafana.folder, (v) => c.string("grafana.folder", v));
    }
    optional(raw.reportDirectory, (v) => c.string("reportDirectory", v));
    const context: AppContext = {
        namespace: raw.namespace,
        metricsServer: raw.metricsServer,
        templates: c.namedMap("metricTemplates", raw.metricTemplates, (path, template) => checkMetricTemplate(c, path, template)),
        providers: c.namedMap("alertProviders", raw.alertProviders, (path, provider) => checkAlertProvider(c, path, provider)),
    };
    const before = c.failures.length;
    const names = checkApps(c, raw, context);
    if (c.failures.length === before) {
        checkUniqueObjectNames(c, [
            ...parseApps(raw).flatMap((app) => {
                const path = raw.apps === undefined ? SHORTHAND_PATH : `apps.${app.name}`;
                const canary = raw.apps === undefined ? raw.canary : (raw.apps as Record<string, Record<string, unknown>>)[app.name].canary;
                return appObjectNames(app, path, canarySpecPath(canary, raw.apps === undefined ? SHORTHAND_PATH : `${path}.canary`));
            }),
            ...sharedObjectNames(gatewayEnabled ? GATEWAY_NAME : undefined, loadtesterEnabled(raw) ? LOADTESTER_NAME : undefined),
            ...dashboardObjectNames(raw),
        ]);
    }
    if (gatewayEnabled) {
        checkGatewayApp(c, isObject(raw.gateway) ? raw.gateway.app : undefined, names);
    }
    return c.failures;
}

/** Logical and object names of the stack's own components. */
export const GATEWAY_NAME = "appmesh-gateway";
export const LOADTESTER_NAME = "flagger-loadtester";
export const GRAFANA_DASHBOARD_NAME = "appmesh-canary-dashboard";
/** Where the one-app shorthand's objects come from, for messages. */
const SHORTHAND_PATH = "canary";

function loadtesterEnabled(raw: Record<string, unknown>): boolean {
    return !(isObject(raw.loadtester) && raw.loadtester.enabled === false);
}

/** The dashboard's ConfigMap, when it lands in the apps' namespace (where an app's tracked ConfigMap could take its name). */
function dashboardObjectNames(raw: Record<string, unknown>): ClaimedName[] {
    const grafana = isObject(raw.grafana) ? raw.grafana : {};
    const inAppsNamespace = grafana.namespace === undefined || grafana.namespace === raw.namespace;
    return grafana.enabled === true && inAppsNamespace ? [{ kind: "ConfigMap", name: GRAFANA_DASHBOARD_NAME, path: "grafana" }] : [];
}

/** `apps`, or else the shorthand; returns the apps' names. */
function checkApps(c: FailureCollector, raw: Record<string, unknown>, context: AppContext): string[] {
    if (raw.apps === undefined) {
        c.failures.push(...validateShorthand(raw, context));
        return [];
    }
    for (const key of SHORTHAND_KEYS.filter((k) => raw[k] !== undefined)) {
        c.fail(key, `is the one-app shorthand, and apps is set too: move it into an app (apps.<app>.${key === "image" ? "workload.containers[].image" : key}) or remove apps`);
    }
    if (!c.object("apps", raw.apps)) {
        return [];
    }
    const names = Object.keys(raw.apps);
    if (names.length === 0) {
        c.fail("apps", "must describe at least one app (apps.<app>: {workload, canary, ...})");
    }
    for (const name of names) {
        c.failures.push(...validateApp(name, raw.apps[name], context));
    }
    return names;
}

/** With several apps the gateway must be told which one it fronts; with one it fronts that one. */
function checkGatewayApp(c: FailureCollector, app: unknown, names: string[]): void {
    if (app === undefined) {
        if (names.length > 1) {
            c.fail("gateway.app", `is required with several apps: the app the ingress gateway sends requests to, one of ${names.join(", ")}`);
        }
    } else if (!(typeof app === "string" && (names.length === 0 ? false : names.includes(app)))) {
        c.fail("gateway.app", names.length === 0
            ? "is used only with apps (the shorthand's one app is the gateway's)"
            : `must name an app of apps, one of ${names.join(", ")}; got ${JSON.stringify(app)}`);
    }
}

/** The apps of a valid config, in config order. */
function parseApps(raw: Record<string, unknown>): AppConfig[] {
    const metricsServer = raw.metricsServer as string | undefined;
    if (raw.apps === undefined) {
        return [parseShorthand(raw, metricsServer)];
    }
    return Object.entries(raw.apps as Record<string, Record<string, unknown>>).map(([name, app]) => parseApp(name, app, metricsServer));
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

/** The validated stack config with defaults applied; throws one error listing every problem. */
export function parseStackConfig(raw: Record<string, unknown>): StackConfig {
    const failures = validateStackConfig(raw);
    if (failures.length > 0) {
        throw new Error(formatFailures(CONFIG_ERROR_TITLE, failures));
    }
    const mesh = typeof raw.mesh === "string" ? { name: raw.mesh } : (raw.mesh as Partial<MeshConfig>);
    const apps = parseApps(raw);
    const gateway = { ...GATEWAY_DEFAULTS, ...(raw.gateway as Partial<GatewayConfig> | undefined) };
    return {
        namespace: raw.namespace as string,
        mesh: { name: mesh.name!, accessLog: mesh.accessLog ?? false },
        gateway: { ...gateway, app: gateway.app ?? apps[0].name },
        loadtester: { ...LOADTESTER_DEFAULTS, ...(raw.loadtester as Partial<LoadTesterConfig> | undefined) },
        grafana: { ...GRAFANA_DEFAULTS, ...(raw.grafana as Partial<GrafanaConfig> | undefined) },
        apps,
        metricTemplates: (raw.metricTemplates as Record<string, MetricTemplateSpec> | undefined) ?? {},
        alertProviders: (raw.alertProviders as Record<string, AlertProviderSpec> | undefined) ?? {},
        ...(raw.reportDirectory === undefined ? {} : { reportDirectory: raw.reportDirectory as string }),
    };
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
