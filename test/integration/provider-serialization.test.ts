import * as assert from "node:assert/strict";
import requireFromString from "require-from-string";
import { analysisProvider, finalizeProvider, rolloutFailure } from "../../analysis/provider/providers";
import { withWeights } from "../../analysis/routers/appmesh/routes";
import { gatewayApiRouterInput } from "../../analysis/routers/gatewayapi/input";
import { canaryNames, routerNodes } from "../../analysis/spec/names";
import { parseCanarySpec } from "../../analysis/spec/validation";
import type { CanarySpec } from "../../analysis/spec/canary";
import { startApiProxy, type ApiProxy } from "../../playground/api-proxy";
import { startControlPlane, type ControlPlane } from "../../playground/control-plane";
import { serializeProvider } from "../../playground/provider-host";
import { isStatusRequest, restingRouter, restingRouterSpec, TARGET as target, tutorialCanary } from "./rollout-fixtures";

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

            it("check names a bad metric template field, and lets one not known yet pass", async () => {
                const metricTemplates = {
                    lattice: { provider: { type: "cloudwatch", region: "Ireland" }, query: '[{"Id": "m1", "MetricStat": {"Metric": {"Namespace": "AWS/VpcLattice", "MetricName": "RequestTime"}, "Period": 45, "Stat": "p99"}}]' },
                    amp: { provider: { address: "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1", sigv4: { region: UNKNOWN } }, query: "up" },
                };
                const { failures } = await get().check({}, { ...inputs(), metricTemplates });
                assert.deepEqual(failures.map((f: { property: string }) => f.property), ["metricTemplates.lattice.provider.region", "metricTemplates.lattice.query[0].MetricStat.Period"]);
            });

            it("check validates a Gateway API spec with its route input: a router of another kind, a missing Gateway, Lattice's limits", async () => {
                // The App Mesh tutorial's retries have no Gateway API mapping (validation says so).
                const { retries: _retries, ...service } = canary.service;
                const gatewayCanary = { ...canary, provider: "gatewayapi:v1", service: { ...service, gatewayRefs: [{ name: "public", namespace: "gateway" }] } };
                const parsed = parseCanarySpec(gatewayCanary);
                const route = gatewayApiRouterInput(parsed, canaryNames("podinfo", parsed));
                assert.deepEqual((await get().check({}, { ...inputs(), canary: gatewayCanary, router: route })).failures, []);
                const wrongKind = await get().check({}, { ...inputs(), canary: gatewayCanary });
                assert.deepEqual(wrongKind.failures, [{ property: "router.kind", reason: 'must be gatewayapi, the router of the spec\'s provider gatewayapi:v1, got "appmesh"' }]);
                const noGateway = await get().check({}, { ...inputs(), canary: { ...gatewayCanary, service }, router: route });
                assert.deepEqual(noGateway.failures.map((f: { property: string }) => f.property), ["canary.service.gatewayRefs"]);
                const ab = { ...gatewayCanary, analysis: { interval: "1m", threshold: 5, iterations: 10, match: [{ headers: { cookie: { regex: "canary=always" } } }] } };
                const abParsed = parseCanarySpec(ab);
                const lattice = gatewayApiRouterInput(abParsed, canaryNames("podinfo", abParsed), true);
                const latticeFailures = await get().check({}, { ...inputs(), canary: ab, router: lattice });
                assert.deepEqual(latticeFailures.failures.map((f: { property: string }) => f.property), ["router.route.rules[0].matches[0].headers[0]"]);
                assert.match(latticeFailures.failures[0].reason, /exact header matches only/);
            });

            it("check names an unknown router kind with the known ones", async () => {
                const { failures } = await get().check({}, { ...inputs(), router: { kind: "linkerd", virtualRouter: restingRouterSpec() } });
                assert.deepEqual(failures, [{ property: "router.kind", reason: 'must be one of appmesh, gatewayapi (the Canary component\'s `router` output), got "linkerd"' }]);
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
});

/**
 * The serialized providers against a real API server with no node: pods stay Pending, so a Deployment never
 * becomes available, as a crash-looping one would not.
 */
describe("the serialized providers against a real kube-apiserver, in this process", function () {
    this.timeout(120_000);
    let cp: ControlPlane;
    let proxy: ApiProxy;
    let objects: import("@kubernetes/client-node").KubernetesObjectApi;
    let k8s: typeof import("@kubernetes/client-node");
    const PULUMI_MANAGER = "pulumi-kubernetes-0a1b2c3d";
    const apply = (object: Record<string, any>) => objects.patch(object as any, undefined, undefined, PULUMI_MANAGER, true, k8s.PatchStrategy.ServerSideApply);
    const read = (apiVersion: string, kind: string, name: string) => objects.read({ apiVersion, kind, metadata: { name, namespace: "test" } }) as Promise<any>;
    const deployment = (name: string, replicas: number) => {
        const labels = { app: name };
        return { apiVersion: "apps/v1", kind: "Deployment", metadata: { name, namespace: "test" }, spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: "podinfod", image: "ghcr.io/stefanprodan/podinfo:6.0.0" }] } } } };
    };
    const router = (spec: unknown) => ({ apiVersion: "appmesh.k8s.aws/v1beta2", kind: "VirtualRouter", metadata: { name: "podinfo", namespace: "test" }, spec });

    before(async () => {
        cp = await startControlPlane();
        k8s = await import("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        kc.loadFromString(cp.kubeconfig);
        objects = k8s.KubernetesObjectApi.makeApiClient(kc);
        proxy = await startApiProxy(cp.server, cp.ca);
        await apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "test" } });
        for (const object of [deployment("podinfo", 2), deployment("podinfo-primary", 2)]) {
            await apply(object);
        }
    });

    after(async () => {
        await proxy?.stop();
        await cp?.stop();
    });

    it("Finalize holds promotion until the primary is ready, and fails leaving traffic where it was", async () => {
        const finalize = await roundTrip(finalizeProvider);
        const atMaxWeight = withWeights(restingRouterSpec(), routerNodes("podinfo"), { primary: 50, canary: 50 });
        await apply(router(atMaxWeight));
        const inputs = (revision: string, status: string) => ({ target, canary: { ...canary, progressDeadlineSeconds: 1 }, router: restingRouter(), revision, status, kubeconfig: proxy.kubeconfig(cp.token) });
        await new Promise((resolve) => setTimeout(resolve, 1500));
        await assert.rejects(
            finalize.update("test/podinfo", inputs("r1", "initialized"), inputs("r2", "promoted")),
            /^Error: Promotion of podinfo\.test failed, primary not ready: podinfo-primary\.test not ready: waiting for rollout to finish: 0 of 2 \(readyThreshold 100%\) updated replicas are available$/,
        );
        const live = await read("appmesh.k8s.aws/v1beta2", "VirtualRouter", "podinfo");
        assert.deepEqual(live.spec.routes[0].httpRoute.action.weightedTargets.map((t: any) => t.weight), [50, 50]);
        assert.equal((await read("apps/v1", "Deployment", "podinfo")).spec.replicas, 2);
        // Nothing but its own Lease, taken and released, and the status: still Promoting, as the promotion waits.
        const writes = proxy.requests.filter((r) => r.method !== "GET");
        assert.deepEqual(writes.filter((r) => !isStatusRequest(r)).map((r) => `${r.method} ${r.path}`), [
            "POST /apis/coordination.k8s.io/v1/namespaces/test/leases",
            "PUT /apis/coordination.k8s.io/v1/namespaces/test/leases/podinfo-canary-analysis",
        ]);
        assert.equal((writes.filter(isStatusRequest).at(-1)?.body as any)?.data?.phase, "Promoting");
    });

    it("Analysis create where no primary runs yet bootstraps: outputs promote the inputs as they are, and nothing but the status (Initializing) is written", async () => {
        const analysis = await roundTrip(analysisProvider);
        const fresh = { name: "fresh", namespace: "test", service: "fresh" };
        const inputs = { target: fresh, canary, router: restingRouter(), revision: "r1", template: { spec: { containers: [{ name: "podinfo", image: "podinfo:6.0.0" }] } }, configData: {}, secretData: {}, plan: "p", kubeconfig: proxy.kubeconfig(cp.token) };
        const before = proxy.requests.length;
        const { id, outs } = await analysis.create(inputs);
        assert.equal(id, "test/fresh");
        assert.deepEqual(outs, { ...inputs, status: "initialized" });
        assert.deepEqual(proxy.requests.slice(before).map((r) => `${r.method} ${r.path} ${r.status}`), [
            "GET /apis/apps/v1/namespaces/test/deployments/fresh-primary 404",
            "GET /api/v1/namespaces/test/configmaps/fresh-canary-status 404",
            "PATCH /api/v1/namespaces/test/configmaps/fresh-canary-status 201",
        ]);
        assert.equal((proxy.requests.at(-1)?.body as any).data.phase, "Initializing");
    });

    it("a kubeconfig that reaches another cluster is refused before anything changes", async () => {
        const analysis = await roundTrip(analysisProvider);
        const finalize = await roundTrip(finalizeProvider);
        const uid = (await read("apps/v1", "Deployment", "podinfo")).metadata.uid;
        const inputs = (revision: string) => ({ target, canary, router: restingRouter(), revision, template: {}, configData: {}, secretData: {}, plan: "", kubeconfig: proxy.kubeconfig(cp.token), targetUid: "uid-of-the-stack" });
        const before = proxy.requests.length;
        await assert.rejects(
            analysis.update("test/podinfo", { ...inputs("r1"), status: "initialized" }, inputs("r2")),
            new RegExp(`the kubeconfig reaches a different cluster than the stack's: Deployment test/podinfo should have uid uid-of-the-stack, found a Deployment with uid ${uid}; .*Nothing was changed\\.`),
        );
        await assert.rejects(finalize.update("test/podinfo", { ...inputs("r1"), status: "initialized" }, { ...inputs("r2"), status: "promoted" }), /different cluster/);
        await assert.rejects(analysis.create(inputs("r2")), /different cluster/);
        assert.deepEqual(proxy.requests.slice(before).filter((r) => r.method !== "GET"), []);
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

    it("says that the next `pulumi up` holds a recorded failed revision, and how to analyse it again", () => {
        assert.match(
            rolloutFailure(target, "r2", outcome, live, true),
            /Traffic is back on podinfo-primary, the canary is scaled to zero and revision r2 was not promoted; the next `pulumi up` holds it: deploy a fixed revision, or set retryRevision: r2 to analyse it again\.$/,
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
