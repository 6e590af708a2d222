/**
 * The stack config this program reads (`appmesh-canary:<key>` in `Pulumi.<stack>.yaml`), validated as one
 * object before any resource is created: every bad field is reported together, with its path and the
 * allowed values. Pure: the caller hands in the raw values (from `pulumi.Config` or a stack file).
 */
import { CanarySpec, DEFAULT_METRICS_SERVER } from "./spec";
import { FailureCollector, ValidationFailure, WiredRefs, formatFailures, parseCanarySpec, validateCanarySpec } from "./validation";

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
}

export const STACK_CONFIG_KEYS = ["namespace", "mesh", "image", "metricsServer", "gateway", "loadtester", "canary"] as const;

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
 * JSON stays a string, so `namespace: test` and `canary: {...}` both read naturally.
 */
export function rawStackConfig(lookup: (key: string) => string | undefined): Record<string, unknown> {
    const raw: Record<string, unknown> = {};
    for (const key of STACK_CONFIG_KEYS) {
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
    if (raw.canary === undefined) {
        c.fail("canary", "is required: Flagger's Canary spec (service, analysis, ...)");
    } else {
        c.failures.push(...validateCanarySpec(raw.canary, "canary", refs));
    }
    return c.failures;
}

/** The validated stack config with defaults applied; throws one error listing every problem. */
export function parseStackConfig(raw: Record<string, unknown>, refs: WiredRefs): StackConfig {
    const failures = validateStackConfig(raw, refs);
    if (failures.length > 0) {
        throw new Error(formatFailures(`invalid stack config (keys ${PROJECT}:<path>)`, failures));
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
