/**
 * The playground's cluster: Deployments whose pods are real HTTP servers, VirtualRouters that program the
 * mesh router, and the Services the analysis reaches through the API server's proxy. Implements the
 * `ClusterBackend` that `startKubeApiServer` serves.
 */
import * as crypto from "crypto";
import type { VirtualRouterSpec } from "../analysis/routers/appmesh/routes";
import type { ClusterBackend, KubeObject } from "./cluster-backend";
import type { Endpoint } from "./mesh-router";
import { Pod, startPod } from "./pod";
import type { Fault } from "./podinfo-app";

/** Kubernetes' alphabet for generated name suffixes (no vowels, no look-alike digits). */
const NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

function suffix(length: number, seed?: string): string {
    const bytes = seed ? crypto.createHash("sha256").update(seed).digest() : crypto.randomBytes(length);
    return Array.from(bytes.subarray(0, length), (b) => NAME_ALPHABET[b % NAME_ALPHABET.length]).join("");
}

/** What a Deployment's pod template says in the playground: which app version runs, as which node. */
export interface PodTemplate {
    /** podinfo version, e.g. `6.0.0`; also the image tag. */
    version: string;
    /** App Mesh VirtualNode the pods belong to (the sidecar's ingress cluster name). */
    virtualNode: string;
    color?: string;
}

interface PodRecord {
    name: string;
    templateHash: string;
    pod: Pod;
    terminating: boolean;
    /** Its sidecar is a scrape target. */
    registered: boolean;
}

const isReady = (p: PodRecord) => !p.terminating && p.registered && p.pod.isReady();

interface DeploymentState {
    namespace: string;
    name: string;
    uid: string;
    created: string;
    generation: number;
    resourceVersion: number;
    replicas: number;
    template: PodTemplate;
    templateHash: string;
    pods: PodRecord[];
    progressSince: number;
    progressDeadlineSeconds: number;
    /** Reconciles run one after another, so pods are never started twice for the same gap. */
    reconciling: Promise<void>;
}

export interface PlaygroundClusterOptions {
    mesh?: string;
    /** Container port of the app (the tutorial's 9898). */
    appPort?: number;
    /** Time from pod start to a passing readiness probe. */
    podReadyDelayMs?: number;
    /**
     * Called whenever the set of pods changes, so the Prometheus scrape targets follow it. New pods count as
     * ready only once the returned promise settles: their sidecar is then scraped from the first request on
     * (Prometheus hands discovery changes to its scrapers at most every 5s, which short intervals would feel).
     */
    onPodsChanged?: (pods: Pod[]) => Promise<void>;
    /** Called after a VirtualRouter is stored, to program the data plane. */
    onVirtualRouter?: (namespace: string, name: string, spec: VirtualRouterSpec) => void;
}

export class PlaygroundCluster implements ClusterBackend {
    private readonly deployments = new Map<string, DeploymentState>();
    private readonly routers = new Map<string, KubeObject>();
    /** `<ns>/<virtual node>` → Deployment name whose pods back it. */
    private readonly nodes = new Map<string, string>();
    /** `<ns>/<service>:<port>` → base URL. */
    private readonly services = new Map<string, string>();
    private readonly faults = new Map<string, Fault>();
    private resourceVersion = 1;
    private readonly mesh: string;
    private readonly appPort: number;
    private readonly readyDelayMs: number;
    /** Every VirtualRouter write: the weights history the report draws. */
    readonly routerWrites: { time: number; namespace: string; name: string; spec: VirtualRouterSpec }[] = [];

    constructor(private readonly opts: PlaygroundClusterOptions = {}) {
        this.mesh = opts.mesh ?? "global";
        this.appPort = opts.appPort ?? 9898;
        this.readyDelayMs = opts.podReadyDelayMs ?? 300;
    }

    /** The fault switch of an app version (created on first use, healthy). */
    fault(version: string): Fault {
        let fault = this.faults.get(version);
        if (!fault) {
            fault = { errorRate: 0, latencyMs: 0 };
            this.faults.set(version, fault);
        }
        return fault;
    }

    setFault(version: string, fault: Partial<Fault>): void {
        Object.assign(this.fault(version), fault);
    }

    /** Register a Service the API server's proxy can reach (`<ns>/services/<name>:<port>`). */
    addService(namespace: string, name: string, port: number | string, baseUrl: string): void {
        this.services.set(`${namespace}/${name}:${port}`, baseUrl);
    }

    /** Back a VirtualNode with the pods of a Deployment (the node's service selects them). */
    addVirtualNode(namespace: string, node: string, deployment: string): void {
        this.nodes.set(`${namespace}/${node}`, deployment);
    }

    /** Ready pods behind a VirtualNode; the mesh router balances over them. */
    endpoints(namespace: string, node: string): Endpoint[] {
        const deployment = this.nodes.get(`${namespace}/${node}`);
        const state = deployment ? this.deployments.get(`${namespace}/${deployment}`) : undefined;
        return (state?.pods ?? []).filter(isReady).map((p) => ({ pod: p.name, url: p.pod.url }));
    }

    /** Every running pod, with the Deployment it belongs to. */
    pods(): { deployment: string; pod: Pod }[] {
        return [...this.deployments.values()].flatMap((d) => d.pods.filter((p) => !p.terminating).map((p) => ({ deployment: d.name, pod: p.pod })));
    }

    /** Create or update a Deployment's pod template (what `pulumi up` does); pods roll over to it. */
    async applyDeployment(namespace: string, name: string, template: PodTemplate, replicas?: number, progressDeadlineSeconds = 60): Promise<KubeObject> {
        const key = `${namespace}/${name}`;
        const templateHash = suffix(10, JSON.stringify(template));
        let state = this.deployments.get(key);
        if (!state) {
            state = {
                namespace,
                name,
                uid: crypto.randomUUID(),
                created: new Date().toISOString(),
                generation: 0,
                resourceVersion: 0,
                replicas: replicas ?? 1,
                template,
                templateHash,
                pods: [],
                progressSince: Date.now(),
                progressDeadlineSeconds,
                reconciling: Promise.resolve(),
            };
            this.deployments.set(key, state);
        } else if (state.templateHash === templateHash && (replicas === undefined || replicas === state.replicas)) {
            return this.deploymentObject(state);
        }
        state.generation += 1;
        state.resourceVersion = this.resourceVersion++;
        state.template = template;
        state.templateHash = templateHash;
        state.replicas = replicas ?? state.replicas;
        state.progressSince = Date.now();
        this.reconcile(state);
        return this.deploymentObject(state);
    }

    /** Wait until the Deployment's pods all run the current template and are ready. */
    async waitForRollout(namespace: string, name: string, timeoutMs = 60_000): Promise<void> {
        const state = this.requireDeployment(namespace, name);
        const deadline = Date.now() + timeoutMs;
        while (Date.now() < deadline) {
            await state.reconciling;
            const status = this.deploymentObject(state).status;
            if (status.updatedReplicas === state.replicas && status.availableReplicas === state.replicas && status.replicas === state.replicas) {
                return;
            }
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
        throw new Error(`deployment ${namespace}/${name} did not finish rolling out within ${timeoutMs}ms`);
    }

    getVirtualRouter(namespace: string, name: string): KubeObject | undefined {
        const object = this.routers.get(`${namespace}/${name}`);
        return object ? structuredClone(object) : undefined;
    }

    async putVirtualRouter(namespace: string, name: string, object: KubeObject): Promise<KubeObject> {
        const stored = structuredClone(object);
        this.routers.set(`${namespace}/${name}`, stored);
        this.routerWrites.push({ time: Date.now(), namespace, name, spec: structuredClone(stored.spec) });
        this.opts.onVirtualRouter?.(namespace, name, stored.spec);
        return structuredClone(stored);
    }

    getDeployment(namespace: string, name: string): KubeObject | undefined {
        const state = this.deployments.get(`${namespace}/${name}`);
        return state ? this.deploymentObject(state) : undefined;
    }

    async scaleDeployment(namespace: string, name: string, replicas: number): Promise<KubeObject> {
        const state = this.requireDeployment(namespace, name);
        if (state.replicas !== replicas) {
            state.replicas = replicas;
            state.generation += 1;
            state.resourceVersion = this.resourceVersion++;
            state.progressSince = Date.now();
            this.reconcile(state);
        }
        return this.deploymentObject(state);
    }

    serviceUrl(namespace: string, name: string, port: number | string): string | undefined {
        return this.services.get(`${namespace}/${name}:${port}`);
    }

    /** Stop every pod. */
    async stop(): Promise<void> {
        const all = [...this.deployments.values()];
        for (const state of all) {
            state.replicas = 0;
        }
        await Promise.all(all.map((s) => s.reconciling));
        await Promise.all(all.flatMap((s) => s.pods.map((p) => p.pod.stop())));
        this.deployments.clear();
    }

    private requireDeployment(namespace: string, name: string): DeploymentState {
        const state = this.deployments.get(`${namespace}/${name}`);
        if (!state) {
            throw new Error(`deployment ${namespace}/${name} does not exist in the playground`);
        }
        return state;
    }

    private reconcile(state: DeploymentState): void {
        state.reconciling = state.reconciling.then(() => this.rollPods(state)).catch(() => undefined);
    }

    /** The Deployment controller, simplified: surge new pods, and retire old or surplus ones once they are ready. */
    private async rollPods(state: DeploymentState): Promise<void> {
        const current = () => state.pods.filter((p) => !p.terminating && p.templateHash === state.templateHash);
        const missing = state.replicas - current().length;
        if (missing > 0) {
            const started = await Promise.all(Array.from({ length: missing }, () => this.startPodFor(state)));
            state.pods.push(...started);
            await Promise.all([this.podsChanged(), ...started.map((p) => p.pod.ready.catch(() => undefined))]);
            for (const p of started) {
                p.registered = true;
            }
            state.resourceVersion = this.resourceVersion++;
        }
        const surplus = current().slice(state.replicas);
        const outdated = state.pods.filter((p) => !p.terminating && p.templateHash !== state.templateHash);
        const retiring = [...surplus, ...outdated];
        if (retiring.length > 0) {
            for (const p of retiring) {
                p.terminating = true;
            }
            void this.podsChanged();
            await Promise.all(retiring.map((p) => p.pod.stop()));
            state.pods = state.pods.filter((p) => !retiring.includes(p));
            state.resourceVersion = this.resourceVersion++;
        }
    }

    private async startPodFor(state: DeploymentState): Promise<PodRecord> {
        const name = `${state.name}-${state.templateHash}-${suffix(5)}`;
        const pod = await startPod({
            namespace: state.namespace,
            name,
            virtualNode: state.template.virtualNode,
            mesh: this.mesh,
            port: this.appPort,
            app: { version: state.template.version, color: state.template.color ?? "#34577c", message: `greetings from podinfo v${state.template.version}` },
            fault: this.fault(state.template.version),
            readyDelayMs: this.readyDelayMs,
        });
        return { name, templateHash: state.templateHash, pod, terminating: false, registered: false };
    }

    private podsChanged(): Promise<void> {
        return this.opts.onPodsChanged?.(this.pods().map((p) => p.pod)) ?? Promise.resolve();
    }

    /** The Deployment as the API server returns it, with a status computed from the pods. */
    private deploymentObject(state: DeploymentState): KubeObject {
        const live = state.pods.filter((p) => !p.terminating);
        const updated = live.filter((p) => p.templateHash === state.templateHash);
        const available = live.filter(isReady).length;
        const complete = updated.length === state.replicas && live.length === state.replicas && updated.every(isReady);
        const now = new Date().toISOString();
        const overdue = !complete && Date.now() - state.progressSince > state.progressDeadlineSeconds * 1000;
        const labels = { app: state.name };
        return {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: {
                name: state.name,
                namespace: state.namespace,
                uid: state.uid,
                generation: state.generation,
                resourceVersion: String(state.resourceVersion),
                creationTimestamp: state.created,
                labels,
            },
            spec: {
                replicas: state.replicas,
                selector: { matchLabels: labels },
                progressDeadlineSeconds: state.progressDeadlineSeconds,
                minReadySeconds: 0,
                strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: "25%" } },
                template: {
                    metadata: { labels: { ...labels, "pod-template-hash": state.templateHash } },
                    spec: { containers: [{ name: "podinfod", image: `stefanprodan/podinfo:${state.template.version}`, ports: [{ name: "http", containerPort: this.appPort }] }] },
                },
            },
            status: {
                observedGeneration: state.generation,
                replicas: live.length,
                updatedReplicas: updated.length,
                readyReplicas: available,
                availableReplicas: available,
                unavailableReplicas: Math.max(0, state.replicas - available),
                conditions: [
                    {
                        type: "Available",
                        status: available >= state.replicas ? "True" : "False",
                        reason: available >= state.replicas ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                        lastUpdateTime: now,
                    },
                    {
                        type: "Progressing",
                        status: overdue ? "False" : "True",
                        reason: overdue ? "ProgressDeadlineExceeded" : complete ? "NewReplicaSetAvailable" : "ReplicaSetUpdated",
                        message: overdue
                            ? `ReplicaSet "${state.name}-${state.templateHash}" has timed out progressing.`
                            : `ReplicaSet "${state.name}-${state.templateHash}" ${complete ? "has successfully progressed." : "is progressing."}`,
                        lastUpdateTime: now,
                    },
                ],
            },
        };
    }
}
