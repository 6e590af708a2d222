/**
 * The Gateway API router's adapter against a real kube-apiserver with the Gateway API v1.5.1 standard CRDs
 * (`crds/gateway-api-v1.5.1-standard.yaml`, installed on request): the generated routes pass the CRDs' schema and CEL rules, weights
 * move by server-side apply of `spec.rules` next to Pulumi's field manager, and a read waits for every Gateway
 * to accept the route's current generation (the test writes the parent status a GatewayClass controller
 * writes).
 */
import assert from "node:assert/strict";
import { ANALYSIS_FIELD_MANAGER } from "../../analysis/adapters/kubernetes/client";
import { GATEWAY_API_API_VERSION } from "../../analysis/routers/gatewayapi/api";
import { KubeHTTPRoute } from "../../analysis/routers/gatewayapi/kube-route";
import { buildHTTPRouteSpec } from "../../analysis/routers/gatewayapi/specs";
import { buildGatewaySpec } from "../../components/gatewayapi-gateway";
import type { HTTPRouteSpec } from "../../analysis/routers/gatewayapi/routes";
import type { CanarySpec } from "../../analysis/spec/canary";
import { canaryNames } from "../../analysis/spec/names";
import { startControlPlane, type ControlPlane } from "../../playground/control-plane";

type ClientNode = typeof import("@kubernetes/client-node");

const NS = "test";
const PULUMI_MANAGER = "pulumi-kubernetes-5f0c1e2d";
const FAST_RETRY = { attempts: 4, initialDelayMs: 50 };

function canary(analysis: CanarySpec["analysis"] = { interval: "1m", threshold: 5, maxWeight: 50, stepWeight: 10 }): CanarySpec {
    return {
        provider: "gatewayapi:v1",
        service: {
            port: 9898,
            timeout: "15s",
            hosts: ["podinfo.example.com"],
            gatewayRefs: [{ name: "public", namespace: "gateway" }],
            match: [{ uri: { prefix: "/" }, headers: { "x-env": { exact: "prod" } } }],
            rewrite: { uri: "/" },
        },
        analysis,
    };
}

describe("Gateway API router against a real kube-apiserver", function () {
    this.timeout(180_000);
    let cp: ControlPlane;
    let k8s: ClientNode;
    let objects: import("@kubernetes/client-node").KubernetesObjectApi;
    let custom: import("@kubernetes/client-node").CustomObjectsApi;
    const spec = buildHTTPRouteSpec(canary(), canaryNames("podinfo", canary()));
    const route = (name: string, routeSpec: HTTPRouteSpec) => ({ apiVersion: GATEWAY_API_API_VERSION, kind: "HTTPRoute", metadata: { name, namespace: NS }, spec: routeSpec });
    const pulumiApply = (object: Record<string, any>, force = false) =>
        objects.patch(object as any, undefined, undefined, PULUMI_MANAGER, force, k8s.PatchStrategy.ServerSideApply);
    const live = async (): Promise<any> => custom.getNamespacedCustomObject({ group: "gateway.networking.k8s.io", version: "v1", namespace: NS, plural: "httproutes", name: "podinfo" });
    /** What the Gateway's controller writes: `Accepted` for the generation it has seen. */
    const accept = async (generation: number) => {
        const body = {
            apiVersion: GATEWAY_API_API_VERSION,
            kind: "HTTPRoute",
            metadata: { name: "podinfo", namespace: NS },
            status: {
                parents: [
                    {
                        parentRef: { group: "gateway.networking.k8s.io", kind: "Gateway", namespace: "gateway", name: "public" },
                        controllerName: "example.com/gateway-controller",
                        conditions: [{ type: "Accepted", status: "True", reason: "Accepted", message: "", observedGeneration: generation, lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z") }],
                    },
                ],
            },
        };
        await custom.patchNamespacedCustomObjectStatus(
            { group: "gateway.networking.k8s.io", version: "v1", namespace: NS, plural: "httproutes", name: "podinfo", body, fieldManager: "gateway-controller", force: true },
            k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.ServerSideApply),
        );
    };
    const adapter = (acceptTimeoutMs = 10_000) =>
        new KubeHTTPRoute({ access: { kubeconfig: cp.kubeconfig }, namespace: NS, name: "podinfo", restingSpec: spec, retry: FAST_RETRY, acceptTimeoutMs });

    before(async () => {
        cp = await startControlPlane({ crds: ["appmesh", "gatewayapi"] });
        k8s = await import("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        kc.loadFromString(cp.kubeconfig);
        objects = k8s.KubernetesObjectApi.makeApiClient(kc);
        custom = kc.makeApiClient(k8s.CustomObjectsApi);
        await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
    });

    after(async () => {
        await cp?.stop();
    });

    it("the generated routes pass the v1.5.1 CRDs' schema and rules, A/B included", async () => {
        await pulumiApply(route("podinfo", spec));
        const withAb = canary({ interval: "1m", threshold: 5, iterations: 10, match: [{ headers: { "x-canary": { exact: "insider" } } }, { headers: { cookie: { regex: "^(.*?;)?(canary=always)(;.*)?$" } } }] });
        // Two A/B matches in one rule: no prefix rewrite there (the builder refuses it, see the unit tests).
        const ab = { ...withAb, service: { ...withAb.service, rewrite: undefined } };
        const create = (name: string, routeSpec: HTTPRouteSpec) =>
            custom.createNamespacedCustomObject({ group: "gateway.networking.k8s.io", version: "v1", namespace: NS, plural: "httproutes", body: route(name, routeSpec), fieldValidation: "Strict" });
        await create("podinfo-ab", buildHTTPRouteSpec(ab, canaryNames("podinfo", ab)));
        // The CRDs' own rules are enforced: a rewrite of the prefix needs every match to be a prefix.
        const broken = structuredClone(spec) as any;
        broken.rules[0].filters = [{ type: "URLRewrite", urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/" } } }];
        broken.rules[0].matches = [{ path: { type: "Exact", value: "/healthz" } }];
        await assert.rejects(create("broken", broken), (error: any) => {
            assert.equal(error.code, 422);
            assert.match(String(error.body), /path.replacePrefixMatch, exactly one PathPrefix match must be specified/);
            return true;
        });
    });

    it("the stack's Gateway, and routes with header modifiers, a Host rewrite and whole-path rewrites of several matches, pass them too", async () => {
        const create = (plural: string, body: Record<string, unknown>) =>
            custom.createNamespacedCustomObject({ group: "gateway.networking.k8s.io", version: "v1", namespace: NS, plural, body, fieldValidation: "Strict" });
        await create("gateways", { apiVersion: GATEWAY_API_API_VERSION, kind: "Gateway", metadata: { name: "canary-gateway", namespace: NS }, spec: buildGatewaySpec("eg", 80) });
        const filtered = canary();
        filtered.service = {
            ...filtered.service,
            match: [{ uri: { exact: "/healthz" } }, { uri: { regex: "/v[0-9]+/.*" }, method: { exact: "GET" }, queryParams: { debug: { prefix: "tr" } } }],
            rewrite: { uri: "/status", authority: "podinfo.internal" },
            headers: { request: { add: { "x-from": "gateway" }, remove: ["x-debug"] }, response: { set: { "cache-control": "no-store" } } },
        };
        const built = buildHTTPRouteSpec(filtered, canaryNames("podinfo", filtered));
        assert.deepEqual(built.rules[0].filters?.map((f) => f.type), ["RequestHeaderModifier", "ResponseHeaderModifier", "URLRewrite"]);
        await create("httproutes", route("podinfo-filtered", built));
    });

    it("a read waits for the Gateway to accept the current generation, and says why it gave up", async () => {
        await assert.rejects(adapter(1500).getWeights(), /HTTPRoute test\/podinfo is not accepted yet by Gateway gateway\/public: no status from it after 2s/);
        const generation = (await live()).metadata.generation;
        setTimeout(() => void accept(generation), 1000);
        assert.deepEqual(await adapter().getWeights(), { primary: 100, canary: 0 });
    });

    it("moves the weights by applying spec.rules under its own field manager, then reads them once accepted", async () => {
        const router = adapter();
        await router.setWeights({ primary: 70, canary: 30 });
        const moved = await live();
        assert.equal(moved.spec.rules[0].backendRefs.find((r: any) => r.name === "podinfo-canary").weight, 30);
        const rulesOwner = moved.metadata.managedFields.find((f: any) => f.fieldsV1?.["f:spec"]?.["f:rules"]);
        assert.equal(rulesOwner.manager, ANALYSIS_FIELD_MANAGER);
        assert.deepEqual(moved.spec.parentRefs, [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "public", namespace: "gateway" }], "Pulumi's fields stay");
        // The controller has not seen the new generation yet: the read waits for it.
        const started = Date.now();
        setTimeout(() => void accept(moved.metadata.generation), 1500);
        assert.deepEqual(await router.getWeights(), { primary: 70, canary: 30 });
        assert.ok(Date.now() - started >= 1400, "the read waited for the Gateway");
    });

    it("mid-rollout, Pulumi's plain apply of the declared rules conflicts; back at rest it does not", async () => {
        await assert.rejects(pulumiApply(route("podinfo", spec)), (error: any) => {
            assert.equal(error.code, 409);
            assert.match(String(error.body), /conflict with \\"appmesh-canary-analysis\\".*\.spec\.rules/);
            return true;
        });
        await adapter().setWeights({ primary: 100, canary: 0 });
        await pulumiApply(route("podinfo", spec));
        const rules = (await live()).spec.rules;
        assert.deepEqual(rules[0].backendRefs.map((r: any) => [r.name, r.weight]), [["podinfo-primary", 100], ["podinfo-canary", 0]]);
    });
});
