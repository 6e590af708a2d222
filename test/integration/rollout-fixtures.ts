/** Shared inputs of the Kubernetes adapter and provider tests: the tutorial's canary and its resting apex router. */
import { describePlan } from "../../analysis/engine/plan";
import { analysisProvider, finalizeProvider } from "../../analysis/provider/providers";
import type { AnalysisInputs, FinalizeInputs, RolloutStatus } from "../../analysis/provider/providers";
import { computeRevision } from "../../analysis/provider/revision";
import { REVISION_ANNOTATION } from "../../analysis/spec/annotations";
import type { VirtualRouterSpec } from "../../analysis/routers/appmesh/routes";
import type { AnalysisSpec, CanarySpec } from "../../analysis/spec/canary";
import { appMeshRouterInput, type AppMeshRouterInput } from "../../analysis/routers/appmesh/input";
import { buildVirtualRouterSpec } from "../../analysis/routers/appmesh/specs";
import { canaryNames } from "../../analysis/spec/names";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { APPMESH_API_VERSION } from "../../analysis/routers/appmesh/api";
import type { CanaryNames } from "../../analysis/spec/names";
import { startApiProxy, type ApiProxy } from "../../playground/api-proxy";
import { withInterval, loadCanary } from "../../playground/canary-spec";
import { parseObjects, startLocalCluster, type LocalCluster } from "../../playground/local-cluster";
import { faultSwitches, type Fault } from "../../playground/podinfo-app";
import { withVersion } from "../../playground/playground";
import { dynamicUrn, serializeProvider, startProviderHost, withProvider, type ProviderHost } from "../../playground/provider-host";

export const TARGET = { name: "podinfo", namespace: "test", service: "podinfo" };

/** The tutorial's service settings with a fast analysis (1s interval). */
export function tutorialCanary(timeout = "15s"): CanarySpec {
    return {
        provider: "appmesh:v1beta2",
        service: { port: 9898, timeout, retries: { attempts: 3, perTryTimeout: "5s", retryOn: "gateway-error,client-error,stream-error" } },
        analysis: { interval: "1s", threshold: 2, maxWeight: 50, stepWeight: 25, metrics: [{ name: "request-success-rate", thresholdRange: { min: 99 }, interval: "1m" }] },
    };
}

/** The apex router exactly as the program declares it (`buildVirtualRouterSpec`), at resting weights. */
export function restingRouterSpec(timeout = "15s"): VirtualRouterSpec {
    const spec = tutorialCanary(timeout);
    return buildVirtualRouterSpec(spec, canaryNames(TARGET.name, spec), "apex");
}

/** The apex router input of the providers, at resting weights. */
export function restingRouter(timeout = "15s"): AppMeshRouterInput {
    return { kind: "appmesh", virtualRouter: restingRouterSpec(timeout) };
}

export const ANALYSIS_URN = dynamicUrn("appmesh-canary:Analysis", "podinfo");
export const FINALIZE_URN = dynamicUrn("appmesh-canary:Finalize", "podinfo");

/**
 * The local cluster (real control plane, playground node, mesh, appmesh-prometheus) with the dev stack applied
 * as `npm run render` prints it (1s analysis interval, 3 steps), Pulumi's provider host, and the recording,
 * fault-injecting proxy the analysis reaches the API server through.
 */
export interface HostBench {
    cluster: LocalCluster;
    proxy: ApiProxy;
    canary: { target: string; namespace: string; names: CanaryNames; spec: CanarySpec };
    /** The admin token the analysis uses (never printed). */
    token: string;
    lines: string[];
    host: ProviderHost;
    analysisText: string;
    finalizeText: string;
    /** Analysis inputs (with `__provider`) for the canary Deployment's current template. */
    analysisInputs(): Record<string, unknown>;
    finalizeInputs(revision: string, status: RolloutStatus): Record<string, unknown>;
    /** `pulumi up` with a new image: the canary Deployment's template changes, its replicas stay. */
    updateCanaryTemplate(version: string): Promise<void>;
    /** Pulumi rolling the primary to the promoted template (and its revision annotation) and waiting for it. */
    rollPrimary(version: string): Promise<void>;
    /** The fault switch of a podinfo version, read by its pods on every request. */
    fault(version: string): Fault;
    /** A fresh host process (after a kill). */
    restartHost(): Promise<void>;
    stop(): Promise<void>;
}

/** A stack's objects as `npm run render -- --stack <stack>` prints them. */
export function renderStackObjects(stack = "dev"): Promise<Record<string, any>[]> {
    const root = path.resolve(__dirname, "..", "..");
    return new Promise((resolve, reject) => {
        execFile(process.execPath, ["-r", "ts-node/register/transpile-only", "scripts/render.ts", "--stack", stack], { cwd: root, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
            error ? reject(new Error(stderr || error.message)) : resolve(parseObjects(stdout)),
        );
    });
}

/** `analysis` overrides the bench's analysis settings (1s interval, steps of 10 up to 30 by default). */
export async function startHostBench(analysis: Partial<AnalysisSpec> = {}): Promise<HostBench> {
    const dev = loadCanary();
    const fast = withInterval(dev.spec, 1000);
    const spec = { ...fast, analysis: { ...fast.analysis, maxWeight: 30, stepWeight: 10, ...analysis } };
    const names = canaryNames(dev.target, spec);
    const fault = faultSwitches();
    const [cluster, objects] = await Promise.all([startLocalCluster({ podinfo: { faults: fault } }), renderStackObjects()]);
    try {
        const proxy = await startApiProxy(cluster.controlPlane.server, cluster.controlPlane.ca);
        const token = cluster.controlPlane.token;
        const deployment = (name: string) => structuredClone(objects.find((o) => o.kind === "Deployment" && o.metadata.name === name)!);
        await cluster.apply(objects);
        await cluster.waitForRollout(dev.namespace, names.primary);
        await cluster.waitForRollout(dev.namespace, "flagger-loadtester");
        const k8s = await import("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        kc.loadFromString(cluster.kubeconfig);
        const targetUid = (await kc.makeApiClient(k8s.AppsV1Api).readNamespacedDeployment({ name: names.target, namespace: dev.namespace })).metadata!.uid;
        let template: Record<string, unknown> = deployment(names.target).spec.template;
        const lines: string[] = [];
        const start = () => startProviderHost({ onLine: (line) => lines.push(line) });
        const bench: HostBench = {
            cluster,
            proxy,
            canary: { target: names.target, namespace: dev.namespace, names, spec },
            token,
            lines,
            host: await start(),
            analysisText: await serializeProvider(analysisProvider),
            finalizeText: await serializeProvider(finalizeProvider),
            analysisInputs() {
                const inputs: AnalysisInputs = {
                    target: { name: names.target, namespace: dev.namespace, service: names.apex },
                    canary: spec,
                    router: appMeshRouterInput(spec, names),
                    kubeconfig: proxy.kubeconfig(token),
                    targetUid,
                    template,
                    configData: {},
                    secretData: {},
                    revision: computeRevision(template),
                    plan: describePlan(spec),
                };
                return withProvider(bench.analysisText, { ...inputs });
            },
            finalizeInputs(revision, status) {
                const { target, canary: c, router, kubeconfig } = bench.analysisInputs() as unknown as AnalysisInputs;
                const inputs: FinalizeInputs = { target, canary: c, router, kubeconfig, targetUid, revision, status };
                return withProvider(bench.finalizeText, { ...inputs });
            },
            async updateCanaryTemplate(version) {
                const canary = withVersion(deployment(names.target), version);
                await cluster.apply([canary]);
                template = canary.spec.template;
            },
            async rollPrimary(version) {
                const primary = withVersion(deployment(names.primary), version);
                const revision = computeRevision(withVersion(deployment(names.target), version).spec.template);
                primary.metadata.annotations = { ...primary.metadata.annotations, [REVISION_ANNOTATION]: revision };
                await cluster.apply([primary]);
                await cluster.waitForRollout(dev.namespace, names.primary);
            },
            fault,
            async restartHost() {
                bench.host = await start();
            },
            async stop() {
                await bench.host.stop().catch(() => undefined);
                await proxy.stop();
                await cluster.stop();
            },
        };
        return bench;
    } catch (error) {
        await cluster.stop();
        throw error;
    }
}

/** What Pulumi's state holds for the Analysis and Finalize. */
export interface DeployedState {
    promoted: Record<string, unknown>;
    finalized: Record<string, unknown>;
}

/** The first `pulumi up` on the bench: the Analysis created (bootstrapped over the rendered primary), then Finalize. */
export async function deployFirst(bench: HostBench): Promise<DeployedState> {
    await bench.host.configure();
    const promoted = (await bench.host.create(ANALYSIS_URN, bench.analysisInputs())).properties;
    const finalized = bench.finalizeInputs(String(promoted.revision), "initialized");
    await bench.host.create(FINALIZE_URN, finalized);
    return { promoted, finalized };
}

/** A provider line or error saying that serialization turned a captured value into something else. */
/** A request to a canary's status ConfigMap (`<app>-canary-status`): the status side channel, not a rollout write. */
export function isStatusRequest(request: { path: string }): boolean {
    return /\/configmaps\/[^/]+-canary-status$/.test(request.path);
}

export const SERIALIZATION_BREAKAGE = /TypeError|incompatible receiver|is not a function|is not a constructor/;

/** An object of the bench's namespace as the API server has it right now (read around the proxy). */
export async function liveObject(bench: HostBench, kind: "VirtualRouter" | "Deployment", name: string): Promise<Record<string, any>> {
    const k8s = await import("@kubernetes/client-node");
    const kc = new k8s.KubeConfig();
    kc.loadFromString(bench.cluster.kubeconfig);
    const apiVersion = kind === "VirtualRouter" ? APPMESH_API_VERSION : "apps/v1";
    return k8s.KubernetesObjectApi.makeApiClient(kc).read({ apiVersion, kind, metadata: { name, namespace: bench.canary.namespace } });
}

/** The apex router's weights in the bench's cluster right now. */
export async function apexWeights(bench: HostBench): Promise<Record<"primary" | "canary", number>> {
    const live = await liveObject(bench, "VirtualRouter", bench.canary.names.apex);
    const targets = live.spec.routes[0].httpRoute.action.weightedTargets;
    return Object.fromEntries(targets.map((t: any) => [t.virtualNodeRef.name.endsWith("-primary") ? "primary" : "canary", t.weight])) as Record<"primary" | "canary", number>;
}

/** The canary Deployment as the API server has it right now. */
export function liveCanary(bench: HostBench): Promise<Record<string, any>> {
    return liveObject(bench, "Deployment", bench.canary.target);
}

/** Replicas the canary Deployment asks for right now. */
export async function canaryReplicas(bench: HostBench): Promise<number> {
    return (await liveCanary(bench)).spec.replicas ?? 0;
}

/** Poll `condition` every 50 ms until it holds. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
        if (Date.now() > deadline) {
            throw new Error(`timed out waiting for ${what}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
}

/** Reads an object of the cluster by kind and name (cluster-scoped for a Namespace); undefined when it does not exist. */
export async function objectReader(kubeconfig: string, defaultNamespace: string): Promise<(apiVersion: string, kind: string, name: string, namespace?: string) => Promise<Record<string, any> | undefined>> {
    const k8s = await import("@kubernetes/client-node");
    const kc = new k8s.KubeConfig();
    kc.loadFromString(kubeconfig);
    const api = k8s.KubernetesObjectApi.makeApiClient(kc);
    return (apiVersion, kind, name, namespace = defaultNamespace) =>
        api.read({ apiVersion, kind, metadata: kind === "Namespace" ? { name } : { name, namespace } }).then(
            (o) => o as Record<string, any>,
            (error: { code?: number }) => (error.code === 404 ? undefined : Promise.reject(error)),
        );
}
