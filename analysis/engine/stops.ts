/**
 * The two ways a run is stopped from outside: the `pulumi up` driving it is gone, or another run has taken the
 * canary's lease. Waits throw these; the entry points decide what is still done.
 */
import type { LeaseLostError } from "./ports";
import { isKindedError, kindedError, type KindedError } from "./errors";
import { eventText } from "./messages";

/** The `pulumi up` that started the run is gone: stop waiting; an analysis rolls back. */
export type DriverGone = KindedError<"driver-gone", { detail: string }>;
export const driverGone = (detail: string): DriverGone => kindedError("driver-gone", eventText.driverGone(detail), { detail });
export const isDriverGone = (error: unknown): error is DriverGone => isKindedError(error, "driver-gone");

/** Another run holds the canary's lease now: it owns the canary, so this run must not touch it again. */
export type LeaseLost = KindedError<"lease-lost", { holder: string }>;
export const leaseLost = (holder: string): LeaseLost => kindedError("lease-lost", `the analysis lease was taken over by ${holder}`, { holder });
export const isLeaseLost = (error: unknown): error is LeaseLost => isKindedError(error, "lease-lost");

export function isLeaseLostError(error: unknown): error is LeaseLostError {
    return typeof (error as LeaseLostError | undefined)?.leaseTakenBy === "string";
}
