/**
 * The analysis engine: Flagger's canary state machine, run once inside `pulumi up`. It reaches the world
 * only through the ports of `ports.ts`, and derives where a rollout stands from what the router and the
 * workloads report, so an interrupted run can be recovered.
 */
import type {
    AlertPort,
    CheckRecord,
    Clock,
    EventSink,
    MetricsPort,
    RouterPort,
    WebhookPort,
    WorkloadPort,
} from "./ports";
import type { CanarySpec, CanaryTarget } from "./spec";

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

export interface AnalysisOutcome {
    status: "succeeded" | "skipped" | "failed";
    reason?: string;
    failedChecks: number;
    canaryWeight: number;
    checks: CheckRecord[];
}

export async function runAnalysis(_request: RolloutRequest, _ports: RolloutPorts): Promise<AnalysisOutcome> {
    throw new Error("not implemented");
}

export async function finalizePromotion(
    _request: RolloutRequest,
    _ports: RolloutPorts,
    _mode: "promoted" | "skipped" | "initialized",
): Promise<void> {
    throw new Error("not implemented");
}

export async function recoverInterruptedRollout(_request: RolloutRequest, _ports: RolloutPorts): Promise<boolean> {
    throw new Error("not implemented");
}
