import * as assert from "node:assert/strict";
import type { AnalysisOutcome } from "../../analysis/engine/engine";
import { bootstrapRefusal } from "../../analysis/provider/bootstrap";
import { clearedAnnotations, failedRevisionOf, failureAnnotations, failureRecord, MAX_RECORDED_REASON, recordedReason } from "../../analysis/provider/failed-revision";
import { checkRetryRevision, heldOutputs, heldRevisionText, isHeld } from "../../analysis/provider/held-revision";
import type { AnalysisInputs, AnalysisOutputs } from "../../analysis/provider/providers";
import { computeRevision } from "../../analysis/provider/revision";

const TARGET = { name: "podinfo", namespace: "test", service: "podinfo" };
const FAILED = { revision: "40a857abea41bb8f", failedAt: "2026-12-02T14:03:00Z", reason: "Halt podinfo.test advancement success rate 0.00% < 99%" };
const DECEMBER_2 = Date.parse("2026-12-02T14:03:00.517Z");

const failedOutcome = (rollback: AnalysisOutcome["rollback"], reason = FAILED.reason): AnalysisOutcome => ({ status: "failed", reason, failedChecks: 5, canaryWeight: 0, checks: [], rollback });

describe("held revisions: what a failed analysis records", () => {
    it("records failed checks, a rollback webhook and the progress deadline, at the second, with the reason", () => {
        for (const rollback of ["threshold", "manual", "deadline"] as const) {
            assert.deepEqual(failureRecord(failedOutcome(rollback), FAILED.revision, DECEMBER_2), FAILED, rollback);
        }
    });

    it("records nothing for a failure that says nothing about the revision: its `pulumi up` gone, an API error, a run that never started", () => {
        assert.equal(failureRecord(failedOutcome("abandoned"), FAILED.revision, DECEMBER_2), undefined);
        assert.equal(failureRecord(failedOutcome("error"), FAILED.revision, DECEMBER_2), undefined);
        assert.equal(failureRecord(failedOutcome(undefined), FAILED.revision, DECEMBER_2), undefined);
        assert.equal(failureRecord({ status: "succeeded", failedChecks: 0, canaryWeight: 30, checks: [] }, FAILED.revision, DECEMBER_2), undefined);
    });

    it("keeps the reason to one line of at most 300 characters, without addresses", () => {
        const long = `Halt podinfo.test advancement external check load-test failed ${"x".repeat(400)}`;
        const kept = recordedReason(long);
        assert.equal(kept.length, MAX_RECORDED_REASON);
        assert.ok(kept.startsWith("Halt podinfo.test advancement external check load-test failed xxx") && kept.endsWith("…"), kept);
        assert.equal(recordedReason(FAILED.reason), FAILED.reason);
        assert.equal(
            recordedReason("Halt podinfo.test advancement pre-rollout check acceptance-test failed Post \"http://flagger-loadtester.test/?token=t0k3n\":\n  connect ECONNREFUSED"),
            "Halt podinfo.test advancement pre-rollout check acceptance-test failed Post \"<address>\": connect ECONNREFUSED",
        );
        assert.doesNotMatch(recordedReason("could not reach https://10.0.0.1:6443/apis/x and HTTPS://hooks.slack.com/services/T/B/secret"), /10\.0\.0\.1|slack|secret/i);
    });

    it("writes the record as three annotations and reads it back; removal sets all three to null", () => {
        const annotations = failureAnnotations(FAILED);
        assert.deepEqual(annotations, {
            "appmesh-canary.io/failed-revision": FAILED.revision,
            "appmesh-canary.io/failed-at": FAILED.failedAt,
            "appmesh-canary.io/failed-reason": FAILED.reason,
        });
        assert.deepEqual(failedRevisionOf({ ...(annotations as Record<string, string>), "deployment.kubernetes.io/revision": "3" }), FAILED);
        assert.deepEqual(clearedAnnotations(), { "appmesh-canary.io/failed-revision": null, "appmesh-canary.io/failed-at": null, "appmesh-canary.io/failed-reason": null });
        assert.equal(failedRevisionOf(undefined), undefined);
        assert.equal(failedRevisionOf({ "appmesh-canary.io/failed-at": FAILED.failedAt }), undefined);
        assert.deepEqual(failedRevisionOf({ "appmesh-canary.io/failed-revision": FAILED.revision }), { revision: FAILED.revision, failedAt: undefined, reason: undefined });
    });
});

describe("held revisions: the update's decision", () => {
    it("holds the recorded failed revision unless retryRevision names it", () => {
        assert.equal(isHeld(FAILED.revision, undefined, FAILED), true);
        assert.equal(isHeld(FAILED.revision, "0123456789abcdef", FAILED), true, "a retry of another revision does not release this one");
        assert.equal(isHeld(FAILED.revision, FAILED.revision, FAILED), false);
        assert.equal(isHeld("0123456789abcdef", undefined, FAILED), false, "a new revision is analysed");
        assert.equal(isHeld(FAILED.revision, undefined, undefined), false);
    });

    it("keeps the promoted revision on the outputs, with the other inputs as given", () => {
        const promoted = { revision: "p", template: { spec: "old" }, configData: { app: { color: "blue" } }, secretData: { app: { token: "a" } }, status: "promoted", plan: "old plan", target: TARGET } as unknown as AnalysisOutputs;
        const next = { revision: FAILED.revision, template: { spec: "new" }, configData: {}, secretData: {}, plan: "new plan", target: TARGET, kubeconfig: "k" } as unknown as AnalysisInputs;
        assert.deepEqual(heldOutputs(promoted, next), {
            ...next,
            revision: "p",
            template: { spec: "old" },
            configData: { app: { color: "blue" } },
            secretData: { app: { token: "a" } },
            status: "promoted",
        });
    });

    it("says which revision, when and why it failed, that traffic stays on the primary, and how to retry it", () => {
        assert.equal(
            heldRevisionText(TARGET, FAILED, "up"),
            "Revision 40a857abea41bb8f of podinfo.test failed at 2026-12-02T14:03:00Z (Halt podinfo.test advancement success rate 0.00% < 99%); held: " +
                "traffic stays on podinfo-primary and the canary at zero. Set retryRevision: 40a857abea41bb8f in the app's stack config to analyse it again, or deploy a new revision.",
        );
        assert.match(heldRevisionText(TARGET, FAILED, "preview"), /\); `pulumi up` will hold it: traffic stays on podinfo-primary/);
        assert.match(heldRevisionText(TARGET, { revision: FAILED.revision }, "up"), /^Revision 40a857abea41bb8f of podinfo\.test failed; held: /);
    });

    it("check takes a revision as retryRevision, and names the field and the format otherwise", () => {
        assert.deepEqual(checkRetryRevision(undefined), []);
        assert.deepEqual(checkRetryRevision(computeRevision({ spec: {} })), []);
        assert.deepEqual(checkRetryRevision("04da6b54-80e4-46f7-96ec-b56ff0331ba9"), [], "unknown during preview");
        for (const bad of ["40A857ABEA41BB8F", "40a857ab", "", 42, "podinfo:6.0.2"]) {
            const failures = checkRetryRevision(bad);
            assert.equal(failures.length, 1, String(bad));
            assert.equal(failures[0].property, "retryRevision");
            assert.match(failures[0].reason, /16 lowercase hex digits/);
        }
    });
});

describe("creating the Analysis over a running primary", () => {
    it("bootstraps a first deployment (no primary) and a primary already on this revision", () => {
        assert.equal(bootstrapRefusal(TARGET, FAILED.revision, undefined), undefined);
        assert.equal(bootstrapRefusal(TARGET, FAILED.revision, { revision: FAILED.revision }), undefined);
    });

    it("refuses a primary on another revision (`pulumi up --replace`), saying what to do", () => {
        const refusal = bootstrapRefusal(TARGET, FAILED.revision, { revision: "0123456789abcdef" });
        assert.match(refusal!, /^the Analysis of podinfo\.test cannot be created over Deployment test\/podinfo-primary, which runs revision 0123456789abcdef: creating it would promote revision 40a857abea41bb8f without analysis\. /);
        assert.match(refusal!, /run `pulumi up` without --replace: its update analyses 40a857abea41bb8f\./);
        assert.match(refusal!, /`pulumi state delete`\), deploy the revision it runs first \(its image and config\), then 40a857abea41bb8f\. Nothing was changed\.$/);
    });

    it("refuses a primary that records no revision, saying how to mark it as running this one", () => {
        const refusal = bootstrapRefusal(TARGET, FAILED.revision, {});
        assert.match(refusal!, /which carries no appmesh-canary\.io\/revision annotation/);
        assert.match(refusal!, /kubectl annotate deployment -n test podinfo-primary appmesh-canary\.io\/revision=40a857abea41bb8f\. Nothing was changed\.$/);
    });
});
