/**
 * Events as text lines, with the checks behind each decision in brackets: what the provider prints during
 * `pulumi up`, what the report's event log shows, and the parser that reads the checks back from a line.
 */
import type { CanaryEvent, CheckRecord } from "../engine/ports";

/** One check with everything behind its outcome: `metric request-success-rate = 89.02% over 1m (min 99%): fail`. */
export function formatCheck(check: CheckRecord): string {
    const value = check.value === undefined ? "" : ` = ${Number(check.value.toFixed(2))}${check.unit ?? ""}`;
    const window = check.window ? ` over ${check.window}` : "";
    return `${check.kind} ${check.name}${value}${window}${check.threshold ? ` (${check.threshold})` : ""}: ${check.outcome}`;
}

/**
 * The checks behind an event, e.g. `[metric request-success-rate = 84 (min 99%): fail]`, so a log line says
 * why the analysis decided what it did; empty when the event carries none.
 */
export function formatEventChecks(event: CanaryEvent): string {
    const checks = event.check ? [event.check] : (event.checks ?? []);
    return checks.length === 0 ? "" : `[${checks.map(formatCheck).join("; ")}]`;
}

/** One check as `formatCheck` writes it: `metric request-success-rate = 84% over 1m (min 99%): fail`. */
const CHECK_TEXT = /^(metric|webhook) (.+?)(?: = (-?[\d.]+(?:e[-+]?\d+)?)(%|ms)?)?(?: over (\S+))?(?: \((.*)\))?: (pass|fail|no-data|error)$/;

/**
 * The inverse of `formatEventChecks` for the text between the brackets, so events read from a process's
 * output (the provider host prints them) keep their checks; parts that are not a check are left out.
 */
export function parseEventChecks(text: string): CheckRecord[] {
    return text.split("; ").flatMap((part) => {
        const match = CHECK_TEXT.exec(part.trim());
        if (!match) {
            return [];
        }
        const [, kind, name, value, unit, window, threshold, outcome] = match;
        return [{
            name,
            kind: kind as CheckRecord["kind"],
            outcome: outcome as CheckRecord["outcome"],
            ...(value === undefined ? {} : { value: Number(value) }),
            ...(unit === undefined ? {} : { unit: unit as CheckRecord["unit"] }),
            ...(window === undefined ? {} : { window }),
            ...(threshold === undefined ? {} : { threshold }),
        }];
    });
}

/** One event as a log line: seconds since the start, type, message, and the checks behind it if any. */
export function formatEventLine(event: CanaryEvent, startedAt: number): string {
    const at = ((event.timestamp - startedAt) / 1000).toFixed(1).padStart(6);
    const checks = formatEventChecks(event);
    return `${at}s  ${event.type.padEnd(7)}  ${event.message}${checks ? ` ${checks}` : ""}`;
}
