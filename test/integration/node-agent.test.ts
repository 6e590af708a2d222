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
import { faultSwitches } from "../../playground/podinfo-app";

const NS = "test";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the playground node on the real control plane", function () {
    this.timeout(180_000);
    let cp: ControlPlane;
    let node: NodeAgent;
    let k8s: typeof import("@kubernetes/client-node");
    let kc: import("@kubernetes/client-node").KubeConfig;
    const faults = faultSwitches();
    const agentLog: string[] = [];

    before(async () => {
        cp = await startControlPlane();
        node = await startNodeAgent({ kubeconfig: cp.kubeconfig, egressSocket: cp.egressSocket, runners: [podinfoRunner({ faults })], log: (line) => agentLog.push(line) });
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

    it("terminates the pods as podinfo meets SIGTERM when the Deployment scales to zero: not ready, serving on at their addresses for 3s, then stopped and deleted", async () => {
        const terminating = node.pods().filter((p) => p.namespace === NS);
        assert.equal(terminating.length, 2);
        const apps = kc.makeApiClient(k8s.AppsV1Api);
        await apps.patchNamespacedDeploymentScale({ name: "podinfo", namespace: NS, body: { spec: { replicas: 0 } } }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch));
        const get = (pod: (typeof terminating)[number], path: string) => axios.get(`http://${pod.ports.get(9898)}${path}`, { validateStatus: () => true, proxy: false }).then((r) => r.status);
        for (const pod of terminating) {
            const notReadyBy = Date.now() + 5000;
            while ((await get(pod, "/readyz")) !== 503) {
                assert.ok(Date.now() < notReadyBy, `${pod.name} still ready after the scale-down`);
                await sleep(50);
            }
            const signalled = Date.now();
            assert.equal(await get(pod, "/version"), 200, `${pod.name} serves on while it shuts down`);
            assert.ok(node.podAt(pod.podIP), `${pod.name} keeps its address until it exits`);
            assert.ok(Date.now() - signalled < 3000);
        }
        const core = kc.makeApiClient(k8s.CoreV1Api);
        const deadline = Date.now() + 60_000;
        while ((await core.listNamespacedPod({ namespace: NS })).items.length > 0 || node.pods().length > 0) {
            assert.ok(Date.now() < deadline, "pods still there");
            await sleep(250);
        }
        await assert.rejects(get(terminating[0], "/version"), "a stopped pod's port is closed");
    });

    describe("a crash-looping version, as kubelet reports one", () => {
        type V1Pod = import("@kubernetes/client-node").V1Pod;
        const CRASHING = "6.0.9";
        const containerStatus = (pod: V1Pod) => pod.status?.containerStatuses?.[0];
        const inBackOff = (pod: V1Pod | undefined) => containerStatus(pod ?? {})?.state?.waiting?.reason === "CrashLoopBackOff";
        const isReady = (pod: V1Pod) => pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
        /** The back-off kubelet's message names for a restart count, scaled down as the playground's node does it. */
        const backOffSeconds = (restartCount: number) => Math.min(2 ** restartCount, 8);
        const podsOf = async (app: string) => (await kc.makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace: NS, labelSelector: `app=${app}` })).items;
        const startedLines = (name: string) => agentLog.filter((line) => line.startsWith(`started ${NS}/${name} `));

        /** Polls `read` until `done` holds; fails after `ms` with what it read last. */
        async function waitFor<T>(what: string, ms: number, read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
            const deadline = Date.now() + ms;
            for (let value = await read(); ; value = await read()) {
                if (done(value)) {
                    return value;
                }
                assert.ok(Date.now() < deadline, `${what}; last read: ${JSON.stringify(value)}`);
                await sleep(100);
            }
        }

        /** A bare pod (no controller to replace it) of a crash-looping podinfo version, once it has been restarted at least once. */
        async function crashLoopingPod(name: string, version: string): Promise<V1Pod> {
            faults(version).crashLoop = true;
            await kc.makeApiClient(k8s.CoreV1Api).createNamespacedPod({
                namespace: NS,
                body: { metadata: { name, labels: { app: name } }, spec: { containers: [{ name: "podinfod", image: `ghcr.io/stefanprodan/podinfo:${version}`, ports: [{ name: "http", containerPort: 9898 }] }] } },
            });
            const [pod] = await waitFor(`${name} never restarted in back-off`, 30_000, () => podsOf(name), ([p]) => inBackOff(p) && containerStatus(p)!.restartCount >= 1);
            return pod;
        }

        it("keeps the pods of a crash-looping version not Ready in CrashLoopBackOff, restarting them with a growing back-off", async () => {
            faults(CRASHING).crashLoop = true;
            const apps = kc.makeApiClient(k8s.AppsV1Api);
            const labels = { app: "crashy" };
            await apps.createNamespacedDeployment({
                namespace: NS,
                body: {
                    metadata: { name: "crashy" },
                    spec: {
                        replicas: 1,
                        selector: { matchLabels: labels },
                        template: { metadata: { labels }, spec: { containers: [{ name: "podinfod", image: `ghcr.io/stefanprodan/podinfo:${CRASHING}`, ports: [{ name: "http", containerPort: 9898 }] }] } },
                    },
                },
            });
            const [first] = await waitFor("no pod in CrashLoopBackOff", 30_000, () => podsOf("crashy"), (pods) => pods.length === 1 && inBackOff(pods[0]));
            // Every status seen on the way, by restart count: each names the back-off of its count.
            const seen = new Map<number, V1Pod>([[containerStatus(first)!.restartCount, first]]);
            const [pod] = await waitFor("restart count below 2 within 5 s of the first crash", 5_000, () => podsOf("crashy"), ([p]) => {
                seen.set(containerStatus(p)!.restartCount, p);
                return containerStatus(p)!.restartCount >= 2;
            });

            assert.equal(pod.metadata!.uid, first.metadata!.uid, "the container restarts in the same pod");
            assert.equal(pod.status?.phase, "Running");
            assert.equal(pod.status?.podIP, first.status?.podIP, "a restart keeps the pod's address");
            for (const type of ["Ready", "ContainersReady"]) {
                assert.equal(pod.status?.conditions?.find((c) => c.type === type)?.status, "False", type);
            }
            for (const [restartCount, p] of seen) {
                const status = containerStatus(p)!;
                assert.equal(status.ready, false);
                assert.equal(status.started, false);
                assert.equal(status.state?.waiting?.reason, "CrashLoopBackOff");
                assert.equal(status.state?.waiting?.message, `back-off ${backOffSeconds(restartCount)}s restarting failed container=podinfod pod=${p.metadata!.name}_${NS}(${p.metadata!.uid})`);
                assert.equal(status.lastState?.terminated?.exitCode, 1);
                assert.equal(status.lastState?.terminated?.reason, "Error");
                assert.ok(status.lastState!.terminated!.finishedAt! >= status.lastState!.terminated!.startedAt!);
            }
            assert.ok(seen.size >= 2, `restart counts seen: ${[...seen.keys()]}`);
            assert.ok(!node.pods().some((p) => p.name === pod.metadata!.name), "a crashed container is not running on the node");
            assert.equal(startedLines(pod.metadata!.name!).length, 0);
            assert.ok(!(await apps.readNamespacedDeployment({ name: "crashy", namespace: NS })).status?.availableReplicas);
        });

        it("runs a crash-looping pod once its fault is switched off: Ready, serving, with its restart count kept", async () => {
            const [crashing] = await podsOf("crashy");
            assert.ok(inBackOff(crashing));
            const restarts = containerStatus(crashing)!.restartCount;
            faults(CRASHING).crashLoop = false;

            // The longest back-off is 8 s; the probe passes 300 ms after the start.
            const [pod] = await waitFor("the pod not Ready after its fault was switched off", 20_000, () => podsOf("crashy"), (pods) => pods.length === 1 && isReady(pods[0]));
            assert.equal(pod.metadata!.uid, crashing.metadata!.uid);
            assert.equal(pod.status?.podIP, crashing.status?.podIP);
            const status = containerStatus(pod)!;
            assert.ok(status.restartCount > restarts, `restart count ${status.restartCount} after ${restarts} in back-off`);
            assert.equal(status.ready, true);
            assert.equal(status.started, true);
            assert.ok(status.state?.running?.startedAt);
            assert.equal(status.lastState?.terminated?.exitCode, 1, "the last exit stays reported, as kubelet reports it");
            assert.equal(startedLines(pod.metadata!.name!).length, 1, "started once");

            const cluster = kc.getCurrentCluster()!;
            const answer = await axios.get(`${cluster.server}/api/v1/namespaces/${NS}/pods/${pod.metadata!.name}:9898/proxy/version`, {
                headers: { Authorization: `Bearer ${cp.token}` },
                httpsAgent: new https.Agent({ ca: Buffer.from(cluster.caData!, "base64") }),
                proxy: false,
            });
            assert.equal(answer.data.version, CRASHING);
        });

        it("cancels the restart of a pod deleted during its back-off", async () => {
            const name = "crashy-deleted";
            const pod = await crashLoopingPod(name, "6.0.8");
            const pending = Number(/^back-off (\d+)s /.exec(containerStatus(pod)!.state!.waiting!.message!)![1]);
            await kc.makeApiClient(k8s.CoreV1Api).deleteNamespacedPod({ name, namespace: NS });
            await waitFor(`${name} still listed`, 10_000, () => podsOf(name), (pods) => pods.length === 0);
            // Healthy now: a restart left behind would start it, and log so.
            faults("6.0.8").crashLoop = false;
            await sleep(pending * 1000 + 2000);

            const key = `${NS}/${name}`;
            const stoppedAt = agentLog.indexOf(`stopped ${key}`);
            assert.ok(stoppedAt >= 0, "the node stopped the pod");
            assert.ok(agentLog.slice(0, stoppedAt).some((line) => line.startsWith(`${key}: the container exited with code 1; back-off`)));
            assert.deepEqual(agentLog.slice(stoppedAt + 1).filter((line) => line.includes(key)), []);
            assert.equal(startedLines(name).length, 0);
            assert.ok(!node.pods().some((p) => p.name === name));
        });

        it("starts nothing once the node agent stops, even with a pod in back-off", async () => {
            const name = "crashy-at-stop";
            const pod = await crashLoopingPod(name, "6.0.7");
            const pending = Number(/^back-off (\d+)s /.exec(containerStatus(pod)!.state!.waiting!.message!)![1]);
            await node.stop();
            const mark = agentLog.length;
            faults("6.0.7").crashLoop = false;
            await sleep(pending * 1000 + 2000);

            assert.deepEqual(agentLog.slice(mark), []);
            assert.deepEqual(node.pods(), []);
        });
    });
});
