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
/** Kubelet's crash back-off (10 s doubling up to 5 min), scaled down so a pod whose fault is switched off recovers within seconds. */
const BACK_OFF_MS = 1000;
const MAX_BACK_OFF_MS = 8000;

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

/** One start of a pod's container, with what kubelet keeps across restarts: the pod's address and start time, the restart count, the last exit. */
interface Attempt {
    podIP: string;
    startTime: string;
    startedAt: string;
    restartCount: number;
    lastState?: { terminated: Record<string, unknown> };
}

/** A pod waiting out its crash back-off before the next start. */
interface CrashLoop {
    /** The start that failed. */
    attempt: Attempt;
    /** How it ended: the next start's `lastState`. */
    lastState: { terminated: Record<string, unknown> };
    timer?: NodeJS.Timeout;
}

/** A runner's start that rejects with an `exitCode` (pod-runners' ContainerExited) is a container that exited; any other rejection failed to start it, as containerd reports one. */
function terminatedState(attempt: Attempt, error: Error): Record<string, unknown> {
    const exitCode = (error as { exitCode?: unknown }).exitCode;
    const exited = typeof exitCode === "number";
    return { exitCode: exited ? exitCode : 128, reason: exited ? "Error" : "StartError", ...(exited ? {} : { message: error.message }), startedAt: attempt.startedAt, finishedAt: new Date().toISOString() };
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
    /** Pods with a start or stop in flight. */
    const inFlight = new Map<string, Promise<void>>();
    /** Pods whose container exited, until a restart runs it. */
    const crashLoops = new Map<string, CrashLoop>();
    let stopped = false;
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

    const keyOf = (pod: V1Pod) => `${pod.metadata!.namespace}/${pod.metadata!.name}`;

    async function run(pod: V1Pod, previous?: CrashLoop): Promise<void> {
        const container = pod.spec!.containers[0];
        const runner = opts.runners.find((r) => r.image.test(container.image ?? ""));
        if (!runner) {
            await patchStatus(pod, {
                phase: "Pending",
                hostIP: NODE_ADDRESS,
                conditions: conditions(false),
                containerStatuses: [{ name: container.name, image: container.image, imageID: "", ready: false, restartCount: 0, started: false, state: { waiting: { reason: "ErrImageNeverPull", message: `the playground node has no runner for ${container.image}` } } }],
            });
            return;
        }
        const now = new Date().toISOString();
        // A restart keeps the pod's sandbox (its address and start time), as kubelet's does.
        const attempt: Attempt = previous
            ? { podIP: previous.attempt.podIP, startTime: previous.attempt.startTime, startedAt: now, restartCount: previous.attempt.restartCount + 1, lastState: previous.lastState }
            : { podIP: addresses.next().value as string, startTime: now, startedAt: now, restartCount: 0 };
        let started: RunningContainer;
        try {
            started = await runner.start({
                namespace: pod.metadata!.namespace!,
                name: pod.metadata!.name!,
                labels: pod.metadata!.labels ?? {},
                image: container.image!,
                ports: (container.ports ?? []).map((p) => ({ name: p.name, containerPort: p.containerPort })),
            });
        } catch (e) {
            await crashed(pod, attempt, e as Error);
            return;
        }
        crashLoops.delete(keyOf(pod));
        await runStarted(pod, attempt, started);
    }

    async function runStarted(pod: V1Pod, attempt: Attempt, started: RunningContainer): Promise<void> {
        const key = keyOf(pod);
        const container = pod.spec!.containers[0];
        const { podIP, startedAt } = attempt;
        const runningPod: RunningPod = { namespace: pod.metadata!.namespace!, name: pod.metadata!.name!, uid: pod.metadata!.uid!, podIP, labels: pod.metadata!.labels ?? {}, container: started, ports: started.ports };
        running.set(key, runningPod);
        changed();
        const containerStatus = (ready: boolean) => [{ name: container.name, image: container.image, imageID: container.image, containerID: `playground://${pod.metadata!.uid}`, ready, restartCount: attempt.restartCount, started: true, state: { running: { startedAt } }, ...(attempt.lastState ? { lastState: attempt.lastState } : {}) }];
        await patchStatus(pod, { phase: "Running", hostIP: NODE_ADDRESS, podIP, podIPs: [{ ip: podIP }], startTime: attempt.startTime, conditions: conditions(false), containerStatuses: containerStatus(false) });
        // As kubelet does, the readiness probe runs first after its initialDelaySeconds.
        const probeDelayMs = (container.readinessProbe?.initialDelaySeconds ?? 0) * 1000;
        Promise.all([started.ready, new Promise((resolve) => setTimeout(resolve, probeDelayMs))])
            .then(() => opts.readinessGate?.(runningPod))
            .then(
                () => (running.get(key) === runningPod ? patchStatus(pod, { conditions: conditions(true), containerStatuses: containerStatus(true) }) : undefined),
                (e) => log(`${key} not ready: ${(e as Error).message}`),
            )
            .catch((e) => log(`status of ${key}: ${(e as Error).message}`));
        log(`started ${key} (${container.image}) at ${podIP}${attempt.restartCount ? ` (restart ${attempt.restartCount})` : ""}`);
    }

    /** A container that did not start: reported as kubelet reports a crash loop, and started again after a back-off. */
    async function crashed(pod: V1Pod, attempt: Attempt, error: Error): Promise<void> {
        const key = keyOf(pod);
        const container = pod.spec!.containers[0];
        const delayMs = Math.min(BACK_OFF_MS * 2 ** attempt.restartCount, MAX_BACK_OFF_MS);
        const crash: CrashLoop = { attempt, lastState: { terminated: terminatedState(attempt, error) } };
        // Registered before the status patch, so the poll loop never takes the pod for a new one.
        crashLoops.set(key, crash);
        if (!stopped) {
            crash.timer = setTimeout(() => restart(pod, crash), delayMs);
        }
        const pause = `back-off ${delayMs / 1000}s restarting failed container=${container.name} pod=${pod.metadata!.name}_${pod.metadata!.namespace}(${pod.metadata!.uid})`;
        log(`${key}: ${error.message}; ${pause}`);
        await patchStatus(pod, {
            phase: "Running",
            hostIP: NODE_ADDRESS,
            podIP: attempt.podIP,
            podIPs: [{ ip: attempt.podIP }],
            startTime: attempt.startTime,
            conditions: conditions(false),
            containerStatuses: [{ name: container.name, image: container.image, imageID: container.image, ready: false, started: false, restartCount: attempt.restartCount, state: { waiting: { reason: "CrashLoopBackOff", message: pause } }, lastState: crash.lastState }],
        });
    }

    function restart(pod: V1Pod, crash: CrashLoop): void {
        const key = keyOf(pod);
        // A pod deleted (or the agent stopped) during the back-off has no restart left.
        if (stopped || crashLoops.get(key) !== crash) {
            return;
        }
        track(key, "restarting", () => run(pod, crash));
    }

    function cancelRestart(key: string): void {
        clearTimeout(crashLoops.get(key)?.timer);
        crashLoops.delete(key);
    }

    /** One start or stop per pod at a time; `stop()` waits for those in flight. */
    function track(key: string, what: string, work: () => Promise<void>): void {
        inFlight.set(key, work().catch((e) => log(`${what} ${key}: ${(e as Error).message}`)).finally(() => inFlight.delete(key)));
    }

    async function terminate(key: string, pod: V1Pod | undefined): Promise<void> {
        cancelRestart(key);
        const instance = running.get(key);
        if (instance) {
            // As kubelet: a deleted pod's container gets SIGTERM and keeps its address until it exits; a force
            // delete (no pod left) kills it.
            await (pod && instance.container.terminate ? instance.container.terminate() : instance.container.stop());
            if (running.get(key) === instance) {
                running.delete(key);
                changed();
            }
        }
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
                if (!inFlight.has(key)) {
                    track(key, "stopping", () => terminate(key, pod));
                }
                continue;
            }
            // A pod in crash back-off has container statuses, but the list may predate them: its restart timer owns it.
            if (!running.has(key) && !inFlight.has(key) && !crashLoops.has(key) && !pod.status?.containerStatuses) {
                track(key, "starting", () => run(pod));
            }
        }
        // Pods deleted without passing through termination (force deletes): stop what is left.
        for (const key of [...new Set([...running.keys(), ...crashLoops.keys()])].filter((k) => !seen.has(k))) {
            await terminate(key, undefined);
        }
    }

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
            await Promise.all(inFlight.values());
            [...crashLoops.keys()].forEach(cancelRestart);
            await Promise.all([...running.values()].map((p) => p.container.stop()));
            running.clear();
            await new Promise<void>((resolve) => egress.close(() => resolve()));
            fs.rmSync(opts.egressSocket, { force: true });
        },
    };
}
