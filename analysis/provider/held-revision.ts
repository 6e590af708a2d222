/**
 * A revision whose analysis failed is held, as Flagger waits for a new revision after a failed one: the
 * Analysis update neither analyses it again nor fails. Traffic stays on the primary, and the outputs keep the
 * promoted revision, so nothing downstream changes and every preview still shows the update pending.
 * `retryRevision` set to the held revision analyses it again on purpose.
 */
import { canaryId } from "../engine/messages";
import type { CanaryTarget } from "../spec/canary";
import { UNKNOWN_VALUE, type ValidationFailure } from "../spec/failures";
import { primaryName } from "../spec/names";
import type { FailedRevision } from "./failed-revision";
import type { AnalysisInputs, AnalysisOutputs } from "./providers";
import { REVISION_PATTERN } from "./revision";

/** Whether the update holds `revision`: it is the recorded failed one and not asked to be retried. */
export function isHeld(revision: string, retryRevision: string | undefined, failed: FailedRevision | undefined): failed is FailedRevision {
    return failed?.revision === revision && retryRevision !== revision;
}

/** The held update's outputs: the promoted revision as it was, the other inputs as given. */
export function heldOutputs(promoted: AnalysisOutputs, next: AnalysisInputs): AnalysisOutputs {
    const { revision, template, configData, secretData, status } = promoted;
    return { ...next, revision, template, configData, secretData, status };
}

/** The warning of a held revision: `up` when the update holds it, `preview` when the update will. */
export function heldRevisionText(target: CanaryTarget, failed: FailedRevision, stage: "up" | "preview"): string {
    const when = failed.failedAt ? ` at ${failed.failedAt}` : "";
    const why = failed.reason ? ` (${failed.reason})` : "";
    const held = stage === "up" ? "held" : "`pulumi up` will hold it";
    return (
        `Revision ${failed.revision} of ${canaryId(target)} failed${when}${why}; ${held}: traffic stays on ${primaryName(target.name)} and the canary at zero. ` +
        `Set retryRevision: ${failed.revision} in the app's stack config to analyse it again, or deploy a new revision.`
    );
}

/** `retryRevision`, when given, must be a revision as the Analysis computes it. */
export function checkRetryRevision(value: unknown): ValidationFailure[] {
    if (value === undefined || value === UNKNOWN_VALUE || (typeof value === "string" && REVISION_PATTERN.test(value))) {
        return [];
    }
    return [{ property: "retryRevision", reason: `must be a revision, 16 lowercase hex digits as the held warning prints it (e.g. 40a857abea41bb8f), got ${JSON.stringify(value)}` }];
}
