/**
 * The generic parts of validation: Pulumi's failure shape, a collector of failures by dotted path with the
 * checks every rule uses, one message listing them all, and the preview-time unknown value. Knows no rule.
 */
import { parseDuration } from "./canary";

/** Pulumi's check-failure shape: `property` is the dotted path, e.g. `canary.analysis.maxWeight`. */
export interface ValidationFailure {
    property: string;
    reason: string;
}

/** A DNS-1035 label: the names of Services, VirtualNodes and the like. */
export const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** A DNS subdomain (RFC 1123): the names of Gateways and GatewayClasses. */
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function show(value: unknown): string {
    return JSON.stringify(value) ?? String(value);
}

/** Collects failures under a base path; helpers return whether the value passed. */
/** Run `check` on a value that is set; an optional field that is absent passes. */
export function optional(value: unknown, check: (value: unknown) => void): void {
    if (value !== undefined) {
        check(value);
    }
}

export class FailureCollector {
    readonly failures: ValidationFailure[] = [];

    fail(property: string, reason: string): false {
        this.failures.push({ property, reason });
        return false;
    }

    object(path: string, value: unknown): value is Json {
        return isObject(value) || this.fail(path, `must be an object, got ${show(value)}`);
    }

    /** A map of named objects, each name a DNS label and each item checked by `check`; returns the names (none when absent). */
    namedMap(path: string, value: unknown, check: (path: string, item: unknown) => void): string[] {
        if (value === undefined || !this.object(path, value)) {
            return [];
        }
        for (const [name, item] of Object.entries(value)) {
            if (this.dnsLabel(`${path}.${name}`, name)) {
                check(`${path}.${name}`, item);
            }
        }
        return Object.keys(value);
    }

    array(path: string, value: unknown): value is unknown[] {
        return Array.isArray(value) || this.fail(path, `must be a list, got ${show(value)}`);
    }

    /** Reports keys outside `known`; `ignored` keys pass silently, `unsupported` ones say why they are refused. */
    keys(path: string, value: Json, known: readonly string[], ignored: readonly string[] = [], unsupported: Record<string, string> = {}): void {
        for (const key of Object.keys(value)) {
            if (known.includes(key) || ignored.includes(key)) {
                continue;
            }
            if (key in unsupported) {
                this.fail(`${path}.${key}`, `is a Flagger field this program does not support: ${unsupported[key]}`);
            } else {
                this.fail(`${path}.${key}`, `is not a known field; allowed: ${[...known].join(", ")}`);
            }
        }
    }

    /** The one key of `kinds` that `value` sets; a failure when it sets none or several. */
    exactlyOne(path: string, value: Json, kinds: readonly string[]): string | undefined {
        const set = kinds.filter((kind) => value[kind] !== undefined);
        if (set.length === 1) {
            return set[0];
        }
        this.fail(path, `must set exactly one of ${kinds.join(", ")}, got ${set.length === 0 ? "none" : set.join(", ")}`);
        return undefined;
    }

    integer(path: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): value is number {
        const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
        return (Number.isInteger(value) && (value as number) >= min && (value as number) <= max) ||
            this.fail(path, `must be an integer ${range}, got ${show(value)}`);
    }

    number(path: string, value: unknown): value is number {
        return (typeof value === "number" && Number.isFinite(value)) || this.fail(path, `must be a number, got ${show(value)}`);
    }

    boolean(path: string, value: unknown): value is boolean {
        return typeof value === "boolean" || this.fail(path, `must be true or false, got ${show(value)}`);
    }

    string(path: string, value: unknown): value is string {
        return (typeof value === "string" && value.length > 0) || this.fail(path, `must be a non-empty string, got ${show(value)}`);
    }

    oneOf<T extends string>(path: string, value: unknown, allowed: readonly T[]): value is T {
        return allowed.includes(value as T) || this.fail(path, `must be one of ${allowed.join(", ")}, got ${show(value)}`);
    }

    dnsLabel(path: string, value: unknown, maxLength = 63): value is string {
        return (typeof value === "string" && DNS_LABEL.test(value) && value.length <= maxLength) ||
            this.fail(path, `must be a DNS label (lowercase letters, digits and '-', starting with a letter, at most ${maxLength} characters), got ${show(value)}`);
    }

    /** A Go-style duration ("30s", "1m", "1m30s", "500ms") of at least `minMs`. */
    duration(path: string, value: unknown, minMs = 0): value is string {
        const ms = typeof value === "string" ? parseDuration(value) : undefined;
        if (ms === undefined) {
            return this.fail(path, `must be a duration such as 30s, 1m or 1m30s (units ms, s, m, h), got ${show(value)}`);
        }
        return ms >= minMs || this.fail(path, `must be at least ${minMs / 1000}s, got ${show(value)}`);
    }

    url(path: string, value: unknown): value is string {
        if (typeof value === "string") {
            try {
                const url = new URL(value);
                if ((url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "") {
                    return true;
                }
            } catch {
                // reported below
            }
        }
        return this.fail(path, `must be an absolute http:// or https:// URL, got ${show(value)}`);
    }

    stringMap(path: string, value: unknown): value is Record<string, string> {
        if (!this.object(path, value)) {
            return false;
        }
        let ok = true;
        for (const [key, item] of Object.entries(value)) {
            if (typeof item !== "string") {
                ok = this.fail(`${path}.${key}`, `must be a string (quote numbers and booleans), got ${show(item)}`);
            }
        }
        return ok;
    }

    stringList(path: string, value: unknown): value is string[] {
        if (!this.array(path, value)) {
            return false;
        }
        return value.map((item, i) => this.string(`${path}[${i}]`, item)).every(Boolean);
    }

    /** Names in a list must be unique: they key events, checks and alerts. */
    uniqueNames(path: string, items: unknown[]): void {
        const seen = new Set<string>();
        items.forEach((item, i) => {
            const name = isObject(item) ? item.name : undefined;
            if (typeof name === "string") {
                if (seen.has(name)) {
                    this.fail(`${path}[${i}].name`, `duplicates the name ${show(name)}; names must be unique`);
                }
                seen.add(name);
            }
        });
    }
}

/** The value Pulumi passes for an input not known yet (during preview); `check` sees it in place of any value. */
export const UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Whether a value, or anything inside it, is not known yet. */
export function containsUnknown(value: unknown): boolean {
    if (value === UNKNOWN_VALUE) {
        return true;
    }
    return typeof value === "object" && value !== null && Object.values(value).some(containsUnknown);
}

/**
 * Failures about a value that is not fully known yet are dropped: Pulumi checks again once it is known. A failure
 * is about the value at its path, so a part of that value (or an enclosing one) being unknown drops it.
 */
export function withoutUnknowns(failures: ValidationFailure[], raw: unknown, base: string): ValidationFailure[] {
    if (!containsUnknown(raw)) {
        return failures;
    }
    return failures.filter((f) => {
        const segments = f.property.slice(base.length).split(/\.|\[(\d+)\]/).filter((x) => x !== undefined && x !== "");
        let value: unknown = raw;
        for (const segment of segments) {
            if (value === UNKNOWN_VALUE) {
                return false;
            }
            value = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[segment] : undefined;
        }
        return !containsUnknown(value);
    });
}

/** One message listing every failure, one per line. */
export function formatFailures(title: string, failures: ValidationFailure[]): string {
    const n = failures.length;
    return `${title} (${n} problem${n === 1 ? "" : "s"}):\n${failures.map((f) => `  - ${f.property}: ${f.reason}`).join("\n")}`;
}
