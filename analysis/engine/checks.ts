/**
 * Threshold evaluation of metric readings (reference §3.4): which readings pass, the structured record of
 * every check, and Flagger's exact halt messages for the ones that do not.
 */
import type { CheckRecord, MetricReading } from "./ports";
import { formatDuration, type CanaryTarget, type MetricSpec } from "../spec/canary";
import { canaryId } from "./messages";
import { isBuiltinMetric, metricInterval } from "../spec/canary";

/** How Flagger runs a metric: built-in App Mesh query, inline `query`, `templateRef`, or nothing usable. */
export type MetricSource = "builtin" | "query" | "template" | "unusable";

export function metricSource(metric: MetricSpec): MetricSource {
    if (metric.templateRef) {
        return "template";
    }
    if (metric.query) {
        return "query";
    }
    if (isBuiltinMetric(metric.name)) {
        return "builtin";
    }
    return "unusable";
}

/** Flagger's order within one interval: built-in and inline metrics in list order, then template metrics. */
export function metricsInRunOrder(metrics: MetricSpec[]): MetricSpec[] {
    const templates = metrics.filter((m) => metricSource(m) === "template");
    return [...metrics.filter((m) => metricSource(m) !== "template"), ...templates];
}

/** The outcome of one check: its record, and Flagger's halt event text when it did not pass. */
export interface CheckResult {
    record: CheckRecord;
    /** Halt (or query error) event text; absent when the check passed. */
    halt?: string;
}

/** Evaluate one reading against the metric's `thresholdRange` (or deprecated `threshold`). */
export function evaluateMetric(metric: MetricSpec, reading: MetricReading, target: CanaryTarget, observer: string): CheckResult {
    const source = metricSource(metric);
    const base = { name: metric.name, kind: "metric" as const, threshold: describeThreshold(metric), window: metricInterval(metric) };
    const unit = isDuration(metric, source) ? { unit: "ms" as const } : isSuccessRate(metric, source) ? { unit: "%" as const } : {};
    if (reading.kind === "no-data") {
        return { record: { ...base, outcome: "no-data", message: reading.message }, halt: noDataText(metric, source, reading.message, target, observer) };
    }
    if (reading.kind === "error") {
        return { record: { ...base, outcome: "error", message: reading.message }, halt: queryErrorText(metric, source, reading.message) };
    }
    const bound = isDuration(metric, source) ? evaluateDuration(metric, reading.value, target) : evaluateNumber(metric, source, reading.value, target);
    const value = isDuration(metric, source) ? Math.trunc(reading.value) : reading.value;
    if (bound) {
        return { record: { ...base, value, ...unit, outcome: "fail", message: bound }, halt: bound };
    }
    return { record: { ...base, value, ...unit, outcome: "pass" } };
}

/** A metric with neither a built-in name, a `query` nor a `templateRef` (validation normally rejects it). */
export function unusableMetric(metric: MetricSpec): CheckResult {
    const halt = "Metric query failed for no usable metrics template and query were configured";
    return { record: { name: metric.name, kind: "metric", outcome: "error", message: halt }, halt };
}

function isDuration(metric: MetricSpec, source: MetricSource): boolean {
    return source === "builtin" && metric.name === "request-duration";
}

function isSuccessRate(metric: MetricSpec, source: MetricSource): boolean {
    return source === "builtin" && metric.name === "request-success-rate";
}

/** Flagger compares request duration in whole milliseconds, thresholds included. */
function evaluateDuration(metric: MetricSpec, value: number, target: CanaryTarget): string | undefined {
    const ms = Math.trunc(value);
    const prefix = `Halt ${canaryId(target)} advancement request duration ${formatDuration(ms)}`;
    const range = metric.thresholdRange;
    if (range) {
        if (range.min !== undefined && ms < Math.trunc(range.min)) {
            return `${prefix} < ${formatDuration(Math.trunc(range.min))}`;
        }
        if (range.max !== undefined && ms > Math.trunc(range.max)) {
            return `${prefix} > ${formatDuration(Math.trunc(range.max))}`;
        }
        return undefined;
    }
    if (metric.threshold !== undefined && metric.threshold > 0 && ms > Math.trunc(metric.threshold)) {
        return `${prefix} > ${formatDuration(Math.trunc(metric.threshold))}`;
    }
    return undefined;
}

function evaluateNumber(metric: MetricSpec, source: MetricSource, value: number, target: CanaryTarget): string | undefined {
    const successRate = isSuccessRate(metric, source);
    const prefix = successRate
        ? `Halt ${canaryId(target)} advancement success rate ${value.toFixed(2)}%`
        : `Halt ${canaryId(target)} advancement ${metric.name} ${value.toFixed(2)}`;
    const unit = successRate ? "%" : "";
    const range = metric.thresholdRange;
    if (range) {
        if (range.min !== undefined && value < range.min) {
            return `${prefix} < ${goFloat(range.min)}${unit}`;
        }
        if (range.max !== undefined && value > range.max) {
            return `${prefix} > ${goFloat(range.max)}${unit}`;
        }
        return undefined;
    }
    // Deprecated `threshold`: a minimum for the success rate, a maximum for everything else.
    if (successRate) {
        const min = metric.threshold ?? 0;
        return value < min ? `${prefix} < ${goFloat(min)}${unit}` : undefined;
    }
    if (metric.threshold !== undefined && metric.threshold > 0 && value > metric.threshold) {
        return `${prefix} > ${goFloat(metric.threshold)}`;
    }
    return undefined;
}

/** `observer`: the metrics observer of the canary's provider as Flagger names it in the message (`appmesh`). */
function noDataText(metric: MetricSpec, source: MetricSource, err: string, target: CanaryTarget, observer: string): string {
    switch (source) {
        case "builtin": {
            const text = `Halt advancement no values found for ${observer} metric ${metric.name} probably ${canaryId(target)} is not receiving traffic`;
            return isSuccessRate(metric, source) ? `${text}: ${err}` : text;
        }
        case "query":
            return `Halt advancement no values found for metric: ${metric.name}`;
        default:
            return `Halt advancement no values found for custom metric: ${metric.name}: ${err}`;
    }
}

function queryErrorText(metric: MetricSpec, source: MetricSource, err: string): string {
    switch (source) {
        case "builtin":
            return `Prometheus query failed: ${err}`;
        case "query":
            return `Prometheus query failed for ${metric.name}: ${err}`;
        default:
            return `Metric query failed for ${metric.name}: ${err}`;
    }
}

/** Human form of the bound for the check record: "min 99%", "max 500ms", "min 1 max 5". */
export function describeThreshold(metric: MetricSpec): string | undefined {
    const source = metricSource(metric);
    const render = (n: number) =>
        isDuration(metric, source) ? formatDuration(Math.trunc(n)) : `${goFloat(n)}${isSuccessRate(metric, source) ? "%" : ""}`;
    const range = metric.thresholdRange;
    if (range) {
        const parts = [range.min !== undefined ? `min ${render(range.min)}` : "", range.max !== undefined ? `max ${render(range.max)}` : ""];
        return parts.filter(Boolean).join(" ") || undefined;
    }
    if (metric.threshold === undefined) {
        return undefined;
    }
    return `${isSuccessRate(metric, source) ? "min" : "max"} ${render(metric.threshold)}`;
}

/** Go's `%v` for a float64: shortest form, exponent below 1e-4 and from 1e21 ("1e-05", "1e+21"). */
export function goFloat(n: number): string {
    const abs = Math.abs(n);
    if (abs !== 0 && (abs < 1e-4 || abs >= 1e21)) {
        return n.toExponential().replace(/e([+-])(\d)$/, "e$10$2");
    }
    return String(n);
}
