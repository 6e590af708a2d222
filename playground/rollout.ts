/**
 * One rollout in the playground, in the order `pulumi up` runs it: the canary Deployment gets the new pod
 * template, the Analysis resource is updated (the canary analysis), and on success the primary rolls to
 * the promoted template and the Finalize resource is updated. A driver runs the two provider updates; a
 * monitor samples the canary's metrics with its router's built-in queries for the report.
 */
import type { CanaryEvent } from "../analysis/engine/ports";
import type { AnalysisInputs, FinalizeInputs } from "../analysis/provider/providers";
import { describePlan } from "../analysis/engine/plan";
import { PrometheusMetrics } from "../analysis/adapters/metrics";
import { describeHeaderMatch, formatMetricLine, metricBounds, type MetricSample, type RolloutRecord, type RolloutResult } from "../analysis/report/report";
import { formatEventLine } from "../analysis/report/event-line";
import { computeRevision } from "../analysis/provider/revision";
import { resolveAnalysis, type CanaryTarget } from "../analysis/spec/canary";
import type { InstalledCanary, Playground } from "./playground";
import { routerView, type RouterView } from "./router-view";
import type { StackDriver } from "./pulumi-driver";
import { startTraffic, type TrafficResult } from "./traffic";

/** Runs the Analysis and Finalize provider updates, in-process or through Pulumi's provider host. */
export interface RolloutDriver {
    /** How the rollout is driven, for the log and the report. */
    readonly name: string;
    /** The process the provider code runs in, when it is not this one (for CPU accounting). */
    readonly processId?: number;
    /** The Analysis update; resolves with the failure message when the analysis rolled back. */
    analyse(news: AnalysisInputs, olds: AnalysisInputs, onEvent: (event: CanaryEvent) => void): Promise<string | undefined>;
    /** The Finalize update after the primary rolled out. */
    finalize(news: FinalizeInputs, olds: FinalizeInputs, onEvent: (event: CanaryEvent) => void): Promise<void>;
    stop(): Promise<void>;
}

export interface PlaygroundRolloutOptions {
    playground: Playground;
    canary: InstalledCanary;
    fromVersion: string;
    toVersion: string;
    /** The provider updates alone, or the whole `pulumi up` (a stack driver). */
    driver: RolloutDriver | StackDriver;
    title: string;
    /** Requests per second of user traffic to the apex service while the rollout runs (0: none). */
    userTrafficPerSecond?: number;
    log?: (line: string) => void;
}

export interface PlaygroundRolloutResult {
    record: RolloutRecord;
    userTraffic: TrafficResult;
}

function rolloutInputs(pg: Playground, canary: InstalledCanary) {
    const target: CanaryTarget = { name: canary.target, namespace: canary.namespace, service: canary.names.apex };
    return { target, canary: canary.spec, router: routerView(pg, canary).input, kubeconfig: pg.cluster.kubeconfig, targetUid: canary.targetUid };
}

/** The Analysis inputs for the canary Deployment's pod template as the program declares it now. */
export function analysisInputs(pg: Playground, canary: InstalledCanary): AnalysisInputs {
    const template = canary.declared.spec.template as Record<string, unknown>;
    return { ...rolloutInputs(pg, canary), revision: computeRevision(template), template, configData: {}, secretData: {}, plan: describePlan(canary.spec) };
}

function finalizeInputs(analysis: AnalysisInputs, status: FinalizeInputs["status"]): FinalizeInputs {
    const { target, canary, router, kubeconfig, targetUid, revision } = analysis;
    return { target, canary, router, kubeconfig, targetUid, revision, status };
}

/** Sample the canary's metrics every interval with the same queries the analysis runs. */
function startMonitor(pg: Playground, canary: InstalledCanary, view: RouterView, onSamples: (samples: MetricSample[]) => void): { stop(): Promise<void> } {
    const analysis = resolveAnalysis(canary.spec.analysis);
    const metrics = new PrometheusMetrics({ address: pg.prometheusUrl, builtinQueries: view.queries });
    const context = { namespace: canary.namespace, name: canary.target, target: canary.target, service: canary.names.apex };
    let running: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
        running = running.then(async () => {
            const time = Date.now();
            const samples = await Promise.all(
                analysis.metrics.map(async (metric): Promise<MetricSample> => {
                    const reading = await metrics.read(metric, context);
                    return { time, name: metric.name, value: reading.kind === "value" ? reading.value : null };
                }),
            );
            onSamples(samples);
        });
    }, analysis.intervalMs);
    return {
        async stop() {
            clearInterval(timer);
            await running.catch(() => undefined);
        },
    };
}

/** What `pulumi up` does with a new version, through the two provider updates; the failure message when the analysis rolled back. */
async function providerRollout(pg: Playground, canary: InstalledCanary, driver: RolloutDriver, toVersion: string, onEvent: (event: CanaryEvent) => void): Promise<string | undefined> {
    const olds = analysisInputs(pg, canary);
    // `pulumi up` with the new image: the canary Deployment changes first (its replicas stay at 0).
    await pg.updateCanaryTemplate(canary, toVersion);
    const news = analysisInputs(pg, canary);
    const reason = await driver.analyse(news, olds, onEvent);
    if (reason === undefined) {
        // The primary Deployment is built from the Analysis outputs: Pulumi rolls it and waits.
        await pg.rollPrimary(canary, toVersion);
        await driver.finalize(finalizeInputs(news, "promoted"), finalizeInputs(olds, "initialized"), onEvent);
    }
    return reason;
}

export async function runPlaygroundRollout(opts: PlaygroundRolloutOptions): Promise<PlaygroundRolloutResult> {
    const { playground: pg, canary, driver } = opts;
    const log = opts.log ?? (() => undefined);
    const bounds = metricBounds(canary.spec);
    const analysis = resolveAnalysis(canary.spec.analysis);
    const startedAt = Date.now();
    const events: CanaryEvent[] = [];
    const metrics: MetricSample[] = [];
    const stackDriven = "rollOut" in driver;
    const onEvent = (event: CanaryEvent) => {
        events.push(event);
        // `pulumi up` prints the events itself.
        if (!stackDriven) {
            log(formatEventLine(event, startedAt));
        }
    };
    const view = routerView(pg, canary);
    const currentWeight = () => view.weightHistory(0).pop()?.canary;
    const headerMatch = analysis.match.length > 0 ? describeHeaderMatch(analysis.match) : undefined;
    const monitor = startMonitor(pg, canary, view, (samples) => {
        metrics.push(...samples);
        log(formatMetricLine(samples, bounds, currentWeight(), startedAt, headerMatch));
    });
    // Users call the gateway's public address; the playground reaches it through the gateway's local port.
    const traffic = startTraffic({ proxyUrl: pg.gateway.localUrl, url: `${pg.gateway.loadBalancerUrl}/`, ratePerSecond: opts.userTrafficPerSecond ?? 0 });
    const initialWeights = view.weightHistory(0).pop();
    let result: RolloutResult;
    let reason: string | undefined;
    try {
        reason = "rollOut" in driver ? await driver.rollOut(canary, opts.toVersion, onEvent) : await providerRollout(pg, canary, driver, opts.toVersion, onEvent);
        result = reason === undefined ? "promoted" : "rolled back";
    } catch (error) {
        result = "error";
        reason = (error as Error).message;
    } finally {
        await monitor.stop();
    }
    const userTraffic = await traffic.stop();
    const finishedAt = Date.now();
    const record: RolloutRecord = {
        canary: `${canary.target}.${canary.namespace}`,
        title: opts.title,
        driver: driver.name,
        startedAt,
        finishedAt,
        result,
        reason,
        intervalMs: analysis.intervalMs,
        events,
        weights: [...(initialWeights ? [{ ...initialWeights, time: startedAt }] : []), ...view.weightHistory(startedAt)],
        metrics,
        bounds,
        traffic: view.traffic(startedAt),
        ...(headerMatch ? { headerMatch } : {}),
    };
    return { record, userTraffic };
}
