import * as assert from "node:assert/strict";
import requireFromString from "require-from-string";
import { analysisProvider, finalizeProvider, rolloutFailure } from "../../analysis/provider/providers";
import { withWeights } from "../../analysis/routers/appmesh/routes";
import { routerNodes } from "../../analysis/spec/names";
import type { CanarySpec } from "../../analysis/spec/canary";
import { startKubeApiServer } from "../../playground/kube-api-server";
import { serializeProvider } from "../../playground/provider-host";
import { restingRouter, restingRouterSpec, TARGET as target, tutorialCanary } from "./rollout-fixtures";
import { MemoryCluster } from "./memory-cluster";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const canary: CanarySpec = tutorialCanary();

/** What the dynamic-provider host does with `__provider`: require the text and call `handler()`. */
async function roundTrip(provider: object): Promise<any> {
    const text = await serializeProvider(provider);
    return requireFromString(text).handler();
}

describe("dynamic providers survive Pulumi's function serialization", function () {
    let analysis: any;
    let finalize: any;

    before(async function () {
        analysis = await roundTrip(analysisProvider);
        finalize = await roundTrip(finalizeProvider);
    });

    it("captures no value that serialization cannot carry (Set, Map, Date, class instances)", async () => {
        for (const provider of [analysisProvider, finalizeProvider]) {
            const text = await serializeProvider(provider);
            // A captured Set or Map becomes a plain object with the prototype's methods copied onto it, whose
            // calls then throw ("Method Set.prototype.has called on incompatible receiver").
            assert.doesNotMatch(text, /value: global\.(Set|Map|WeakSet|WeakMap|Date|Promise|ArrayBuffer|\w+Array)\.prototype\./);
            // A captured class instance is rebuilt with its prototype set by hand, without its private state.
            assert.doesNotMatch(text, /Object\.setPrototypeOf\(__\w+, __\w+\.prototype\)/);
        }
    });

    for (const [name, get] of [["Analysis", () => analysis], ["Finalize", () => finalize]] as const) {
        describe(name, () => {
            const inputs = () => ({ target, canary, router: restingRouter(), revision: "abc", status: "promoted", template: {}, configData: {}, secretData: {}, plan: "" });

            it("check names the bad field", async () => {
                const bad = { ...inputs(), canary: { ...canary, analysis: { ...canary.analysis, maxWeight: 150 } } };
                const { failures } = await get().check({}, bad);
                assert.equal(failures.length, 1, JSON.stringify(failures));
                assert.equal(failures[0].property, "canary.analysis.maxWeight");
                assert.match(failures[0].reason, /100/);
            });

            it("check passes a good spec and tolerates values unknown during preview", async () => {
                assert.deepEqual((await get().check({}, inputs())).failures, []);
                const preview = { ...inputs(), canary: { ...canary, analysis: { ...canary.analysis, maxWeight: UNKNOWN } }, router: UNKNOWN, target: { ...target, namespace: UNKNOWN } };
                assert.deepEqual((await get().check({}, preview)).failures, []);
            });

            it("diff reports no change for identical inputs and a change for a new revision", async () => {
                assert.equal((await get().diff("test/podinfo", inputs(), inputs())).changes, false);
                assert.equal((await get().diff("test/podinfo", inputs(), { ...inputs(), revision: "def" })).changes, true);
                assert.equal((await get().diff("test/podinfo", inputs(), { ...inputs(), revision: UNKNOWN })).changes, true);
                assert.equal((await get().diff("test/podinfo", inputs(), { ...inputs(), kubeconfig: "rotated" })).changes, false);
            });

            it("check names an unknown router kind with the known ones", async () => {
                const { failures } = await get().check({}, { ...inputs(), router: { kind: "linkerd", virtualRouter: restingRouterSpec() } });
                assert.deepEqual(failures, [{ property: "router.kind", reason: 'must be one of appmesh (the Canary component\'s `router` output), got "linkerd"' }]);
            });
        });
    }

    it("Analysis diff: a stack whose state holds the router as `routerSpec` sees no change from the rename alone", async () => {
        const { router, ...rest } = { target, canary, router: restingRouter(), revision: "abc", template: {}, configData: {}, secretData: {}, plan: "" };
        const stored = { ...rest, routerSpec: router.virtualRouter, status: "promoted" };
        assert.equal((await analysis.diff("test/podinfo", stored, { ...rest, router })).changes, false);
        const changedRoutes = { ...router, virtualRouter: restingRouterSpec("30s") };
        assert.equal((await analysis.diff("test/podinfo", stored, { ...rest, router: changedRoutes })).changes, true);
    });

    it("Analysis create bootstraps: outputs promote the inputs as they are", async () => {
        const inputs = { target, canary, router: restingRouter(), revision: "r1", template: { spec: { containers: [{ name: "podinfo", image: "podinfo:6.0.0" }] } }, configData: {}, secretData: {}, plan: "p" };
        const { id, outs } = await analysis.create(inputs);
        assert.equal(id, "test/podinfo");
        assert.deepEqual(outs, { ...inputs, status: "initialized" });
    });

    it("an update with the promoted revision (a spec edit) returns the full outputs without touching the cluster", async () => {
        // Any call to this kubeconfig would fail: the server does not exist.
        const unreachable = "apiVersion: v1\nclusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:1'}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n";
        const promoted = { target, canary, router: restingRouter(), revision: "r1", template: { spec: {} }, configData: { app: { color: "blue" } }, secretData: {}, plan: "p", kubeconfig: unreachable, status: "promoted" };
        const edited = { ...promoted, canary: { ...canary, analysis: { ...canary.analysis, threshold: 3 } }, plan: "p2" };
        delete (edited as Partial<typeof edited>).status;
        assert.deepEqual(await analysis.update("test/podinfo", promoted, edited), { outs: { ...edited, status: "promoted" } });
        const finalizeInputs = { target, canary, router: restingRouter(), revision: "r1", status: "promoted", kubeconfig: unreachable };
        const finalizeEdited = { ...finalizeInputs, canary: edited.canary };
        assert.deepEqual(await finalize.update("test/podinfo", finalizeInputs, finalizeEdited), { outs: finalizeEdited });
    });

    it("Finalize create reaches the cluster through the Kubernetes adapters from the serialized text", async () => {
        const cluster = new MemoryCluster();
        cluster.addDeployment("test", "podinfo", { replicas: 2 });
        cluster.addDeployment("test", "podinfo-primary", { replicas: 2 });
        const api = await startKubeApiServer(cluster);
        const printed: string[] = [];
        const log = console.log;
        console.log = (line: string) => printed.push(line);
        try {
            await cluster.putVirtualRouter("test", "podinfo", { apiVersion: "appmesh.k8s.aws/v1beta2", kind: "VirtualRouter", metadata: { name: "podinfo", namespace: "test" }, spec: restingRouterSpec() });
            const inputs = { target, canary, router: restingRouter(), revision: "r1", status: "initialized", kubeconfig: api.kubeconfig };
            const { outs } = await finalize.create(inputs);
            assert.equal(outs.revision, "r1");
        } finally {
            console.log = log;
            await api.stop();
        }
        assert.equal(cluster.replicasOf("test", "podinfo"), 0);
        assert.ok(printed.some((l) => l.endsWith("Initialization done! podinfo.test")), printed.join("\n"));
        assert.ok(!printed.some((l) => l.includes("token")));
    });

    it("Finalize holds promotion until the primary is ready, and fails leaving traffic where it was", async () => {
        const cluster = new MemoryCluster();
        cluster.addDeployment("test", "podinfo", { replicas: 2 });
        cluster.addDeployment("test", "podinfo-primary", { replicas: 2, unhealthy: true });
        const api = await startKubeApiServer(cluster);
        const atMaxWeight = withWeights(restingRouterSpec(), routerNodes("podinfo"), { primary: 50, canary: 50 });
        await cluster.putVirtualRouter("test", "podinfo", { apiVersion: "appmesh.k8s.aws/v1beta2", kind: "VirtualRouter", metadata: { name: "podinfo", namespace: "test" }, spec: atMaxWeight });
        const inputs = (revision: string, status: string) => ({ target, canary: { ...canary, progressDeadlineSeconds: 1 }, router: restingRouter(), revision, status, kubeconfig: api.kubeconfig });
        try {
            await assert.rejects(
                finalize.update("test/podinfo", inputs("r1", "initialized"), inputs("r2", "promoted")),
                /^Error: Promotion of podinfo\.test failed, primary not ready: podinfo-primary\.test not ready: waiting for rollout to finish: 0 of 2 \(readyThreshold 100%\) updated replicas are available$/,
            );
        } finally {
            await api.stop();
        }
        assert.deepEqual(cluster.weightsOf("test", "podinfo"), { primary: 50, canary: 50 });
        assert.equal(cluster.replicasOf("test", "podinfo"), 2);
    });
});

describe("a permanent Kubernetes API error mid-rollout", () => {
    it("ends the update with the reason, traffic on the primary and the canary at zero", async () => {
        const analysis = await roundTrip(analysisProvider);
        const cluster = new MemoryCluster();
        cluster.addDeployment("test", "podinfo", { replicas: 0 });
        cluster.addDeployment("test", "podinfo-primary", { replicas: 2 });
        await cluster.putVirtualRouter("test", "podinfo", { apiVersion: "appmesh.k8s.aws/v1beta2", kind: "VirtualRouter", metadata: { name: "podinfo", namespace: "test" }, spec: restingRouterSpec() });
        const api = await startKubeApiServer(cluster);
        // The first weight step is refused for good (403); the rollback's own write goes through.
        api.injectFault({ path: "/apis/appmesh.k8s.aws/v1beta2/namespaces/test/virtualrouters/podinfo", method: "PATCH", status: 403 });
        const quick: CanarySpec = { ...canary, analysis: { interval: "1s", threshold: 1, maxWeight: 50, stepWeight: 50 } };
        const inputs = (revision: string) => ({ target, canary: quick, router: restingRouter(), revision, template: {}, configData: {}, secretData: {}, plan: "", kubeconfig: api.kubeconfig });
        const log = console.log;
        console.log = () => undefined;
        try {
            await assert.rejects(analysis.update("test/podinfo", { ...inputs("r1"), status: "initialized" }, inputs("r2")), (error: Error) => {
                assert.match(error.message, /^canary analysis of podinfo\.test failed: .*403 Forbidden: injected fault: HTTP 403/);
                assert.match(error.message, /Traffic is back on podinfo-primary, the canary is scaled to zero/);
                return true;
            });
        } finally {
            console.log = log;
            await api.stop();
        }
        const patches = api.requests.filter((r) => r.method === "PATCH" && r.path.includes("virtualrouters")).map((r) => r.status);
        assert.deepEqual(patches, [403, 200]);
        assert.deepEqual(cluster.weightsOf("test", "podinfo"), { primary: 100, canary: 0 });
        assert.equal(cluster.replicasOf("test", "podinfo"), 0);
    });
});

describe("a kubeconfig that reaches another cluster", () => {
    it("is refused before anything changes", async () => {
        const analysis = await roundTrip(analysisProvider);
        const finalize = await roundTrip(finalizeProvider);
        const cluster = new MemoryCluster();
        cluster.addDeployment("test", "podinfo", { replicas: 0 });
        const api = await startKubeApiServer(cluster);
        const inputs = (revision: string) => ({ target, canary, router: restingRouter(), revision, template: {}, configData: {}, secretData: {}, plan: "", kubeconfig: api.kubeconfig, targetUid: "uid-of-the-stack" });
        try {
            await assert.rejects(
                analysis.update("test/podinfo", { ...inputs("r1"), status: "initialized" }, inputs("r2")),
                /the kubeconfig reaches a different cluster than the stack's: Deployment test\/podinfo should have uid uid-of-the-stack, found a Deployment with uid uid-podinfo; .*Nothing was changed\./,
            );
            await assert.rejects(finalize.update("test/podinfo", { ...inputs("r1"), status: "initialized" }, { ...inputs("r2"), status: "promoted" }), /different cluster/);
        } finally {
            await api.stop();
        }
        assert.deepEqual(api.requests.filter((r) => r.method !== "GET"), []);
    });
});

describe("the failure message of a rolled-back analysis", () => {
    const outcome = { status: "failed" as const, reason: "Halt podinfo.test advancement request duration 995ms > 500ms", failedChecks: 5, canaryWeight: 0, checks: [] };
    const live = { primaryWeight: 100, canaryWeight: 0, canaryReplicas: 0, state: "resting" as const };

    it("says why and that traffic is back on the primary", () => {
        assert.equal(
            rolloutFailure(target, "r2", outcome, live),
            "canary analysis of podinfo.test failed: Halt podinfo.test advancement request duration 995ms > 500ms (failed checks: 5). " +
                "Traffic is back on podinfo-primary, the canary is scaled to zero and revision r2 was not promoted; fix the cause and run `pulumi up` again to retry.",
        );
    });

    it("never claims a safe state it could not confirm", () => {
        const stuck = rolloutFailure(target, "r2", { ...outcome, canaryWeight: 20 }, { primaryWeight: 80, canaryWeight: 20, canaryReplicas: 2, state: "interrupted" });
        assert.match(stuck, /The rollback did not complete \(primary 80%, canary 20%, 2 canary replicas\); the next `pulumi up` puts traffic back on podinfo-primary before anything else\.$/);
        assert.match(rolloutFailure(target, "r2", outcome, new Error("connect ECONNREFUSED")), /could not be read \(connect ECONNREFUSED\)/);
        const reported = rolloutFailure(target, "r2", { ...outcome, reason: `${outcome.reason}; could not scale the canary to zero: 500` });
        assert.match(reported, /The rollback did not complete;/);
    });
});
