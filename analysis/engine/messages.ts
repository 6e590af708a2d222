/**
 * Event and alert texts in Flagger's exact wording (reference §4.14 and §6.2), so that people and tools
 * used to Flagger's `kubectl describe canary` output read the same lines from `pulumi up`.
 */
import type { ResolvedAnalysis, CanaryTarget } from "../spec/canary";

/** Flagger's `<name>.<namespace>`. */
export function canaryId(target: CanaryTarget): string {
    return `${target.name}.${target.namespace}`;
}

/** The primary Deployment as Flagger names it: `<target>-primary.<namespace>`. */
function primaryId(target: CanaryTarget): string {
    return `${target.name}-primary.${target.namespace}`;
}

export const eventText = {
    initializationDone: (t: CanaryTarget) => `Initialization done! ${canaryId(t)}`,
    newRevision: (t: CanaryTarget) => `New revision detected! Scaling up ${canaryId(t)}`,
    startingAnalysis: (t: CanaryTarget) => `Starting canary analysis for ${canaryId(t)}`,

    preRolloutPassed: (hook: string) => `Pre-rollout check ${hook} passed`,
    preRolloutFailed: (t: CanaryTarget, hook: string, err: string) => `Halt ${canaryId(t)} advancement pre-rollout check ${hook} failed ${err}`,
    rolloutHookFailed: (t: CanaryTarget, hook: string, err: string) => `Halt ${canaryId(t)} advancement external check ${hook} failed ${err}`,
    confirmRolloutPassed: (hook: string) => `Confirm-rollout check ${hook} passed`,
    waitingForApproval: (t: CanaryTarget, hook: string) => `Halt ${canaryId(t)} advancement waiting for approval ${hook}`,
    confirmTrafficIncreasePassed: (hook: string) => `Confirm-traffic-increase check ${hook} passed`,
    waitingForTrafficIncreaseApproval: (t: CanaryTarget, hook: string) => `Halt ${canaryId(t)} advancement waiting for traffic increase approval ${hook}`,
    confirmPromotionPassed: (hook: string) => `Confirm-promotion check ${hook} passed`,
    waitingForPromotionApproval: (t: CanaryTarget, hook: string) => `Halt ${canaryId(t)} advancement waiting for promotion approval ${hook}`,
    postRolloutPassed: (hook: string) => `Post-rollout check ${hook} passed`,
    postRolloutFailed: (hook: string, err: string) => `Post-rollout hook ${hook} failed ${err}`,
    rollbackHookPassed: (hook: string) => `Rollback check ${hook} passed`,
    rollbackHookIdle: (hook: string) => `Rollback hook ${hook} not signaling a rollback`,

    advanceCanaryWeight: (t: CanaryTarget, weight: number) => `Advance ${canaryId(t)} canary weight ${weight}`,
    advanceIteration: (t: CanaryTarget, iteration: number, of: number) => `Advance ${canaryId(t)} canary iteration ${iteration}/${of}`,
    advancePrimaryWeight: (t: CanaryTarget, weight: number) => `Advance ${canaryId(t)} primary weight ${weight}`,
    copyingTemplate: (t: CanaryTarget) => `Copying ${canaryId(t)} template spec to ${primaryId(t)}`,
    routingAllToPrimary: () => "Routing all traffic to primary",
    routingAllToCanary: () => "Routing all traffic to canary",
    promotionCompleted: (t: CanaryTarget) => `Promotion completed! Scaling down ${canaryId(t)}`,
    promotionSkipped: (t: CanaryTarget) => `Promotion completed! Canary analysis was skipped for ${canaryId(t)}`,
    promotionFailed: (t: CanaryTarget, err: string) => `Promotion of ${canaryId(t)} failed, primary not ready: ${err}`,

    rollingBackThreshold: (t: CanaryTarget, failedChecks: number) => `Rolling back ${canaryId(t)} failed checks threshold reached ${failedChecks}`,
    rollingBackDeadline: (t: CanaryTarget, err: string) => `Rolling back ${canaryId(t)} progress deadline exceeded ${err}`,
    rollingBackManual: (t: CanaryTarget) => `Rolling back ${canaryId(t)} manual webhook invoked`,
    canaryFailed: (t: CanaryTarget) => `Canary failed! Scaling down ${canaryId(t)}`,
    /** Ours: Flagger keeps state in the cluster and has no interrupted runs to recover. */
    recovering: (t: CanaryTarget) => `Recovering interrupted rollout of ${canaryId(t)}`,
    /** Ours: a rollback step that failed and is tried again, so an API-server outage is visible while it lasts. */
    restoreRetry: (t: CanaryTarget, step: string, attempt: number, err: string, delayMs: number) =>
        `Could not ${step} for ${canaryId(t)} (attempt ${attempt}), retrying in ${Math.round(delayMs / 1000)}s: ${err}`,
    /** Ours: another run (another `pulumi up`, or one whose host was killed) holds the canary's lease. */
    waitingForLease: (t: CanaryTarget, holder: string, expiresInMs: number) =>
        `Waiting for ${canaryId(t)}'s analysis lease held by ${holder} (expires in ${Math.max(0, Math.ceil(expiresInMs / 1000))}s)`,
    /** Ours: the CLI process of the `pulumi up` running the analysis died; `detail` says how that was seen. */
    rollingBackAbandoned: (t: CanaryTarget, detail: string) => `Rolling back ${canaryId(t)}: ${driverGone(detail)}`,
    /** Ours: the run ended before it touched anything (its `pulumi up` gone while waiting, the lease not taken). */
    notStarted: (t: CanaryTarget, why: string) => `Not starting the analysis of ${canaryId(t)}, nothing was changed: ${why}`,
    driverGone,
    /** Ours: another run took the lease (this one's host was frozen past its expiry); that run owns the canary now. */
    leaseLost: (t: CanaryTarget, holder: string) =>
        `Stopping the analysis of ${canaryId(t)} without touching it: its analysis lease was taken over by ${holder}, which owns the canary now`,
};

function driverGone(detail: string): string {
    return `the \`pulumi up\` that started this analysis is gone (${detail})`;
}

export const alertText = {
    initialized: (kind: string) => `New ${kind} detected, initialization completed.`,
    newRevision: () => "New revision detected, progressing canary analysis.",
    waitingForApproval: () => "Canary is waiting for approval.",
    waitingForTrafficIncreaseApproval: () => "Canary traffic increase is waiting for approval.",
    waitingForPromotionApproval: () => "Canary promotion is waiting for approval.",
    manualRollback: () => "Rolling back manual webhook invoked",
    thresholdReached: (failedChecks: number) => `Failed checks threshold reached ${failedChecks}`,
    progressDeadline: (err: string) => `Progress deadline exceeded ${err}`,
    /** Ours: Flagger has no alert for an internal error, but an on-call engineer needs one. */
    analysisError: (err: string) => `Canary analysis failed: ${err}`,
    promotionFailed: (err: string) => `Promotion failed, primary not ready: ${err}`,
    /** Ours: the rollback of a run whose `pulumi up` died, which nobody may be watching. */
    abandoned: (detail: string) => `Canary analysis rolled back: ${driverGone(detail)}`,
    succeeded: () => "Canary analysis completed successfully, promotion finished.",
    skipped: () => "Canary analysis was skipped, promotion finished.",
};

/** The workload kind the program manages; Flagger prints it in alerts ("Target: Deployment/podinfo.test"). */
export const TARGET_KIND = "Deployment";

/** Flagger's `alertMetadata` fields, in its order. `maxWeight` is the resolved one (Flagger prints the raw field, 0 when unset). */
export function alertFields(
    target: CanaryTarget,
    analysis: ResolvedAnalysis,
    progressDeadlineSeconds: number,
): { name: string; value: string }[] {
    const fields = [
        { name: "Target", value: `${TARGET_KIND}/${canaryId(target)}` },
        { name: "Failed checks threshold", value: String(analysis.threshold) },
        { name: "Progress deadline", value: `${progressDeadlineSeconds}s` },
    ];
    const routing = trafficRouting(analysis);
    if (routing) {
        fields.push({ name: "Traffic routing", value: routing });
    }
    return fields;
}

function trafficRouting(analysis: ResolvedAnalysis): string | undefined {
    if (analysis.stepWeight > 0) {
        return `Weight step: ${analysis.stepWeight} max: ${analysis.maxWeight}`;
    }
    if (analysis.stepWeights.length > 0) {
        return `Weight steps: ${analysis.stepWeights.join(",")} max: ${analysis.maxWeight}`;
    }
    if (analysis.match.length > 0) {
        return "A/B Testing";
    }
    return analysis.iterations > 0 ? "Blue/Green" : undefined;
}
