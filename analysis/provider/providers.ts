/**
 * The dynamic providers that run a canary rollout inside `pulumi up` (their resource classes are in
 * `resources.ts`).
 *
 * - `Analysis` (after the canary Deployment and the routers): create bootstraps (the first deployment has no
 *   primary to compare with, so its inputs are promoted as they are) and refuses to when a primary on another
 *   revision runs (`bootstrap.ts`); an update with a new revision runs the engine (recovering an interrupted
 *   run first) and, on success, promotes it: the outputs named after the inputs (`revision`, `template`,
 *   `configData`, `secretData`) become the new revision, and the primary Deployment and `-primary` configs,
 *   built from them, roll next. On failure the engine has put traffic back on the primary and parked the
 *   canary; the failed revision is recorded on the canary Deployment (`failed-revision.ts`), the update throws
 *   with the reason and the state keeps the old revision, so nothing downstream changes. The next update to
 *   that same revision holds it instead of analysing it again (`held-revision.ts`).
 * - `Finalize` (after the primary rolled out): routes everything back to the primary, scales the canary to
 *   zero, runs the post-rollout hooks and reports "Promotion completed! ...".
 *
 * Both hold the canary's Lease while they act, and both watch the `pulumi up` that drives the host: when it
 * dies, a running analysis rolls back and the host exits once no rollout runs (`adapters/driver/engine-watch.ts`).
 *
 * Pulumi serializes the provider objects into the dynamic-provider host (`docs/design.md`, "Dynamic
 * providers"): they live at module scope, capture no `Set`, `Map` or class instance, keep no state, get everything from their
 * inputs, and the adapters they build load their libraries inside methods. Progress goes to stdout, one line
 * per event, which Pulumi shows during `up`. Secrets (kubeconfig, metric provider credentials, alert and
 * Secret data) are secret inputs, re-marked secret on the outputs, and never printed.
 */
import * as diagnostics_channel from "diagnostics_channel";
import * as pulumi from "@pulumi/pulumi";
import { finalizePromotion, recoverInterruptedRollout, runAnalysis, type AnalysisOutcome, type RolloutPorts, type RolloutRequest } from "../engine/engine";
import { AlertNotifier } from "../adapters/alerts";
import type { KubeAccess, RetryOptions } from "../adapters/kubernetes/client";
import { KubeLease } from "../adapters/kubernetes/lease";
import { watchEngine, whileRollingOut } from "../adapters/driver/engine-watch";
import { leaseDurationSeconds } from "../engine/lease";
import { serviceProxyResolver } from "../adapters/kubernetes/service-proxy";
import { KubeWorkloads } from "../adapters/kubernetes/workloads";
import { routerFor, routerKindOf, ROUTER_KINDS } from "../routers/factory";
import type { Router, RouterInput } from "../routers/router";
import { canaryId } from "../engine/messages";
import { PrometheusMetrics } from "../adapters/metrics";
import type { CanaryEvent } from "../engine/ports";
import { formatEventChecks } from "../report/event-line";
import { stableStringify, type TrackedData } from "./revision";
import { RESTING_WEIGHTS } from "../engine/weights";
import { DEFAULT_METRICS_SERVER, DEFAULT_PROVIDER, resolveAnalysis, type AlertProviderSpec, type CanarySpec, type CanaryTarget, type MetricTemplateSpec } from "../spec/canary";
import { parseCanarySpec, validateCanarySpec } from "../spec/validation";
import { validateMetricTemplates } from "../spec/metric-templates";
import { primaryName } from "../spec/names";
import { containsUnknown, UNKNOWN_VALUE, type ValidationFailure } from "../spec/failures";
import { HttpWebhooks } from "../adapters/webhooks";
import { REVISION_ANNOTATION } from "../spec/annotations";
import { bootstrapRefusal } from "./bootstrap";
import { clearedAnnotations, failedRevisionOf, failureAnnotations, failureRecord, type FailedRevision } from "./failed-revision";
import { checkRetryRevision, heldOutputs, heldRevisionText, isHeld } from "./held-revision";
import { trackStatus, type StatusTracker } from "./status-tracker";
import { announcedLast } from "./last-line";
import { KubeCanaryStatus } from "../adapters/kubernetes/status";
import type { CanaryStatus } from "../report/status";
import { analysisRunRecord, reportBaseName } from "../report/run-record";
import { writeRolloutReport } from "../adapters/report-files";
import type { RolloutResult } from "../report/report";

/** What the rollout's last run did: `initialized` (first deployment), `promoted`, or `skipped` (skipAnalysis). */
export type RolloutStatus = "initialized" | "promoted" | "skipped";

/** Inputs both resources share: what the rollout is and how to reach the cluster. */
export interface RolloutInputs {
    target: CanaryTarget;
    canary: CanarySpec;
    /** The router and what Pulumi declares for it at rest. */
    router: RouterInput;
    kubeconfig?: string;
    kubeContext?: string;
    clusterNamespaces?: string[];
    metricTemplates?: Record<string, MetricTemplateSpec>;
    alertProviders?: Record<string, AlertProviderSpec>;
    autoscalerMinReplicas?: number;
    /** `metadata.uid` of the canary Deployment Pulumi manages, to be sure the kubeconfig reaches that cluster. */
    targetUid?: string;
}

export interface AnalysisInputs extends RolloutInputs {
    revision: string;
    template: Record<string, unknown>;
    configData: TrackedData;
    secretData: TrackedData;
    plan: string;
    /** A held revision (its analysis failed) to analyse again on purpose. */
    retryRevision?: string;
    /** Where each analysis writes its rollout report (an absolute path); none when absent. */
    reportDirectory?: string;
}

export interface AnalysisOutputs extends AnalysisInputs {
    status: RolloutStatus;
}

export interface FinalizeInputs extends RolloutInputs {
    revision: string;
    status: RolloutStatus;
}

/** Live state for `pulumi refresh`. */
export interface LiveRollout {
    primaryWeight: number;
    canaryWeight: number;
    canaryReplicas: number;
    /** `resting` when traffic is all on the primary and the canary is parked, else `interrupted`. */
    state: "resting" | "interrupted";
    /** The canary's status as the last run left it (`<app>-canary-status`), when there is one. */
    canaryStatus?: CanaryStatus;
}

/** Check the inputs both resources share; unknown values pass until they are known. */
export function checkRolloutInputs(news: Record<string, any>): ValidationFailure[] {
    const failures: ValidationFailure[] = [];
    const target = news.target;
    if (target !== UNKNOWN_VALUE) {
        for (const key of ["name", "namespace", "service"]) {
            if (target?.[key] !== UNKNOWN_VALUE && (typeof target?.[key] !== "string" || target[key] === "")) {
                failures.push({ property: `target.${key}`, reason: "must be a non-empty string (the Canary component's `target` output)" });
            }
        }
    }
    // validateCanarySpec already leaves out what is unknown during preview.
    failures.push(...validateCanarySpec(news.canary, "canary"));
    failures.push(...checkRouterInput(news.router, target, news.canary));
    // The stack config checks its templates itself; the component's users get the same rules here.
    failures.push(...validateMetricTemplates(news.metricTemplates));
    for (const key of ["template", "configData", "secretData"]) {
        const value = news[key];
        if (value !== undefined && value !== UNKNOWN_VALUE && (value === null || typeof value !== "object" || Array.isArray(value))) {
            failures.push({ property: key, reason: "must be an object" });
        }
    }
    const namespaces = news.clusterNamespaces;
    if (namespaces !== undefined && !containsUnknown(namespaces) && (!Array.isArray(namespaces) || namespaces.some((n) => typeof n !== "string"))) {
        failures.push({ property: "clusterNamespaces", reason: "must be a list of namespace names" });
    }
    return failures;
}

function checkRouterInput(input: unknown, target: unknown, canary: unknown): ValidationFailure[] {
    const kind = (input as RouterInput | undefined)?.kind;
    if (input === UNKNOWN_VALUE || containsUnknown(kind)) {
        return [];
    }
    const router = routerFor(kind);
    if (!router) {
        return [{ property: "router.kind", reason: `must be one of ${ROUTER_KINDS.join(", ")} (the Canary component's \`router\` output), got ${JSON.stringify(kind)}` }];
    }
    // The spec's provider picks the router; a router input of another kind would move traffic on the wrong objects.
    const provider = (canary as CanarySpec | undefined)?.provider ?? DEFAULT_PROVIDER;
    const served = typeof provider === "string" ? routerKindOf(provider) : undefined;
    if (served !== undefined && served !== kind) {
        return [{ property: "router.kind", reason: `must be ${served}, the router of the spec's provider ${provider}, got ${JSON.stringify(kind)}` }];
    }
    return typeof target === "object" && target !== null ? router.check(input as RouterInput, target as CanaryTarget) : [];
}

/**
 * Stacks deployed before the router factory hold the App Mesh router spec as `routerSpec`: read it as the
 * `router` input it now is, so the rename alone is no change (and runs no analysis).
 */
export function withRouterInput<T extends Record<string, any>>(props: T): T {
    if (props.router !== undefined || props.routerSpec === undefined) {
        return props;
    }
    const { routerSpec, ...rest } = props;
    return { ...rest, router: { kind: "appmesh", virtualRouter: routerSpec } } as unknown as T;
}

function changedKeys(olds: Record<string, unknown>, news: Record<string, unknown>, keys: string[]): string[] {
    return keys.filter((k) => containsUnknown(news[k]) || stableStringify(olds[k]) !== stableStringify(news[k]));
}

/** Inputs whose change means an update: the revision and what shapes the analysis. Access settings do not. */
export const ANALYSIS_DIFF_KEYS = ["revision", "target", "canary", "router", "metricTemplates", "alertProviders", "autoscalerMinReplicas"];
export const FINALIZE_DIFF_KEYS = ["revision", "status", "target"];

function kubeAccess(inputs: RolloutInputs): KubeAccess {
    return { kubeconfig: inputs.kubeconfig, context: inputs.kubeContext };
}

/** One event line on stdout (Pulumi shows the provider's stdout during `up`, and as diagnostics in preview). */
function printLine(type: CanaryEvent["type"], message: string): void {
    console.log(`${type.padEnd(7)} ${message}`);
}

/**
 * The diagnostics channel each analysis interval's start is published on (an `AnalysisTick`), for a subscriber
 * loaded into the host (the benchmark measures tick lateness with one); with none, nothing is sent.
 */
export const TICK_CHANNEL = "appmesh-canary:analysis-tick";

/** An engine event in Flagger's wording, followed by the checks behind it. */
function printEvent(event: CanaryEvent): void {
    const checks = formatEventChecks(event);
    printLine(event.type, `${event.message}${checks ? ` ${checks}` : ""}`);
}

function routerOf(inputs: RolloutInputs): Router {
    const router = routerFor(inputs.router?.kind);
    if (!router) {
        throw new Error(`no router of kind ${JSON.stringify(inputs.router?.kind)}; known: ${ROUTER_KINDS.join(", ")}`);
    }
    return router;
}

/** The canary's analysis Lease in the target's namespace. */
function leaseOf(inputs: RolloutInputs, spec: CanarySpec, retry?: RetryOptions): KubeLease {
    const { target } = inputs;
    return new KubeLease({ access: kubeAccess(inputs), namespace: target.namespace, target: target.name, durationSeconds: leaseDurationSeconds(resolveAnalysis(spec.analysis)), retry });
}

/** The rollout's Deployments; `retry` for a look that must be quick. */
function workloadsOf(inputs: RolloutInputs, retry?: RetryOptions): KubeWorkloads {
    const { target } = inputs;
    return new KubeWorkloads({ access: kubeAccess(inputs), namespace: target.namespace, canary: target.name, autoscalerMinReplicas: inputs.autoscalerMinReplicas, retry });
}

/** The canary's status ConfigMap; `retry` for a look that must be quick (the status is a side channel: one try each for a run's reads and writes, so an API outage never slows the run down). */
function statusStore(inputs: RolloutInputs, retry?: RetryOptions): KubeCanaryStatus {
    return new KubeCanaryStatus({ access: kubeAccess(inputs), namespace: inputs.target.namespace, target: inputs.target.name, retry });
}

/** What a run's events and waits move besides the printed lines: the canary's status, the report's record. */
export interface RunObserver {
    event(event: CanaryEvent): void;
    /** A wait (an interval, mostly) has passed. */
    waited(): void;
}

function statusObserver(status: StatusTracker, onEvent: (event: CanaryEvent) => void = () => undefined): RunObserver {
    return {
        event(event) {
            status.record(event);
            onEvent(event);
        },
        waited: () => status.touch(),
    };
}

/** Print a warning line. */
const warn = (message: string) => printLine("Warning", message);

/**
 * The engine's ports over the cluster (the router's objects, the Deployments, the Lease), Prometheus, webhooks,
 * alert providers and the `pulumi up` driving the host; each event is printed and, with a tracker, moves the
 * canary's status.
 */
export function buildPorts(inputs: RolloutInputs, spec: CanarySpec, observer?: RunObserver): RolloutPorts {
    const access = kubeAccess(inputs);
    const { target } = inputs;
    const resolve = serviceProxyResolver({
        access,
        namespaces: inputs.clusterNamespaces ?? [target.namespace, "appmesh-system"],
        defaultNamespace: target.namespace,
    });
    const router = routerOf(inputs);
    return {
        router: router.port(inputs.router, { access, target }),
        workloads: workloadsOf(inputs),
        metrics: new PrometheusMetrics({ address: spec.metricsServer ?? DEFAULT_METRICS_SERVER, builtinQueries: router.builtinQueries, templates: inputs.metricTemplates, resolve }),
        webhooks: new HttpWebhooks({ resolve }),
        alerts: new AlertNotifier({ alerts: spec.analysis?.alerts ?? [], providers: inputs.alertProviders ?? {}, resolve, log: (line) => console.log(line) }),
        clock: {
            now: () => Date.now(),
            sleep: (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)).then(() => observer?.waited()),
        },
        events: {
            emit(event) {
                printEvent(event);
                observer?.event(event);
            },
        },
        lease: leaseOf(inputs, spec),
        driver: watchEngine(),
        ticks: { started: (tick) => diagnostics_channel.channel(TICK_CHANNEL).publish(tick) },
    };
}

function rolloutRequest(inputs: RolloutInputs, revision: string): RolloutRequest {
    return { target: inputs.target, spec: parseCanarySpec(inputs.canary), checksum: revision };
}

/**
 * The message a failed `pulumi up` ends with: why, and the state it left, as read back from the cluster
 * (`live`) when that was possible, else as the engine reported it.
 */
export function rolloutFailure(target: CanaryTarget, revision: string, outcome: AnalysisOutcome, live?: LiveRollout | Error, held = false): string {
    const primary = primaryName(target.name);
    let left: string;
    if (live instanceof Error) {
        left = `The state after the rollback could not be read (${live.message}); the next \`pulumi up\` puts traffic back on ${primary} before anything else.`;
    } else if (live ? live.state === "resting" : outcome.canaryWeight === 0 && !/could not /.test(outcome.reason ?? "")) {
        const next = held
            ? `the next \`pulumi up\` holds it: deploy a fixed revision, or set retryRevision: ${revision} to analyse it again.`
            : "fix the cause and run `pulumi up` again to retry.";
        left = `Traffic is back on ${primary}, the canary is scaled to zero and revision ${revision} was not promoted; ${next}`;
    } else {
        const where = live ? ` (primary ${live.primaryWeight}%, canary ${live.canaryWeight}%, ${live.canaryReplicas} canary replicas)` : "";
        left = `The rollback did not complete${where}; the next \`pulumi up\` puts traffic back on ${primary} before anything else.`;
    }
    return `canary analysis of ${canaryId(target)} failed: ${outcome.reason ?? "no reason given"} (failed checks: ${outcome.failedChecks}). ${left}`;
}

/** Finalize's work: the engine waits for the primary, routes back and parks the canary. */
function finalizeRollout(inputs: FinalizeInputs): Promise<void> {
    return whileRollingOut(async () => {
        const request = rolloutRequest(inputs, inputs.revision);
        await assertSameCluster(inputs);
        const status = await trackStatus(statusStore(inputs, { attempts: 1 }), inputs.revision);
        try {
            await finalizePromotion(request, buildPorts(inputs, request.spec, statusObserver(status)), inputs.status);
        } finally {
            await status.flush(warn);
        }
    });
}

/**
 * Refuse to touch a cluster other than the one Pulumi deployed to (a `KUBECONFIG` pointing elsewhere): the
 * canary Deployment found must be the one the stack manages.
 */
async function assertSameCluster(inputs: RolloutInputs): Promise<void> {
    if (!inputs.targetUid) {
        return;
    }
    const { target } = inputs;
    const live = await workloadsOf(inputs).deployment(target.name);
    if (live?.metadata?.uid !== inputs.targetUid) {
        const found = live ? `a Deployment with uid ${live.metadata?.uid}` : "no such Deployment";
        throw new Error(
            `the kubeconfig reaches a different cluster than the stack's: Deployment ${target.namespace}/${target.name} should have uid ${inputs.targetUid}, ` +
                `found ${found}; pass the stack's kubeconfig to the Canary (\`kubeconfig\`) or point KUBECONFIG at its cluster. Nothing was changed.`,
        );
    }
}

async function readLive(inputs: RolloutInputs): Promise<LiveRollout> {
    const { target } = inputs;
    const weights = await routerOf(inputs).port(inputs.router, { access: kubeAccess(inputs), target }).getWeights();
    const canaryReplicas = await workloadsOf(inputs).canaryReplicas();
    const resting = weights.primary === RESTING_WEIGHTS.primary && canaryReplicas === 0;
    // A side channel: refresh shows the routes and replicas without it when it cannot be read.
    const canaryStatus = await statusStore(inputs, { attempts: 1 }).read().catch(() => undefined);
    return { primaryWeight: weights.primary, canaryWeight: weights.canary, canaryReplicas, state: resting ? "resting" : "interrupted", ...(canaryStatus ? { canaryStatus } : {}) };
}

const resourceId = (target: CanaryTarget) => `${target.namespace}/${target.name}`;

/** The failed revision recorded on the canary Deployment, if any. */
async function recordedFailure(inputs: AnalysisInputs, retry?: RetryOptions): Promise<FailedRevision | undefined> {
    return failedRevisionOf(await workloadsOf(inputs, retry).canaryAnnotations());
}

/** Record the failed revision, best effort: returns whether it was, after a warning when it was not. */
async function recordFailure(inputs: AnalysisInputs, failed: FailedRevision): Promise<boolean> {
    try {
        await workloadsOf(inputs).annotateCanary(failureAnnotations(failed));
        return true;
    } catch (error) {
        printLine("Warning", `Could not record the failure of revision ${failed.revision} on the canary Deployment, so the next \`pulumi up\` analyses it again: ${(error as Error).message}`);
        return false;
    }
}

/** After a promotion, going back to the failed revision is a new revision again (as Flagger compares with the last one only). Best effort. */
async function clearFailure(inputs: AnalysisInputs, failed: FailedRevision): Promise<void> {
    try {
        await workloadsOf(inputs).annotateCanary(clearedAnnotations());
    } catch (error) {
        printLine("Warning", `Could not remove the record of failed revision ${failed.revision} from the canary Deployment, so going back to that revision holds it until retryRevision names it: ${(error as Error).message}`);
    }
}

/** A held revision touches nothing when the canary is at rest; an interrupted run's routes and canary are put to rest first. */
async function restIfInterrupted(inputs: AnalysisInputs, request: RolloutRequest): Promise<void> {
    const live = await readLive(inputs).catch(() => undefined);
    if (live?.state !== "resting") {
        await recoverInterruptedRollout(request, buildPorts(inputs, request.spec));
    }
}

/** How long preview may look for a held revision: a hint, never in the way. */
const PREVIEW_LOOK_MS = 5_000;

/** `promise`'s value, or undefined when it fails or takes longer than `ms` (it goes on unobserved, under its own deadline). */
function within<T>(ms: number, promise: Promise<T>): Promise<T | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
    });
    return Promise.race([promise.catch(() => undefined), late]).finally(() => clearTimeout(timer));
}

/** In preview, one line when the update will hold the new revision (one quick read, no retries; a failure says nothing). */
async function announceHeld(news: Record<string, unknown>): Promise<void> {
    if (["revision", "target", "kubeconfig", "kubeContext", "retryRevision"].some((key) => containsUnknown(news[key]))) {
        return;
    }
    const inputs = news as unknown as AnalysisInputs;
    const failed = await within(PREVIEW_LOOK_MS, recordedFailure(inputs, { attempts: 1 }));
    if (isHeld(inputs.revision, inputs.retryRevision, failed)) {
        printLine("Warning", heldRevisionText(inputs.target, failed, "preview"));
    }
}

/** Refuse to promote without analysis over a primary running another revision (`pulumi up --replace`). */
async function assertBootstrap(inputs: AnalysisInputs): Promise<void> {
    const primary = await workloadsOf(inputs).deployment(primaryName(inputs.target.name));
    const refusal = bootstrapRefusal(inputs.target, inputs.revision, primary && { revision: primary.metadata?.annotations?.[REVISION_ANNOTATION] });
    if (refusal) {
        throw new Error(refusal);
    }
}

/** The run's report, written where the stack says; `announce` gets the line naming it (printed last, `last-line.ts`). Best effort. */
async function reportRun(next: AnalysisInputs, previousRevision: string, run: { startedAt: number; events: CanaryEvent[]; result: RolloutResult; reason?: string }, announce: (line: string) => void): Promise<void> {
    if (!next.reportDirectory) {
        return;
    }
    const finishedAt = Date.now();
    const record = analysisRunRecord({ ...run, target: next.target, spec: parseCanarySpec(next.canary), revision: next.revision, previousRevision, finishedAt });
    try {
        const file = await writeRolloutReport(next.reportDirectory, reportBaseName(next.target, next.revision, run.startedAt), record);
        announce(`Rollout report: ${file}`);
    } catch (error) {
        warn(`Could not write the rollout report to ${next.reportDirectory}: ${(error as Error).message}`);
    }
}

/** Run the analysis of a new revision: promoted outputs, or an error saying how it failed and what it left. */
async function analyse(next: AnalysisInputs, previousRevision: string, request: RolloutRequest, status: StatusTracker, failed: FailedRevision | undefined, announce: (line: string) => void): Promise<{ outs: AnalysisOutputs }> {
    const run = { startedAt: Date.now(), events: [] as CanaryEvent[] };
    let outcome: AnalysisOutcome;
    try {
        outcome = await runAnalysis(request, buildPorts(next, request.spec, statusObserver(status, (event) => run.events.push(event))));
    } catch (error) {
        await reportRun(next, previousRevision, { ...run, result: "error", reason: (error as Error).message }, announce);
        throw error;
    }
    await reportRun(next, previousRevision, { ...run, result: outcome.status === "failed" ? "rolled back" : "promoted", reason: outcome.reason }, announce);
    if (outcome.status === "failed") {
        const record = failureRecord(outcome, next.revision, Date.now());
        const held = record !== undefined && (await recordFailure(next, record));
        const live = await readLive(next).catch((error: Error) => error);
        throw new Error(rolloutFailure(next.target, next.revision, outcome, live, held));
    }
    if (failed) {
        await clearFailure(next, failed);
    }
    return { outs: { ...next, status: outcome.status === "skipped" ? "skipped" : "promoted" } };
}

export const analysisProvider: pulumi.dynamic.ResourceProvider = {
    async check(_olds: any, news: any) {
        watchEngine();
        return { inputs: news, failures: [...checkRolloutInputs(news), ...checkRetryRevision(news.retryRevision)] };
    },

    async diff(_id: string, olds: any, news: any) {
        const changes = changedKeys(withRouterInput(olds), news, ANALYSIS_DIFF_KEYS);
        if (changes.includes("revision")) {
            await announceHeld(news);
        }
        return { changes: changes.length > 0, replaces: changes.includes("target") ? ["target"] : [], deleteBeforeReplace: false };
    },

    async create(inputs: any) {
        watchEngine();
        const news = inputs as AnalysisInputs;
        await assertSameCluster(news);
        await assertBootstrap(news);
        // First deployment: nothing to compare with; the primary starts from these inputs.
        const status = await trackStatus(statusStore(news, { attempts: 1 }), news.revision);
        status.note("Initializing", `Initializing ${canaryId(news.target)}: the first deployment starts its primary on revision ${news.revision}`);
        await status.flush(warn);
        const outs: AnalysisOutputs = { ...news, status: "initialized" };
        return { id: resourceId(news.target), outs };
    },

    async update(_id: string, olds: any, news: any) {
        watchEngine();
        const previous = olds as AnalysisOutputs;
        const next = news as AnalysisInputs;
        if (next.revision === previous.revision) {
            // Same pod template and configs (also a manual return to the promoted revision): no rollout.
            return { outs: { ...next, status: previous.status } };
        }
        return whileRollingOut(async () => {
            const request = rolloutRequest(next, next.revision);
            await assertSameCluster(next);
            const failed = await recordedFailure(next);
            const status = await trackStatus(statusStore(next, { attempts: 1 }), next.revision);
            return announcedLast(
                async (announce) => {
                    if (isHeld(next.revision, next.retryRevision, failed)) {
                        await restIfInterrupted(next, request);
                        const text = heldRevisionText(next.target, failed, "up");
                        printLine("Warning", text);
                        status.note("Failed", text);
                        return { outs: heldOutputs(previous, next) };
                    }
                    return analyse(next, previous.revision, request, status, failed, announce);
                },
                () => status.flush(warn),
                (line) => printLine("Normal", line),
            );
        });
    },

    async read(id: string, props: any) {
        watchEngine();
        return { id, props: { ...props, live: await readLive(withRouterInput(props) as RolloutInputs) } };
    },

    async delete(_id: string, props: any) {
        // The Kubernetes objects belong to the stack's Kubernetes provider; the analysis Lease and the status
        // ConfigMap are the objects the analysis created. Best effort, one attempt: a cluster already gone must not hold up a destroy.
        try {
            const inputs = props as AnalysisOutputs;
            await leaseOf(inputs, parseCanarySpec(inputs.canary), { attempts: 1 }).remove();
        } catch {
            // Left behind, it is released and harmless: the next Analysis of that name takes it over.
        }
        try {
            await statusStore(props as AnalysisOutputs, { attempts: 1 }).remove();
        } catch {
            // Left behind, it shows the last rollout's end; the next Analysis of that name writes over it.
        }
    },
};

export const finalizeProvider: pulumi.dynamic.ResourceProvider = {
    async check(_olds: any, news: any) {
        watchEngine();
        const failures = checkRolloutInputs(news);
        if (news.status !== UNKNOWN_VALUE && !["initialized", "promoted", "skipped"].includes(news.status)) {
            failures.push({ property: "status", reason: "must be the Analysis resource's `status` output: initialized, promoted or skipped" });
        }
        return { inputs: news, failures };
    },

    async diff(_id: string, olds: any, news: any) {
        const changes = changedKeys(olds, news, FINALIZE_DIFF_KEYS);
        return { changes: changes.length > 0, replaces: changes.includes("target") ? ["target"] : [], deleteBeforeReplace: false };
    },

    async create(inputs: any) {
        watchEngine();
        const news = inputs as FinalizeInputs;
        await finalizeRollout(news);
        return { id: resourceId(news.target), outs: news };
    },

    async update(_id: string, olds: any, news: any) {
        watchEngine();
        const next = news as FinalizeInputs;
        if (next.revision !== olds.revision || next.status !== olds.status) {
            await finalizeRollout(next);
        }
        return { outs: next };
    },

    async read(id: string, props: any) {
        watchEngine();
        return { id, props: { ...props, live: await readLive(withRouterInput(props) as RolloutInputs) } };
    },

    async delete() {
        // Nothing to undo: routing and replicas follow the Kubernetes objects.
    },
};
