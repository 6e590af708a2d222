/** Header (and query parameter) conditions as Flagger takes them: a name mapped to exactly one of exact, prefix, suffix, regex. */
import { FailureCollector, isObject } from "./failures";

export const HEADER_MATCH_KINDS = ["exact", "prefix", "suffix", "regex"] as const;
export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Checks every condition of a `{name: {exact|prefix|suffix|regex: value}}` map; returns its names. */
export function checkStringConditions(
    c: FailureCollector, path: string, conditions: unknown, what: "header" | "query parameter", kinds: readonly string[] = HEADER_MATCH_KINDS,
): string[] {
    if (!c.object(path, conditions)) {
        return [];
    }
    for (const [name, condition] of Object.entries(conditions)) {
        const at = `${path}.${name}`;
        if (what === "header" && !HEADER_NAME.test(name)) {
            c.fail(at, "is not a valid HTTP header name");
        }
        if (!c.object(at, condition)) {
            continue;
        }
        c.keys(at, condition, kinds);
        const kind = c.exactlyOne(at, condition, kinds);
        if (kind !== undefined) {
            c.string(`${at}.${kind}`, condition[kind]);
        }
    }
    return Object.keys(conditions);
}

/** Whether `conditions` holds a condition other than `exact`. */
export function hasInexactCondition(conditions: unknown): boolean {
    return isObject(conditions) && Object.values(conditions).some((condition) => isObject(condition) && condition.exact === undefined);
}
