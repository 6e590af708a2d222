/**
 * The analysis engine: Flagger's canary state machine (reference §4), run inside `pulumi up`. It reaches
 * the world only through the ports of `ports.ts`, reads the traffic weights back from the router every
 * interval, and leaves the router at its resting weights on every path that does not promote. Each entry
 * point holds the canary's lease while it acts (`lease.ts`), and every wait ends early when the `pulumi up`
 * driving the run is gone.
 */
import type { CheckRecord, PortError, RouteWeights } from "./ports";
import { observerOf, skipsAnalysis } from "../spec/canary";
import { alertText, canaryId, eventText } from "./messages";
import { evaluateMetric, metricSource, metricsInRunOrder, unusableMetric, type CheckResult } from "./checks";
import { ALL_ON_CANARY, isPromotionDue, NEVER_ADVANCES, RESTING_WEIGHTS, nextPromotionWeight, nextStepWeight, nextWeight } from "./weights";
import { isKindedError, kindedError } from "./errors";
import { errorText, RolloutSession, type Phase, type RolloutPorts, type RolloutRequest } from "./session";
import { withLease } from "./lease";
import { isDriverGone, isLeaseLost } from "./stops";

export type { Phase, RolloutPorts, RolloutRequest } from "./session";

export interface AnalysisOutcome {
    status: "succeeded" | "skipped" | "failed";
    reason?: string;
    failedChecks: number;
    /** Canary weight of the apex route when the run ended (0 after a rollback). */
    canaryWeight: number;
    checks: CheckRecord[];
    /**
     * What made a failed run roll back: failed checks (`threshold`), a rollback webhook (`manual`), the progress
     * deadline, its `pulumi up` gone (`abandoned`) or an exception (`error`). Absent when it touched nothing (it
     * never started, or its lease was taken over).
     */
    rollback?: RollbackCause["kind"];
}

/** How often canary readiness is polled while it scales up (Flagger waits a whole interval). */
const READINESS_POLL_MS = 2_000;

/**
 * Restoring traffic outranks giving up: the rollback's two restore steps (routes back to the primary, canary
 * to zero) are retried for this long, so an API-server outage of tens of seconds (an EKS control-plane update)
 * ends with traffic on the primary rather than split. Each attempt already includes the adapter's own retries.
 */
export const RESTORE_BUDGET_MS = 120_000;
const RESTORE_FIRST_DELAY_MS = 1_000;
const RESTORE_MAX_DELAY_MS = 10_000;

/**
 * Scale the canary up, wait until it is ready, run the hooks and step the weights with checks every
 * interval, honouring the confirm gates. Success leaves traffic at the last weight while the primary rolls;
 * every failure (including an exception from any port, and the `pulumi up` going away) ends at the resting
 * weights with the canary asked to scale to zero. Two failures touch nothing: a run that could not take the
 * lease, and one whose lease another run took over (that run owns the canary now). Never throws.
 */
export async function runAnalysis(request: RolloutRequest, ports: RolloutPorts): Promise<AnalysisOutcome> {
    const session = new RolloutSession(request, ports);
    try {
        return await withLease(session, () => analyseOrRollBack(session));
    } catch (error) {
        return stopped(session, error);
    } finally {
        await session.flush();
    }
}

async function analyseOrRollBack(s: RolloutSession): Promise<AnalysisOutcome> {
    let outcome: AnalysisOutcome;
    try {
        outcome = await analyse(s);
    } catch (error) {
        if (isLeaseLost(error)) {
            throw error;
        }
        return rollBack(s, rollbackCause(error));
    }
    // A promotion nobody would carry out: the `pulumi up` that rolls the primary next is gone.
    const abandoned = s.abandoned();
    return outcome.status !== "failed" && abandoned !== undefined ? rollBack(s, { kind: "abandoned", detail: abandoned }) : outcome;
}

function rollbackCause(error: unknown): RollbackCause {
    if (isKindedError(error, "deadline-exceeded")) {
        return { kind: "deadline", error: error.message };
    }
    if (isDriverGone(error)) {
        return { kind: "abandoned", detail: error.detail };
    }
    return { kind: "error", error: errorText(error) };
}

/** A run that did not start (the lease not taken), or whose lease was taken over: nothing is rolled back. */
function stopped(s: RolloutSession, error: unknown): AnalysisOutcome {
    const reason = isLeaseLost(error) ? eventText.leaseLost(s.target, error.holder) : eventText.notStarted(s.target, errorText(error));
    s.emitQuietly("Warning", reason);
    return { status: "failed", reason, failedChecks: s.failedChecks, canaryWeight: s.canaryWeight, checks: s.checks };
}

/**
 * After the primary rolled out: route traffic back to the primary (in `stepWeightPromotion` steps, one per
 * interval, or at once), scale the canary to zero, run the post-rollout hooks and report. `skipped` and
 * `initialized` end a promotion without analysis and a first deployment. On an exception the routes are
 * still returned to the primary and the canary scaled down before the error is rethrown. A primary that is
 * not ready is the exception: traffic stays where the analysis left it (see `holdUntilPrimaryReady`). With
 * its `pulumi up` gone, Finalize still finishes routing back to the primary, which is what it is for; the
 * remaining `stepWeightPromotion` steps are skipped for one step to all traffic on the primary.
 */
export async function finalizePromotion(request: RolloutRequest, ports: RolloutPorts, mode: "promoted" | "skipped" | "initialized"): Promise<void> {
    const session = new RolloutSession(request, ports);
    try {
        await withLease(session, () => finalize(session, mode));
    } catch (error) {
        if (isLeaseLost(error)) {
            const reason = eventText.leaseLost(session.target, error.holder);
            session.emitQuietly("Warning", reason);
            throw new Error(reason);
        }
        throw error;
    } finally {
        await session.flush();
    }
}

async function finalize(s: RolloutSession, mode: "promoted" | "skipped" | "initialized"): Promise<void> {
    if (mode !== "initialized") {
        // Flagger's phase while the primary rolls out to the promoted revision.
        s.phase = "Promoting";
        await holdUntilPrimaryReady(s);
    }
    try {
        if (mode === "initialized") {
            await finishInitialization(s);
        } else {
            await finishPromotion(s, mode);
        }
    } catch (error) {
        if (isLeaseLost(error)) {
            throw error;
        }
        s.emitQuietly("Warning", errorText(error));
        const problems = await restRoutesAndCanary(s);
        throw new Error([`finalizing ${s.target.name}.${s.target.namespace} failed: ${errorText(error)}`, ...problems].join("; "));
    }
}

/**
 * When the router is not at its resting weights, or the canary still runs, a previous run was interrupted:
 * route everything to the primary and scale the canary to zero. Returns whether anything was recovered.
 */
export async function recoverInterruptedRollout(request: RolloutRequest, ports: RolloutPorts): Promise<boolean> {
    const session = new RolloutSession(request, ports);
    try {
        return await withLease(session, () => recover(session));
    } finally {
        await session.flush();
    }
}

/**
 * Flagger holds promotion until the primary is ready (`IsPrimaryReady`). Pulumi has already waited for the
 * primary Deployment; this guards the cases where that wait was skipped. A primary still not ready after the
 * progress deadline (or not retriable) fails the promotion with Flagger's event and alert, and traffic stays
 * where the analysis left it: the verified canary keeps its weight rather than sending all of it to a
 * primary that cannot serve it. With the `pulumi up` gone, nobody waits any longer: one last look, then the
 * same failure.
 */
async function holdUntilPrimaryReady(s: RolloutSession): Promise<void> {
    const until = s.now() + s.progressDeadlineMs;
    for (;;) {
        const readiness = await s.ports.workloads.primaryReadiness(s.analysis.primaryReadyThreshold, s.progressDeadlineSeconds);
        if (readiness.ready) {
            return;
        }
        const abandoned = s.abandoned();
        if (!readiness.retriable || s.now() >= until || abandoned !== undefined) {
            const reason = abandoned === undefined ? readiness.reason : `${readiness.reason}; ${eventText.driverGone(abandoned)}`;
            const message = eventText.promotionFailed(s.target, reason);
            s.emitQuietly("Warning", message);
            await s.alert(alertText.promotionFailed(reason), "error");
            throw new Error(message);
        }
        await s.pause(READINESS_POLL_MS, "wake");
    }
}

/** The progress deadline passed while the canary was not ready or a gate stayed closed: Flagger rolls back. */
const deadlineExceeded = (reason: string) => kindedError("deadline-exceeded", reason, {});

type RollbackCause =
    | { kind: "threshold" }
    | { kind: "manual" }
    | { kind: "deadline"; error: string }
    | { kind: "abandoned"; detail: string }
    | { kind: "error"; error: string };

/** What an interval decided: an outcome ends the run, nothing means "next interval". */
type Decision = AnalysisOutcome | undefined;

async function analyse(s: RolloutSession): Promise<AnalysisOutcome> {
    if (!skipsAnalysis(s.request.spec) && s.analysis.strategy === "canary" && nextStepWeight(s.analysis, 0) === 0) {
        throw new Error(NEVER_ADVANCES);
    }
    await recover(s);
    await waitForGate(s, "confirm-rollout");
    s.phase = "Progressing";
    s.emit("Normal", eventText.newRevision(s.target));
    await s.alert(alertText.newRevision(), "info", true);
    await s.ports.workloads.scaleCanary(await s.ports.workloads.canaryReplicasWhenActive());
    await waitForCanary(s);
    if (skipsAnalysis(s.request.spec)) {
        return promoteWithoutAnalysis(s);
    }
    let due = s.now();
    for (let index = 0; ; index++) {
        s.ports.ticks?.started({ canary: canaryId(s.target), index, dueAt: due, startedAt: s.now() });
        const outcome = await runInterval(s);
        if (outcome) {
            return outcome;
        }
        due = await nextTick(s, due);
    }
}

/** Intervals run on a fixed grid; one whose work overran the next tick is followed at once. */
async function nextTick(s: RolloutSession, tick: number): Promise<number> {
    const next = tick + s.analysis.intervalMs;
    const now = s.now();
    // An overrun interval waits for nothing, but still renews the lease and looks for the driver.
    await s.pause(next - now, "stop");
    return Math.max(next, now);
}

/** Poll canary readiness after the scale-up until it is ready (or the deadline throws). */
async function waitForCanary(s: RolloutSession): Promise<void> {
    while (!(await canaryReady(s))) {
        await s.pause(Math.min(READINESS_POLL_MS, s.analysis.intervalMs), "stop");
    }
}

/**
 * Flagger's `IsCanaryReady`: not retriable, or not ready for longer than the progress deadline, rolls back;
 * otherwise report the reason (once per distinct reason) and hold.
 */
async function canaryReady(s: RolloutSession): Promise<boolean> {
    const readiness = await s.ports.workloads.canaryReadiness(s.analysis.canaryReadyThreshold, s.progressDeadlineSeconds);
    if (readiness.ready) {
        s.canaryUnready = undefined;
        return true;
    }
    const unready = s.canaryUnready ?? { since: s.now(), reported: "" };
    s.canaryUnready = unready;
    if (!readiness.retriable || s.now() - unready.since >= s.progressDeadlineMs) {
        throw deadlineExceeded(readiness.reason);
    }
    if (readiness.reason !== unready.reported) {
        s.emit("Warning", readiness.reason);
        unready.reported = readiness.reason;
    }
    return false;
}

/** One analysis interval, in Flagger's order: canary readiness, rollback hooks, checks, then the strategy's step. */
async function runInterval(s: RolloutSession): Promise<Decision> {
    // A canary that stopped being ready holds the analysis without counting a failed check, as in Flagger.
    if (!(await canaryReady(s))) {
        return undefined;
    }
    if (await rollbackRequested(s)) {
        return rollBack(s, { kind: "manual" });
    }
    const weights = await s.ports.router.getWeights();
    s.canaryWeight = weights.canary;
    const starting = weights.canary === 0 && s.iterations === 0;
    if (starting) {
        s.emit("Normal", eventText.startingAnalysis(s.target));
    }
    const checks = starting ? await runPreRolloutHooks(s) : await runChecks(s);
    if (checks.failed) {
        return countFailedCheck(s, checks.failed);
    }
    const decision = await step(s, weights, checks.passed);
    if (starting && !decision) {
        // Load tests are rollout hooks: starting them with the first step (Flagger starts them one interval
        // later) gives the first metric check a window of traffic instead of "no values found".
        const failed = await runCountedHooks(s, "rollout", []);
        if (failed) {
            return countFailedCheck(s, failed);
        }
    }
    return decision;
}

/** The interval's one failed check: count it, report it, and roll back once the threshold is reached. */
async function countFailedCheck(s: RolloutSession, failed: CheckResult): Promise<Decision> {
    s.failedChecks += 1;
    s.lastHalt = failed.halt;
    s.emit("Warning", failed.halt!, { check: failed.record });
    return s.failedChecks >= s.analysis.threshold ? rollBack(s, { kind: "threshold" }) : undefined;
}

function step(s: RolloutSession, weights: RouteWeights, checks: CheckRecord[]): Promise<Decision> {
    switch (s.analysis.strategy) {
        case "ab-testing":
            return stepABTesting(s, weights, checks);
        case "blue-green":
            return stepBlueGreen(s, checks);
        default:
            return stepCanary(s, weights, checks);
    }
}

interface IntervalChecks {
    passed: CheckRecord[];
    failed?: CheckResult;
}

/** Pre-rollout or rollout hooks, which count as checks; the first failure ends the interval's checks. */
async function runCountedHooks(s: RolloutSession, type: "pre-rollout" | "rollout", passed: CheckRecord[]): Promise<CheckResult | undefined> {
    for (const hook of s.hooks(type)) {
        const { result, record } = await s.call(hook, "Progressing");
        s.checks.push(record);
        if (!result.ok) {
            const halt = type === "pre-rollout" ? eventText.preRolloutFailed : eventText.rolloutHookFailed;
            return { record, halt: halt(s.target, hook.name, result.message) };
        }
        passed.push(record);
        // Flagger reports passing pre-rollout hooks only; rollout hooks pass silently every interval.
        if (type === "pre-rollout") {
            s.emit("Normal", eventText.preRolloutPassed(hook.name), { check: record });
        }
    }
    return undefined;
}

async function runPreRolloutHooks(s: RolloutSession): Promise<IntervalChecks> {
    const passed: CheckRecord[] = [];
    return { passed, failed: await runCountedHooks(s, "pre-rollout", passed) };
}

/** Rollout hooks, then metrics in Flagger's order; the first failure ends the interval's checks. */
async function runChecks(s: RolloutSession): Promise<IntervalChecks> {
    const passed: CheckRecord[] = [];
    const hookFailure = await runCountedHooks(s, "rollout", passed);
    if (hookFailure) {
        return { passed, failed: hookFailure };
    }
    const context = { namespace: s.target.namespace, name: s.target.name, target: s.target.name, service: s.target.service };
    for (const metric of metricsInRunOrder(s.analysis.metrics)) {
        const checked =
            metricSource(metric) === "unusable"
                ? unusableMetric(metric)
                : evaluateMetric(metric, await s.ports.metrics.read(metric, context), s.target, observerOf(s.request.spec.provider));
        s.checks.push(checked.record);
        if (checked.halt) {
            return { passed, failed: checked };
        }
        passed.push(checked.record);
    }
    return { passed };
}

/** Rollback hooks: the first one that answers with success asks for a manual rollback. */
async function rollbackRequested(s: RolloutSession): Promise<boolean> {
    for (const hook of s.hooks("rollback")) {
        const { result, record } = await s.call(hook, s.phase);
        if (result.ok) {
            s.emit("Warning", eventText.rollbackHookPassed(hook.name), { check: record });
            return true;
        }
        s.emit("Normal", eventText.rollbackHookIdle(hook.name), { check: record });
    }
    return false;
}

async function stepCanary(s: RolloutSession, weights: RouteWeights, checks: CheckRecord[]): Promise<Decision> {
    // Flagger asks before every step, including the one that promotes.
    if (!(await passGate(s, "confirm-traffic-increase"))) {
        return undefined;
    }
    if (isPromotionDue(s.analysis, weights.canary)) {
        return promote(s, checks);
    }
    const next = nextWeight(s.analysis, weights);
    await setWeights(s, next);
    s.emit("Normal", eventText.advanceCanaryWeight(s.target, next.canary), { checks });
    return undefined;
}

/** A/B: the header route sends all matching traffic to the canary for `iterations` intervals. */
async function stepABTesting(s: RolloutSession, weights: RouteWeights, checks: CheckRecord[]): Promise<Decision> {
    if (s.analysis.iterations > s.iterations) {
        if (weights.canary !== ALL_ON_CANARY.canary) {
            await setWeights(s, ALL_ON_CANARY);
        }
        s.iterations += 1;
        s.emit("Normal", eventText.advanceIteration(s.target, s.iterations, s.analysis.iterations), { checks });
        return undefined;
    }
    return promote(s, checks);
}

/** Blue/green: iterations against the idle canary, then one interval with all traffic on it, then promotion. */
async function stepBlueGreen(s: RolloutSession, checks: CheckRecord[]): Promise<Decision> {
    if (s.analysis.iterations > s.iterations) {
        s.iterations += 1;
        s.emit("Normal", eventText.advanceIteration(s.target, s.iterations, s.analysis.iterations), { checks });
        return undefined;
    }
    if (s.analysis.iterations === s.iterations) {
        if (!(await passGate(s, "confirm-promotion"))) {
            return undefined;
        }
        await setWeights(s, ALL_ON_CANARY);
        s.iterations += 1;
        s.emit("Normal", eventText.routingAllToCanary(), { checks });
        return undefined;
    }
    return promote(s, checks);
}

async function promote(s: RolloutSession, checks: CheckRecord[]): Promise<Decision> {
    if (!(await passGate(s, "confirm-promotion"))) {
        return undefined;
    }
    s.phase = "Promoting";
    s.emit("Normal", eventText.copyingTemplate(s.target), { checks });
    return { status: "succeeded", failedChecks: s.failedChecks, canaryWeight: s.canaryWeight, checks: s.checks };
}

/** `skipAnalysis`: the ready canary is promoted at once, with traffic on the primary. */
async function promoteWithoutAnalysis(s: RolloutSession): Promise<AnalysisOutcome> {
    await setWeights(s, RESTING_WEIGHTS);
    s.phase = "Promoting";
    s.emit("Normal", eventText.copyingTemplate(s.target));
    return { status: "skipped", failedChecks: 0, canaryWeight: 0, checks: [] };
}

type GateType = "confirm-rollout" | "confirm-traffic-increase" | "confirm-promotion";

const GATE_TEXT: Record<GateType, { passed: (hook: string) => string; halted: (s: RolloutSession, hook: string) => string; alert: () => string; phase?: Phase }> = {
    "confirm-rollout": {
        passed: eventText.confirmRolloutPassed,
        halted: (s, hook) => eventText.waitingForApproval(s.target, hook),
        alert: alertText.waitingForApproval,
        phase: "Waiting",
    },
    "confirm-traffic-increase": {
        passed: eventText.confirmTrafficIncreasePassed,
        halted: (s, hook) => eventText.waitingForTrafficIncreaseApproval(s.target, hook),
        alert: alertText.waitingForTrafficIncreaseApproval,
    },
    "confirm-promotion": {
        passed: eventText.confirmPromotionPassed,
        halted: (s, hook) => eventText.waitingForPromotionApproval(s.target, hook),
        alert: alertText.waitingForPromotionApproval,
        phase: "WaitingPromotion",
    },
};

/**
 * Call a confirm gate's hooks in order. Closed: halt (event and alert once when the gate moves the canary
 * into a waiting phase, every interval otherwise, as Flagger does); closed for longer than the progress
 * deadline: roll back. Confirm gates never count as failed checks.
 */
async function passGate(s: RolloutSession, type: GateType): Promise<boolean> {
    const text = GATE_TEXT[type];
    // Flagger sends the current phase to confirm-rollout hooks and Progressing to the others.
    const payloadPhase = type === "confirm-rollout" ? s.phase : "Progressing";
    for (const hook of s.hooks(type)) {
        const { result, record } = await s.call(hook, payloadPhase);
        if (result.ok) {
            s.emit("Normal", text.passed(hook.name), { check: record });
            continue;
        }
        const since = s.gateClosedSince.get(type) ?? s.now();
        s.gateClosedSince.set(type, since);
        if (!text.phase || s.phase !== text.phase) {
            if (text.phase) {
                s.phase = text.phase;
            }
            s.emit("Warning", text.halted(s, hook.name), { check: record });
            if (!hook.muteAlert) {
                await s.alert(text.alert(), "warn");
            }
        }
        if (s.now() - since >= s.progressDeadlineMs) {
            throw deadlineExceeded(`${type} hook ${hook.name} did not approve within ${s.progressDeadlineSeconds}s`);
        }
        return false;
    }
    s.gateClosedSince.delete(type);
    if (type === "confirm-promotion" && s.phase === "WaitingPromotion") {
        s.phase = "Progressing";
    }
    return true;
}

/** The confirm-rollout gate, re-checked every interval before anything is scaled. */
async function waitForGate(s: RolloutSession, type: GateType): Promise<void> {
    while (!(await passGate(s, type))) {
        await s.pause(s.analysis.intervalMs, "stop");
    }
}

async function setWeights(s: RolloutSession, weights: RouteWeights): Promise<void> {
    await s.ports.router.setWeights(weights);
    s.canaryWeight = weights.canary;
}

/**
 * Flagger's rollback, with traffic returned before anyone is notified: cause event, resting routes,
 * "Canary failed!", canary to zero, alert, post-rollout hooks. Every step is attempted even when an earlier
 * one threw; what could not be done is added to the reason.
 */
async function rollBack(s: RolloutSession, cause: RollbackCause): Promise<AnalysisOutcome> {
    let reason: string;
    let alert: { message: string; severity: "warn" | "error" };
    switch (cause.kind) {
        case "threshold":
            reason = s.lastHalt ?? eventText.rollingBackThreshold(s.target, s.failedChecks);
            s.emitQuietly("Warning", eventText.rollingBackThreshold(s.target, s.failedChecks));
            alert = { message: alertText.thresholdReached(s.failedChecks), severity: "error" };
            break;
        case "manual":
            reason = eventText.rollingBackManual(s.target);
            s.emitQuietly("Warning", reason);
            alert = { message: alertText.manualRollback(), severity: "warn" };
            break;
        case "deadline":
            reason = eventText.rollingBackDeadline(s.target, cause.error);
            s.emitQuietly("Warning", reason);
            alert = { message: alertText.progressDeadline(cause.error), severity: "error" };
            break;
        case "abandoned":
            reason = eventText.rollingBackAbandoned(s.target, cause.detail);
            s.emitQuietly("Warning", reason);
            alert = { message: alertText.abandoned(cause.detail), severity: "warn" };
            break;
        case "error":
            reason = cause.error;
            s.emitQuietly("Warning", cause.error);
            alert = { message: alertText.analysisError(cause.error), severity: "error" };
            break;
    }
    const problems = await restRoutesAndCanary(s, {
        beforeScaleDown: () => {
            s.phase = "Failed";
            s.emitQuietly("Warning", eventText.canaryFailed(s.target));
        },
    });
    await s.alert(alert.message, alert.severity);
    await runPostRolloutHooks(s, "Failed");
    return {
        status: "failed",
        reason: [reason, ...problems].join("; "),
        failedChecks: s.failedChecks,
        canaryWeight: s.canaryWeight,
        checks: s.checks,
        rollback: cause.kind,
    };
}

/**
 * Resting routes, then the canary to zero; each attempted regardless of the other and retried within
 * `RESTORE_BUDGET_MS`. Returns what still failed.
 */
async function restRoutesAndCanary(s: RolloutSession, options: { routes?: boolean; beforeScaleDown?: () => void } = {}): Promise<string[]> {
    const problems: string[] = [];
    if (options.routes ?? true) {
        const failed = await restore(s, "route all traffic to the primary", () => setWeights(s, RESTING_WEIGHTS));
        if (failed) {
            problems.push(failed);
        }
    }
    options.beforeScaleDown?.();
    const failed = await restore(s, "scale the canary to zero", () => s.ports.workloads.scaleCanary(0));
    if (failed) {
        problems.push(failed);
    }
    return problems;
}

/**
 * One restore step, tried again with backoff (an event per failed attempt) until it succeeds, the error says
 * it is permanent, or the budget is spent. Returns the problem when it did not succeed. The backoff waits
 * even with the `pulumi up` gone (restoring traffic is what is left to do); a lost lease stops it.
 */
async function restore(s: RolloutSession, step: string, action: () => Promise<void>): Promise<string | undefined> {
    const started = s.now();
    let delay = RESTORE_FIRST_DELAY_MS;
    for (let attempt = 1; ; attempt++) {
        s.stopIfLeaseLost();
        try {
            await action();
            return undefined;
        } catch (error) {
            const text = errorText(error);
            const permanent = (error as PortError | undefined)?.transient === false && (error as PortError).denied !== true;
            if (permanent || s.now() + delay - started > RESTORE_BUDGET_MS) {
                const tried = attempt > 1 ? ` (gave up after ${attempt} attempts over ${Math.round((s.now() - started) / 1000)}s)` : "";
                return `could not ${step}${tried}: ${text}`;
            }
            s.emitQuietly("Warning", eventText.restoreRetry(s.target, step, attempt, text, delay));
            await s.pause(delay, "wait");
            delay = Math.min(delay * 2, RESTORE_MAX_DELAY_MS);
        }
    }
}

async function runPostRolloutHooks(s: RolloutSession, phase: "Succeeded" | "Failed"): Promise<void> {
    for (const hook of s.hooks("post-rollout")) {
        const { result, record } = await s.call(hook, phase);
        if (!result.ok) {
            s.emitQuietly("Warning", eventText.postRolloutFailed(hook.name, result.message));
            return;
        }
        try {
            s.emit("Normal", eventText.postRolloutPassed(hook.name), { check: record });
        } catch {
            // Post-rollout hooks never change the outcome.
        }
    }
}

async function finishPromotion(s: RolloutSession, mode: "promoted" | "skipped"): Promise<void> {
    s.phase = "Promoting";
    const weights = await s.ports.router.getWeights();
    s.canaryWeight = weights.canary;
    const canaryServed = weights.canary > 0;
    if (mode === "skipped") {
        if (canaryServed) {
            await setWeights(s, RESTING_WEIGHTS);
        }
        s.phase = "Finalising";
    } else if (s.analysis.stepWeightPromotion > 0) {
        let current = weights;
        for (;;) {
            // With the `pulumi up` gone, the steps are not worth waiting for: all traffic to the primary now.
            const next = s.abandoned() === undefined ? nextPromotionWeight(s.analysis, current) : RESTING_WEIGHTS;
            await setWeights(s, next);
            if (next.primary >= 100) {
                s.phase = "Finalising";
            }
            s.emit("Normal", eventText.advancePrimaryWeight(s.target, next.primary));
            if (next.primary >= 100) {
                break;
            }
            await s.pause(s.analysis.intervalMs, "wake");
            current = await s.ports.router.getWeights();
        }
    } else {
        await setWeights(s, RESTING_WEIGHTS);
        s.phase = "Finalising";
        s.emit("Normal", eventText.routingAllToPrimary());
    }
    if (canaryServed) {
        // As Flagger's Finalising phase: the canary goes one interval after the route rests, so the data plane
        // has taken up the route before the canary's pods stop. With the `pulumi up` gone, no reason to wait.
        await s.pause(s.analysis.intervalMs, "wake");
    }
    await s.ports.workloads.scaleCanary(0);
    s.phase = "Succeeded";
    await runPostRolloutHooks(s, "Succeeded");
    if (mode === "skipped") {
        s.emit("Normal", eventText.promotionSkipped(s.target));
        await s.alert(alertText.skipped(), "info");
    } else {
        s.emit("Normal", eventText.promotionCompleted(s.target));
        await s.alert(alertText.succeeded(), "info");
    }
}

/** First deployment: the primary now serves; park the canary as Flagger does after initialisation. */
async function finishInitialization(s: RolloutSession): Promise<void> {
    s.phase = "Initialized";
    await s.ports.workloads.scaleCanary(0);
    s.emit("Normal", eventText.initializationDone(s.target));
    await s.alert(alertText.initialized("Deployment"), "info", true);
}

async function recover(s: RolloutSession): Promise<boolean> {
    let atRest: boolean;
    try {
        const weights = await s.ports.router.getWeights();
        atRest = weights.primary === RESTING_WEIGHTS.primary && weights.canary === RESTING_WEIGHTS.canary;
    } catch {
        // Unreadable weights: re-applying the resting spec is the safe repair.
        atRest = false;
    }
    const canaryRuns = s.ports.workloads.canaryReplicas ? (await s.ports.workloads.canaryReplicas()) > 0 : false;
    if (atRest && !canaryRuns) {
        return false;
    }
    s.phase = "Failed";
    // Traffic goes back to the primary even when the sink cannot report it.
    s.emitQuietly("Warning", eventText.recovering(s.target));
    const problems = await restRoutesAndCanary(s, { routes: !atRest });
    s.phase = "Progressing";
    if (problems.length > 0) {
        throw new Error(`could not recover the interrupted rollout of ${s.target.name}.${s.target.namespace}: ${problems.join("; ")}`);
    }
    return true;
}
