/**
 * One engine run's working state and its side channels: events (to the sink and to `event` webhooks),
 * alerts, webhook calls with Flagger's payload, and the per-interval clock. The state lives only as long as
 * the run; where the rollout stands is always read back from the router.
 */
import type {
    AlertPort,
    CanaryEvent,
    CheckRecord,
    Clock,
    EventSink,
    MetricsPort,
    RouterPort,
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

export interface RolloutPorts {
    router: RouterPort;
    workloads: WorkloadPort;
    metrics: MetricsPort;
    webhooks: WebhookPort;
    alerts: AlertPort;
    clock: Clock;
    events: EventSink;
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
