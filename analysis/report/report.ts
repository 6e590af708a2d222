/**
 * The rollout record: what happened during one canary rollout (events, traffic weights, metric values over
 * time) and its renderings: a text event log, `report.json`, and `report.html` with inline SVG charts of
 * canary weight, success rate and P99 against the thresholds. Pure functions, no I/O.
 */
import type { CanaryEvent, CheckRecord } from "../engine/ports";
import { formatCheck } from "./event-line";
import { BUILTIN_METRICS, CanarySpec, formatDuration, resolveAnalysis, type RouteMatch } from "../spec/canary";

export type RolloutResult = "promoted" | "rolled back" | "error";

export interface WeightSample {
    time: number;
    canary: number;
    primary: number;
}

/** One reading of a metric; `value` null when the query returned no data. */
export interface MetricSample {
    time: number;
    name: string;
    value: number | null;
}

/** Requests the apex service actually served while a route sent `canaryWeight`% to the canary. */
export interface TrafficRow {
    route: string;
    canaryWeight: number;
    requests: number;
    toCanary: number;
}

/** A metric's pass range, with the unit its values are shown in. */
export interface MetricBound {
    name: string;
    min?: number;
    max?: number;
    unit: "%" | "ms" | "";
}

export interface RolloutRecord {
    /** `<name>.<namespace>` */
    canary: string;
    /** What was rolled out, e.g. `podinfo 6.0.0 → 6.0.1 (scenario errors)`. */
    title: string;
    /** How the rollout was driven (e.g. the dynamic-provider host). */
    driver: string;
    startedAt: number;
    finishedAt: number;
    result: RolloutResult;
    /** Error or halt reason when not promoted. */
    reason?: string;
    intervalMs: number;
    events: CanaryEvent[];
    weights: WeightSample[];
    metrics: MetricSample[];
    bounds: MetricBound[];
    /** Observed traffic split, when the data plane could be watched (the playground). */
    traffic?: TrafficRow[];
    /**
     * A/B testing: the requests the canary route takes (`describeHeaderMatch`). `weights` are that route's,
     * as Flagger reads the first route; every other request stays on the primary.
     */
    headerMatch?: string;
}

/** `x-canary exact "insider"`: the headers of one match joined with "and", several matches with "or". */
export function describeHeaderMatch(match: RouteMatch[]): string {
    return match
        .map((m) =>
            Object.entries(m.headers ?? {})
                .map(([header, condition]) => Object.entries(condition).map(([kind, value]) => `${header} ${kind} ${JSON.stringify(value)}`).join(" and "))
                .join(" and "),
        )
        .filter((text) => text !== "")
        .join(" or ");
}

/** Each metric's pass range from the spec (thresholdRange, or the deprecated `threshold`). */
export function metricBounds(spec: CanarySpec): MetricBound[] {
    return resolveAnalysis(spec.analysis).metrics.map((m) => {
        const unit = m.name === "request-success-rate" ? "%" : m.name === "request-duration" ? "ms" : "";
        if (m.thresholdRange) {
            return { name: m.name, min: m.thresholdRange.min, max: m.thresholdRange.max, unit };
        }
        if (m.threshold !== undefined) {
            return m.name === "request-success-rate" ? { name: m.name, min: m.threshold, unit } : { name: m.name, max: m.threshold, unit };
        }
        return { name: m.name, unit };
    });
}

function formatValue(value: number, unit: MetricBound["unit"]): string {
    if (unit === "%") {
        return `${value.toFixed(2)}%`;
    }
    if (unit === "ms") {
        return `${Number(value.toFixed(1))}ms`;
    }
    return value.toFixed(2);
}

/** `min 99%`, `max 500ms`, `min 1 max 5`. */
export function formatBound(bound: MetricBound): string {
    const parts: string[] = [];
    if (bound.min !== undefined) {
        parts.push(`min ${bound.unit === "ms" ? formatDuration(bound.min) : `${bound.min}${bound.unit}`}`);
    }
    if (bound.max !== undefined) {
        parts.push(`max ${bound.unit === "ms" ? formatDuration(bound.max) : `${bound.max}${bound.unit}`}`);
    }
    return parts.join(" ") || "no bound";
}

/** One line with the latest reading of each metric against its bound, and the weight, for the live log. */
export function formatMetricLine(samples: MetricSample[], bounds: MetricBound[], weight: number | undefined, startedAt: number, headerMatch?: string): string {
    const time = samples[0]?.time ?? startedAt;
    const at = ((time - startedAt) / 1000).toFixed(1).padStart(6);
    const parts = samples.map((s) => {
        const bound = bounds.find((b) => b.name === s.name) ?? { name: s.name, unit: "" as const };
        const pass = s.value !== null && !(bound.min !== undefined && s.value < bound.min) && !(bound.max !== undefined && s.value > bound.max);
        const shown = s.value === null ? "no data" : formatValue(s.value, bound.unit);
        return `${s.name} ${shown} (${formatBound(bound)}) ${s.value === null ? "?" : pass ? "ok" : "FAIL"}`;
    });
    return `${at}s  metrics   canary weight ${weight ?? "?"}${headerMatch ? ` (requests with ${headerMatch})` : ""}  ${parts.join("  ")}`;
}

/** `route podinfo at canary weight 50: 52 of 104 requests (50%) reached the canary`. */
export function formatTrafficRow(row: TrafficRow): string {
    const share = row.requests > 0 ? ` (${Math.round((row.toCanary / row.requests) * 100)}%)` : "";
    return `route ${row.route} at canary weight ${row.canaryWeight}: ${row.toCanary} of ${row.requests} requests${share} reached the canary`;
}

/** Headline numbers of the record: wall time, highest canary weight, warnings, events. */
export function summarize(record: RolloutRecord): { durationMs: number; maxCanaryWeight: number; warnings: number; events: number } {
    return {
        durationMs: record.finishedAt - record.startedAt,
        maxCanaryWeight: Math.max(0, ...record.weights.map((w) => w.canary)),
        warnings: record.events.filter((e) => e.type === "Warning").length,
        events: record.events.length,
    };
}

/** `report.json`: the record as stable, indented JSON. */
export function reportJson(record: RolloutRecord): string {
    return JSON.stringify({ ...record, summary: summarize(record), bounds: record.bounds.map((b) => ({ ...b, text: formatBound(b) })) }, null, 2) + "\n";
}

function escapeHtml(text: string): string {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

interface ChartSpec {
    title: string;
    unit: string;
    points: { time: number; value: number | null }[];
    /** Draw as steps (a weight holds until the next write) instead of straight segments. */
    steps: boolean;
    yMin: number;
    yMax: number;
    bound?: MetricBound;
    color: string;
    /** The values the analysis itself checked (from the events), drawn as rings over the sampled line. */
    checked: { time: number; value: number; outcome: CheckRecord["outcome"] }[];
}

const WIDTH = 760;
const HEIGHT = 200;
const PAD = { left: 56, right: 16, top: 28, bottom: 30 };

/** A round tick step (1, 2, 2.5 or 5 × 10^n) that splits `range` into at most `maxTicks` parts. */
function tickStep(range: number, maxTicks: number): number {
    const rough = range / maxTicks;
    const magnitude = 10 ** Math.floor(Math.log10(rough));
    return ([1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((step) => step >= rough) ?? 10 * magnitude);
}

/** The multiples of `step` from `from` to `to`. */
function ticks(from: number, to: number, step: number): number[] {
    const values: number[] = [];
    for (let v = Math.ceil(from / step - 1e-9) * step; v <= to + 1e-9; v += step) {
        values.push(Number(v.toPrecision(12)));
    }
    return values;
}

/** An inline SVG line chart over the rollout's time span, with dashed threshold lines. */
function svgChart(chart: ChartSpec, startedAt: number, finishedAt: number, events: CanaryEvent[]): string {
    const span = Math.max(1, finishedAt - startedAt);
    const x = (t: number) => PAD.left + ((t - startedAt) / span) * (WIDTH - PAD.left - PAD.right);
    const yRange = Math.max(1e-9, chart.yMax - chart.yMin);
    const y = (v: number) => PAD.top + (1 - (Math.min(chart.yMax, Math.max(chart.yMin, v)) - chart.yMin) / yRange) * (HEIGHT - PAD.top - PAD.bottom);
    const parts: string[] = [];
    parts.push(`<text x="${PAD.left}" y="18" class="title">${escapeHtml(chart.title)}</text>`);
    for (const v of ticks(chart.yMin, chart.yMax, tickStep(yRange, 5))) {
        parts.push(`<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>`);
        parts.push(`<text x="${PAD.left - 6}" y="${(y(v) + 4).toFixed(1)}" class="axis" text-anchor="end">${v}${chart.unit}</text>`);
    }
    for (const seconds of ticks(0, span / 1000, tickStep(span / 1000, 8))) {
        const t = startedAt + seconds * 1000;
        parts.push(`<text x="${x(t).toFixed(1)}" y="${HEIGHT - 10}" class="axis" text-anchor="middle">${seconds}s</text>`);
    }
    for (const event of events.filter((e) => e.type === "Warning")) {
        parts.push(`<line x1="${x(event.timestamp).toFixed(1)}" x2="${x(event.timestamp).toFixed(1)}" y1="${PAD.top}" y2="${HEIGHT - PAD.bottom}" class="warning"><title>${escapeHtml(event.message)}</title></line>`);
    }
    for (const [kind, value] of [["min", chart.bound?.min], ["max", chart.bound?.max]] as const) {
        if (value !== undefined) {
            parts.push(`<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y(value).toFixed(1)}" y2="${y(value).toFixed(1)}" class="threshold"/>`);
            parts.push(`<text x="${WIDTH - PAD.right}" y="${(y(value) - 4).toFixed(1)}" class="axis" text-anchor="end">${kind} ${value}${chart.unit}</text>`);
        }
    }
    // Gaps (no data) break the line, so a missing reading is not drawn as a value.
    let path = "";
    let previous: number | null = null;
    for (const point of chart.points) {
        if (point.value === null) {
            previous = null;
            continue;
        }
        const px = x(point.time).toFixed(1);
        const py = y(point.value).toFixed(1);
        if (previous === null) {
            path += `M${px},${py}`;
        } else {
            path += chart.steps ? `H${px}V${py}` : `L${px},${py}`;
        }
        previous = point.value;
    }
    if (chart.steps && previous !== null) {
        path += `H${x(finishedAt).toFixed(1)}`;
    }
    if (path) {
        parts.push(`<path d="${path}" fill="none" stroke="${chart.color}" stroke-width="2"/>`);
    }
    for (const point of chart.checked) {
        parts.push(`<circle cx="${x(point.time).toFixed(1)}" cy="${y(point.value).toFixed(1)}" r="5" fill="none" stroke="${point.outcome === "pass" ? chart.color : "#cf222e"}" stroke-width="2"><title>${((point.time - startedAt) / 1000).toFixed(1)}s: analysis checked ${point.value}${chart.unit}, ${point.outcome}</title></circle>`);
    }
    for (const point of chart.points.filter((p) => p.value !== null)) {
        parts.push(`<circle cx="${x(point.time).toFixed(1)}" cy="${y(point.value!).toFixed(1)}" r="2.5" fill="${chart.color}"><title>${((point.time - startedAt) / 1000).toFixed(1)}s: ${Number(point.value!.toFixed(2))}${chart.unit}</title></circle>`);
    }
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(chart.title)}">${parts.join("")}</svg>`;
}

/** The charts the report shows: canary weight, then one per metric with its bound. */
export function reportCharts(record: RolloutRecord): ChartSpec[] {
    const charts: ChartSpec[] = [
        { title: record.headerMatch ? `Canary weight (%) for requests with ${record.headerMatch}; all others go to the primary` : "Canary weight (%)", unit: "%", points: record.weights.map((w) => ({ time: w.time, value: w.canary })), steps: true, yMin: 0, yMax: 100, color: "#1f6feb", checked: [] },
    ];
    const names = [...new Set([...record.bounds.map((b) => b.name), ...record.metrics.map((m) => m.name)])];
    for (const name of names) {
        const bound = record.bounds.find((b) => b.name === name);
        const points = record.metrics.filter((m) => m.name === name).map((m) => ({ time: m.time, value: m.value }));
        const checked = record.events.flatMap((e) =>
            (e.check ? [e.check] : (e.checks ?? [])).filter((c) => c.kind === "metric" && c.name === name && c.value !== undefined).map((c) => ({ time: e.timestamp, value: c.value!, outcome: c.outcome })),
        );
        const values = [...points.map((p) => p.value).filter((v): v is number => v !== null), ...checked.map((c) => c.value)];
        const known = (BUILTIN_METRICS as readonly string[]).includes(name);
        const title = name === "request-success-rate" ? "Success rate (%) of canary pods" : name === "request-duration" ? "P99 request duration (ms) of canary pods" : name;
        let yMin: number;
        let yMax: number;
        if (name === "request-success-rate") {
            yMin = Math.min(bound?.min ?? 100, ...values) - 5;
            yMax = 100;
        } else {
            yMin = 0;
            yMax = Math.max(bound?.max ?? 0, bound?.min ?? 0, ...values, 1) * 1.2;
        }
        // Round ends, so the axis starts and ends on a labelled tick.
        const step = tickStep(yMax - Math.max(0, yMin), 5);
        charts.push({ title: known ? title : `${title} (custom)`, unit: bound?.unit ?? "", points, steps: false, yMin: Math.max(0, Math.floor(yMin / step) * step), yMax: Math.ceil(yMax / step) * step, bound, color: name === "request-success-rate" ? "#2da44e" : "#bf8700", checked });
    }
    return charts;
}

/** `report.html`: a self-contained page (inline SVG and CSS, no scripts) with the charts and the event log. */
export function renderReportHtml(record: RolloutRecord): string {
    const summary = summarize(record);
    const charts = reportCharts(record)
        .map((c) => svgChart(c, record.startedAt, record.finishedAt, record.events))
        .join("\n");
    const rows = record.events
        .map((e) => {
            const checks = (e.check ? [e.check] : (e.checks ?? [])).map((c) => `<span class="${c.outcome}">${escapeHtml(formatCheck(c))}</span>`).join("<br>");
            return `<tr class="${e.type.toLowerCase()}"><td>${((e.timestamp - record.startedAt) / 1000).toFixed(1)}s</td><td>${e.type}</td><td>${e.canaryWeight}</td><td>${e.failedChecks}</td><td>${escapeHtml(e.message)}</td><td class="checks">${checks}</td></tr>`;
        })
        .join("\n");
    const bounds = record.bounds.map((b) => `<li><code>${escapeHtml(b.name)}</code>: ${escapeHtml(formatBound(b))}</li>`).join("");
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Canary ${escapeHtml(record.canary)}: ${record.result}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2328}
h1 .promoted{color:#2da44e}h1 .rolled{color:#cf222e}h1 .error{color:#cf222e}
svg{display:block;margin:1rem 0;border:1px solid #d0d7de;border-radius:6px;background:#fff}
.title{font-size:13px;font-weight:600}.axis{font-size:11px;fill:#57606a}
.grid{stroke:#eaeef2}.threshold{stroke:#cf222e;stroke-dasharray:6 4;stroke-width:1.5}.warning{stroke:#cf222e;stroke-opacity:.35}
table{border-collapse:collapse;font-size:13px}td,th{padding:2px 8px;text-align:left;border-bottom:1px solid #eaeef2}
.legend{font-size:13px;color:#57606a}
tr.warning td{color:#cf222e}td{vertical-align:top}td.checks{font-size:12px;color:#57606a;white-space:nowrap}td.checks .fail,td.checks .error{color:#cf222e;font-weight:600}
</style></head><body>
<h1>${escapeHtml(record.canary)}: <span class="${record.result.split(" ")[0]}">${record.result}</span></h1>
<p>${escapeHtml(record.title)}. Driven by ${escapeHtml(record.driver)}. Analysis interval ${formatDuration(record.intervalMs)};
took ${(summary.durationMs / 1000).toFixed(1)}s; max canary weight ${summary.maxCanaryWeight}${record.headerMatch ? ` (requests with ${escapeHtml(record.headerMatch)} only)` : ""}; ${summary.warnings} warning(s).${record.reason ? ` Reason: ${escapeHtml(record.reason)}` : ""}</p>
<ul>${bounds}</ul>
<p class="legend">Charts: the line is the canary's metric sampled every interval with the same query; rings are the values the analysis checked (red when the check failed); dashed red lines are the thresholds; faint red vertical lines the Warning events (halts, rollback). Hover a point for its value.</p>
${charts}
${record.traffic && record.traffic.length > 0 ? `<h2>Traffic served</h2>\n<ul>${record.traffic.map((t) => `<li>${escapeHtml(formatTrafficRow(t))}</li>`).join("")}</ul>` : ""}
<h2>Events</h2>
<table><thead><tr><th>time</th><th>type</th><th>weight</th><th>failed checks</th><th>message</th><th>checks</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}
