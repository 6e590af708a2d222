/**
 * A failed revision is remembered, as Flagger does: through the serialized Analysis provider in Pulumi's
 * dynamic-provider host, on the local cluster's real API server behind the recording proxy. The failure is
 * recorded on the canary Deployment; the next update to that revision holds it without touching the routes,
 * `retryRevision` analyses it again, a new revision's promotion removes the record, and `create` refuses to
 * promote without analysis over a primary on another revision (`pulumi up --replace`).
 */
import * as assert from "node:assert/strict";
import { ANALYSIS_FIELD_MANAGER } from "../../analysis/adapters/kubernetes/client";
import { recordedReason } from "../../analysis/provider/failed-revision";
import { FAILED_REVISION_ANNOTATIONS as FAILED } from "../../analysis/spec/annotations";
import { ANALYSIS_URN, apexWeights, canaryReplicas, deployFirst, FINALIZE_URN, isStatusRequest, liveCanary, liveObject, SERIALIZATION_BREAKAGE, startHostBench, type HostBench } from "./rollout-fixtures";

const CANARY_PATH = "/apis/apps/v1/namespaces/test/deployments/podinfo";
const RFC_3339_SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

describe("a failed revision is remembered and held, through Pulumi's provider host", function () {
    this.timeout(300_000);
    let bench: HostBench;
    /** What Pulumi's state holds for the Analysis and Finalize. */
    let promoted: Record<string, unknown>;
    let finalized: Record<string, unknown>;
    /** The failing revision's Analysis inputs. */
    let failing: Record<string, unknown>;
    /** When and why it failed, as its record says. */
    let failedAt: string;
    let reason: string;

    before(async () => {
        // One weight step and two failed checks to roll back: each case is about what happens around the analysis.
        bench = await startHostBench({ stepWeight: 30, maxWeight: 30, threshold: 2 });
        ({ promoted, finalized } = await deployFirst(bench));
    });

    after(async () => {
        await bench?.stop();
    });

    afterEach(() => {
        assert.doesNotMatch(bench.lines.join("\n"), SERIALIZATION_BREAKAGE);
        assert.ok(!bench.lines.join("\n").includes(bench.token));
        bench.lines.length = 0;
    });

    const annotations = async () => ((await liveCanary(bench)).metadata.annotations ?? {}) as Record<string, string>;
    /** Writes from request `since` on, the status side channel left out. */
    const writesSince = (since: number) => bench.proxy.requests.slice(since).filter((r) => r.method !== "GET" && !isStatusRequest(r));
    const statusWritten = (since: number) => bench.proxy.requests.slice(since).filter((r) => r.method === "PATCH" && isStatusRequest(r)).at(-1)?.body as any;
    const routerVersion = async () => (await liveObject(bench, "VirtualRouter", bench.canary.names.apex)).metadata.resourceVersion;

    async function assertAtRest(): Promise<void> {
        assert.deepEqual(await apexWeights(bench), { primary: 100, canary: 0 });
        assert.equal(await canaryReplicas(bench), 0);
    }

    function heldLine(stage: "held" | "`pulumi up` will hold it"): string {
        const revision = String(failing.revision);
        return (
            `Warning Revision ${revision} of podinfo.test failed at ${failedAt} (${reason}); ${stage}: traffic stays on podinfo-primary and the canary at zero. ` +
            `Set retryRevision: ${revision} in the app's stack config to analyse it again, or deploy a new revision.`
        );
    }

    it("a failing revision fails the update, and the canary Deployment then records it under the analysis's field manager", async () => {
        bench.fault("6.0.2").errorRate = 1;
        await bench.updateCanaryTemplate("6.0.2");
        failing = bench.analysisInputs();
        const started = Date.now();
        const error: Error = await bench.host.update("test/podinfo", ANALYSIS_URN, promoted, failing).then(
            () => assert.fail("the update should fail"),
            (e) => e,
        );
        assert.match(error.message, /^canary analysis of podinfo\.test failed: Halt podinfo\.test advancement /);
        assert.ok(
            error.message.endsWith(`revision ${failing.revision} was not promoted; the next \`pulumi up\` holds it: deploy a fixed revision, or set retryRevision: ${failing.revision} to analyse it again.`),
            error.message,
        );
        await assertAtRest();

        const recorded = await annotations();
        assert.equal(recorded[FAILED.revision], failing.revision);
        failedAt = recorded[FAILED.failedAt];
        assert.match(failedAt, RFC_3339_SECONDS);
        assert.ok(Date.parse(failedAt) >= Math.floor(started / 1000) * 1000 && Date.parse(failedAt) <= Date.now(), failedAt);
        reason = recorded[FAILED.reason];
        const rollbackReason = /^canary analysis of podinfo\.test failed: (.*) \(failed checks: \d+\)\. Traffic is back/s.exec(error.message)![1];
        assert.equal(reason, recordedReason(rollbackReason));
        assert.match(reason, /^Halt podinfo\.test advancement pre-rollout check acceptance-test failed /);
        assert.ok(reason.length <= 300 && !reason.includes("://"), reason);

        // The analysis owns the three annotations, and only those; Pulumi's manager keeps the rest of the object.
        const owners = (await liveCanary(bench)).metadata.managedFields.filter((f: any) => f.manager === ANALYSIS_FIELD_MANAGER);
        assert.equal(owners.length, 1, JSON.stringify(owners));
        assert.deepEqual(Object.keys(owners[0].fieldsV1["f:metadata"]), ["f:annotations"]);
        assert.deepEqual(Object.keys(owners[0].fieldsV1["f:metadata"]["f:annotations"]).sort(), Object.values(FAILED).map((k) => `f:${k}`).sort());
    });

    it("preview of the same revision says it will be held; the update holds it: one warning, no write at all, the promoted revision kept", async () => {
        const diff = await bench.host.diff("test/podinfo", ANALYSIS_URN, promoted, failing);
        assert.equal(diff.changes, "some", "the preview still shows the Analysis update pending");
        assert.deepEqual(bench.lines, [heldLine("`pulumi up` will hold it")]);
        bench.lines.length = 0;

        const since = bench.proxy.requests.length;
        const router = await routerVersion();
        const updated = await bench.host.update("test/podinfo", ANALYSIS_URN, promoted, failing);
        assert.deepEqual(bench.lines, [heldLine("held")]);
        assert.deepEqual(writesSince(since), [], "nothing was written: no route, no scale, no lease");
        assert.equal(statusWritten(since)?.data?.phase, "Failed", "the status says the revision failed");
        assert.match(statusWritten(since)?.data?.lastEvent, /held: traffic stays on podinfo-primary/);
        assert.equal(await routerVersion(), router);
        await assertAtRest();
        for (const key of ["revision", "template", "configData", "secretData", "status"]) {
            assert.deepEqual(updated.properties[key], promoted[key], key);
        }
        assert.equal(updated.properties.plan, failing.plan);
    });

    it("a held revision whose canary was left running (an interrupted run) is put to rest first, without a router write", async () => {
        const k8s = await import("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        kc.loadFromString(bench.cluster.kubeconfig);
        await kc.makeApiClient(k8s.AppsV1Api).patchNamespacedDeploymentScale(
            { name: bench.canary.target, namespace: bench.canary.namespace, body: { spec: { replicas: 1 } } },
            k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
        );
        const since = bench.proxy.requests.length;
        const updated = await bench.host.update("test/podinfo", ANALYSIS_URN, promoted, failing);
        assert.equal(updated.properties.revision, promoted.revision);
        assert.deepEqual(bench.lines, ["Warning Recovering interrupted rollout of podinfo.test", heldLine("held")]);
        assert.deepEqual(
            writesSince(since).filter((r) => !r.path.includes("/leases")).map((r) => `${r.method} ${r.path} ${JSON.stringify(r.body)}`),
            [`PATCH ${CANARY_PATH}/scale {"spec":{"replicas":0}}`],
        );
        await assertAtRest();
    });

    it("check refuses a retryRevision that is no revision; with retryRevision set to it, preview holds nothing and the update analyses it again", async () => {
        const { failures } = await bench.host.check(ANALYSIS_URN, {}, { ...failing, retryRevision: "podinfo:6.0.2" });
        assert.deepEqual(failures.map((f) => f.property), ["retryRevision"]);
        const retry = { ...failing, retryRevision: failing.revision };
        assert.deepEqual((await bench.host.check(ANALYSIS_URN, {}, retry)).failures, []);
        assert.equal((await bench.host.diff("test/podinfo", ANALYSIS_URN, promoted, retry)).changes, "some");
        assert.equal(bench.lines.length, 0, bench.lines.join("\n"));

        await assert.rejects(bench.host.update("test/podinfo", ANALYSIS_URN, promoted, retry), /canary analysis of podinfo\.test failed: Halt podinfo\.test advancement /);
        assert.ok(bench.lines.includes("Normal  New revision detected! Scaling up podinfo.test"), bench.lines.join("\n"));
        await assertAtRest();
        const recorded = await annotations();
        assert.equal(recorded[FAILED.revision], failing.revision);
        assert.ok(recorded[FAILED.failedAt] >= failedAt, "the retry's failure is recorded again");
    });

    it("a new revision is analysed afresh; its promotion removes the record", async () => {
        await bench.updateCanaryTemplate("6.0.3");
        // Pulumi's apply of the canary Deployment neither conflicts with the record nor removes it.
        assert.equal((await annotations())[FAILED.revision], failing.revision);
        const news = bench.analysisInputs();
        const since = bench.proxy.requests.length;
        const updated = await bench.host.update("test/podinfo", ANALYSIS_URN, promoted, news);
        assert.equal(updated.properties.status, "promoted");
        assert.equal(updated.properties.revision, news.revision);
        assert.ok(bench.lines.includes("Normal  New revision detected! Scaling up podinfo.test"), bench.lines.join("\n"));
        const recorded = await annotations();
        assert.deepEqual(Object.values(FAILED).filter((key) => key in recorded), []);
        const removal = writesSince(since).find((r) => r.path === CANARY_PATH)!;
        assert.equal(removal.query.get("fieldManager"), ANALYSIS_FIELD_MANAGER);
        assert.deepEqual(removal.body, { metadata: { annotations: Object.fromEntries(Object.values(FAILED).map((key) => [key, null])) } });

        await bench.rollPrimary("6.0.3");
        const next = bench.finalizeInputs(String(news.revision), "promoted");
        await bench.host.update("test/podinfo", FINALIZE_URN, finalized, next);
        finalized = next;
        promoted = updated.properties;
        await assertAtRest();
    });

    it("create over a live primary on another revision (`pulumi up --replace`) fails saying what to do and changes nothing; over the same revision it bootstraps", async () => {
        await bench.updateCanaryTemplate("6.0.4");
        const replacing = bench.analysisInputs();
        const since = bench.proxy.requests.length;
        const error: Error = await bench.host.create(ANALYSIS_URN, replacing).then(
            () => assert.fail("create should refuse"),
            (e) => e,
        );
        assert.match(
            error.message,
            new RegExp(`the Analysis of podinfo\\.test cannot be created over Deployment test/podinfo-primary, which runs revision ${promoted.revision}: creating it would promote revision ${replacing.revision} without analysis\\. `),
        );
        assert.match(error.message, /run `pulumi up` without --replace/);
        assert.deepEqual(writesSince(since), []);
        await assertAtRest();

        // The Analysis created again (after `pulumi state delete`) while the canary runs what the primary runs.
        await bench.updateCanaryTemplate("6.0.3");
        const created = await bench.host.create(ANALYSIS_URN, bench.analysisInputs());
        assert.equal(created.properties.revision, promoted.revision);
        assert.equal(created.properties.status, "initialized");
    });
});
