/**
 * The mesh data plane programmed from the real API server: App Mesh objects as the program declares them, pods
 * run by the playground node, endpoints from the real EndpointSlices. The analysis's router adapter moves the
 * weights on the API server, and the traffic through the mesh proxy follows.
 */
import assert from "node:assert/strict";
import { APPMESH_API_VERSION } from "../../analysis/routers/appmesh/api";
import { KubeRouter } from "../../analysis/routers/appmesh/kube-router";
import { buildVirtualNodeSpec, buildVirtualRouterSpec, buildVirtualServiceSpec } from "../../analysis/routers/appmesh/specs";
import { canaryNames, podSelector } from "../../analysis/spec/names";
import { podinfoRunner } from "../../playground/pod-runners";
import { startControlPlane, type ControlPlane } from "../../playground/control-plane";
import { requestThroughProxy } from "../../playground/http-util";
import { MeshRouter } from "../../playground/mesh-router";
import { startMeshSync, type MeshSync } from "../../playground/mesh-sync";
import { startNodeAgent, type NodeAgent } from "../../playground/node-agent";
import { tutorialCanary } from "./rollout-fixtures";

const NS = "test";
const spec = tutorialCanary();
const names = canaryNames("podinfo", spec);

describe("the mesh data plane over the real control plane", function () {
    this.timeout(180_000);
    let cp: ControlPlane;
    let node: NodeAgent;
    let sync: MeshSync;
    let mesh: MeshRouter;

    /** The versions answering 20 requests to the apex service through the mesh proxy. */
    async function versions(): Promise<Record<string, number>> {
        const counts: Record<string, number> = {};
        for (let i = 0; i < 20; i++) {
            const answer = await requestThroughProxy(mesh.proxyUrl, "http://podinfo.test:9898/version");
            assert.equal(answer.status, 200, answer.body);
            const version = JSON.parse(answer.body).version as string;
            counts[version] = (counts[version] ?? 0) + 1;
        }
        return counts;
    }

    async function settle(check: () => Promise<boolean>, what: string): Promise<void> {
        const deadline = Date.now() + 60_000;
        while (!(await check())) {
            assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
            await new Promise((resolve) => setTimeout(resolve, 250));
        }
    }

    before(async () => {
        cp = await startControlPlane();
        node = await startNodeAgent({ kubeconfig: cp.kubeconfig, egressSocket: cp.egressSocket, runners: [podinfoRunner()] });
        sync = await startMeshSync({ kubeconfig: cp.kubeconfig, node });
        mesh = new MeshRouter({
            endpoints: (namespace, virtualNode) => sync.endpoints(namespace, virtualNode),
            serviceEndpoints: (namespace, service, port) => sync.serviceEndpoints(namespace, service, port),
        });
        await mesh.start();
        await sync.attach(mesh);

        const k8s = await import("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        kc.loadFromString(cp.kubeconfig);
        const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
        const apply = (object: Record<string, any>) => objects.patch(object as any, undefined, undefined, "pulumi-kubernetes-0a1b2c3d", false, k8s.PatchStrategy.ServerSideApply);
        await apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
        for (const side of ["primary", "canary"] as const) {
            const labels = podSelector(names, side);
            const version = side === "primary" ? "6.0.0" : "6.0.1";
            await apply({
                apiVersion: "apps/v1",
                kind: "Deployment",
                metadata: { name: side === "primary" ? names.primary : names.target, namespace: NS },
                spec: {
                    replicas: 1,
                    selector: { matchLabels: labels },
                    template: { metadata: { labels }, spec: { containers: [{ name: "podinfod", image: `ghcr.io/stefanprodan/podinfo:${version}`, ports: [{ name: "http", containerPort: 9898 }] }] } },
                },
            });
            await apply({ apiVersion: "v1", kind: "Service", metadata: { name: names.nodes[side], namespace: NS }, spec: { selector: labels, ports: [{ name: "http", port: 9898, targetPort: "http" }] } });
            await apply({ apiVersion: APPMESH_API_VERSION, kind: "VirtualNode", metadata: { name: names.nodes[side], namespace: NS }, spec: buildVirtualNodeSpec(spec, names, side, NS) });
        }
        await apply({ apiVersion: APPMESH_API_VERSION, kind: "VirtualRouter", metadata: { name: names.apex, namespace: NS }, spec: buildVirtualRouterSpec(spec, names, "apex") });
        await apply({ apiVersion: APPMESH_API_VERSION, kind: "VirtualService", metadata: { name: names.apex, namespace: NS }, spec: buildVirtualServiceSpec(names.apex) });
        await settle(async () => sync.endpoints(NS, names.nodes.primary).length === 1 && sync.endpoints(NS, names.nodes.canary).length === 1, "both sides' pods to be ready behind their VirtualNodes");
    });

    after(async () => {
        await sync?.stop();
        await mesh?.stop();
        await node?.stop();
        await cp?.stop();
    });

    it("routes by the stored VirtualRouter: all traffic on the primary at rest", async () => {
        assert.deepEqual(await versions(), { "6.0.0": 20 });
    });

    it("follows the weights the analysis's router adapter applies to the API server", async () => {
        const router = new KubeRouter({ access: { kubeconfig: cp.kubeconfig }, namespace: NS, name: names.apex, restingSpec: buildVirtualRouterSpec(spec, names, "apex") });
        await router.setWeights({ primary: 0, canary: 100 });
        await settle(async () => (await versions())["6.0.1"] === 20, "all traffic on the canary");
        await router.setWeights({ primary: 100, canary: 0 });
        await settle(async () => (await versions())["6.0.0"] === 20, "all traffic back on the primary");
    });

    it("stops routing deleted mesh objects: the host then reaches its Service's pods, as kube-proxy sends it", async () => {
        const k8s = await import("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        kc.loadFromString(cp.kubeconfig);
        const custom = kc.makeApiClient(k8s.CustomObjectsApi);
        const core = kc.makeApiClient(k8s.CoreV1Api);
        // The apex Service, as the program declares it: it selects the primary's pods.
        await core.createNamespacedService({ namespace: NS, body: { metadata: { name: names.apex }, spec: { selector: podSelector(names, "primary"), ports: [{ name: "http", port: 9898, targetPort: "http" }] } } });
        const router = new KubeRouter({ access: { kubeconfig: cp.kubeconfig }, namespace: NS, name: names.apex, restingSpec: buildVirtualRouterSpec(spec, names, "apex") });
        await router.setWeights({ primary: 0, canary: 100 });
        await settle(async () => (await versions())["6.0.1"] === 20, "all traffic on the canary through the VirtualRouter");
        for (const plural of ["virtualservices", "virtualrouters"]) {
            await custom.deleteNamespacedCustomObject({ group: "appmesh.k8s.aws", version: "v1beta2", namespace: NS, plural, name: names.apex });
        }
        await settle(async () => (await versions())["6.0.0"] === 20, "the deleted router's weights no longer apply: the apex Service's primary pods answer");
        const unknown = await requestThroughProxy(mesh.proxyUrl, "http://nothing.test:9898/");
        assert.equal(unknown.status, 404);
    });
});
