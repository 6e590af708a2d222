/**
 * The revision of a canary: a stable hash of the pod template and the data of the tracked ConfigMaps and
 * Secrets (Flagger's `lastAppliedSpec` + `trackedConfigs`). Only these start a rollout; replicas, HPA or
 * canary spec edits do not.
 */
import { createHash } from "crypto";

/** JSON with object keys sorted at every level, so equal values always give equal text. */
export function stableStringify(value: unknown): string {
    if (Array.isArray(value)) {
        return `[${value.map((v) => (v === undefined ? "null" : stableStringify(v))).join(",")}]`;
    }
    if (value !== null && typeof value === "object") {
        const entries = Object.keys(value)
            .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`);
        return `{${entries.join(",")}}`;
    }
    return JSON.stringify(value);
}

/** Data of the tracked configs by object name. */
export type TrackedData = Record<string, Record<string, string>>;

/** What `computeRevision` returns. */
export const REVISION_PATTERN = /^[0-9a-f]{16}$/;

/** 16 hex digits of sha256 over the template and the tracked data. */
export function computeRevision(template: unknown, configData: TrackedData = {}, secretData: TrackedData = {}): string {
    return createHash("sha256").update(stableStringify({ template, configData, secretData })).digest("hex").slice(0, 16);
}
