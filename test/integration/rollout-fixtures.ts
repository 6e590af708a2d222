/** Shared inputs of the Kubernetes adapter and provider tests: the tutorial's canary and its resting apex router. */
import { describePlan } from "../../analysis/engine/plan";
import { analysisProvider, finalizeProvider } from "../../analysis/provider/providers";
import type { AnalysisInputs, FinalizeInputs, RolloutStatus } from "../../analysis/provider/providers";
import { computeRevision } from "../../analysis/provider/revision";
import type { VirtualRouterSpec } from "../../analysis/routers/appmesh/routes";
import type { AnalysisSpec, CanarySpec } from "../../analysis/spec/canary";
import { appMeshRouterInput, type AppMeshRouterInput } from "../../analysis/routers/appmesh/input";
import { buildVirtualRouterSpec } from "../../analysis/routers/appmesh/specs";
import { canaryNames } from "../../analysis/spec/names";
import { withInterval, loadCanary } from "../../playground/canary-spec";
import { startPlayground, type InstalledCanary, type Playground } from "../../playground/playground";
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

/** The playground with the dev stack's canary installed (1s analysis interval, 3 steps), and Pulumi's provider host. */
export interface HostBench {
    playground: Playground;
    canary: InstalledCanary;
    lines: string[];
    host: ProviderHost;
    analysisText: string;
    finalizeText: string;
    /** Analysis inputs (with `__provider`) for the canary Deployment's current template. */
    analysisInputs(): Record<string, unknown>;
    finalizeInputs(revision: string, status: RolloutStatus): Record<string, unknown>;
    /** A fresh host process (after a kill). */
    restartHost(): Promise<void>;
    stop(): Promise<void>;
}

/** `analysis` overrides the bench's analysis settings (1s interval, steps of 10 up to 30 by default). */
export async function startHostBench(analysis: Partial<AnalysisSpec> = {}): Promise<HostBench> {
    const dev = loadCanary();
    const fast = withInterval(dev.spec, 1000);
    const spec = { ...fast, analysis: { ...fast.analysis, maxWeight: 30, stepWeight: 10, ...analysis } };
    const playground = await startPlayground({ namespace: dev.namespace });
    try {
        const canary = await playground.installCanary({ target: dev.target, spec, version: "6.0.0" });
        const lines: string[] = [];
        const start = () => startProviderHost({ onLine: (line) => lines.push(line) });
        const bench: HostBench = {
            playground,
            canary,
            lines,
            host: await start(),
            analysisText: await serializeProvider(analysisProvider),
            finalizeText: await serializeProvider(finalizeProvider),
            analysisInputs() {
                const deployment = playground.cluster.getDeployment(canary.namespace, canary.target)!;
                const template = deployment.spec.template as Record<string, unknown>;
                const inputs: AnalysisInputs = {
                    target: { name: canary.target, namespace: canary.namespace, service: canary.names.apex },
                    canary: spec,
                    router: appMeshRouterInput(spec, canary.names),
                    kubeconfig: playground.kube.kubeconfig,
                    targetUid: deployment.metadata.uid,
                    template,
                    configData: {},
                    secretData: {},
                    revision: computeRevision(template),
                    plan: describePlan(spec),
                };
                return withProvider(bench.analysisText, { ...inputs });
            },
            finalizeInputs(revision, status) {
                const { target, canary: c, router, kubeconfig, targetUid } = bench.analysisInputs() as unknown as AnalysisInputs;
                const inputs: FinalizeInputs = { target, canary: c, router, kubeconfig, targetUid, revision, status };
                return withProvider(bench.finalizeText, { ...inputs });
            },
            async restartHost() {
                bench.host = await start();
            },
            async stop() {
                await bench.host.stop().catch(() => undefined);
                await playground.stop();
            },
        };
        return bench;
    } catch (error) {
        await playground.stop();
        throw error;
    }
}

/** The apex router's weights in the bench's playground right now. */
export function apexWeights(bench: HostBench): Record<"primary" | "canary", number> {
    const targets = bench.playground.cluster.getVirtualRouter(bench.canary.namespace, bench.canary.names.apex)!.spec.routes[0].httpRoute.action.weightedTargets;
    return Object.fromEntries(targets.map((t: any) => [t.virtualNodeRef.name.endsWith("-primary") ? "primary" : "canary", t.weight])) as Record<"primary" | "canary", number>;
}

/** Replicas the canary Deployment asks for right now. */
export const canaryReplicas = (bench: HostBench): number => bench.playground.cluster.getDeployment(bench.canary.namespace, bench.canary.target)!.spec.replicas;

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
