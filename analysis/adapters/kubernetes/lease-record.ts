/**
 * What a canary's analysis Lease (coordination.k8s.io/v1) says, and what a run writes into it: who holds it,
 * until when, and the spec that takes, renews or releases it. Every run reads it the same way.
 */
import type { LeaseClaim } from "../../engine/ports";

type V1LeaseSpec = import("@kubernetes/client-node").V1LeaseSpec;

/** `<target>-canary-analysis`, in the target's namespace. */
export function leaseName(target: string): string {
    return `${target}-canary-analysis`;
}

/** Whether `me` may take the Lease now: it is free, released, expired (`renewTime` + duration passed) or ours. */
export function claimOf(spec: V1LeaseSpec | undefined, me: string, now: number): LeaseClaim {
    const holder = spec?.holderIdentity;
    if (!holder || holder === me) {
        return { acquired: true };
    }
    const renewed = spec.renewTime ?? spec.acquireTime;
    // Read back, a MicroTime is the API's string (client-node does not parse it); one we wrote is a Date.
    const expiresAt = (renewed ? new Date(renewed).getTime() : 0) + (spec.leaseDurationSeconds ?? 0) * 1000;
    return expiresAt > now ? { acquired: false, holder, expiresAt } : { acquired: true };
}

/** The spec with `me` holding it from `now`: a new holder counts a transition and gets a new acquire time. */
export function heldBy(previous: V1LeaseSpec | undefined, me: string, now: Date, durationSeconds: number): V1LeaseSpec {
    const taking = previous?.holderIdentity !== me;
    return {
        ...previous,
        holderIdentity: me,
        leaseDurationSeconds: durationSeconds,
        acquireTime: taking ? now : previous?.acquireTime,
        renewTime: now,
        leaseTransitions: (previous?.leaseTransitions ?? 0) + (taking && previous?.holderIdentity ? 1 : 0),
    };
}

/** The spec with nobody holding it (the object stays, as client-go's leader election leaves it). */
export function released(previous: V1LeaseSpec): V1LeaseSpec {
    const { holderIdentity: _holder, ...rest } = previous;
    return rest;
}
