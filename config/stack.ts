/**
 * The stack config this program reads (`appmesh-canary:<key>` in `Pulumi.<stack>.yaml`), validated as one
 * object before any resource is created: every bad field is reported together, with its path and the
 * allowed values. Pure: the caller hands in the raw values (from `pulumi.Config` or a stack file).
 */
import { ALERT_PROVIDER_TYPES, AlertProviderSpec, MetricTemplateSpec } from "../analysis/spec/canary";
import { DNS_SUBDOMAIN, FailureCollector, ValidationFailure, formatFailures, isObject, optional } from "../analysis/spec/failures";
import { checkMetricTemplate } from "../analysis/spec/metric-templates";
import { LATTICE_GATEWAY_CLASS } from "../analysis/routers/gatewayapi/api";
import { SHORTHAND_KEYS, appRouterKind, canarySpecPath, parseApp, parseShorthand, rawRouterKind, validateApp, validateShorthand, type AppConfig, type AppContext } from "./apps";
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
    /** Create the ingress gateway: App Mesh's (VirtualGateway, Envoy, NLB Service, GatewayRoute), or a Gateway API Gateway with `className`. */
    enabled: boolean;
    /** Create a Gateway API Gateway of this GatewayClass (e.g. amazon-vpc-lattice, eg, istio) instead of the App Mesh gateway. */
    className?: string;
    /** The Gateway API routes attach to VPC Lattice Gateways, whose limits preview checks (implied by className amazon-vpc-lattice). */
    lattice: boolean;
    /** The app the App Mesh gateway sends requests to (required with several App Mesh apps). */
    app?: string;
    /** Envoy image the App Mesh gateway runs. */
    image: string;
    replicas: number;
    /** Port the gateway listens on: the VirtualGateway's (the NLB forwards port 80 to it), or the Gateway's HTTP listener. */
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
    /** The App Mesh; set when an app routes through App Mesh. */
    mesh?: MeshConfig;
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
    lattice: false,
    image: "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.0-prod",
    replicas: 1,
    port: 8088,
};

/** The HTTP listener port of a Gateway API Gateway the stack creates, unless `gateway.port` says otherwise. */
export const GATEWAY_API_DEFAULT_PORT = 80;
const GATEWAY_KEYS = ["enabled", "className", "lattice", "app", "image", "replicas", "port"];


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
    const routers = rawRouterKinds(raw);
    const meshApps = Object.entries(routers).filter(([, kind]) => kind === "appmesh").map(([name]) => name);
    checkMesh(c, raw.mesh, meshApps.length > 0);
    optional(raw.metricsServer, (v) => c.url("metricsServer", v));
    const gatewayEnabled = raw.gateway === undefined || (isObject(raw.gateway) && raw.gateway.enabled !== false);
    const gatewayApiGateway = isObject(raw.gateway) && raw.gateway.className !== undefined;
    if (raw.gateway !== undefined && c.object("gateway", raw.gateway)) {
        checkGateway(c, raw.gateway);
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
        lattice: latticeGateway(raw.gateway),
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
            ...sharedObjectNames(gatewayEnabled ? { name: gatewayApiGateway ? GATEWAY_API_NAME : GATEWAY_NAME, gatewayApi: gatewayApiGateway } : undefined,
                loadtesterEnabled(raw) ? { name: LOADTESTER_NAME, meshNode: meshApps.length > 0 } : undefined),
            ...dashboardObjectNames(raw),
        ]);
    }
    if (gatewayEnabled && !gatewayApiGateway) {
        checkGatewayApp(c, isObject(raw.gateway) ? raw.gateway.app : undefined, names, meshApps, raw.apps === undefined);
    }
    return c.failures;
}

/** The router of every app whose provider can be read, by app name (the shorthand's app as `canary`). */
function rawRouterKinds(raw: Record<string, unknown>): Record<string, string | undefined> {
    if (raw.apps === undefined) {
        return { [SHORTHAND_PATH]: rawRouterKind(raw.canary) };
    }
    return isObject(raw.apps) ? Object.fromEntries(Object.entries(raw.apps).map(([name, app]) => [name, rawRouterKind(isObject(app) ? app.canary : undefined)])) : {};
}

function checkGateway(c: FailureCollector, gateway: Record<string, unknown>): void {
    c.keys("gateway", gateway, GATEWAY_KEYS);
    optional(gateway.enabled, (v) => c.boolean("gateway.enabled", v));
    optional(gateway.image, (v) => checkImage(c, "gateway.image", v));
    optional(gateway.replicas, (v) => c.integer("gateway.replicas", v, 1));
    optional(gateway.port, (v) => c.integer("gateway.port", v, 1, 65535));
    optional(gateway.lattice, (v) => c.boolean("gateway.lattice", v));
    if (gateway.className === undefined) {
        return;
    }
    if (!(typeof gateway.className === "string" && DNS_SUBDOMAIN.test(gateway.className))) {
        c.fail("gateway.className", `must be a GatewayClass name (a DNS subdomain, e.g. ${LATTICE_GATEWAY_CLASS}, eg or istio), got ${JSON.stringify(gateway.className)}`);
    }
    for (const key of ["image", "replicas", "app"] as const) {
        if (gateway[key] !== undefined) {
            c.fail(`gateway.${key}`, `is a setting of the App Mesh gateway; with gateway.className the GatewayClass's controller runs the Gateway and each app's ` +
                "route attaches to it through its canary's service.gatewayRefs: remove it");
        }
    }
    if (gateway.className === LATTICE_GATEWAY_CLASS && gateway.lattice === false) {
        c.fail("gateway.lattice", `cannot be false with gateway.className ${LATTICE_GATEWAY_CLASS}: that Gateway is VPC Lattice's`);
    }
}

/** Whether the apps' Gateway API routes attach to VPC Lattice Gateways: said so, or the stack creates one. */
function latticeGateway(gateway: unknown): boolean {
    return isObject(gateway) && (gateway.lattice === true || gateway.className === LATTICE_GATEWAY_CLASS);
}

/** Logical and object names of the stack's own components. */
export const GATEWAY_NAME = "appmesh-gateway";
/** The Gateway API Gateway the stack creates with `gateway.className`; the apps' `service.gatewayRefs` name it. */
export const GATEWAY_API_NAME = "canary-gateway";
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

/**
 * The App Mesh gateway fronts one App Mesh app: with several the config must say which; with one it fronts that
 * one. An app routed by the Gateway API is reached through its own Gateway instead.
 */
function checkGatewayApp(c: FailureCollector, app: unknown, names: string[], meshApps: string[], shorthand: boolean): void {
    if (meshApps.length === 0) {
        c.fail("gateway", "creates the App Mesh ingress gateway, and no app routes through App Mesh: set gateway.className to create a Gateway API Gateway " +
            `(e.g. ${LATTICE_GATEWAY_CLASS}), or gateway.enabled: false to attach the routes to Gateways that exist`);
        return;
    }
    if (app === undefined) {
        if (meshApps.length > 1) {
            c.fail("gateway.app", `is required with several apps: the App Mesh app the ingress gateway sends requests to, one of ${meshApps.join(", ")}`);
        }
    } else if (shorthand || names.length === 0) {
        c.fail("gateway.app", "is used only with apps (the shorthand's one app is the gateway's)");
    } else if (!(typeof app === "string" && names.includes(app))) {
        c.fail("gateway.app", `must name an app of apps, one of ${meshApps.join(", ")}; got ${JSON.stringify(app)}`);
    } else if (!meshApps.includes(app)) {
        c.fail("gateway.app", `names ${app}, whose canary routes through the Gateway API: the App Mesh gateway fronts an App Mesh app, one of ${meshApps.join(", ")}`);
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
    const mesh = typeof raw.mesh === "string" ? { name: raw.mesh } : (raw.mesh as Partial<MeshConfig> | undefined);
    const apps = parseApps(raw);
    const given = (raw.gateway as Partial<GatewayConfig> | undefined) ?? {};
    const gateway: GatewayConfig = {
        ...GATEWAY_DEFAULTS,
        ...(given.className !== undefined ? { port: GATEWAY_API_DEFAULT_PORT } : {}),
        ...given,
        lattice: latticeGateway(raw.gateway),
    };
    const meshApps = apps.filter((app) => appRouterKind(app) === "appmesh");
    return {
        namespace: raw.namespace as string,
        ...(mesh && meshApps.length > 0 ? { mesh: { name: mesh.name!, accessLog: mesh.accessLog ?? false } } : {}),
        gateway: { ...gateway, ...(gateway.className === undefined && meshApps.length > 0 ? { app: gateway.app ?? meshApps[0].name } : {}) },
        loadtester: { ...LOADTESTER_DEFAULTS, ...(raw.loadtester as Partial<LoadTesterConfig> | undefined) },
        grafana: { ...GRAFANA_DEFAULTS, ...(raw.grafana as Partial<GrafanaConfig> | undefined) },
        apps,
        metricTemplates: (raw.metricTemplates as Record<string, MetricTemplateSpec> | undefined) ?? {},
        alertProviders: (raw.alertProviders as Record<string, AlertProviderSpec> | undefined) ?? {},
        ...(raw.reportDirectory === undefined ? {} : { reportDirectory: raw.reportDirectory as string }),
    };
}

function checkMesh(c: FailureCollector, mesh: unknown, required: boolean): void {
    if (mesh === undefined) {
        if (required) {
            c.fail("mesh", "is required when an app routes through App Mesh: the App Mesh name (e.g. global), or {name, accessLog}");
        }
    } else if (!required) {
        c.fail("mesh", "is set, and no app routes through App Mesh (every canary's provider is gatewayapi:v1): remove it; `pulumi up` then deletes the Mesh and keeps the namespace");
    } else if (typeof mesh === "string") {
        c.dnsLabel("mesh", mesh);
    } else if (c.object("mesh", mesh)) {
        c.keys("mesh", mesh, ["name", "accessLog"]);
        c.dnsLabel("mesh.name", mesh.name);
        optional(mesh.accessLog, (v) => c.boolean("mesh.accessLog", v));
    }
}
