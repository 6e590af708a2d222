/**
 * The one-line rollout plan shown at `pulumi preview` as the Analysis resource's `plan` input, e.g.
 * "weights 5→50 step 5 every 1m, ~10m, rollback after 5 failed checks".
 */
import { resolveAnalysis, skipsAnalysis, type CanarySpec } from "../spec/canary";
import { rolloutPlan } from "./weights";

/** A duration as people write it: "1m", "30s", "1m30s", "1h5m". */
export function shortDuration(ms: number): string {
    const parts: string[] = [];
    let rest = Math.round(ms / 1000);
    for (const [unit, size] of [["h", 3600], ["m", 60], ["s", 1]] as const) {
        if (rest >= size) {
            parts.push(`${Math.floor(rest / size)}${unit}`);
            rest %= size;
        }
    }
    return parts.length > 0 ? parts.join("") : `${ms}ms`;
}

export function describePlan(spec: CanarySpec): string {
    if (skipsAnalysis(spec)) {
        return "no analysis: promote as soon as the canary is ready";
    }
    const analysis = resolveAnalysis(spec.analysis);
    const plan = rolloutPlan(analysis);
    const every = `every ${shortDuration(analysis.intervalMs)}`;
    const total = `~${shortDuration(plan.intervals * analysis.intervalMs)}`;
    const rollback = `rollback after ${analysis.threshold} failed check${analysis.threshold === 1 ? "" : "s"}`;
    let steps: string;
    if (plan.strategy === "ab-testing") {
        steps = `A/B: header-matched traffic to the canary for ${analysis.iterations} iterations`;
    } else if (plan.strategy === "blue-green") {
        steps = `blue/green: ${analysis.iterations} iterations at 0%, then 100%`;
    } else if (analysis.stepWeight > 0) {
        steps = `weights ${plan.canaryWeights[0]}→${plan.canaryWeights[plan.canaryWeights.length - 1]} step ${analysis.stepWeight}`;
    } else {
        steps = `weights ${plan.canaryWeights.join("→")}`;
    }
    const promotion = analysis.stepWeightPromotion > 0 ? `, promotion in steps of ${analysis.stepWeightPromotion}` : "";
    return `${steps} ${every}, ${total}, ${rollback}${promotion}`;
}
