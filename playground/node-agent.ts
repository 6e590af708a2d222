/**
 * The playground's node over the real control plane: a container-less kubelet. It registers a Node, binds the
 * pending pods to it (the scheduler's job), runs each pod by its image (`pod-runners.ts`), gives it an address
 * from the pod range mapped to local ports, reports pod
 * status as kubelet does (Ready only once the readiness probe passes), and stops and deletes the pods the
 * controllers delete, letting requests in flight finish, and gives LoadBalancer Services an ingress address as
 * cloud-provider-kind does. It also serves the API server's egress-selector
 * socket: HTTP CONNECT to `podIP:port` reaches the pod, so the service proxy works as in a real cluster.
 */
import * as fs from "fs";
import * as net from "net";
import { POD_CIDR } from "./control-plane";
import type { PodRunner, RunningContainer } from "./pod-runners";

type K8s = typeof import("@kubernetes/client-node");
type V1Pod = import("@kubernetes/client-node").V1Pod;

export const NODE_NAME = "playground";
/** The Node's own address: inside the blackholed block, like the pods'. */
const NODE_ADDRESS = "10.245.0.2";
/** LoadBalancer Services get ingress addresses from here (as cloud-provider-kind gives them), blackholed too. */
const LOAD_BALANCER_BASE = "10.245.1.";
const POLL_MS = 250;

export interface NodeAgentOptions {
    kubeconfig: string;
    /** The socket the API server's egress selector dials (ControlPlane.egressSocket). */
    egressSocket: string;
    /** What runs each image; a pod whose image none runs waits with `ErrImageNeverPull`. */
    runners: PodRunner[];
    /** Called whenever the node's set of running pods changes. */
    onPodsChanged?: (pods: RunningPod[]) => void;
    /** What a pod waits for after its readiness probe passes, before it is reported Ready (a readiness gate). */
    readinessGate?: (pod: RunningPod) => Promise<void>;
    log?: (line: string) => void;
}

export interface NodeAgent {
    /** The running pod behind an address, for the data plane. */
    podAt(podIP: string): RunningPod | undefined;
    pods(): RunningPod[];
    stop(): Promise<void>;
}

export interface RunningPod {
    namespace: string;
    name: string;
    uid: string;
    podIP: string;
    labels: Record<string, string>;
    container: RunningContainer;
    /** Container port → local `host:port`. */
    ports: Map<number, string>;
}

/** Addresses from the pod range, in order, skipping the network address. */
function* podAddresses(): Generator<string> {
    const [base] = POD_CIDR.split("/");
    const [a, b] = base.split(".").map(Number);
    for (let n = 2; n < 65_534; n++) {
        yield `${a}.${b}.${Math.floor(n / 256)}.${n % 256}`;
    }
}

export async function startNodeAgent(opts: NodeAgentOptions): Promise<NodeAgent> {
    const log = opts.log ?? (() => undefined);
    const k8s: K8s = await import("@kubernetes/client-node");
    const kc = new k8s.KubeConfig();
    kc.loadFromString(opts.kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const running = new Map<string, RunningPod>();
    const starting = new Set<string>();
    const addresses = podAddresses();
    const changed = () => opts.onPodsChanged?.([...running.values()]);

    await core.createNode({
        body: {
            metadata: { name: NODE_NAME, labels: { "kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux" } },
            status: {
                addresses: [{ type: "InternalIP", address: NODE_ADDRESS }, { type: "Hostname", address: NODE_NAME }],
                capacity: { cpu: "8", memory: "32Gi", pods: "250" },
                allocatable: { cpu: "8", memory: "32Gi", pods: "250" },
            },
        },
    });
    await reportNodeReady();

    async function reportNodeReady(): Promise<void> {
        const now = new Date();
        await core.patchNodeStatus(
            { name: NODE_NAME, body: { status: { conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "the playground runs pods as local processes", lastHeartbeatTime: now, lastTransitionTime: now }] } } },
            k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch),
        );
    }

    async function patchStatus(pod: V1Pod, status: Record<string, unknown>): Promise<void> {
        await core.patchNamespacedPodStatus(
            { name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, body: { status } },
            k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch),
        );
    }

    function conditions(ready: boolean) {
        const now = new Date().toISOString();
        return ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map((type) => ({
            type,
            status: type === "PodScheduled" || type === "Initialized" || ready ? "True" : "False",
            lastTransitionTime: now,
        }));
    }

    async function run(pod: V1Pod): Promise<void> {
        const key = `${pod.metadata!.namespace}/${pod.metadata!.name}`;
        const container = pod.spec!.containers[0];
        const runner = opts.runners.find((r) => r.image.test(container.image ?? ""));
        const startedAt = new Date().toISOString();
        if (!runner) {
            await patchStatus(pod, {
                phase: "Pending",
                hostIP: NODE_ADDRESS,
                conditions: conditions(false),
                containerStatuses: [{ name: container.name, image: container.image, imageID: "", ready: false, restartCount: 0, started: false, state: { waiting: { reason: "ErrImageNeverPull", message: `the playground node has no runner for ${container.image}` } } }],
            });
            return;
        }
        const podIP = addresses.next().value as string;
        const labels = pod.metadata!.labels ?? {};
        const started = await runner.start({
            namespace: pod.metadata!.namespace!,
            name: pod.metadata!.name!,
            labels,
            image: container.image!,
            ports: (container.ports ?? []).map((p) => ({ name: p.name, containerPort: p.containerPort })),
        });
        const runningPod: RunningPod = { namespace: pod.metadata!.namespace!, name: pod.metadata!.name!, uid: pod.metadata!.uid!, podIP, labels, container: started, ports: started.ports };
        running.set(key, runningPod);
        changed();
        const containerStatus = (ready: boolean) => [{ name: container.name, image: container.image, imageID: container.image, containerID: `playground://${pod.metadata!.uid}`, ready, restartCount: 0, started: true, state: { running: { startedAt } } }];
        await patchStatus(pod, { phase: "Running", hostIP: NODE_ADDRESS, podIP, podIPs: [{ ip: podIP }], startTime: startedAt, conditions: conditions(false), containerStatuses: containerStatus(false) });
        // As kubelet does, the readiness probe runs first after its initialDelaySeconds.
        const probeDelayMs = (container.readinessProbe?.initialDelaySeconds ?? 0) * 1000;
        Promise.all([started.ready, new Promise((resolve) => setTimeout(resolve, probeDelayMs))])
            .then(() => opts.readinessGate?.(runningPod))
            .then(
                () => (running.get(key) === runningPod ? patchStatus(pod, { conditions: conditions(true), containerStatuses: containerStatus(true) }) : undefined),
                (e) => log(`${key} not ready: ${(e as Error).message}`),
            )
            .catch((e) => log(`status of ${key}: ${(e as Error).message}`));
        log(`started ${key} (${container.image}) at ${podIP}`);
    }

    async function terminate(key: string, pod: V1Pod | undefined): Promise<void> {
        const instance = running.get(key);
        running.delete(key);
        changed();
        await instance?.container.stop();
        if (pod) {
            await core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, gracePeriodSeconds: 0 }).catch(() => undefined);
        }
        log(`stopped ${key}`);
    }

    /** Without a cloud controller a LoadBalancer Service never gets an address, and `pulumi up` waits for one. */
    async function assignLoadBalancerAddresses(): Promise<void> {
        const services = (await core.listServiceForAllNamespaces()).items.filter((svc) => svc.spec?.type === "LoadBalancer");
        const taken = new Set(services.flatMap((svc) => (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip)));
        for (const svc of services.filter((s) => !s.status?.loadBalancer?.ingress?.length)) {
            let n = 1;
            while (taken.has(`${LOAD_BALANCER_BASE}${n}`)) {
                n++;
            }
            const ip = `${LOAD_BALANCER_BASE}${n}`;
            taken.add(ip);
            await core.patchNamespacedServiceStatus(
                { name: svc.metadata!.name!, namespace: svc.metadata!.namespace!, body: { status: { loadBalancer: { ingress: [{ ip, ipMode: "VIP" }] } } } },
                k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
            );
            log(`LoadBalancer ${svc.metadata!.namespace}/${svc.metadata!.name} at ${ip}`);
        }
    }

    async function sync(): Promise<void> {
        await assignLoadBalancerAddresses();
        const pods = (await core.listPodForAllNamespaces()).items;
        const seen = new Set<string>();
        for (const pod of pods) {
            const key = `${pod.metadata!.namespace}/${pod.metadata!.name}`;
            seen.add(key);
            if (!pod.spec!.nodeName) {
                await core.createNamespacedBinding({
                    namespace: pod.metadata!.namespace!,
                    body: { metadata: { name: pod.metadata!.name! }, target: { apiVersion: "v1", kind: "Node", name: NODE_NAME } },
                }).catch((e) => log(`binding ${key}: ${(e as Error).message}`));
                continue;
            }
            if (pod.spec!.nodeName !== NODE_NAME) {
                continue;
            }
            if (pod.metadata!.deletionTimestamp) {
                if (!starting.has(key)) {
                    starting.add(key);
                    terminate(key, pod).finally(() => starting.delete(key));
                }
                continue;
            }
            if (!running.has(key) && !starting.has(key) && !pod.status?.containerStatuses) {
                starting.add(key);
                run(pod).catch((e) => log(`starting ${key}: ${(e as Error).message}`)).finally(() => starting.delete(key));
            }
        }
        // Pods deleted without passing through termination (force deletes): stop what is left.
        for (const key of [...running.keys()].filter((k) => !seen.has(k))) {
            await terminate(key, undefined);
        }
    }

    let stopped = false;
    let loop: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
        loop = loop.then(() => (stopped ? undefined : sync().catch((e) => log(`sync: ${(e as Error).message}`))));
    }, POLL_MS);

    const podAt = (podIP: string) => [...running.values()].find((p) => p.podIP === podIP);

    // The API server's service proxy dials endpoints through this socket with HTTP CONNECT.
    fs.rmSync(opts.egressSocket, { force: true });
    const egress = net.createServer((client) => {
        client.once("data", (head) => {
            const match = /^CONNECT ([\d.]+):(\d+) HTTP\/1\.[01]\r\n/.exec(head.toString("latin1"));
            const target = match ? podAt(match[1])?.ports.get(Number(match[2])) : undefined;
            if (!target) {
                client.end("HTTP/1.1 503 Service Unavailable\r\n\r\n");
                return;
            }
            const [host, port] = target.split(":");
            const upstream = net.connect(Number(port), host, () => {
                client.write("HTTP/1.1 200 Connection established\r\n\r\n");
                upstream.pipe(client);
                client.pipe(upstream);
            });
            upstream.on("error", () => client.destroy());
            client.on("error", () => upstream.destroy());
        });
    });
    await new Promise<void>((resolve) => egress.listen(opts.egressSocket, resolve));

    return {
        podAt,
        pods: () => [...running.values()],
        async stop() {
            stopped = true;
            clearInterval(timer);
            await loop;
            await Promise.all([...running.values()].map((p) => p.container.stop()));
            running.clear();
            await new Promise<void>((resolve) => egress.close(() => resolve()));
            fs.rmSync(opts.egressSocket, { force: true });
        },
    };
}
