/** What a failed `pulumi up` said besides the canary rollbacks it reports (an analysis that failed is an outcome, not an interruption). */

const ERROR_LINE = /^\s*error: (.*)$/;
/** Pulumi's summary line of any failed update, and the first line of a rolled-back analysis (`rolloutFailure`). */
const EXPLAINED = [/^update failed$/, /^canary analysis of \S+ failed: /];

/** The distinct error messages of `pulumi up`'s output that are not a canary rollback. */
export function unexplainedErrors(output: string): string[] {
    const messages = output
        .split("\n")
        .map((line) => ERROR_LINE.exec(line)?.[1].trim())
        .filter((message): message is string => message !== undefined && !EXPLAINED.some((pattern) => pattern.test(message)));
    const distinct = [...new Set(messages)];
    // A failure with no error line at all (a crash, a signal) is unexplained too.
    return distinct.length > 0 || /canary analysis of \S+ failed: /.test(output) ? distinct : [output.trim().split("\n").slice(-3).join(" ") || "no output"];
}
