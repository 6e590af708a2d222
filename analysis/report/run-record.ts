/**
 * The rollout record of one Analysis run inside `pulumi up`, built from the events the engine emitted: the
 * weights they carried and the metric values the analysis checked (read from the Prometheus it queries), so
 * the report's charts hold exactly what decided the rollout. Pure.
 */
import type { CanaryEvent } from "../engine/ports";
import { resolveAnalysis, type CanarySpec, type CanaryTarget } from "../spec/canary";
import { describeHeaderMatch, metricBounds, type MetricSample, type RolloutRecord, type RolloutResult, type WeightSample } from "./report";

export interface AnalysisRun {
    target: CanaryTarget;
    spec: CanarySpec;
    revision: string;
    /** The promoted revision the run started from. */
    previousRevision?: string;
    startedAt: number;
    finishedAt: number;
    events: CanaryEvent[];
    result: RolloutResult;
    reason?: string;
}

/** The canary weight over time: at rest when the run started, then as each event found it. */
function weightsOf(run: AnalysisRun): WeightSample[] {
    const samples: WeightSample[] = [{ time: run.startedAt, canary: 0, primary: 100 }];
    for (const event of run.events) {
        if (event.canaryWeight !== samples[samples.length - 1].canary) {
            samples.push({ time: event.timestamp, canary: event.canaryWeight, primary: 100 - event.canaryWeight });
        }
    }
    return samples;
}

/** Every metric value the analysis checked, at the time of the event that reported it. */
function checkedMetrics(events: CanaryEvent[]): MetricSample[] {
    return events.flatMap((event) =>
        (event.check ? [event.check] : (event.checks ?? []))
            .filter((check) => check.kind === "metric")
            .map((check) => ({ time: event.timestamp, name: check.name, value: check.value ?? null })),
    );
}

export function analysisRunRecord(run: AnalysisRun): RolloutRecord {
    const analysis = resolveAnalysis(run.spec.analysis);
    const from = run.previousRevision ? `${run.previousRevision} → ` : "";
    return {
        canary: `${run.target.name}.${run.target.namespace}`,
        title: `${run.target.name} revision ${from}${run.revision}`,
        driver: "pulumi up (the Analysis resource)",
        startedAt: run.startedAt,
        finishedAt: run.finishedAt,
        result: run.result,
        ...(run.reason === undefined ? {} : { reason: run.reason }),
        intervalMs: analysis.intervalMs,
        events: run.events,
        weights: weightsOf(run),
        metrics: checkedMetrics(run.events),
        bounds: metricBounds(run.spec),
        ...(analysis.match.length > 0 ? { headerMatch: describeHeaderMatch(analysis.match) } : {}),
    };
}

/** `<app>-<revision>-<UTC time>`, e.g. `podinfo-40a857abea41bb8f-20261202T175841Z`: sortable, one per run. */
export function reportBaseName(target: CanaryTarget, revision: string, time: number): string {
    return `${target.name}-${revision}-${new Date(time).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}`;
}
