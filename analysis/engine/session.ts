/**
 * One engine run's working state and its side channels: events (to the sink and to `event` webhooks),
 * alerts, webhook calls with Flagger's payload, and the waits (which renew the canary's lease and notice a
 * `pulumi up` that is gone). The state lives only as long as the run; where the rollout stands is always
 * read back from the router.
 */
import type {
    AlertPort,
    CanaryEvent,
    CheckRecord,
    Clock,
    DriverPort,
    EventSink,
    LeasePort,
    MetricsPort,
    RouterPort,
    TickObserver,
    WebhookPort,
    WebhookResult,
    WorkloadPort,
} from "./ports";
import {
    DEFAULT_PROGRESS_DEADLINE_SECONDS,
    resolveAnalysis,
    type CanarySpec,
    type CanaryTarget,
    type ResolvedAnalysis,
    type Severity,
    type WebhookSpec,
    type WebhookType,
} from "../spec/canary";
import { alertFields } from "./messages";
import { driverGone, isLeaseLostError, leaseLost } from "./stops";

export interface RolloutPorts {
    router: RouterPort;
    workloads: WorkloadPort;
    metrics: MetricsPort;
    webhooks: WebhookPort;
    alerts: AlertPort;
    clock: Clock;
    events: EventSink;
    /** The canary's lease; without one, nothing keeps two runs apart. */
    lease?: LeasePort;
    /** The `pulumi up` driving the run; without one, it is taken to be there. */
    driver?: DriverPort;
    /** Told when each analysis interval starts. */
    ticks?: TickObserver;
}

export interface RolloutRequest {
    target: CanaryTarget;
    /** Validated canary spec. */
    spec: CanarySpec;
    /** Revision checksum, sent as the webhook payload `checksum`. */
    checksum: string;
}

/** Flagger's Canary phases, as reported on events and in webhook payloads. */
export type Phase = "Initialized" | "Waiting" | "Progressing" | "WaitingPromotion" | "Promoting" | "Finalising" | "Succeeded" | "Failed";

/**
 * How a wait meets a `pulumi up` that is gone: an analysis wait stops (throws `DriverGone`, and the run rolls
 * back), a Finalize wait wakes for its caller to decide, and the rollback's own retries wait on regardless.
 */
export type OnAbandoned = "stop" | "wake" | "wait";

export function errorText(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
}

export class RolloutSession {
    readonly target: CanaryTarget;
    readonly analysis: ResolvedAnalysis;
    readonly progressDeadlineMs: number;
    readonly progressDeadlineSeconds: number;
    phase: Phase = "Progressing";
    canaryWeight = 0;
    failedChecks = 0;
    iterations = 0;
    /** Every counted check (pre-rollout and rollout hooks, metrics), in order. */
    readonly checks: CheckRecord[] = [];
    /** Text of the last halt, the reason reported when the threshold is reached. */
    lastHalt?: string;
    /** Start of the current closed stretch of each confirm gate, for the progress deadline. */
    readonly gateClosedSince = new Map<WebhookType, number>();
    /** Since when the canary has been reported not ready, and the last reason reported. */
    canaryUnready?: { since: number; reported: string };
    /** Whether this run holds the canary's lease (so its waits renew it). */
    leaseHeld = false;
    /** Who took the lease from this run, once someone did. */
    leaseLostTo?: string;
    private eventHooks: Promise<void> = Promise.resolve();

    constructor(
        readonly request: RolloutRequest,
        readonly ports: RolloutPorts,
    ) {
        this.target = request.target;
        this.analysis = resolveAnalysis(request.spec.analysis);
        this.progressDeadlineSeconds = request.spec.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS;
        this.progressDeadlineMs = this.progressDeadlineSeconds * 1000;
    }

    now(): number {
        return this.ports.clock.now();
    }

    /** Why the `pulumi up` driving the run is gone, or undefined while it is there. */
    abandoned(): string | undefined {
        return this.ports.driver?.abandoned();
    }

    /**
     * Every wait of a run goes through here. The lease is renewed meanwhile, and a lost one ends the wait at
     * once with `LeaseLost`; a gone driver is met as `onAbandoned` says. `ms` of 0 or less only checks.
     */
    async pause(ms: number, onAbandoned: OnAbandoned): Promise<void> {
        if (onAbandoned === "stop") {
            this.stopIfAbandoned();
        } else if (onAbandoned === "wake" && this.abandoned() !== undefined) {
            return;
        }
        const slept = Promise.all([this.renewLease(), ms > 0 ? this.ports.clock.sleep(ms) : undefined]);
        const driver = this.ports.driver;
        await (driver && onAbandoned !== "wait" ? Promise.race([slept, driver.whenAbandoned()]) : slept);
        if (onAbandoned === "stop") {
            this.stopIfAbandoned();
        }
    }

    /** Throws `LeaseLost` once another run has taken the lease: before each write of a rollback. */
    stopIfLeaseLost(): void {
        if (this.leaseLostTo !== undefined) {
            throw leaseLost(this.leaseLostTo);
        }
    }

    private stopIfAbandoned(): void {
        const detail = this.abandoned();
        if (detail !== undefined) {
            throw driverGone(detail);
        }
    }

    /** API errors are ignored: the next wait renews again, and a rollback must go on through an outage. */
    private async renewLease(): Promise<void> {
        if (!this.leaseHeld || !this.ports.lease) {
            return;
        }
        try {
            await this.ports.lease.renew();
        } catch (error) {
            if (isLeaseLostError(error)) {
                this.leaseLostTo = error.leaseTakenBy;
                throw leaseLost(error.leaseTakenBy);
            }
        }
    }

    hooks(type: WebhookType): WebhookSpec[] {
        // A hook without a type is a rollout hook, as in Flagger.
        return this.analysis.webhooks.filter((hook) => (hook.type ?? "rollout") === type);
    }

    /** Record an event and pass it to the `event` webhooks (queued in order, never awaited here, never counted). */
    emit(type: CanaryEvent["type"], message: string, detail: { check?: CheckRecord; checks?: CheckRecord[] } = {}): void {
        const event: CanaryEvent = {
            type,
            message,
            timestamp: this.now(),
            phase: this.phase,
            canaryWeight: this.canaryWeight,
            failedChecks: this.failedChecks,
            ...(this.iterations > 0 ? { iterations: this.iterations } : {}),
            ...detail,
        };
        this.ports.events.emit(event);
        for (const hook of this.hooks("event")) {
            const metadata = { ...hook.metadata, eventMessage: message, eventType: type, timestamp: String(event.timestamp) };
            const payload = { ...this.payload(event.phase), metadata };
            // Failures (a rejection or a synchronous throw of the port) are dropped: the queue must never reject.
            this.eventHooks = this.eventHooks.then(() => this.ports.webhooks.call(hook, payload)).then(
                () => undefined,
                () => undefined,
            );
        }
    }

    /** `emit` for the clean-up paths, which must go on even when the event sink itself is what failed. */
    emitQuietly(type: CanaryEvent["type"], message: string): void {
        try {
            this.emit(type, message);
        } catch {
            // The sink already failed the run; the outcome carries the reason.
        }
    }

    /** Alerts are best effort, as in Flagger: a chat provider being down never changes a rollout. */
    async alert(message: string, severity: Severity, withFields = false): Promise<void> {
        const fields = withFields ? alertFields(this.target, this.analysis, this.progressDeadlineSeconds) : [];
        try {
            await this.ports.alerts.send({ canary: `${this.target.name}.${this.target.namespace}`, message, severity, fields });
        } catch {
            // The alert adapter logs its own delivery errors.
        }
    }

    /** Call one hook with Flagger's payload; a thrown error counts as a failed call. */
    async call(hook: WebhookSpec, phase: Phase): Promise<{ result: WebhookResult; record: CheckRecord }> {
        let result: WebhookResult;
        let outcome: CheckRecord["outcome"];
        try {
            result = await this.ports.webhooks.call(hook, { ...this.payload(phase), metadata: hook.metadata });
            outcome = result.ok ? "pass" : "fail";
        } catch (error) {
            result = { ok: false, message: errorText(error) };
            outcome = "error";
        }
        return { result, record: { name: hook.name, kind: "webhook", outcome, message: result.message } };
    }

    private payload(phase: string) {
        return { name: this.target.name, namespace: this.target.namespace, phase, checksum: this.request.checksum };
    }

    /** Wait until every queued `event` webhook call has finished. */
    async flush(): Promise<void> {
        await this.eventHooks;
    }
}
