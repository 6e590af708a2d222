/**
 * The ports through which the engine reaches the world. Adapters implement them: Kubernetes and the
 * playground for the router and workloads, Prometheus over HTTP for metrics, HTTP for webhooks and alerts.
 * Nothing here imports a library; the engine depends on these types only.
 */
import type { MetricSpec, Severity, WebhookSpec } from "../spec/canary";

/** Weights of the apex router's first route (`routes[0].httpRoute.action.weightedTargets`). Sum is 100. */
export interface RouteWeights {
    primary: number;
    canary: number;
}

/**
 * What a port's error may say about itself: `transient: false` when trying again cannot help (a permanent
 * API error such as 403 or 404). `denied` when the credentials were refused (401, 403): permanent for a
 * call, but an API server that has just restarted refuses valid credentials until its authorization caches
 * have synced, so the rollback's restore steps keep trying those too. They stop at any other permanent error.
 */
export interface PortError extends Error {
    transient?: boolean;
    denied?: boolean;
}

/** Reads and sets traffic weights by re-applying the resting router spec with other weights. */
export interface RouterPort {
    getWeights(): Promise<RouteWeights>;
    setWeights(weights: RouteWeights): Promise<void>;
}

/** Result of Flagger's readiness rules for one Deployment. */
export type Readiness =
    | { ready: true }
    /** `reason` in Flagger's full wording, e.g. "canary deployment podinfo.test not ready: waiting for rollout to finish: ...". */
    | { ready: false; retriable: boolean; reason: string };

/** The canary (target) and primary Deployments. */
export interface WorkloadPort {
    /** Set the canary Deployment's replicas (0 parks it). */
    scaleCanary(replicas: number): Promise<void>;
    /** Replicas the canary should run when scaled up (Flagger's `ScaleFromZero` rule). */
    canaryReplicasWhenActive(): Promise<number>;
    canaryReadiness(readyThreshold: number, progressDeadlineSeconds: number): Promise<Readiness>;
    primaryReadiness(readyThreshold: number, progressDeadlineSeconds: number): Promise<Readiness>;
    /** Replicas the canary Deployment asks for now, so an interrupted rollout that left it running is found. */
    canaryReplicas?(): Promise<number>;
}

/** Values the built-in and template queries are rendered with. */
export interface QueryContext {
    namespace: string;
    name: string;
    target: string;
    service: string;
}

/** One metric reading. "no-data" (empty vector or NaN) is distinct from a failed query. */
export type MetricReading =
    | { kind: "value"; value: number }
    | { kind: "no-data"; message: string }
    | { kind: "error"; message: string };

/** Flagger's text for a reading without data (an empty result, NaN, no data point). */
export const NO_VALUES_FOUND = "no values found";

export interface MetricsPort {
    read(metric: MetricSpec, context: QueryContext): Promise<MetricReading>;
}

/** Flagger's `CanaryWebhookPayload`. */
export interface WebhookPayload {
    name: string;
    namespace: string;
    phase: string;
    checksum: string;
    metadata?: Record<string, string>;
}

export interface WebhookResult {
    ok: boolean;
    /** HTTP status when one came back. */
    status?: number;
    /** Response body or transport error, used in events. */
    message: string;
}

export interface WebhookPort {
    call(hook: WebhookSpec, payload: WebhookPayload): Promise<WebhookResult>;
}

/** One alert as Flagger raises it; the adapter fans it out to the providers whose severity matches. */
export interface AlertMessage {
    /** `<name>.<namespace>` */
    canary: string;
    message: string;
    severity: Severity;
    /** Flagger's metadata fields (Target, Failed checks threshold, ...), only for alerts that carry them. */
    fields: { name: string; value: string }[];
}

export interface AlertPort {
    send(alert: AlertMessage): Promise<void>;
}

export interface Clock {
    now(): number;
    sleep(ms: number): Promise<void>;
}

export type CheckOutcome = "pass" | "fail" | "no-data" | "error";

/** A structured record of one check, so events and the report can explain each decision. */
export interface CheckRecord {
    /** Metric or webhook name. */
    name: string;
    kind: "metric" | "webhook";
    value?: number;
    /** The value's unit for the built-in metrics: `%` (success rate) or `ms` (request duration). */
    unit?: "%" | "ms";
    /** Human form of the bound, e.g. "min 99" or "max 500ms". */
    threshold?: string;
    /** The metric's query window, e.g. "1m". */
    window?: string;
    outcome: CheckOutcome;
    message?: string;
}

/** One event in Flagger's wording, with the state that goes with it. */
export interface CanaryEvent {
    type: "Normal" | "Warning";
    message: string;
    timestamp: number;
    phase: string;
    canaryWeight: number;
    failedChecks: number;
    /** Iterations run so far (A/B testing and Blue/Green count iterations instead of weights). */
    iterations?: number;
    /** The check this event reports (a halt, a hook that passed or failed). */
    check?: CheckRecord;
    /** Every check of the interval that led to this decision ("Advance ...", "Copying ..."). */
    checks?: CheckRecord[];
}

export interface EventSink {
    emit(event: CanaryEvent): void;
}

/** One analysis interval as it started: when the engine's schedule had it due, and when it ran. */
export interface AnalysisTick {
    /** `<name>.<namespace>` */
    canary: string;
    /** 0 for the run's first interval. */
    index: number;
    /** ms since the epoch. */
    dueAt: number;
    startedAt: number;
}

/** Hears each analysis interval start, so its lateness against the schedule can be measured. Must not throw. */
export interface TickObserver {
    started(tick: AnalysisTick): void;
}

/**
 * The `pulumi up` that started this run. When its CLI process dies (OOM kill, closed terminal, cancelled CI
 * job) the provider host lives on as an orphan: the run must notice, or it would go on shifting traffic that
 * nobody watches.
 */
export interface DriverPort {
    /** Why the driver is gone (e.g. "the Pulumi engine at 127.0.0.1:4242 refuses connections"), or undefined while it is there. */
    abandoned(): string | undefined;
    /** Resolves with that reason once the driver is gone; never rejects. */
    whenAbandoned(): Promise<string>;
}

/** The answer to taking the lease: taken, or who holds it and until when (ms since the epoch). */
export type LeaseClaim = { acquired: true } | { acquired: false; holder: string; expiresAt: number };

/** What `LeasePort.renew` throws when another holder has taken the lease. */
export interface LeaseLostError extends Error {
    leaseTakenBy: string;
}

/** One lease per canary, so that only one run acts on it at a time. */
export interface LeasePort {
    /** Take the lease when it is free, expired or already ours. */
    tryAcquire(): Promise<LeaseClaim>;
    /** Keep holding it; throws a `LeaseLostError` when another holder has it now, any other error when the API failed. */
    renew(): Promise<void>;
    /** Let it go, when we still hold it. */
    release(): Promise<void>;
}
