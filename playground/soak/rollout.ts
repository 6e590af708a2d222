/**
 * One soak rollout through the real `pulumi up`: set the plan's faults, `pulumi config set image` and `pulumi
 * up` with user traffic on the apex, fire the timed faults while it runs, and after an interruption (a killed
 * CLI, an API server away too long) `pulumi cancel` and `pulumi up` again, as an on-call engineer would. Then
 * observe the cluster, the state and the processes for the invariants.
 */
import { readWeights } from "../../analysis/routers/appmesh/routes";
import { PROJECT } from "../../config/stack";
import type { LocalCluster } from "../local-cluster";
import { PROMETHEUS_NAME } from "../local-cluster";
import { PODINFO_IMAGE, type InstalledCanary, type Playground } from "../playground";
import type { Fault } from "../podinfo-app";
import { isRunning } from "../processes";
import { upFailure, upWithEvents } from "../pulumi-driver";
import { killWorkspaceProcesses, workspaceProcesses, type PulumiWorkspace } from "../pulumi-cli";
import { routerView } from "../router-view";
import { startTraffic } from "../traffic";
import type { SoakHooks } from "./hook-server";
import { invariantViolations, type Outcome, type RolloutObservation } from "./invariants";
import { API_SERVER_DOWN_KIND, appFaultSwitch, faultKinds, KILL_KIND, PROMETHEUS_DOWN_KIND, type RolloutPlan, type TimedFault } from "./plan";
import type { SoakRolloutResult, UserTraffic } from "./summary";

/** Runs of `pulumi up` one rollout may take: the first, and repairs after interruptions. */
const MAX_RUNS = 3;
/** How long a killed CLI's orphaned provider host may take to roll back and exit. */
const ORPHAN_EXIT_MS = 60_000;
/** How long the plugins of a finished `pulumi up` may take to exit. */
const PLUGIN_EXIT_MS = 10_000;
const USER_REQUESTS_PER_SECOND = 10;

export interface SoakContext {
    cluster: LocalCluster;
    playground: Playground;
    canary: InstalledCanary;
    workspace: PulumiWorkspace;
    hooks: SoakHooks;
    fault: (version: string) => Fault;
    log: (line: string) => void;
    /** The image the primary runs: the last one promoted. */
    promotedImage: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
        if (Date.now() > deadline) {
            return false;
        }
        await sleep(250);
    }
    return true;
}

/** Retry `action` through an API server that may be restarting. */
async function persist<T>(what: string, action: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        try {
            return await action();
        } catch (error) {
            if (Date.now() > deadline) {
                throw new Error(`${what}: ${(error as Error).message}`);
            }
            await sleep(500);
        }
    }
}

/** appmesh-prometheus scaled to 0 and back, as an outage of the metrics server looks to the analysis. */
async function scalePrometheus(cluster: LocalCluster, replicas: number): Promise<void> {
    const k8s = await import("@kubernetes/client-node");
    const kc = new k8s.KubeConfig();
    kc.loadFromString(cluster.kubeconfig);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    await persist(`scale ${PROMETHEUS_NAME} to ${replicas}`, () =>
        apps.patchNamespacedDeploymentScale(
            { name: PROMETHEUS_NAME, namespace: "appmesh-system", body: { spec: { replicas } } },
            k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
        ),
    );
}

/** Start each timed fault at its moment while `running()`; resolves once every started one is over. */
function scheduleFaults(ctx: SoakContext, plan: RolloutPlan, running: () => boolean, onKill: () => void): { cancel(): void; done(): Promise<void>; fired: string[] } {
    const timers: NodeJS.Timeout[] = [];
    const started: Promise<void>[] = [];
    const fired: string[] = [];
    const at = (ms: number, kind: string, what: string, fire: () => Promise<void>) =>
        timers.push(
            setTimeout(() => {
                if (running()) {
                    fired.push(kind);
                    ctx.log(`  fault: ${what}`);
                    started.push(fire().catch((e) => ctx.log(`  fault ${what} failed: ${(e as Error).message}`)));
                }
            }, ms),
        );
    const outage = (fault: TimedFault, what: string, begin: () => Promise<void>, end: () => Promise<void>) =>
        at(fault.atMs, what, `${what} for ${fault.forMs / 1000}s`, async () => {
            await begin();
            await sleep(fault.forMs);
            await end();
            ctx.log(`  fault over: ${what}`);
        });
    if (plan.prometheusDown) {
        outage(plan.prometheusDown, PROMETHEUS_DOWN_KIND, () => scalePrometheus(ctx.cluster, 0), () => scalePrometheus(ctx.cluster, 1));
    }
    if (plan.apiServerDown) {
        at(plan.apiServerDown.atMs, API_SERVER_DOWN_KIND, `${API_SERVER_DOWN_KIND} for ${plan.apiServerDown.forMs / 1000}s`, () => ctx.cluster.controlPlane.restartApiServer(plan.apiServerDown!.forMs));
    }
    if (plan.killAtMs !== undefined) {
        at(plan.killAtMs, KILL_KIND, "SIGKILL pulumi", async () => onKill());
    }
    return {
        fired,
        cancel: () => timers.forEach(clearTimeout),
        done: async () => {
            await Promise.all(started);
        },
    };
}

/** Requests to the apex while the rollout ran, failures split by whether the faulty canary answered them. */
function splitTraffic(ctx: SoakContext, since: number, sent: number, ok: number): UserTraffic {
    const canaryNode = ctx.canary.names.nodes.canary;
    const canaryFaults = routerView(ctx.playground, ctx.canary).served(since).filter((e) => e.virtualNode === canaryNode && e.status >= 500).length;
    const failed = sent - ok;
    return { sent, canaryFaults: Math.min(canaryFaults, failed), routing: Math.max(0, failed - canaryFaults) };
}

/** How long the canary took traffic from the first step until it was back at zero (or the rollout ended). */
function canaryExposureMs(ctx: SoakContext, since: number, until: number): number | undefined {
    const history = routerView(ctx.playground, ctx.canary).weightHistory(since);
    const first = history.findIndex((w) => w.canary > 0);
    if (first < 0) {
        return undefined;
    }
    const back = history.slice(first).find((w) => w.canary === 0);
    return (back?.time ?? until) - history[first].time;
}

async function liveWeights(ctx: SoakContext): Promise<{ primary: number; canary: number }> {
    const router = await persist("read the apex VirtualRouter", () => ctx.playground.virtualRouter(ctx.canary.namespace, ctx.canary.names.apex));
    return readWeights(router.spec, ctx.canary.names.apex, ctx.canary.names.nodes);
}

async function leaseHolder(ctx: SoakContext): Promise<string | undefined> {
    const k8s = await import("@kubernetes/client-node");
    const kc = new k8s.KubeConfig();
    kc.loadFromString(ctx.cluster.kubeconfig);
    const lease = await kc
        .makeApiClient(k8s.CoordinationV1Api)
        .readNamespacedLease({ name: `${ctx.canary.target}-canary-analysis`, namespace: ctx.canary.namespace })
        .catch(() => undefined);
    return lease?.spec?.holderIdentity || undefined;
}

/** `pulumi preview` steps other than `same`, as `<op> <resource name>`; a failed preview is a change of its own. */
async function previewChanges(workspace: PulumiWorkspace): Promise<string[]> {
    const preview = await workspace.run(["preview", "--json"], { allowFailure: true });
    let steps: { op: string; urn: string }[];
    try {
        steps = JSON.parse(preview.output).steps ?? [];
    } catch {
        return [`preview failed (exit ${preview.code}): ${preview.output.trim().split("\n").slice(-3).join(" ")}`];
    }
    return steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.urn.split("::").pop()}`);
}

export async function runPlannedRollout(ctx: SoakContext, plan: RolloutPlan): Promise<SoakRolloutResult> {
    const { workspace, log } = ctx;
    const image = `${PODINFO_IMAGE}:${plan.version}`;
    Object.assign(ctx.fault(plan.version), appFaultSwitch(plan));
    ctx.hooks.setFault(plan.hook);
    await workspace.setConfig(`${PROJECT}:image`, image);
    const startedAt = Date.now();
    const traffic = startTraffic({ proxyUrl: ctx.playground.gateway.localUrl, url: `${ctx.playground.gateway.loadBalancerUrl}/`, ratePerSecond: USER_REQUESTS_PER_SECOND });
    let runs = 0;
    let outcome: Outcome = "failed";
    let failure: string | undefined;
    let repair: RolloutObservation["repair"];
    let orphanHostAliveMs: number | undefined;
    let timedFaults: RolloutPlan | undefined = plan;
    const injected = faultKinds({ ...plan, prometheusDown: undefined, apiServerDown: undefined, killAtMs: undefined });
    while (runs < MAX_RUNS) {
        runs += 1;
        const runStartedAt = Date.now();
        log(`  $ pulumi up${runs > 1 ? ` (run ${runs})` : ""}`);
        const command = upWithEvents(workspace, () => undefined, (event) => log(`    ${event.message}`));
        let finished = false;
        let killedHosts: number[] = [];
        let killedAt = 0;
        const faults = timedFaults
            ? scheduleFaults(ctx, timedFaults, () => !finished, () => {
                  killedHosts = workspaceProcesses(workspace).filter((p) => /dynamic-provider/.test(p.command)).map((p) => p.pid);
                  killedAt = Date.now();
                  process.kill(command.process.pid!, "SIGKILL");
              })
            : undefined;
        const result = await command.done;
        finished = true;
        faults?.cancel();
        await faults?.done();
        injected.push(...(faults?.fired ?? []));
        // Outages and the kill belong to the first run; repairs run on a healthy control plane.
        timedFaults = undefined;
        if (repair && repair.firstChangeCanaryWeight === undefined) {
            repair.firstChangeCanaryWeight = routerView(ctx.playground, ctx.canary).weightHistory(runStartedAt)[0]?.canary;
        }
        if (result.code === 0) {
            outcome = (await persist("read the primary", () => ctx.playground.deployment(ctx.canary.namespace, ctx.canary.names.primary))).spec.template.spec.containers[0].image === image ? "promoted" : "rolled back";
            failure = undefined;
            break;
        }
        const up = upFailure(result.output);
        if (up.rolledBack) {
            outcome = "rolled back";
            failure = up.message;
            break;
        }
        failure = result.signal ? `pulumi killed (${result.signal})` : up.message;
        log(`  pulumi up ended without a result: ${failure.split("\n").pop()}`);
        if (killedAt > 0) {
            const exited = await waitUntil(() => killedHosts.every((pid) => !isRunning(pid)), ORPHAN_EXIT_MS);
            if (!exited) {
                orphanHostAliveMs = Date.now() - killedAt;
            }
            // Pulumi's own plugins outlive a killed CLI; cleaning them up is the operator's (here, the soak's) job.
            killWorkspaceProcesses(workspace);
            await workspace.run(["cancel", "--yes"], { allowFailure: true });
        }
        const left = await liveWeights(ctx);
        repair = left.canary > 0 ? { leftCanaryWeight: left.canary } : repair;
    }
    const userTraffic = await traffic.stop();
    const finishedAt = Date.now();
    if (outcome === "promoted") {
        ctx.promotedImage = image;
    }
    // A finished `pulumi up` leaves no plugin behind; give them a moment to exit.
    await waitUntil(() => workspaceProcesses(workspace).length === 0, PLUGIN_EXIT_MS);
    const observation: RolloutObservation = {
        plan,
        injected,
        outcome,
        ...(failure && outcome === "failed" ? { failure } : {}),
        runs,
        weights: await liveWeights(ctx),
        canaryReplicas: (await persist("read the canary", () => ctx.playground.deployment(ctx.canary.namespace, ctx.canary.names.target))).spec.replicas ?? 0,
        primaryImage: (await persist("read the primary", () => ctx.playground.deployment(ctx.canary.namespace, ctx.canary.names.primary))).spec.template.spec.containers[0].image,
        expectedPrimaryImage: ctx.promotedImage,
        leftoverProcesses: workspaceProcesses(workspace).map((p) => `${p.pid} ${p.command.slice(0, 120)}`),
        previewChanges: await previewChanges(workspace),
        leaseHolder: await leaseHolder(ctx),
        ...(repair ? { repair } : {}),
        ...(orphanHostAliveMs !== undefined ? { orphanHostAliveMs } : {}),
    };
    // The next rollout starts clean: whatever a failed run left running is the soak's to stop.
    killWorkspaceProcesses(workspace);
    const failingCanaryMs = plan.app === "errors" || plan.app === "latency" ? canaryExposureMs(ctx, startedAt, finishedAt) : undefined;
    return {
        observation,
        violations: invariantViolations(observation, ctx.canary.target),
        traffic: splitTraffic(ctx, startedAt, userTraffic.sent, userTraffic.ok),
        ...(failingCanaryMs !== undefined ? { failingCanaryMs } : {}),
        durationMs: finishedAt - startedAt,
    };
}
