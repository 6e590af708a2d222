/**
 * The promise to an on-call engineer, checked after every soak rollout: traffic on the primary, the canary at
 * zero, the primary on the last promoted revision, nothing left running, Pulumi's state agreeing with the
 * cluster, the outcome the faults allow, and after an interruption the routes repaired before anything else.
 */
import { allowedOutcomes, type RolloutPlan } from "./plan";

export type AppOutcome = "promoted" | "rolled back";

/** One app once the rollout (and any repair run) ended. */
export interface AppObservation {
    name: string;
    outcome: AppOutcome;
    weights: { primary: number; canary: number };
    canaryReplicas: number;
    primaryImage: string;
    /** The image the primary must run: the new one once promoted, else the last promoted one. */
    expectedPrimaryImage: string;
    /** The analysis lease's holder, when one still holds it. */
    leaseHolder?: string;
    /** An interrupted run left traffic on the canary, and the canary weight of the next run's first route change. */
    repair?: { leftCanaryWeight: number; firstChangeCanaryWeight?: number };
}

/** What the soak saw once the rollout ended. */
export interface RolloutObservation {
    plan: RolloutPlan;
    /** The plan's faults that were injected (a timed one does not fire once `pulumi up` has ended). */
    injected: string[];
    /** Runs of `pulumi up` this rollout took (more than one after an interruption). */
    runs: number;
    /** Why the last `pulumi up` failed, when it failed other than by rolling back. */
    failure?: string;
    apps: AppObservation[];
    /** The workspace's processes still running a while after the last `pulumi up` exited. */
    leftoverProcesses: string[];
    /** `pulumi preview` steps other than `same`, as `<op> <resource name>`. */
    previewChanges: string[];
    /** A killed CLI's orphaned provider host still ran this long after the kill (ms), when it did not exit. */
    orphanHostAliveMs?: number;
}

/**
 * The preview a rollout may leave: nothing for a promoted app; for one rolled back, the held Analysis update,
 * and the primary Deployment and Finalize built from its outputs (unknown in a preview, so shown as updates).
 */
export function allowedPreviewChanges(apps: Pick<AppObservation, "name" | "outcome">[]): string[] {
    return apps.filter((a) => a.outcome === "rolled back").flatMap((a) => [`update ${a.name}-analysis`, `update ${a.name}-primary`, `update ${a.name}-finalize`]);
}

function appViolations(plan: RolloutPlan, o: AppObservation): string[] {
    const violations: string[] = [];
    const planned = plan.apps.find((a) => a.name === o.name)!;
    const allowed = allowedOutcomes(plan, planned);
    if (!allowed.includes(o.outcome)) {
        violations.push(`${o.outcome}, where the faults allow only ${allowed.join(" or ")}`);
    }
    if (o.weights.primary !== 100 || o.weights.canary !== 0) {
        violations.push(`apex route at primary ${o.weights.primary} / canary ${o.weights.canary}, not at rest (100 / 0)`);
    }
    if (o.canaryReplicas !== 0) {
        violations.push(`canary Deployment at ${o.canaryReplicas} replicas, not 0`);
    }
    if (o.primaryImage !== o.expectedPrimaryImage) {
        violations.push(`primary runs ${o.primaryImage}, not the last promoted ${o.expectedPrimaryImage}`);
    }
    if (o.leaseHolder) {
        violations.push(`the analysis lease is still held by ${o.leaseHolder}`);
    }
    if (o.repair && o.repair.firstChangeCanaryWeight !== undefined && o.repair.firstChangeCanaryWeight !== 0) {
        violations.push(`the interrupted run left canary weight ${o.repair.leftCanaryWeight}, and the next run's first route change set canary ${o.repair.firstChangeCanaryWeight}, not 0`);
    }
    return plan.apps.length > 1 ? violations.map((v) => `${o.name}: ${v}`) : violations;
}

/** Every invariant the observation breaks, each as a sentence naming what was seen. */
export function invariantViolations(o: RolloutObservation): string[] {
    const violations: string[] = [];
    if (o.failure !== undefined) {
        violations.push(`pulumi up still failed after ${o.runs} runs: ${o.failure}`);
    }
    violations.push(...o.apps.flatMap((app) => appViolations(o.plan, app)));
    if (o.leftoverProcesses.length > 0) {
        violations.push(`processes left running: ${o.leftoverProcesses.join("; ")}`);
    }
    const allowed = allowedPreviewChanges(o.apps);
    const unexpected = o.previewChanges.filter((c) => !allowed.includes(c));
    if (unexpected.length > 0) {
        violations.push(`pulumi preview shows changes beyond ${allowed.length ? allowed.join(", ") : "none"}: ${unexpected.join(", ")}`);
    }
    if (o.orphanHostAliveMs !== undefined) {
        violations.push(`the killed CLI's provider host still ran ${(o.orphanHostAliveMs / 1000).toFixed(0)}s after the kill`);
    }
    return violations;
}
