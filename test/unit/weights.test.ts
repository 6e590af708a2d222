import assert from "node:assert/strict";
import { resolveAnalysis, type AnalysisSpec } from "../../analysis/spec/canary";
import { isPromotionDue, nextPromotionWeight, nextStepWeight, nextWeight, promotionWeights, rolloutPlan } from "../../analysis/engine/weights";

const steps = (stepWeight: number, stepWeights: number[] = []) => ({ stepWeight, stepWeights });
const plan = (analysis: AnalysisSpec) => rolloutPlan(resolveAnalysis(analysis));

describe("weights: nextStepWeight (Flagger's formula)", () => {
    it("uses stepWeight when set, even with stepWeights", () => {
        assert.equal(nextStepWeight(steps(5), 0), 5);
        assert.equal(nextStepWeight(steps(5), 45), 5);
        assert.equal(nextStepWeight(steps(10, [1, 2]), 30), 10);
    });

    it("walks stepWeights: first entry from 0, then the difference to the next entry", () => {
        const s = steps(0, [1, 5, 10, 20, 50]);
        assert.equal(nextStepWeight(s, 0), 1);
        assert.equal(nextStepWeight(s, 1), 4);
        assert.equal(nextStepWeight(s, 10), 10);
        assert.equal(nextStepWeight(s, 20), 30);
    });

    it("caps stepWeights at what is left to 100, moves by the remainder off the list, and by 1 at 100", () => {
        assert.equal(nextStepWeight(steps(0, [30, 120]), 30), 70);
        assert.equal(nextStepWeight(steps(0, [10, 20]), 15), 85);
        assert.equal(nextStepWeight(steps(0, [10, 20]), 100), 1);
    });

    it("is 0 when nothing can advance the canary", () => {
        assert.equal(nextStepWeight(steps(0), 0), 0);
    });

    it("nextWeight clamps both sides to 0..100", () => {
        assert.deepEqual(nextWeight(steps(30), { primary: 80, canary: 20 }), { primary: 50, canary: 50 });
        assert.deepEqual(nextWeight(steps(30), { primary: 20, canary: 80 }), { primary: 0, canary: 100 });
    });

    it("promotion is due at or above maxWeight", () => {
        assert.equal(isPromotionDue({ maxWeight: 50 }, 45), false);
        assert.equal(isPromotionDue({ maxWeight: 50 }, 50), true);
        assert.equal(isPromotionDue({ maxWeight: 50 }, 60), true);
    });
});

describe("weights: promotion back to the primary", () => {
    it("steps by stepWeightPromotion, capped at 100", () => {
        assert.deepEqual(nextPromotionWeight({ stepWeightPromotion: 20 }, { primary: 50, canary: 50 }), { primary: 70, canary: 30 });
        assert.deepEqual(nextPromotionWeight({ stepWeightPromotion: 20 }, { primary: 90, canary: 10 }), { primary: 100, canary: 0 });
        assert.deepEqual(promotionWeights({ stepWeightPromotion: 20 }, 50), [70, 90, 100]);
    });

    it("goes at once without stepWeightPromotion", () => {
        assert.deepEqual(nextPromotionWeight({ stepWeightPromotion: 0 }, { primary: 50, canary: 50 }), { primary: 100, canary: 0 });
        assert.deepEqual(promotionWeights({ stepWeightPromotion: 0 }, 50), [100]);
    });
});

describe("weights: rollout plan", () => {
    it("tutorial: 5..50 in 10 intervals", () => {
        assert.deepEqual(plan({ stepWeight: 5, maxWeight: 50 }), {
            strategy: "canary",
            canaryWeights: [5, 10, 15, 20, 25, 30, 35, 40, 45, 50],
            intervals: 10,
            promotionWeights: [100],
        });
    });

    it("overshoots maxWeight with the last step (20, 40, 60 for step 20 max 50)", () => {
        const p = plan({ stepWeight: 20, maxWeight: 50, stepWeightPromotion: 25 });
        assert.deepEqual(p.canaryWeights, [20, 40, 60]);
        assert.deepEqual(p.promotionWeights, [65, 90, 100]);
    });

    it("stepWeights: maxWeight is the last entry", () => {
        assert.deepEqual(plan({ stepWeights: [1, 5, 10, 20, 50], maxWeight: 80 }).canaryWeights, [1, 5, 10, 20, 50]);
    });

    it("A/B: the header route at 100 for each iteration", () => {
        const p = plan({ iterations: 3, match: [{ headers: { "x-canary": { exact: "insider" } } }] });
        assert.deepEqual(p, { strategy: "ab-testing", canaryWeights: [100, 100, 100], intervals: 3, promotionWeights: [100] });
    });

    it("blue/green: iterations at 0, then one interval at 100", () => {
        const p = plan({ iterations: 3, stepWeightPromotion: 50 });
        assert.deepEqual(p, { strategy: "blue-green", canaryWeights: [0, 0, 0, 100], intervals: 4, promotionWeights: [50, 100] });
    });

    it("refuses a spec that never advances", () => {
        assert.throws(() => plan({ maxWeight: 50 }), /never advances: set analysis.stepWeight, analysis.stepWeights or analysis.iterations/);
    });
});
