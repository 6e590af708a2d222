/**
 * The canary spec: Flagger's Canary `spec` (App Mesh subset) as it arrives from stack config, and the
 * resolved form with Flagger's defaults applied. One source of truth for the components, the engine and
 * the dynamic provider. Validation lives in `validation.ts`.
 */
import { APPMESH_PROVIDER } from "../routers/appmesh/api";

/** Alert severities, lowest first. */
export const SEVERITIES = ["info", "warn", "error"] as const;
export type Severity = (typeof SEVERITIES)[number];

export const WEBHOOK_TYPES = [
    "confirm-rollout",
    "pre-rollout",
    "rollout",
    "confirm-traffic-increase",
    "confirm-promotion",
    "post-rollout",
    "rollback",
    "event",
] as const;
export type WebhookType = (typeof WEBHOOK_TYPES)[number];

/** Envoy HTTP retry events App Mesh accepts (CRD enum of `httpRetryEvents`). */
export const HTTP_RETRY_EVENTS = ["server-error", "gateway-error", "client-error", "stream-error"] as const;

export const BUILTIN_METRICS = ["request-success-rate", "request-duration"] as const;

export const ALERT_PROVIDER_TYPES = ["slack", "msteams", "discord", "rocket", "gchat"] as const;
export type AlertProviderType = (typeof ALERT_PROVIDER_TYPES)[number];

export interface HeaderMatch {
    exact?: string;
    prefix?: string;
    suffix?: string;
    regex?: string;
}

/** One entry of `analysis.match`: header conditions for A/B routing. */
export interface RouteMatch {
    headers?: Record<string, HeaderMatch>;
}

/** Header changes of `service.headers` (Istio's HeaderOperations, as Flagger takes them). */
export interface HeaderOperations {
    add?: Record<string, string>;
    set?: Record<string, string>;
    remove?: string[];
}

export interface RetrySpec {
    attempts?: number;
    perTryTimeout?: string;
    retryOn?: string;
}

/** A Gateway a route attaches to (Flagger's `service.gatewayRefs`, a Gateway API `ParentReference`). */
export interface GatewayRef {
    name: string;
    namespace?: string;
    group?: string;
    kind?: string;
    sectionName?: string;
    port?: number;
}

/** One entry of `service.match` (Istio's HTTPMatchRequest, as Flagger takes it; App Mesh reads `uri.prefix` only). */
export interface ServiceMatch {
    uri?: { exact?: string; prefix?: string; regex?: string };
    method?: { exact?: string };
    headers?: Record<string, HeaderMatch>;
    queryParams?: Record<string, HeaderMatch>;
}

export interface ServiceSpec {
    name?: string;
    port: number;
    targetPort?: number | string;
    portName?: string;
    timeout?: string;
    retries?: RetrySpec;
    match?: ServiceMatch[];
    /** Gateways the route attaches to (Gateway API router only). */
    gatewayRefs?: GatewayRef[];
    /** Path and Host rewrite of routed requests (Gateway API router only). */
    rewrite?: { uri?: string; authority?: string };
    /** Request and response header modifiers (Gateway API router only). */
    headers?: { request?: HeaderOperations; response?: HeaderOperations };
    hosts?: string[];
    backends?: string[];
    apex?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

export interface ThresholdRange {
    min?: number;
    max?: number;
}

export interface MetricSpec {
    name: string;
    interval?: string;
    thresholdRange?: ThresholdRange;
    /** Deprecated Flagger field: min for success rate, max otherwise. */
    threshold?: number;
    query?: string;
    templateRef?: { name: string; namespace?: string };
    templateVariables?: Record<string, string>;
}

export interface WebhookSpec {
    name: string;
    type?: WebhookType;
    url: string;
    timeout?: string;
    retries?: number;
    muteAlert?: boolean;
    metadata?: Record<string, string>;
}

export interface AlertSpec {
    name: string;
    severity?: Severity;
    providerRef: { name: string; namespace?: string };
}

export interface AnalysisSpec {
    interval?: string;
    threshold?: number;
    maxWeight?: number;
    stepWeight?: number;
    stepWeights?: number[];
    stepWeightPromotion?: number;
    iterations?: number;
    match?: RouteMatch[];
    primaryReadyThreshold?: number;
    canaryReadyThreshold?: number;
    metrics?: MetricSpec[];
    webhooks?: WebhookSpec[];
    alerts?: AlertSpec[];
}

/** Flagger's Canary `spec`, minus `targetRef`/`autoscalerRef`, which the program wires itself. */
export interface CanarySpec {
    provider?: string;
    metricsServer?: string;
    progressDeadlineSeconds?: number;
    skipAnalysis?: boolean;
    service: ServiceSpec;
    analysis?: AnalysisSpec;
}

/** AWS SigV4 signing of a Prometheus template's queries (Amazon Managed Service for Prometheus). */
export interface SigV4Spec {
    /** The workspace's region, e.g. `eu-west-1`. */
    region: string;
    /** The signing name: `aps` (the default) for Amazon Managed Service for Prometheus. */
    service?: string;
}

/** A Prometheus-compatible server; its queries are PromQL. */
export interface PrometheusProviderSpec {
    type?: "prometheus";
    address: string;
    /** Sent as `Authorization: Bearer`. Keep it a Pulumi secret. */
    token?: string;
    username?: string;
    password?: string;
    headers?: Record<string, string>;
    /** Sign every query with AWS SigV4, credentials from the default chain where `pulumi up` runs. */
    sigv4?: SigV4Spec;
}

/** Amazon CloudWatch; its queries are a JSON list of `MetricDataQuery` as Flagger's CloudWatch provider takes it. */
export interface CloudWatchProviderSpec {
    type: "cloudwatch";
    region: string;
}

export type MetricProviderSpec = PrometheusProviderSpec | CloudWatchProviderSpec;

export const METRIC_PROVIDER_TYPES = ["prometheus", "cloudwatch"] as const;

/** The SigV4 signing names a Prometheus template may use. */
export const SIGV4_SERVICES = ["aps"] as const;

/** A metric provider a MetricTemplate points at (stack config `metricTemplates`), and its query. */
export interface MetricTemplateSpec {
    provider: MetricProviderSpec;
    query: string;
}

/** An alert provider (Flagger's AlertProvider spec) referenced by `analysis.alerts[].providerRef.name`. */
export interface AlertProviderSpec {
    type: AlertProviderType;
    /** Webhook address; keep it a Pulumi secret. */
    address: string;
    channel?: string;
    username?: string;
    proxy?: string;
    token?: string;
}

/** Deployment strategy, as Flagger derives it from the analysis. */
export type Strategy = "canary" | "ab-testing" | "blue-green";

/** The analysis with every default applied; what the engine runs. */
export interface ResolvedAnalysis {
    intervalMs: number;
    threshold: number;
    maxWeight: number;
    stepWeight: number;
    stepWeights: number[];
    stepWeightPromotion: number;
    iterations: number;
    match: RouteMatch[];
    primaryReadyThreshold: number;
    canaryReadyThreshold: number;
    metrics: MetricSpec[];
    webhooks: WebhookSpec[];
    alerts: AlertSpec[];
    strategy: Strategy;
}

/** Identity of a rollout: Flagger's `<name>.<namespace>` plus the objects it touches. */
export interface CanaryTarget {
    /** Canary (and target Deployment) name, e.g. `podinfo`. */
    name: string;
    namespace: string;
    /** Apex service name: `service.name` or the target name. */
    service: string;
}

/** The provider of a spec that names none: the App Mesh router, as this program began. */
export const DEFAULT_PROVIDER = APPMESH_PROVIDER;
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;
export const DEFAULT_INTERVAL = "60s";
export const DEFAULT_METRICS_SERVER = "http://appmesh-prometheus.appmesh-system:9090";

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
const DURATION_WHOLE = /^(\d+(?:\.\d+)?(ms|s|m|h))+$/;

/** Milliseconds in a Go-style duration ("1m", "30s", "1m30s", "500ms"); undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
    if (typeof text !== "string" || !DURATION_WHOLE.test(text)) {
        return undefined;
    }
    let total = 0;
    for (const [, amount, unit] of text.matchAll(DURATION_PART)) {
        total += Number(amount) * DURATION_UNITS_MS[unit];
    }
    return total;
}

/** Go's `time.Duration` rendering, as Flagger prints durations in events ("1.2s", "500ms", "1m0s"). */
export function formatDuration(ms: number): string {
    if (ms === 0) {
        return "0s";
    }
    if (ms < 1000) {
        return `${trimNumber(ms)}ms`;
    }
    const hours = Math.floor(ms / 3_600_000);
    const minutes = Math.floor((ms % 3_600_000) / 60_000);
    const seconds = (ms % 60_000) / 1000;
    let text = `${trimNumber(seconds)}s`;
    if (hours > 0 || minutes > 0) {
        text = `${minutes}m${text}`;
    }
    if (hours > 0) {
        text = `${hours}h${text}`;
    }
    return text;
}

function trimNumber(n: number): string {
    return String(Number(n.toFixed(9)));
}

export function apexName(spec: CanarySpec, targetName: string): string {
    return spec.service.name || targetName;
}

/** Flagger's `DeploymentStrategy()`. */
export function strategyOf(analysis: AnalysisSpec | undefined): Strategy {
    const iterations = analysis?.iterations ?? 0;
    if (iterations > 0 && (analysis?.match?.length ?? 0) > 0) {
        return "ab-testing";
    }
    return iterations > 0 ? "blue-green" : "canary";
}

/** Apply Flagger's defaults to a validated analysis. */
export function resolveAnalysis(analysis: AnalysisSpec | undefined): ResolvedAnalysis {
    const a = analysis ?? {};
    const stepWeights = a.stepWeights ?? [];
    const maxWeight = stepWeights.length > 0 ? Math.min(100, stepWeights[stepWeights.length - 1]) : (a.maxWeight ?? 0) > 0 ? a.maxWeight! : 100;
    return {
        intervalMs: parseDuration(a.interval ?? DEFAULT_INTERVAL)!,
        threshold: (a.threshold ?? 0) > 0 ? a.threshold! : 1,
        maxWeight,
        stepWeight: a.stepWeight ?? 0,
        stepWeights,
        stepWeightPromotion: a.stepWeightPromotion ?? 0,
        iterations: a.iterations ?? 0,
        match: a.match ?? [],
        primaryReadyThreshold: a.primaryReadyThreshold ?? 100,
        canaryReadyThreshold: a.canaryReadyThreshold ?? 100,
        metrics: a.metrics ?? [],
        webhooks: a.webhooks ?? [],
        alerts: a.alerts ?? [],
        strategy: strategyOf(a),
    };
}

/** Flagger's `SkipAnalysis()`: explicit flag, or no analysis at all. */
export function skipsAnalysis(spec: CanarySpec): boolean {
    return spec.skipAnalysis === true || spec.analysis === undefined;
}

export type BuiltinMetricName = (typeof BUILTIN_METRICS)[number];

/** Flagger's `GetMetricInterval()` for built-in and inline metrics; applied to templates too (see metricInterval). */
export const DEFAULT_METRIC_INTERVAL = "1m";

export function isBuiltinMetric(name: string): name is BuiltinMetricName {
    return (BUILTIN_METRICS as readonly string[]).includes(name);
}

/**
 * The metric's `interval`, or 1m. Flagger applies the 1m default to built-in and inline metrics only and
 * renders `{{ interval }}` empty for template metrics (a broken range selector); we default all of them.
 */
export function metricInterval(metric: MetricSpec): string {
    return metric.interval || DEFAULT_METRIC_INTERVAL;
}

/** The metrics observer of a Canary `provider` as Flagger names it in events: `appmesh:v1beta2` → `appmesh`. */
export function observerOf(provider: string | undefined): string {
    return (provider ?? DEFAULT_PROVIDER).split(":")[0];
}
