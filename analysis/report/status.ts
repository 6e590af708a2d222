/**
 * A canary's live status, as `kubectl get canaries` shows Flagger's: phase, canary weight, failed checks,
 * iteration, last transition, the last event and the revision. The analysis keeps it in a ConfigMap of its own
 * (`<app>-canary-status`, never declared by Pulumi, so it is no drift); `npm run status` and `pulumi refresh`
 * read it back. Pure: the record, its ConfigMap data both ways, and the table.
 */
import type { CanaryEvent } from "../engine/ports";

/** Flagger's Canary phases, `Initializing` included (a first deployment before its primary is ready). */
export const CANARY_PHASES = ["Initializing", "Initialized", "Waiting", "Progressing", "WaitingPromotion", "Promoting", "Finalising", "Succeeded", "Failed"] as const;
export type CanaryPhase = (typeof CANARY_PHASES)[number];

export interface CanaryStatus {
    phase: CanaryPhase;
    canaryWeight: number;
    failedChecks: number;
    iterations: number;
    /** When the phase last changed (ISO 8601). */
    lastTransitionTime: string;
    /** When the status was last written (ISO 8601). */
    lastUpdateTime: string;
    /** The last event's message. */
    lastEvent: string;
    /** The revision being rolled out (or last rolled out). */
    revision: string;
}

/** The label that marks status ConfigMaps, so one list finds every canary's. */
export const STATUS_LABEL = "appmesh-canary.io/canary-status";

/** The ConfigMap holding a canary's status, beside its Deployments. */
export function statusConfigMapName(target: string): string {
    return `${target}-canary-status`;
}

/** The canary a status ConfigMap belongs to (its name without the suffix). */
export function statusTarget(configMapName: string): string {
    return configMapName.replace(/-canary-status$/, "");
}

function isPhase(value: string): value is CanaryPhase {
    return (CANARY_PHASES as readonly string[]).includes(value);
}

/** The status after `event`; the transition time moves only when the phase changes. */
export function nextStatus(previous: CanaryStatus | undefined, event: Pick<CanaryEvent, "message" | "timestamp" | "phase" | "canaryWeight" | "failedChecks"> & { iterations?: number }, revision: string): CanaryStatus {
    const phase = isPhase(event.phase) ? event.phase : (previous?.phase ?? "Progressing");
    const at = new Date(event.timestamp).toISOString();
    const sameRun = previous?.revision === revision;
    return {
        phase,
        canaryWeight: event.canaryWeight,
        failedChecks: event.failedChecks,
        iterations: event.iterations ?? (sameRun ? previous.iterations : 0),
        lastTransitionTime: sameRun && previous.phase === phase ? previous.lastTransitionTime : at,
        lastUpdateTime: at,
        lastEvent: event.message,
        revision,
    };
}

/** The ConfigMap's `data`: one key per field, as strings. */
export function statusData(status: CanaryStatus): Record<string, string> {
    return Object.fromEntries(Object.entries(status).map(([key, value]) => [key, String(value)]));
}

/** The status a ConfigMap's `data` holds, or undefined when it is not one. */
export function parseStatusData(data: Record<string, string> | undefined): CanaryStatus | undefined {
    if (!data || !isPhase(data.phase ?? "")) {
        return undefined;
    }
    const number = (key: string) => (Number.isFinite(Number(data[key])) ? Number(data[key]) : 0);
    return {
        phase: data.phase as CanaryPhase,
        canaryWeight: number("canaryWeight"),
        failedChecks: number("failedChecks"),
        iterations: number("iterations"),
        lastTransitionTime: data.lastTransitionTime ?? "",
        lastUpdateTime: data.lastUpdateTime ?? "",
        lastEvent: data.lastEvent ?? "",
        revision: data.revision ?? "",
    };
}

/** One canary's row in the status table. */
export interface StatusRow {
    namespace: string;
    name: string;
    status: CanaryStatus;
}

const COLUMNS = ["NAMESPACE", "NAME", "STATUS", "WEIGHT", "FAILEDCHECKS", "LASTTRANSITIONTIME", "REVISION"] as const;

function cells(row: StatusRow): string[] {
    const { status } = row;
    return [row.namespace, row.name, status.phase, String(status.canaryWeight), String(status.failedChecks), status.lastTransitionTime.replace(/\.\d+Z$/, "Z"), status.revision];
}

/** The rows as `kubectl get canaries -A` prints them: a header and one aligned line per canary, sorted by namespace and name. */
export function formatStatusTable(rows: StatusRow[], header = true): string[] {
    const sorted = [...rows].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
    const table = [...(header ? [[...COLUMNS]] : []), ...sorted.map(cells)];
    const widths = COLUMNS.map((_, i) => Math.max(COLUMNS[i].length, ...sorted.map((r) => cells(r)[i].length)));
    return table.map((line) => line.map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i] + 3))).join(""));
}
