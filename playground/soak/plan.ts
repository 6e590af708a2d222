/**
 * What goes wrong in each soak rollout, drawn from a seeded generator so that a failing run replays from its
 * seed: a fault of the new version, a misbehaving webhook, Prometheus or the API server away for a while, the
 * `pulumi` CLI killed. Pure: the runner turns a plan into switches, timers and signals.
 */
import type { Fault } from "../podinfo-app";

export const APP_FAULTS = ["none", "errors", "latency", "crash-loop"] as const;
export type AppFault = (typeof APP_FAULTS)[number];

export const HOOK_FAULTS = ["none", "check-500", "check-timeout", "gate-closed", "rollback"] as const;
export type HookFault = (typeof HOOK_FAULTS)[number];

/** A fault that starts `atMs` after `pulumi up` starts and lasts `forMs`. */
export interface TimedFault {
    atMs: number;
    forMs: number;
}

/** One app's part of a rollout: the version it moves to and what is wrong with it. */
export interface AppPlan {
    /** The app's name in the soak stack. */
    name: string;
    /** `6.<app>.<rollout>`: each app's versions are its own, and so are their fault switches. */
    version: string;
    fault: AppFault;
    /** The new version's share of HTTP 500s (`errors`) or added latency (`latency`). */
    errorRate: number;
    latencyMs: number;
}

/** A burst of errors the API server seems to answer the analysis with (its retries should absorb it). */
export interface ApiErrorBurst {
    atMs: number;
    status: (typeof API_ERROR_STATUSES)[number];
    /** The analysis's next requests that get it. */
    times: number;
}

export const API_ERROR_STATUSES = [409, 429, 500, 503] as const;

export interface RolloutPlan {
    /** 1-based, as printed. */
    index: number;
    apps: AppPlan[];
    hook: HookFault;
    /** The app whose hooks answer with `hook`. */
    hookApp: string;
    prometheusDown?: TimedFault;
    /** Prometheus answering every query with an error for a while. */
    prometheusErrors?: TimedFault;
    apiServerDown?: TimedFault;
    apiErrors?: ApiErrorBurst;
    /** SIGKILL of the `pulumi` CLI this long after it started. */
    killAtMs?: number;
}

/** mulberry32: a small, well-distributed 32-bit generator; the same seed gives the same draws on every machine. */
export function seededRandom(seed: number): () => number {
    let state = seed >>> 0;
    return () => {
        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

/** One of `choices`, each with its weight. */
function weighted<T>(random: () => number, choices: [T, number][]): T {
    const total = choices.reduce((sum, [, w]) => sum + w, 0);
    let draw = random() * total;
    for (const [choice, weight] of choices) {
        draw -= weight;
        if (draw < 0) {
            return choice;
        }
    }
    return choices[choices.length - 1][0];
}

/** `min..max` in steps of `step`, from a draw `u` in [0, 1). */
const between = (u: number, min: number, max: number, step = 1) => min + Math.round((u * (max - min)) / step) * step;

/** The chance of each timed fault, and when it starts (ms after `pulumi up` starts) and how long it lasts. */
const PROMETHEUS_DOWN = { chance: 0.15, at: [3_000, 20_000], for: [3_000, 12_000] } as const;
const PROMETHEUS_ERRORS = { chance: 0.15, at: [3_000, 20_000], for: [3_000, 12_000] } as const;
const API_SERVER_DOWN = { chance: 0.15, at: [2_000, 25_000], for: [2_000, 10_000] } as const;
const API_ERRORS = { chance: 0.2, at: [2_000, 25_000], times: [2, 4] } as const;
const KILL = { chance: 0.2, at: [3_000, 30_000] } as const;

/** The soak stack's apps: the playground's podinfo alone, or `app1` .. `appK`. */
export function appNames(count: number): string[] {
    return count === 1 ? ["podinfo"] : Array.from({ length: count }, (_, i) => `app${i + 1}`);
}

/** The plan of rollout `index` (1-based) for `apps`; draws a fixed number of values per rollout so plans stay aligned. */
export function drawPlan(random: () => number, index: number, apps: string[]): RolloutPlan {
    const draws = Array.from({ length: 3 * apps.length + 17 }, random);
    let next = 0;
    const take = () => draws[next++];
    const appPlans = apps.map((name, i): AppPlan => {
        const fault = weighted<AppFault>(take, [["none", 45], ["errors", 20], ["latency", 15], ["crash-loop", 20]]);
        const [rate, latency] = [take(), take()];
        return {
            name,
            version: `6.${i + 1}.${index}`,
            fault,
            errorRate: fault === "errors" ? Number(between(rate, 0.2, 0.6, 0.05).toFixed(2)) : 0,
            latencyMs: fault === "latency" ? between(latency, 600, 1000, 50) : 0,
        };
    });
    const hook = weighted<HookFault>(take, [["none", 60], ["check-500", 10], ["check-timeout", 10], ["gate-closed", 10], ["rollback", 10]]);
    const hookApp = apps[Math.min(apps.length - 1, Math.floor(take() * apps.length))];
    const timed = (spec: { chance: number; at: readonly [number, number]; for: readonly [number, number] }): TimedFault | undefined => {
        const [hit, at, length] = [take(), take(), take()];
        return hit < spec.chance ? { atMs: between(at, spec.at[0], spec.at[1], 500), forMs: between(length, spec.for[0], spec.for[1], 500) } : undefined;
    };
    const prometheusDown = timed(PROMETHEUS_DOWN);
    const prometheusErrors = timed(PROMETHEUS_ERRORS);
    const apiServerDown = timed(API_SERVER_DOWN);
    const [burstHit, burstAt, burstStatus, burstTimes] = [take(), take(), take(), take()];
    const [killHit, killAt] = [take(), take()];
    return {
        index,
        apps: appPlans,
        hook,
        hookApp,
        ...(prometheusDown ? { prometheusDown } : {}),
        ...(prometheusErrors ? { prometheusErrors } : {}),
        ...(apiServerDown ? { apiServerDown } : {}),
        ...(burstHit < API_ERRORS.chance
            ? { apiErrors: { atMs: between(burstAt, API_ERRORS.at[0], API_ERRORS.at[1], 500), status: API_ERROR_STATUSES[Math.floor(burstStatus * API_ERROR_STATUSES.length)], times: between(burstTimes, API_ERRORS.times[0], API_ERRORS.times[1]) } }
            : {}),
        ...(killHit < KILL.chance ? { killAtMs: between(killAt, KILL.at[0], KILL.at[1], 500) } : {}),
    };
}

/** `count` plans from `seed` for a stack of `apps` apps. */
export function drawPlans(seed: number, count: number, apps = 1): RolloutPlan[] {
    const random = seededRandom(seed);
    const names = appNames(apps);
    return Array.from({ length: count }, (_, i) => drawPlan(random, i + 1, names));
}

/** The fault switch of an app's new version. */
export function appFaultSwitch(app: AppPlan): Fault {
    return { errorRate: app.fault === "errors" ? app.errorRate : 0, latencyMs: app.fault === "latency" ? app.latencyMs : 0, crashLoop: app.fault === "crash-loop" };
}

const seconds = (ms: number) => `${ms / 1000}s`;

function describeApp(app: AppPlan): string {
    return `${app.name} ${app.version}: ${app.fault === "errors" ? `${Math.round(app.errorRate * 100)}% HTTP 500` : app.fault === "latency" ? `+${app.latencyMs}ms` : app.fault}`;
}

/** One line per plan, as the soak prints it before the rollout. */
export function describePlan(plan: RolloutPlan): string {
    const parts = [
        ...plan.apps.map(describeApp),
        `webhook: ${plan.hook}${plan.apps.length > 1 && plan.hook !== "none" ? ` on ${plan.hookApp}` : ""}`,
        ...(plan.prometheusDown ? [`Prometheus down ${seconds(plan.prometheusDown.forMs)} at ${seconds(plan.prometheusDown.atMs)}`] : []),
        ...(plan.prometheusErrors ? [`Prometheus answering errors ${seconds(plan.prometheusErrors.forMs)} at ${seconds(plan.prometheusErrors.atMs)}`] : []),
        ...(plan.apiServerDown ? [`API server down ${seconds(plan.apiServerDown.forMs)} at ${seconds(plan.apiServerDown.atMs)}`] : []),
        ...(plan.apiErrors ? [`${plan.apiErrors.times} × HTTP ${plan.apiErrors.status} to the analysis at ${seconds(plan.apiErrors.atMs)}`] : []),
        ...(plan.killAtMs !== undefined ? [`pulumi killed at ${seconds(plan.killAtMs)}`] : []),
    ];
    return `#${plan.index} ${parts.join(", ")}`;
}

/**
 * What an app's rollout may end in: a faulty version or a failing gate must never be promoted; a clean one
 * must be, also through a burst of API errors its retries absorb; an outage or a kill may end either way.
 */
export function allowedOutcomes(plan: RolloutPlan, app: AppPlan): ("promoted" | "rolled back")[] {
    if (app.fault !== "none" || (plan.hook !== "none" && plan.hookApp === app.name)) {
        return ["rolled back"];
    }
    if (plan.prometheusDown || plan.prometheusErrors || plan.apiServerDown || plan.killAtMs !== undefined) {
        return ["promoted", "rolled back"];
    }
    return ["promoted"];
}

export const PROMETHEUS_DOWN_KIND = "Prometheus down";
export const PROMETHEUS_ERRORS_KIND = "Prometheus errors";
export const API_SERVER_DOWN_KIND = "API server down";
export const API_ERRORS_KIND = "API errors";
export const KILL_KIND = "pulumi killed";

/** The faults a plan holds from the start (the timed ones only fire while `pulumi up` still runs). */
export function standingFaults(plan: RolloutPlan): string[] {
    return [...plan.apps.filter((a) => a.fault !== "none").map((a) => `app ${a.fault}`), ...(plan.hook !== "none" ? [`webhook ${plan.hook}`] : [])];
}

/** Every fault of a plan by kind. */
export function faultKinds(plan: RolloutPlan): string[] {
    return [
        ...standingFaults(plan),
        ...(plan.prometheusDown ? [PROMETHEUS_DOWN_KIND] : []),
        ...(plan.prometheusErrors ? [PROMETHEUS_ERRORS_KIND] : []),
        ...(plan.apiServerDown ? [API_SERVER_DOWN_KIND] : []),
        ...(plan.apiErrors ? [API_ERRORS_KIND] : []),
        ...(plan.killAtMs !== undefined ? [KILL_KIND] : []),
    ];
}
