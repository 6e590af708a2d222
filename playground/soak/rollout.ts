/**
 * One soak rollout through the real `pulumi up`: set the plan's faults, `pulumi config set` each app's new image
 * and `pulumi up` with user traffic on the ingress gateway, fire the timed faults while it runs, and after an
 * interruption (a killed CLI, an API server away too long) `pulumi cancel` and `pulumi up` again, as an on-call
 * engineer would. Then observe the cluster, the state and the processes for the invariants.
 */
import { setTimeout as sleep } from "timers/promises";
import { readWeights } from "../../analysis/routers/appmesh/routes";
import type { ApiProxy } from "../api-proxy";
import type { LocalCluster } from "../local-cluster";
import { PROMETHEUS_NAME } from "../local-cluster";
import { PODINFO_IMAGE, type InstalledCanary, type Playground } from "../playground";
import type { Fault } from "../podinfo-app";
import { isRunning } from "../processes";
import { upWithEvents } from "../pulumi-driver";
import { killWorkspaceProcesses, workspaceProcesses, type PulumiWorkspace } from "../pulumi-cli";
import { routerView } from "../router-view";
import { startTraffic, type TrafficResult } from "../traffic";
import type { SoakHooks } from "./hook-server";
import { invariantViolations, type AppObservation, type RolloutObservation } from "./invariants";
import {
    API_ERRORS_KIND,
    API_SERVER_DOWN_KIND,
    appFaultSwitch,
    KILL_KIND,
    PROMETHEUS_DOWN_KIND,
    PROMETHEUS_ERRORS_KIND,
    standingFaults,
    type RolloutPlan,
    type TimedFault,
} from "./plan";
import { imageConfigKey } from "./stack";
import type { SoakRolloutResult, UserTraffic } from "./summary";
import { unexplainedErrors } from "./up-output";

/** Runs of `pulumi up` one rollout may take: the first, and repairs after interruptions. */
const MAX_RUNS = 3;
/** How long a killed CLI's orphaned provider host may take to roll back and exit. */
const ORPHAN_EXIT_MS = 60_000;
/** How long the plugins of a finished `pulumi up` may take to exit. */
const PLUGIN_EXIT_MS = 10_000;
const USER_REQUESTS_PER_SECOND = 10;
/** The analysis's requests (client-node, axios), not those of Pulumi's Kubernetes provider, which come through the same proxy. */
export const ANALYSIS_CLIENT = /^(?!.*pulumi)/i;

export interface SoakContext {
    cluster: LocalCluster;
    playground: Playground;
    workspace: PulumiWorkspace;
    hooks: SoakHooks;
    /** The proxy the stack's kubeconfig points at, which injects the API errors. */
    proxy: ApiProxy;
    fault: (version: string) => Fault;
    /** Make appmesh-prometheus answer every query with an error, or stop it. */
    setPrometheusFailing(failing: boolean): void;
    log: (line: string) => void;
    /** Each app's last promoted image. */
    promoted: Record<string, string>;
}

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

/** Start each timed fault at its moment while `running()`; `done` resolves once every started one is over. */
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
    const outage = (fault: TimedFault, kind: string, begin: () => Promise<void>, end: () => Promise<void>) =>
        at(fault.atMs, kind, `${kind} for ${fault.forMs / 1000}s`, async () => {
            await begin();
            await sleep(fault.forMs);
            await end();
            ctx.log(`  fault over: ${kind}`);
        });
    if (plan.prometheusDown) {
        outage(plan.prometheusDown, PROMETHEUS_DOWN_KIND, () => scalePrometheus(ctx.cluster, 0), () => scalePrometheus(ctx.cluster, 1));
    }
    if (plan.prometheusErrors) {
        outage(plan.prometheusErrors, PROMETHEUS_ERRORS_KIND, async () => ctx.setPrometheusFailing(true), async () => ctx.setPrometheusFailing(false));
    }
    if (plan.apiServerDown) {
        at(plan.apiServerDown.atMs, API_SERVER_DOWN_KIND, `${API_SERVER_DOWN_KIND} for ${plan.apiServerDown.forMs / 1000}s`, () => ctx.cluster.controlPlane.restartApiServer(plan.apiServerDown!.forMs));
    }
    const burst = plan.apiErrors;
    if (burst) {
        at(burst.atMs, API_ERRORS_KIND, `the analysis's next ${burst.times} API requests answered ${burst.status}`, async () =>
            ctx.proxy.injectFault({ path: "/", status: burst.status, times: burst.times, userAgent: ANALYSIS_CLIENT }),
        );
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

/** Requests through the gateway while the rollout ran, failures split by whether the faulty canary answered them. */
function splitTraffic(ctx: SoakContext, since: number, { sent, ok, failures }: TrafficResult): UserTraffic {
    const fronted = ctx.playground.canaries[0];
    const canaryFaults = routerView(ctx.playground, fronted).served(since).filter((e) => e.virtualNode === fronted.names.nodes.canary && e.status >= 500).length;
    const failed = sent - ok;
    return { sent, canaryFaults: Math.min(canaryFaults, failed), routing: Math.max(0, failed - canaryFaults), failures: failures.slice(0, 5) };
}

/** How long the canary took traffic from the first step until it was back at zero (or the rollout ended). */
function canaryExposureMs(ctx: SoakContext, canary: InstalledCanary, since: number, until: number): number | undefined {
    const history = routerView(ctx.playground, canary).weightHistory(since);
    const first = history.findIndex((w) => w.canary > 0);
    if (first < 0) {
        return undefined;
    }
    const back = history.slice(first).find((w) => w.canary === 0);
    return (back?.time ?? until) - history[first].time;
}

async function liveWeights(ctx: SoakContext, canary: InstalledCanary): Promise<{ primary: number; canary: number }> {
    const router = await persist("read the apex VirtualRouter", () => ctx.playground.virtualRouter(canary.namespace, canary.names.apex));
    return readWeights(router.spec, canary.names.apex, canary.names.nodes);
}

async function leaseHolder(ctx: SoakContext, canary: InstalledCanary): Promise<string | undefined> {
    const k8s = await import("@kubernetes/client-node");
    const kc = new k8s.KubeConfig();
    kc.loadFromString(ctx.cluster.kubeconfig);
    const lease = await kc
        .makeApiClient(k8s.CoordinationV1Api)
        .readNamespacedLease({ name: `${canary.target}-canary-analysis`, namespace: canary.namespace })
        .catch(() => undefined);
    return lease?.spec?.holderIdentity || undefined;
}

const imageOf = async (ctx: SoakContext, canary: InstalledCanary, name: string): Promise<string> =>
    (await persist(`read ${name}`, () => ctx.playground.deployment(canary.namespace, name))).spec.template.spec.containers[0].image;

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
    const { workspace, log, playground } = ctx;
    const names = plan.apps.map((a) => a.name);
    const canaryOf = (name: string) => playground.canaries.find((c) => c.target === name)!;
    const image = (version: string) => `${PODINFO_IMAGE}:${version}`;
    for (const app of plan.apps) {
        Object.assign(ctx.fault(app.version), appFaultSwitch(app));
        const { key, path } = imageConfigKey(names, app.name);
        await workspace.setConfig(key, image(app.version), { path });
    }
    ctx.hooks.setFault(plan.hook, plan.hookApp);
    const startedAt = Date.now();
    const traffic = startTraffic({ proxyUrl: playground.gateway.localUrl, url: `${playground.gateway.loadBalancerUrl}/`, ratePerSecond: USER_REQUESTS_PER_SECOND });
    const injected = standingFaults(plan);
    // Several apps: one failing app must not keep the others from finishing (each is promoted or rolled back).
    const upArgs = names.length > 1 ? ["--continue-on-error"] : [];
    const repair: Record<string, NonNullable<AppObservation["repair"]>> = {};
    let runs = 0;
    let failure: string | undefined;
    let orphanHostAliveMs: number | undefined;
    let timed: RolloutPlan | undefined = plan;
    while (runs < MAX_RUNS) {
        runs += 1;
        const runStartedAt = Date.now();
        log(`  $ pulumi up${upArgs.map((a) => ` ${a}`).join("")}${runs > 1 ? ` (run ${runs})` : ""}`);
        const command = upWithEvents(workspace, () => undefined, (event) => log(`    ${event.message}`), upArgs);
        let finished = false;
        let killedHosts: number[] = [];
        let killedAt = 0;
        const faults = timed
            ? scheduleFaults(ctx, timed, () => !finished, () => {
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
        ctx.proxy.clearFaults();
        // Outages and the kill belong to the first run; repairs run on a healthy control plane.
        timed = undefined;
        for (const [name, left] of Object.entries(repair)) {
            left.firstChangeCanaryWeight ??= routerView(playground, canaryOf(name)).weightHistory(runStartedAt)[0]?.canary;
        }
        // A run ends the rollout when it succeeded or failed only by rolling apps back.
        const errors = result.code === 0 ? [] : killedAt > 0 ? ["pulumi killed (SIGKILL)"] : unexplainedErrors(result.output);
        failure = errors.length > 0 ? errors.join("; ") : undefined;
        if (failure === undefined) {
            break;
        }
        log(`  pulumi up ended without a result: ${failure}`);
        if (killedAt > 0) {
            const exited = await waitUntil(() => killedHosts.every((pid) => !isRunning(pid)), ORPHAN_EXIT_MS);
            orphanHostAliveMs = exited ? orphanHostAliveMs : Date.now() - killedAt;
            // Pulumi's own plugins outlive a killed CLI; cleaning them up is the operator's (here, the soak's) job.
            killWorkspaceProcesses(workspace);
            await workspace.run(["cancel", "--yes"], { allowFailure: true });
        }
        for (const name of names) {
            const left = await liveWeights(ctx, canaryOf(name));
            if (left.canary > 0 && !repair[name]) {
                repair[name] = { leftCanaryWeight: left.canary };
            }
        }
    }
    const userTraffic = await traffic.stop();
    const finishedAt = Date.now();
    // A finished `pulumi up` leaves no plugin behind; give them a moment to exit.
    await waitUntil(() => workspaceProcesses(workspace).length === 0, PLUGIN_EXIT_MS);
    const apps: AppObservation[] = [];
    for (const app of plan.apps) {
        const canary = canaryOf(app.name);
        const primaryImage = await imageOf(ctx, canary, canary.names.primary);
        const outcome = primaryImage === image(app.version) ? "promoted" : "rolled back";
        const expectedPrimaryImage = ctx.promoted[app.name];
        if (outcome === "promoted") {
            ctx.promoted[app.name] = primaryImage;
        }
        apps.push({
            name: app.name,
            outcome,
            weights: await liveWeights(ctx, canary),
            canaryReplicas: (await persist("read the canary", () => playground.deployment(canary.namespace, canary.names.target))).spec.replicas ?? 0,
            primaryImage,
            expectedPrimaryImage: outcome === "promoted" ? image(app.version) : expectedPrimaryImage,
            leaseHolder: await leaseHolder(ctx, canary),
            ...(repair[app.name] ? { repair: repair[app.name] } : {}),
        });
    }
    const observation: RolloutObservation = {
        plan,
        injected,
        runs,
        ...(failure !== undefined ? { failure } : {}),
        apps,
        leftoverProcesses: workspaceProcesses(workspace).map((p) => `${p.pid} ${p.command.slice(0, 120)}`),
        previewChanges: await previewChanges(workspace),
        ...(orphanHostAliveMs !== undefined ? { orphanHostAliveMs } : {}),
    };
    // The next rollout starts clean: whatever a failed run left running is the soak's to stop.
    killWorkspaceProcesses(workspace);
    const exposures = plan.apps
        .filter((a) => a.fault === "errors" || a.fault === "latency")
        .map((a) => canaryExposureMs(ctx, canaryOf(a.name), startedAt, finishedAt))
        .filter((ms): ms is number => ms !== undefined);
    return {
        observation,
        violations: invariantViolations(observation),
        traffic: splitTraffic(ctx, startedAt, userTraffic),
        ...(exposures.length > 0 ? { failingCanaryMs: Math.max(...exposures) } : {}),
        durationMs: finishedAt - startedAt,
    };
}
