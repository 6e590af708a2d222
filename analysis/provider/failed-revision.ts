/**
 * The record of a failed revision on the canary Deployment (`FAILED_REVISION_ANNOTATIONS`): which failures make
 * one, what it says, and how it reads back. Only a verdict on the revision is recorded, as Flagger's Failed
 * phase: failed checks, a rollback webhook, the progress deadline. A run whose `pulumi up` went away, or that
 * met an API error, said nothing about the revision; the next `pulumi up` analyses it again.
 */
import type { AnalysisOutcome } from "../engine/engine";
import { FAILED_REVISION_ANNOTATIONS } from "../spec/annotations";

export interface FailedRevision {
    revision: string;
    /** RFC 3339, e.g. `2026-12-02T14:03:00Z`. */
    failedAt?: string;
    /** The rollback reason as recorded (`recordedReason`). */
    reason?: string;
}

/** Longest reason recorded: one line to show in a warning, not the report. */
export const MAX_RECORDED_REASON = 300;

/** The record of a failed analysis of `revision`, or undefined when the failure was no verdict on it. */
export function failureRecord(outcome: AnalysisOutcome, revision: string, now: number): FailedRevision | undefined {
    const verdicts: AnalysisOutcome["rollback"][] = ["threshold", "manual", "deadline"];
    if (outcome.status !== "failed" || !verdicts.includes(outcome.rollback)) {
        return undefined;
    }
    return { revision, failedAt: new Date(now).toISOString().replace(/\.\d+Z$/, "Z"), reason: recordedReason(outcome.reason ?? "no reason given") };
}

/**
 * One line of at most `MAX_RECORDED_REASON` characters. Reasons carry no secrets, but an address in an error
 * (a webhook's, the API server's) is left out all the same: anyone who can read the Deployment reads it.
 */
export function recordedReason(reason: string): string {
    const line = reason.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, "<address>").replace(/\s+/g, " ").trim();
    return line.length <= MAX_RECORDED_REASON ? line : `${line.slice(0, MAX_RECORDED_REASON - 1)}…`;
}

/** The merge patch of the canary's annotations that records `failed`. */
export function failureAnnotations(failed: FailedRevision): Record<string, string | null> {
    const keys = FAILED_REVISION_ANNOTATIONS;
    return { [keys.revision]: failed.revision, [keys.failedAt]: failed.failedAt ?? null, [keys.reason]: failed.reason ?? null };
}

/** The merge patch of the canary's annotations that removes the record. */
export function clearedAnnotations(): Record<string, null> {
    return Object.fromEntries(Object.values(FAILED_REVISION_ANNOTATIONS).map((key) => [key, null]));
}

/** The failed revision the canary's annotations record, if any. */
export function failedRevisionOf(annotations: Record<string, string> | undefined): FailedRevision | undefined {
    const keys = FAILED_REVISION_ANNOTATIONS;
    const revision = annotations?.[keys.revision];
    return revision ? { revision, failedAt: annotations?.[keys.failedAt], reason: annotations?.[keys.reason] } : undefined;
}
