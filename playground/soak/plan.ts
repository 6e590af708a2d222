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

export interface RolloutPlan {
    /** 1-based, as printed. */
    index: number;
    /** The podinfo version this rollout deploys. */
    version: string;
    app: AppFault;
    /** The new version's share of HTTP 500s (`errors`) or added latency (`latency`). */
    errorRate: number;
    latencyMs: number;
    hook: HookFault;
    prometheusDown?: TimedFault;
    apiServerDown?: TimedFault;
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
const PROMETHEUS_DOWN = { chance: 0.2, at: [3_000, 20_000], for: [3_000, 12_000] } as const;
const API_SERVER_DOWN = { chance: 0.2, at: [2_000, 25_000], for: [2_000, 10_000] } as const;
const KILL = { chance: 0.2, at: [3_000, 30_000] } as const;

/** The plan of rollout `index` (1-based); draws a fixed number of values per rollout so plans stay aligned. */
export function drawPlan(random: () => number, index: number, firstVersion = 1): RolloutPlan {
    const draws = Array.from({ length: 12 }, random);
    let next = 0;
    const take = () => draws[next++];
    const app = weighted<AppFault>(take, [["none", 45], ["errors", 20], ["latency", 15], ["crash-loop", 20]]);
    const errorRate = app === "errors" ? between(take(), 0.2, 0.6, 0.05) : (take(), 0);
    const latencyMs = app === "latency" ? between(take(), 600, 1000, 50) : (take(), 0);
    const hook = weighted<HookFault>(take, [["none", 60], ["check-500", 10], ["check-timeout", 10], ["gate-closed", 10], ["rollback", 10]]);
    const timed = (spec: { chance: number; at: readonly [number, number]; for: readonly [number, number] }): TimedFault | undefined => {
        const [hit, at, length] = [take(), take(), take()];
        return hit < spec.chance ? { atMs: between(at, spec.at[0], spec.at[1], 500), forMs: between(length, spec.for[0], spec.for[1], 500) } : undefined;
    };
    const prometheusDown = timed(PROMETHEUS_DOWN);
    const apiServerDown = timed(API_SERVER_DOWN);
    const [killHit, killAt] = [take(), take()];
    return {
        index,
        version: `6.1.${firstVersion + index - 1}`,
        app,
        errorRate: Number(errorRate.toFixed(2)),
        latencyMs,
        hook,
        ...(prometheusDown ? { prometheusDown } : {}),
        ...(apiServerDown ? { apiServerDown } : {}),
        ...(killHit < KILL.chance ? { killAtMs: between(killAt, KILL.at[0], KILL.at[1], 500) } : {}),
    };
}

/** `count` plans from `seed`. */
export function drawPlans(seed: number, count: number): RolloutPlan[] {
    const random = seededRandom(seed);
    return Array.from({ length: count }, (_, i) => drawPlan(random, i + 1));
}

/** The new version's fault switch for the plan. */
export function appFaultSwitch(plan: RolloutPlan): Fault {
    return { errorRate: plan.app === "errors" ? plan.errorRate : 0, latencyMs: plan.app === "latency" ? plan.latencyMs : 0, crashLoop: plan.app === "crash-loop" };
}

const seconds = (ms: number) => `${ms / 1000}s`;

/** One line per plan, as the soak prints it before the rollout. */
export function describePlan(plan: RolloutPlan): string {
    const parts = [
        plan.app === "errors" ? `app: ${Math.round(plan.errorRate * 100)}% HTTP 500` : plan.app === "latency" ? `app: +${plan.latencyMs}ms` : `app: ${plan.app}`,
        `webhook: ${plan.hook}`,
        ...(plan.prometheusDown ? [`Prometheus down ${seconds(plan.prometheusDown.forMs)} at ${seconds(plan.prometheusDown.atMs)}`] : []),
        ...(plan.apiServerDown ? [`API server down ${seconds(plan.apiServerDown.forMs)} at ${seconds(plan.apiServerDown.atMs)}`] : []),
        ...(plan.killAtMs !== undefined ? [`pulumi killed at ${seconds(plan.killAtMs)}`] : []),
    ];
    return `#${plan.index} podinfo ${plan.version}: ${parts.join(", ")}`;
}

/**
 * What the rollout may end in: a faulty version or a failing gate must never be promoted, a clean rollout must
 * be; an outage or a kill may end either way.
 */
export function allowedOutcomes(plan: RolloutPlan): ("promoted" | "rolled back")[] {
    if (plan.app !== "none" || plan.hook !== "none") {
        return ["rolled back"];
    }
    if (plan.prometheusDown || plan.apiServerDown || plan.killAtMs !== undefined) {
        return ["promoted", "rolled back"];
    }
    return ["promoted"];
}

export const PROMETHEUS_DOWN_KIND = "Prometheus down";
export const API_SERVER_DOWN_KIND = "API server down";
export const KILL_KIND = "pulumi killed";

/** The faults of a plan by kind; the timed ones only fire while `pulumi up` still runs. */
export function faultKinds(plan: RolloutPlan): string[] {
    return [
        ...(plan.app !== "none" ? [`app ${plan.app}`] : []),
        ...(plan.hook !== "none" ? [`webhook ${plan.hook}`] : []),
        ...(plan.prometheusDown ? [PROMETHEUS_DOWN_KIND] : []),
        ...(plan.apiServerDown ? [API_SERVER_DOWN_KIND] : []),
        ...(plan.killAtMs !== undefined ? [KILL_KIND] : []),
    ];
}
