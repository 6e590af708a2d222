/**
 * Keeps a canary's status ConfigMap in step with one provider run: every engine event moves it (phase, weight,
 * failed checks, the event), and the run waits for the last write before it returns, so the status ends where
 * the run did. A status that cannot be written is reported once as a warning and never fails the run.
 */
import type { CanaryEvent } from "../engine/ports";
import { nextStatus, type CanaryPhase, type CanaryStatus } from "../report/status";

/** Where the status lives (`KubeCanaryStatus`: the ConfigMap). */
export interface StatusStore {
    read(): Promise<CanaryStatus | undefined>;
    /** Queue a write; never throws. */
    write(status: CanaryStatus): void;
    /** Wait for the queued writes; the first error since the last flush, if any. */
    flush(): Promise<Error | undefined>;
}

/** Waits shorter than this (retry backoffs) do not rewrite the status; intervals are at least a second. */
const MIN_TOUCH_MS = 1000;

export interface StatusTracker {
    /** Move the status by an engine event. */
    record(event: CanaryEvent): void;
    /** Rewrite the status with a fresh update time after a wait, so a long wait (a closed gate) still shows the run alive. */
    touch(): void;
    /** Move the status outside the engine (a first deployment, a held revision). */
    note(phase: CanaryPhase, message: string, weights?: { canaryWeight: number; failedChecks: number }): void;
    /** Wait for the last write; `warn` hears of a failed one. */
    flush(warn: (message: string) => void): Promise<void>;
}

/** A tracker of the rollout of `revision`, starting from the status already in `store` (read once, best effort). */
export async function trackStatus(store: StatusStore, revision: string, now: () => number = Date.now): Promise<StatusTracker> {
    let current: CanaryStatus | undefined = await store.read().catch(() => undefined);
    const move = (event: Parameters<typeof nextStatus>[1]) => {
        current = nextStatus(current, event, revision);
        store.write(current);
    };
    return {
        record: move,
        touch() {
            const at = now();
            if (current && at - Date.parse(current.lastUpdateTime) >= MIN_TOUCH_MS) {
                current = { ...current, lastUpdateTime: new Date(at).toISOString() };
                store.write(current);
            }
        },
        note(phase, message, weights) {
            move({ phase, message, timestamp: now(), canaryWeight: weights?.canaryWeight ?? 0, failedChecks: weights?.failedChecks ?? current?.failedChecks ?? 0 });
        },
        async flush(warn) {
            const failure = await store.flush();
            if (failure) {
                warn(`Could not write the canary status ConfigMap, so \`npm run status\` shows an older state: ${failure.message}`);
            }
        },
    };
}
