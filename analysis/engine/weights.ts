/**
 * The weight schedule (reference §4.7-4.9): how far the canary advances per interval, when it is due for
 * promotion, and how traffic returns to the primary. Pure, so the engine, the rollout plan shown at
 * `pulumi preview` and the tests share one formula.
 */
import type { RouteWeights } from "./ports";
import type { ResolvedAnalysis, Strategy } from "../spec/canary";

type StepSettings = Pick<ResolvedAnalysis, "stepWeight" | "stepWeights">;

/** At rest: all traffic on the primary. What every route is declared with and every run that does not promote ends at. */
export const RESTING_WEIGHTS: RouteWeights = { primary: 100, canary: 0 };

/** All of the route's traffic on the canary: A/B's header route and blue/green's last interval. */
export const ALL_ON_CANARY: RouteWeights = { primary: 0, canary: 100 };

export const NEVER_ADVANCES = "the analysis never advances: set analysis.stepWeight, analysis.stepWeights or analysis.iterations";

/**
 * Flagger's `nextStepWeight`: what the canary gains on the next step from `canaryWeight`. `stepWeight` wins
 * over `stepWeights`; 0 means the spec can never advance (validation rejects such a spec).
 */
export function nextStepWeight(analysis: StepSettings, canaryWeight: number): number {
    const { stepWeight, stepWeights } = analysis;
    if (stepWeight > 0 || stepWeights.length === 0) {
        return stepWeight;
    }
    const room = 100 - canaryWeight;
    if (room === 0) {
        return 1;
    }
    if (canaryWeight === 0) {
        return Math.min(room, stepWeights[0]);
    }
    for (let i = 0; i < stepWeights.length - 1; i++) {
        if (stepWeights[i] === canaryWeight) {
            return Math.min(room, stepWeights[i + 1] - canaryWeight);
        }
    }
    return room;
}

/** The weights after one canary step (Flagger's `runCanary` arithmetic: clamp each side to 0..100). */
export function nextWeight(analysis: StepSettings, current: RouteWeights): RouteWeights {
    const step = nextStepWeight(analysis, current.canary);
    return { primary: Math.max(0, current.primary - step), canary: Math.min(100, current.canary + step) };
}

/** Promotion is due once the canary carries `maxWeight` or more (the last step may overshoot it). */
export function isPromotionDue(analysis: Pick<ResolvedAnalysis, "maxWeight">, canaryWeight: number): boolean {
    return canaryWeight >= analysis.maxWeight;
}

/** One `stepWeightPromotion` step back to the primary; with no step set, everything at once. */
export function nextPromotionWeight(analysis: Pick<ResolvedAnalysis, "stepWeightPromotion">, current: RouteWeights): RouteWeights {
    const step = analysis.stepWeightPromotion;
    if (step <= 0) {
        return RESTING_WEIGHTS;
    }
    return { primary: Math.min(100, current.primary + step), canary: Math.max(0, current.canary - step) };
}

/** What a healthy rollout will do, interval by interval; shown in the rollout plan. */
export interface RolloutPlan {
    strategy: Strategy;
    /** Canary weight of the apex route after each analysis interval's step (A/B: the header route). */
    canaryWeights: number[];
    /** Analysis intervals from the first step to promotion. */
    intervals: number;
    /** Primary weights while traffic returns to the primary after the primary rolled out. */
    promotionWeights: number[];
}

export function rolloutPlan(analysis: ResolvedAnalysis): RolloutPlan {
    const promotionFrom = (canary: number) => promotionWeights(analysis, canary);
    if (analysis.strategy === "ab-testing") {
        // The header route carries all matching traffic for every iteration.
        const canaryWeights = Array.from({ length: analysis.iterations }, () => ALL_ON_CANARY.canary);
        return { strategy: analysis.strategy, canaryWeights, intervals: analysis.iterations, promotionWeights: promotionFrom(ALL_ON_CANARY.canary) };
    }
    if (analysis.strategy === "blue-green") {
        // Iterations at 0%, then one more interval with all traffic on the canary before promotion.
        const canaryWeights = [...Array.from({ length: analysis.iterations }, () => RESTING_WEIGHTS.canary), ALL_ON_CANARY.canary];
        return { strategy: analysis.strategy, canaryWeights, intervals: analysis.iterations + 1, promotionWeights: promotionFrom(ALL_ON_CANARY.canary) };
    }
    const canaryWeights: number[] = [];
    let weights = RESTING_WEIGHTS;
    while (!isPromotionDue(analysis, weights.canary)) {
        const next = nextWeight(analysis, weights);
        if (next.canary === weights.canary) {
            throw new Error(NEVER_ADVANCES);
        }
        weights = next;
        canaryWeights.push(weights.canary);
    }
    return { strategy: analysis.strategy, canaryWeights, intervals: canaryWeights.length, promotionWeights: promotionFrom(weights.canary) };
}

/** Primary weights written on the way back from `canaryWeight`, ending at 100. */
export function promotionWeights(analysis: Pick<ResolvedAnalysis, "stepWeightPromotion">, canaryWeight: number): number[] {
    const weights: number[] = [];
    let current: RouteWeights = { primary: 100 - canaryWeight, canary: canaryWeight };
    do {
        current = nextPromotionWeight(analysis, current);
        weights.push(current.primary);
    } while (current.primary < 100);
    return weights;
}
