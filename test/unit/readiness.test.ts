import * as assert from "node:assert/strict";
import { deploymentReadiness, describeReadiness, scaleFromZeroReplicas, type DeploymentLike } from "../../analysis/adapters/kubernetes/readiness";

const NOW = Date.parse("2026-11-28T06:00:00Z");

function deployment(overrides: { generation?: number; replicas?: number; status?: DeploymentLike["status"] } = {}): DeploymentLike {
    return {
        metadata: { name: "podinfo", generation: overrides.generation ?? 2 },
        spec: { replicas: overrides.replicas ?? 3 },
        status: {
            observedGeneration: 2,
            replicas: 3,
            updatedReplicas: 3,
            availableReplicas: 3,
            conditions: [
                { type: "Available", status: "True", reason: "MinimumReplicasAvailable", lastUpdateTime: "2026-11-28T05:59:00Z" },
                { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable", lastUpdateTime: "2026-11-28T05:59:00Z" },
            ],
            ...overrides.status,
        },
    };
}

const unavailableSince = (time: string) => [
    { type: "Available", status: "False", reason: "MinimumReplicasUnavailable", lastUpdateTime: time },
    { type: "Progressing", status: "True", reason: "ReplicaSetUpdated", lastUpdateTime: time },
];

describe("Flagger readiness rules", () => {
    it("is ready when every replica is updated and available", () => {
        assert.deepEqual(deploymentReadiness(deployment(), 100, 600, NOW), { ready: true });
    });

    it("waits while the controller has not observed the latest generation", () => {
        assert.deepEqual(deploymentReadiness(deployment({ generation: 3 }), 100, 600, NOW), {
            ready: false,
            retriable: true,
            reason: "waiting for rollout to finish: observed deployment generation less than desired generation",
        });
    });

    it("waits for new replicas to be updated", () => {
        const r = deploymentReadiness(deployment({ status: { updatedReplicas: 1 } }), 100, 600, NOW);
        assert.deepEqual(r, { ready: false, retriable: true, reason: "waiting for rollout to finish: 1 out of 3 new replicas have been updated" });
    });

    it("waits for old replicas to terminate", () => {
        const r = deploymentReadiness(deployment({ status: { replicas: 5 } }), 100, 600, NOW);
        assert.deepEqual(r, { ready: false, retriable: true, reason: "waiting for rollout to finish: 2 old replicas are pending termination" });
    });

    it("needs readyThreshold percent of the updated replicas available, rounding down", () => {
        const r = deploymentReadiness(deployment({ status: { availableReplicas: 1 } }), 100, 600, NOW);
        assert.deepEqual(r, { ready: false, retriable: true, reason: "waiting for rollout to finish: 1 of 3 (readyThreshold 100%) updated replicas are available" });
        // 3 × 50% = 1.5 → 1 replica is enough.
        assert.deepEqual(deploymentReadiness(deployment({ status: { availableReplicas: 1 } }), 50, 600, NOW), { ready: true });
    });

    it("stops retrying once replicas have been unavailable for longer than the progress deadline", () => {
        const stuck = deployment({ status: { availableReplicas: 0, conditions: unavailableSince("2026-11-28T05:49:00Z") } });
        const r = deploymentReadiness(stuck, 100, 600, NOW);
        assert.deepEqual(r, { ready: false, retriable: false, reason: "waiting for rollout to finish: 0 of 3 (readyThreshold 100%) updated replicas are available" });
        const recent = deployment({ status: { availableReplicas: 0, conditions: unavailableSince("2026-11-28T05:55:00Z") } });
        assert.equal((deploymentReadiness(recent, 100, 600, NOW) as { retriable: boolean }).retriable, true);
    });

    it("fails for good when the Deployment reports ProgressDeadlineExceeded", () => {
        const exceeded = deployment({
            status: {
                availableReplicas: 0,
                conditions: [{ type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded", lastUpdateTime: "2026-11-28T05:00:00Z" }],
            },
        });
        assert.deepEqual(deploymentReadiness(exceeded, 100, 600, NOW), { ready: false, retriable: false, reason: 'deployment "podinfo" exceeded its progress deadline' });
    });

    it("wraps reasons as Flagger does for the canary and the primary", () => {
        const waiting = deploymentReadiness(deployment({ status: { updatedReplicas: 0 } }), 100, 600, NOW);
        assert.equal((describeReadiness(waiting, "canary", "podinfo", "test") as { reason: string }).reason, "canary deployment podinfo.test not ready: waiting for rollout to finish: 0 out of 3 new replicas have been updated");
        assert.equal((describeReadiness(waiting, "primary", "podinfo-primary", "test") as { reason: string }).reason, "podinfo-primary.test not ready: waiting for rollout to finish: 0 out of 3 new replicas have been updated");
        assert.deepEqual(describeReadiness({ ready: true }, "canary", "podinfo", "test"), { ready: true });
    });
});

describe("ScaleFromZero", () => {
    const withReplicas = (replicas: number): DeploymentLike => ({ spec: { replicas } });
    it("keeps the canary's own replicas when it has some", () => assert.equal(scaleFromZeroReplicas(withReplicas(4), withReplicas(2)), 4));
    it("copies the primary's replicas without an autoscaler", () => assert.equal(scaleFromZeroReplicas(withReplicas(0), withReplicas(2)), 2));
    it("uses the autoscaler's minReplicas when above 1", () => {
        assert.equal(scaleFromZeroReplicas(withReplicas(0), withReplicas(5), 3), 3);
        assert.equal(scaleFromZeroReplicas(withReplicas(0), withReplicas(5), 1), 1);
    });
    it("falls back to one replica", () => {
        assert.equal(scaleFromZeroReplicas(withReplicas(0), undefined), 1);
        assert.equal(scaleFromZeroReplicas(withReplicas(0), withReplicas(0)), 1);
    });
});
