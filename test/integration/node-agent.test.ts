/**
 * The playground's node on the real control plane: the real Deployment and ReplicaSet controllers create the
 * pods, the node binds and runs them and reports them Ready, the EndpointSlice controller lists them, and the
 * API server's service proxy reaches them through the node's egress socket, as the analysis reaches
 * Prometheus and the load tester from `pulumi up`.
 */
import assert from "node:assert/strict";
import axios from "axios";
import * as https from "node:https";
import { podinfoRunner } from "../../playground/pod-runners";
import { startControlPlane, type ControlPlane } from "../../playground/control-plane";
import { NODE_NAME, startNodeAgent, type NodeAgent } from "../../playground/node-agent";

const NS = "test";

describe("the playground node on the real control plane", function () {
    this.timeout(180_000);
    let cp: ControlPlane;
    let node: NodeAgent;
    let k8s: typeof import("@kubernetes/client-node");
    let kc: import("@kubernetes/client-node").KubeConfig;

    before(async () => {
        cp = await startControlPlane();
        node = await startNodeAgent({ kubeconfig: cp.kubeconfig, egressSocket: cp.egressSocket, runners: [podinfoRunner()] });
        k8s = await import("@kubernetes/client-node");
        kc = new k8s.KubeConfig();
        kc.loadFromString(cp.kubeconfig);
        await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
    });

    after(async () => {
        await node?.stop();
        await cp?.stop();
    });

    it("runs a Deployment's pods, reports them Ready, and serves them through the service proxy", async () => {
        const apps = kc.makeApiClient(k8s.AppsV1Api);
        const core = kc.makeApiClient(k8s.CoreV1Api);
        const labels = { app: "podinfo" };
        await apps.createNamespacedDeployment({
            namespace: NS,
            body: {
                metadata: { name: "podinfo" },
                spec: {
                    replicas: 2,
                    selector: { matchLabels: labels },
                    template: { metadata: { labels }, spec: { containers: [{ name: "podinfod", image: "ghcr.io/stefanprodan/podinfo:6.0.0", ports: [{ name: "http", containerPort: 9898 }] }] } },
                },
            },
        });
        await core.createNamespacedService({ namespace: NS, body: { metadata: { name: "podinfo" }, spec: { selector: labels, ports: [{ name: "http", port: 9898, targetPort: "http" }] } } });

        let available = 0;
        const deadline = Date.now() + 60_000;
        while (available < 2) {
            assert.ok(Date.now() < deadline, `${available} of 2 replicas available`);
            await new Promise((resolve) => setTimeout(resolve, 250));
            available = (await apps.readNamespacedDeployment({ name: "podinfo", namespace: NS })).status?.availableReplicas ?? 0;
        }
        const pods = (await core.listNamespacedPod({ namespace: NS })).items;
        assert.equal(pods.length, 2);
        for (const pod of pods) {
            assert.equal(pod.spec?.nodeName, NODE_NAME);
            assert.match(pod.status?.podIP ?? "", /^10\.244\.\d+\.\d+$/);
            assert.ok(pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
        }

        // The EndpointSlice controller takes up pod readiness on its own schedule (seconds on a busy machine).
        const readyAddresses = async () => {
            const slices = await kc.makeApiClient(k8s.DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: NS, labelSelector: "kubernetes.io/service-name=podinfo" });
            return slices.items.flatMap((s) => s.endpoints.filter((e) => e.conditions?.ready).flatMap((e) => e.addresses)).sort();
        };
        const podIPs = pods.map((p) => p.status!.podIP!).sort();
        let addresses = await readyAddresses();
        for (const sliceDeadline = Date.now() + 30_000; addresses.length < podIPs.length && Date.now() < sliceDeadline; addresses = await readyAddresses()) {
            await new Promise((resolve) => setTimeout(resolve, 250));
        }
        assert.deepEqual(addresses, podIPs);

        const cluster = kc.getCurrentCluster()!;
        const answer = await axios.get(`${cluster.server}/api/v1/namespaces/${NS}/services/podinfo:9898/proxy/version`, {
            headers: { Authorization: `Bearer ${cp.token}` },
            httpsAgent: new https.Agent({ ca: Buffer.from(cluster.caData!, "base64") }),
            proxy: false,
        });
        assert.equal(answer.data.version, "6.0.0");
    });

    it("gives a LoadBalancer Service an ingress address, as cloud-provider-kind does", async () => {
        const core = kc.makeApiClient(k8s.CoreV1Api);
        await core.createNamespacedService({ namespace: NS, body: { metadata: { name: "gateway" }, spec: { type: "LoadBalancer", selector: { app: "gateway" }, ports: [{ port: 80, targetPort: 8088 }] } } });
        const deadline = Date.now() + 30_000;
        let ingress = (await core.readNamespacedService({ name: "gateway", namespace: NS })).status?.loadBalancer?.ingress;
        while (!ingress?.length) {
            assert.ok(Date.now() < deadline, "no ingress address");
            await new Promise((resolve) => setTimeout(resolve, 250));
            ingress = (await core.readNamespacedService({ name: "gateway", namespace: NS })).status?.loadBalancer?.ingress;
        }
        assert.match(ingress[0].ip ?? "", /^10\.245\.1\.\d+$/);
    });

    it("stops and deletes the pods when the Deployment scales to zero", async () => {
        const apps = kc.makeApiClient(k8s.AppsV1Api);
        await apps.patchNamespacedDeploymentScale({ name: "podinfo", namespace: NS, body: { spec: { replicas: 0 } } }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch));
        const core = kc.makeApiClient(k8s.CoreV1Api);
        const deadline = Date.now() + 60_000;
        while ((await core.listNamespacedPod({ namespace: NS })).items.length > 0 || node.pods().length > 0) {
            assert.ok(Date.now() < deadline, "pods still there");
            await new Promise((resolve) => setTimeout(resolve, 250));
        }
    });
});
