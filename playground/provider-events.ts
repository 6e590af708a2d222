/**
 * Canary events read back from the lines the Analysis and Finalize providers print (`<type> <message>
 * [<checks>]`), whether they come from a provider host's stdout or from `pulumi up`'s diagnostics, with the
 * canary weight and failed-check count the events imply (the report draws them).
 */
import type { CanaryEvent, CheckRecord } from "../analysis/engine/ports";
import { parseEventChecks } from "../analysis/report/event-line";

const EVENT_LINE = /^\s*(Normal|Warning)\s+(.*?)(?:\s+\[(.*)\])?\s*$/;

export interface EventLine {
    type: CanaryEvent["type"];
    message: string;
    checks: CheckRecord[];
}

export function parseEventLine(line: string): EventLine | undefined {
    const match = EVENT_LINE.exec(line);
    return match ? { type: match[1] as CanaryEvent["type"], message: match[2], checks: match[3] === undefined ? [] : parseEventChecks(match[3]) } : undefined;
}

/** What a rollout's events so far say about it. */
export interface EventTally {
    weight: number;
    failedChecks: number;
}

/** The event of a line, advancing the tally (weight steps, scale-downs, failed checks). */
export function tallyEvent(line: EventLine, tally: EventTally, time: number): CanaryEvent {
    const { type, message, checks } = line;
    const advance = /canary weight (\d+)$/.exec(message);
    tally.weight = advance ? Number(advance[1]) : /Scaling down|Routing all traffic to primary/.test(message) ? 0 : tally.weight;
    // The engine reports each failed check as a Warning carrying that one check, and counts it.
    const failedCheck = type === "Warning" && checks.length === 1 && checks[0].outcome !== "pass" ? checks[0] : undefined;
    tally.failedChecks += failedCheck ? 1 : 0;
    const detail = failedCheck ? { check: failedCheck } : checks.length > 0 ? { checks } : {};
    return { type, message, timestamp: time, phase: "", canaryWeight: tally.weight, failedChecks: tally.failedChecks, ...detail };
}
