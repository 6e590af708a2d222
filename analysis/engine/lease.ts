/**
 * The canary's lease around a run: taken before anything is touched, waiting while another live run holds it;
 * renewed by every wait of the run (`RolloutSession.pause`); released at the end.
 */
import type { ResolvedAnalysis } from "../spec/canary";
import { eventText } from "./messages";
import type { RolloutSession } from "./session";

/** How often a lease another run holds is asked for again. */
export const LEASE_POLL_MS = 2_000;
const MIN_LEASE_SECONDS = 15;

/** Three intervals, so that a run renewing at every wait keeps it through a slow interval; at least 15 s. */
export function leaseDurationSeconds(analysis: ResolvedAnalysis): number {
    return Math.max(Math.ceil((3 * analysis.intervalMs) / 1000), MIN_LEASE_SECONDS);
}

/** Run `work` holding the lease. The wait for it counts toward no deadline: the run has not started. */
export async function withLease<T>(s: RolloutSession, work: () => Promise<T>): Promise<T> {
    await acquire(s);
    try {
        return await work();
    } finally {
        await release(s);
    }
}

async function acquire(s: RolloutSession): Promise<void> {
    const lease = s.ports.lease;
    if (!lease) {
        return;
    }
    let reported: string | undefined;
    for (;;) {
        const claim = await lease.tryAcquire();
        if (claim.acquired) {
            s.leaseHeld = true;
            return;
        }
        if (claim.holder !== reported) {
            s.emit("Warning", eventText.waitingForLease(s.target, claim.holder, claim.expiresAt - s.now()));
            reported = claim.holder;
        }
        await s.pause(LEASE_POLL_MS, "stop");
    }
}

/** A lease taken over is another run's to release; a failed release expires by itself. */
async function release(s: RolloutSession): Promise<void> {
    if (!s.leaseHeld || s.leaseLostTo !== undefined) {
        return;
    }
    s.leaseHeld = false;
    try {
        await s.ports.lease?.release();
    } catch {
        // Nothing to do: the lease expires after its duration.
    }
}
