/**
 * The two ways a run is stopped from outside: the `pulumi up` driving it is gone, or another run has taken the
 * canary's lease. Waits throw these; the entry points decide what is still done.
 */
import type { LeaseLostError } from "./ports";
import { eventText } from "./messages";

/** The `pulumi up` that started the run is gone: stop waiting; an analysis rolls back. */
export class DriverGone extends Error {
    constructor(readonly detail: string) {
        super(eventText.driverGone(detail));
    }
}

/** Another run holds the canary's lease now: it owns the canary, so this run must not touch it again. */
export class LeaseLost extends Error {
    constructor(readonly holder: string) {
        super(`the analysis lease was taken over by ${holder}`);
    }
}

export function isLeaseLostError(error: unknown): error is LeaseLostError {
    return typeof (error as LeaseLostError | undefined)?.leaseTakenBy === "string";
}
