/**
 * Keeps a canary's status ConfigMap in step with one provider run: every engine event moves it (phase, weight,
 * failed checks, the event), and the run waits for the last write before it returns, so the status ends where
 * the run did. A status that cannot be written is reported once as a warning and never fails the run.
 */
import type { CanaryEvent } from "../engine/ports";
import { KubeCanaryStatus } from "../adapters/kubernetes/status";
import type { KubeAccess } from "../adapters/kubernetes/client";
import { nextStatus, type CanaryPhase, type CanaryStatus } from "../report/status";
import type { CanaryTarget } from "../spec/canary";

export interface StatusTracker {
    /** Move the status by an engine event. */
    record(event: CanaryEvent): void;
    /** Move the status outside the engine (a first deployment, a held revision). */
    note(phase: CanaryPhase, message: string, weights?: { canaryWeight: number; failedChecks: number }): void;
    /** Wait for the last write; `warn` hears of a failed one. */
    flush(warn: (message: string) => void): Promise<void>;
}

/** A tracker for `target`'s rollout of `revision`, starting from the status already there (read once, best effort). */
export async function trackStatus(access: KubeAccess, target: CanaryTarget, revision: string): Promise<StatusTracker> {
    // One try for each call: the status is a side channel, and an API outage must not slow the run down.
    const store = new KubeCanaryStatus({ access, namespace: target.namespace, target: target.name, retry: { attempts: 1 } });
    let current: CanaryStatus | undefined = await store.read().catch(() => undefined);
    const move = (event: Parameters<typeof nextStatus>[1]) => {
        current = nextStatus(current, event, revision);
        store.write(current);
    };
    return {
        record: move,
        note(phase, message, weights) {
            move({ phase, message, timestamp: Date.now(), canaryWeight: weights?.canaryWeight ?? 0, failedChecks: weights?.failedChecks ?? current?.failedChecks ?? 0 });
        },
        async flush(warn) {
            const failure = await store.flush();
            if (failure) {
                warn(`Could not write the canary status ConfigMap, so \`npm run status\` shows an older state: ${failure.message}`);
            }
        },
    };
}
