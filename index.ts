/**
 * The stack: Flagger's App Mesh tutorial (podinfo with one Canary, the gateway and the load tester), from
 * stack config. Pulumi calls the exported function with no arguments; tests and `npm run render` call it with
 * a config object. Logic lives in `components/`.
 */
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_ERROR_TITLE, StackConfig, parseStackConfig, projectConfigKeys, rawStackConfig, validateStackConfig } from "./config/stack";
import { WiredRefs } from "./analysis/spec/validation";
import { formatFailures } from "./analysis/spec/failures";
import { Canary } from "./components/canary";
import { AppMeshCluster } from "./components/cluster";
import { ClusterConfig, parseClusterConfig, validateClusterConfig } from "./config/cluster";
import { Gateway } from "./components/gateway";
import { KubeAccessConfig, providerKubeAccess } from "./components/kube-access";
import { LoadTester } from "./components/loadtester";
import { Mesh } from "./components/mesh";
import { PODINFO, PODINFO_AUTOSCALER, PODINFO_DEPLOYMENT, PODINFO_PORTS, podinfoPodTemplate } from "./components/podinfo";

/** The objects the canary spec's targetRef/autoscalerRef may name, and the ports its service may use: the program creates and wires them. */
const WIRED: WiredRefs = { deployment: PODINFO, autoscaler: PODINFO, containerPorts: PODINFO_PORTS };

/** The current stack's `appmesh-canary:*` values, every key it sets included (so a misspelt one is reported). */
function rawConfig(): Record<string, unknown> {
    const config = new pulumi.Config();
    return rawStackConfig((key) => config.get(key), projectConfigKeys(Object.keys(pulumi.runtime.allConfig())));
}

/**
 * The validated config of the current stack, including where the Kubernetes objects go (`cluster`: the ambient
 * cluster, or one the stack creates); throws one error listing every bad field of both.
 */
function readConfig(): { stack: StackConfig; cluster: ClusterConfig } {
    const raw = rawConfig();
    const failures = [...validateStackConfig(raw, WIRED), ...validateClusterConfig(raw.cluster)];
    if (failures.length > 0) {
        throw new pulumi.RunError(formatFailures(CONFIG_ERROR_TITLE, failures));
    }
    return { stack: parseStackConfig(raw, WIRED), cluster: parseClusterConfig(raw.cluster) };
}

/** The `cluster` config alone, for a caller that hands in the rest. */
function readClusterConfig(): ClusterConfig {
    return asConfigError(() => parseClusterConfig(rawConfig().cluster));
}

/** A config error ends `pulumi preview`/`up` with its message alone: no program stack trace, it is the user's to fix. */
function asConfigError<T>(read: () => T): T {
    try {
        return read();
    } catch (error) {
        throw new pulumi.RunError((error as Error).message);
    }
}

/**
 * Builds every object of the stack. `opts` (e.g. a `k8s.Provider` in `providers`) reaches every component;
 * with `cluster.create` the created cluster's provider replaces it.
 */
function main(config?: StackConfig, opts: pulumi.ComponentResourceOptions = {}, clusterConfig?: ClusterConfig) {
    if (config === undefined) {
        const read = readConfig();
        config = read.stack;
        clusterConfig ??= read.cluster;
    }
    clusterConfig ??= readClusterConfig();
    const cluster = clusterConfig.create ? new AppMeshCluster("appmesh-canary", clusterConfig) : undefined;
    if (cluster) {
        // Everything lands in the new cluster, after the App Mesh CRDs, the controller's webhook (sidecar
        // injection) and Prometheus; `pulumi destroy` removes it before them, while the controller still runs.
        opts = { ...opts, providers: { kubernetes: cluster.provider }, dependsOn: cluster.readyResources };
    }
    // A fixed logical name: renaming the mesh in config must not replace the namespace and everything in it.
    const mesh = new Mesh("appmesh", { meshName: config.mesh.name, namespace: config.namespace }, opts);
    const namespace = mesh.namespaceName;
    const canary = new Canary(PODINFO, {
        namespace,
        spec: config.canary,
        podTemplate: podinfoPodTemplate(config.image),
        deployment: PODINFO_DEPLOYMENT,
        autoscaler: PODINFO_AUTOSCALER,
        accessLog: config.mesh.accessLog,
        // The analysis reaches the cluster exactly as the Kubernetes provider does.
        ...(cluster ? { kubeconfig: cluster.kubeconfig } : analysisKubeAccess(providerKubeAccess())),
        metricTemplates: secretUnlessEmpty(config.metricTemplates),
        alertProviders: secretUnlessEmpty(config.alertProviders),
        retryRevision: config.retryRevision,
    }, opts);
    const gateway = config.gateway.enabled
        ? new Gateway("appmesh-gateway", { namespace, ...config.gateway, virtualService: canary.names.apex, routeAfter: [canary.routing] }, opts)
        : undefined;
    const loadtester = config.loadtester.enabled
        ? new LoadTester("flagger-loadtester", { namespace, ...config.loadtester, backends: [canary.names.apex, canary.names.canaryRouter], backendsAfter: [canary.routing] }, opts)
        : undefined;
    return {
        namespace,
        gatewayUrl: gateway?.url,
        loadtesterUrl: loadtester?.url,
        canary: canary.target,
        restingApexRouterSpec: canary.restingApexRouterSpec,
        // Only a created cluster has one: an undefined output makes Pulumi warn on every run.
        ...(cluster ? { kubeconfig: cluster.kubeconfig } : {}),
    };
}

/** The default provider's kubeconfig and context as the Canary takes them. */
function analysisKubeAccess(access: KubeAccessConfig) {
    return { kubeconfig: access.kubeconfig, kubeContext: access.context };
}

/** Credentials-bearing config (template auth, alert webhook addresses) as a secret; nothing when empty. */
function secretUnlessEmpty<T extends object>(value: T): pulumi.Output<pulumi.Unwrap<T>> | undefined {
    return Object.keys(value).length > 0 ? pulumi.secret(value) : undefined;
}

export = main;
