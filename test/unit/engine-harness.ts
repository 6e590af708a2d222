/**
 * In-memory implementations of OUR engine ports (analysis/ports.ts) for the engine tests: a virtual clock
 * whose sleep advances time at once, a router holding weights, workloads, scripted metrics and hooks, and on
 * request the canary's lease and the `pulumi up` driving the run. One trace records events, router writes,
 * scaling, alerts and the lease being taken and released in the order they happened.
 */
import type {
    AlertMessage,
    CanaryEvent,
    LeaseLostError,
    MetricReading,
    Readiness,
    RouteWeights,
    WebhookPayload,
    WebhookResult,
} from "../../analysis/engine/ports";
import type { RolloutPorts, RolloutRequest } from "../../analysis/engine/engine";
import type { AnalysisSpec, CanarySpec, MetricSpec, WebhookSpec } from "../../analysis/spec/canary";

export const START = 1_700_000_000_000;
export const MINUTE = 60_000;

export interface HarnessOptions {
    weights?: RouteWeights;
    readiness?: (h: Harness) => Readiness;
    metric?: (metric: MetricSpec, h: Harness) => MetricReading;
    hook?: (hook: WebhookSpec, payload: WebhookPayload, h: Harness) => WebhookResult;
    canaryReplicas?: number;
    /** Return an error to make the n-th (1-based) router write throw. */
    failWrite?: (n: number, weights: RouteWeights) => Error | undefined;
    failRead?: (n: number) => Error | undefined;
    /** Give the run a lease port. */
    lease?: {
        /** Another run holds the lease until this virtual time. */
        heldBy?: { holder: string; until: number };
        /** Return an error to make the n-th (1-based) renewal throw. */
        failRenewal?: (n: number, h: Harness) => Error | undefined;
    };
    /**
     * Give the run a driver port, whose `pulumi up` goes away on `h.abandon()` or at virtual time `goneAt`. A
     * sleep that would pass `goneAt` ends there without waking its sleeper, as a real timer would not: only a
     * run listening to the driver goes on.
     */
    driver?: { goneAt?: number };
}

export interface Harness {
    ports: RolloutPorts;
    trace: string[];
    events: CanaryEvent[];
    writes: RouteWeights[];
    alerts: AlertMessage[];
    calls: { hook: string; payload: WebhookPayload }[];
    metricReads: string[];
    sleeps: number[];
    weights: RouteWeights;
    now: number;
    replicas: number;
    renewals: number;
    /** The `pulumi up` goes away now (with a driver port). */
    abandon(): void;
}

export const DRIVER_GONE = "the Pulumi engine at 127.0.0.1:41234 refuses connections";

/** What a lease adapter throws when another run has taken the lease. */
export function leaseTakenBy(holder: string): LeaseLostError {
    return Object.assign(new Error(`Lease test/podinfo-canary-analysis is held by ${holder} now`), { leaseTakenBy: holder });
}

export const OK: WebhookResult = { ok: true, status: 200, message: "OK" };
export const healthy = (metric: MetricSpec): MetricReading =>
    metric.name === "request-duration" ? { kind: "value", value: 120.6 } : { kind: "value", value: 99.9 };

export function harness(options: HarnessOptions = {}): Harness {
    let reads = 0;
    let gone: string | undefined;
    let announceGone: (reason: string) => void = () => undefined;
    const whenGone = new Promise<string>((resolve) => (announceGone = resolve));
    const h: Harness = {
        trace: [],
        events: [],
        writes: [],
        alerts: [],
        calls: [],
        metricReads: [],
        sleeps: [],
        weights: options.weights ?? { primary: 100, canary: 0 },
        now: START,
        replicas: options.canaryReplicas ?? 0,
        renewals: 0,
        abandon() {
            gone ??= DRIVER_GONE;
            announceGone(gone);
        },
        ports: undefined as unknown as RolloutPorts,
    };
    h.ports = {
        router: {
            async getWeights() {
                reads += 1;
                const error = options.failRead?.(reads);
                if (error) {
                    throw error;
                }
                return { ...h.weights };
            },
            async setWeights(weights) {
                h.writes.push({ ...weights });
                const error = options.failWrite?.(h.writes.length, weights);
                if (error) {
                    h.trace.push(`route ${weights.primary}/${weights.canary} failed`);
                    throw error;
                }
                h.weights = { ...weights };
                h.trace.push(`route ${weights.primary}/${weights.canary}`);
            },
        },
        workloads: {
            async scaleCanary(replicas) {
                h.replicas = replicas;
                h.trace.push(`scale ${replicas}`);
            },
            async canaryReplicasWhenActive() {
                return 2;
            },
            async canaryReadiness() {
                return options.readiness ? options.readiness(h) : { ready: true };
            },
            async primaryReadiness() {
                return { ready: true };
            },
            async canaryReplicas() {
                return h.replicas;
            },
        },
        metrics: {
            async read(metric) {
                h.metricReads.push(metric.name);
                return (options.metric ?? healthy)(metric, h);
            },
        },
        webhooks: {
            async call(hook, payload) {
                h.calls.push({ hook: hook.name, payload });
                return options.hook ? options.hook(hook, payload, h) : OK;
            },
        },
        alerts: {
            async send(alert) {
                h.alerts.push(alert);
                h.trace.push(`alert ${alert.severity}: ${alert.message}`);
            },
        },
        clock: {
            now: () => h.now,
            async sleep(ms) {
                h.sleeps.push(ms);
                const goneAt = options.driver?.goneAt;
                if (goneAt !== undefined && gone === undefined && h.now < goneAt && goneAt <= h.now + ms) {
                    h.now = goneAt;
                    h.abandon();
                    return new Promise<void>(() => undefined);
                }
                h.now += ms;
            },
        },
        events: {
            emit(event) {
                h.events.push(event);
                h.trace.push(`${event.type}: ${event.message}`);
            },
        },
    };
    const lease = options.lease;
    if (lease) {
        h.ports.lease = {
            async tryAcquire() {
                if (lease.heldBy && h.now < lease.heldBy.until) {
                    return { acquired: false, holder: lease.heldBy.holder, expiresAt: lease.heldBy.until };
                }
                h.trace.push("lease taken");
                return { acquired: true };
            },
            async renew() {
                h.renewals += 1;
                const error = lease.failRenewal?.(h.renewals, h);
                if (error) {
                    throw error;
                }
            },
            async release() {
                h.trace.push("lease released");
            },
        };
    }
    if (options.driver) {
        h.ports.driver = { abandoned: () => gone, whenAbandoned: () => whenGone };
    }
    return h;
}

export const target = { name: "podinfo", namespace: "test", service: "podinfo" };

export const acceptanceTest: WebhookSpec = {
    name: "acceptance-test",
    type: "pre-rollout",
    url: "http://flagger-loadtester.test/",
    timeout: "30s",
    metadata: { type: "bash", cmd: "curl -sd 'test' http://podinfo-canary.test:9898/token | grep token" },
};

export const loadTest: WebhookSpec = {
    name: "load-test",
    url: "http://flagger-loadtester.test/",
    timeout: "5s",
    metadata: { cmd: "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/" },
};

/** The App Mesh tutorial's canary analysis. */
export function tutorialAnalysis(): AnalysisSpec {
    return {
        interval: "1m",
        threshold: 5,
        maxWeight: 50,
        stepWeight: 5,
        metrics: [
            { name: "request-success-rate", thresholdRange: { min: 99 }, interval: "1m" },
            { name: "request-duration", thresholdRange: { max: 500 }, interval: "30s" },
        ],
        webhooks: [acceptanceTest, loadTest],
    };
}

export function request(analysis: AnalysisSpec | undefined, extra: Partial<CanarySpec> = {}): RolloutRequest {
    return {
        target,
        spec: { provider: "appmesh:v1beta2", progressDeadlineSeconds: 60, service: { port: 9898 }, analysis, ...extra },
        checksum: "7c9f6b5d",
    };
}

/** Virtual time between the first event with `from` and the last event of the run. */
export function elapsedFrom(h: Harness, from: string): number {
    const start = h.events.find((e) => e.message === from);
    if (!start) {
        throw new Error(`no event "${from}"`);
    }
    return h.events[h.events.length - 1].timestamp - start.timestamp;
}
