/**
 * The stack: the namespace (with the mesh when an app routes through App Mesh), one Canary per app (`apps`, or
 * the one-app shorthand of Flagger's App Mesh tutorial: podinfo), the ingress gateway (App Mesh's in front of one
 * app, or a Gateway API Gateway for the apps' routes) and the load tester, from stack config. Pulumi calls the exported function with no arguments; tests and `npm run render` call it with
 * a config object. Logic lives in `components/`.
 */
import * as pulumi from "@pulumi/pulumi";
import {
    CONFIG_ERROR_TITLE, GATEWAY_API_NAME, GATEWAY_NAME, GRAFANA_DASHBOARD_NAME, LOADTESTER_NAME, StackConfig, parseStackConfig, projectConfigKeys, rawStackConfig, validateStackConfig,
} from "./config/stack";
import type { AppConfig } from "./config/apps";
import { formatFailures } from "./analysis/spec/failures";
import { AppMeshRouting } from "./components/appmesh";
import { Canary, CanaryArgs } from "./components/canary";
import { AppMeshCluster } from "./components/cluster";
import { ClusterConfig, parseClusterConfig, validateClusterConfig } from "./config/cluster";
import { Gateway } from "./components/gateway";
import { GatewayApiGateway } from "./components/gatewayapi-gateway";
import { StackNamespace } from "./components/namespace";
import { GrafanaDashboard } from "./components/grafana-dashboard";
import { KubeAccessConfig, providerKubeAccess } from "./components/kube-access";
import { LoadTester } from "./components/loadtester";
import { Mesh } from "./components/mesh";

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
    const failures = [...validateStackConfig(raw), ...validateClusterConfig(raw.cluster)];
    if (failures.length > 0) {
        throw new pulumi.RunError(formatFailures(CONFIG_ERROR_TITLE, failures));
    }
    return { stack: parseStackConfig(raw), cluster: parseClusterConfig(raw.cluster) };
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
    // A fixed logical name: renaming the mesh in config, or dropping it, must not replace the namespace and everything in it.
    const namespace = (config.mesh
        ? new Mesh("appmesh", { meshName: config.mesh.name, namespace: config.namespace }, opts)
        : new StackNamespace("appmesh", { namespace: config.namespace }, opts)).namespaceName;
    const { enabled: gatewayEnabled, app: frontedApp, className, lattice, ...gatewayArgs } = config.gateway;
    const gatewayApiGateway = gatewayEnabled && className !== undefined
        ? new GatewayApiGateway(GATEWAY_API_NAME, { namespace, className, port: gatewayArgs.port }, opts)
        : undefined;
    const shared: SharedCanaryArgs = {
        namespace,
        accessLog: config.mesh?.accessLog,
        lattice,
        routeAfter: gatewayApiGateway ? [gatewayApiGateway] : undefined,
        // The analysis reaches the cluster exactly as the Kubernetes provider does.
        ...(cluster ? { kubeconfig: cluster.kubeconfig } : analysisKubeAccess(providerKubeAccess())),
        metricTemplates: secretUnlessEmpty(config.metricTemplates),
        alertProviders: secretUnlessEmpty(config.alertProviders),
        reportDirectory: config.reportDirectory,
    };
    const canaries = config.apps.map((app) => new Canary(app.name, canaryArgs(app, shared), opts));
    const meshCanaries = canaries.filter((canary) => canary.routing instanceof AppMeshRouting);
    // Validation makes sure the App Mesh gateway has its App Mesh app.
    const fronted = meshCanaries.find((canary) => canary.names.target === frontedApp);
    const gateway = gatewayEnabled && !gatewayApiGateway && fronted
        ? new Gateway(GATEWAY_NAME, { namespace, image: gatewayArgs.image, replicas: gatewayArgs.replicas, port: gatewayArgs.port, virtualService: fronted.names.apex, routeAfter: [fronted.routing] }, opts)
        : undefined;
    const { enabled: loadtesterEnabled, ...loadtesterArgs } = config.loadtester;
    const loadtester = loadtesterEnabled
        ? new LoadTester(LOADTESTER_NAME, {
            namespace,
            ...loadtesterArgs,
            ...(meshCanaries.length > 0 ? {
                backends: meshCanaries.flatMap((canary) => [canary.names.apex, canary.names.canaryRouter]),
                backendsAfter: meshCanaries.map((canary) => canary.routing),
            } : {}),
        }, opts)
        : undefined;
    const { enabled: grafanaEnabled, namespace: grafanaNamespace, folder } = config.grafana;
    if (grafanaEnabled) {
        new GrafanaDashboard(GRAFANA_DASHBOARD_NAME, { namespace: grafanaNamespace ?? namespace, folder }, opts);
    }
    return {
        namespace,
        gatewayUrl: (gateway ?? gatewayApiGateway)?.url,
        loadtesterUrl: loadtester?.url,
        apps: Object.fromEntries(canaries.map((canary) => [canary.names.target, { target: canary.target, restingRoute: canary.restingRoute }])),
        // Only a created cluster has one: an undefined output makes Pulumi warn on every run.
        ...(cluster ? { kubeconfig: cluster.kubeconfig } : {}),
    };
}

/** What every app's Canary shares: the namespace, the mesh's access logs, the Gateway, the cluster access, the stack's templates and providers, the report directory. */
type SharedCanaryArgs = Pick<CanaryArgs,
    "namespace" | "accessLog" | "lattice" | "routeAfter" | "kubeconfig" | "kubeContext" | "metricTemplates" | "alertProviders" | "reportDirectory">;

/** One app's Canary arguments; Secret data stays a Pulumi secret all the way to the cluster. */
function canaryArgs(app: AppConfig, shared: SharedCanaryArgs): CanaryArgs {
    const { workload } = app;
    return {
        ...shared,
        spec: app.canary,
        podTemplate: workload.podTemplate,
        deployment: workload.deployment,
        autoscaler: workload.autoscaler,
        configMaps: workload.configMaps,
        secrets: workload.secrets.map((secret) => ({ ...secret, stringData: pulumi.secret(secret.stringData) })),
        retryRevision: app.retryRevision,
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
