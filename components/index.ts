/**
 * The library's entry point (package.json `main`/`types`): the components a Pulumi program of your own composes,
 * their args, and the Canary spec's types with its validation, so a spec pasted from Flagger can be checked
 * before it reaches a component. `index.ts` at the top is this repository's own stack, not part of the library.
 */
export { Mesh, type MeshArgs } from "./mesh";
export { Canary, type CanaryArgs, type CanaryRouting } from "./canary";
export { Gateway, type GatewayArgs } from "./gateway";
export { GatewayApiGateway, type GatewayApiGatewayArgs } from "./gatewayapi-gateway";
export { GatewayApiRouting, type GatewayApiRoutingArgs } from "./gatewayapi";
export { AppMeshRouting, type AppMeshRoutingArgs } from "./appmesh";
export { StackNamespace, type StackNamespaceArgs } from "./namespace";
export { LoadTester, type LoadTesterArgs } from "./loadtester";
export { GrafanaDashboard, type GrafanaDashboardArgs } from "./grafana-dashboard";
export { AppMeshCluster, type AppMeshClusterArgs } from "./cluster";
export type { AutoscalerSettings, DeploymentSettings, PodTemplate, TrackedConfigMap, TrackedSecret } from "./workload";
export { providerKubeAccess, type KubeAccessConfig } from "./kube-access";
/** The images and sizes this repository's stack gives the gateway and the load tester by default (Flagger's tutorial). */
export { GATEWAY_DEFAULTS, LOADTESTER_DEFAULTS } from "../config/stack";
export type {
    AlertProviderSpec, AlertProviderType, AlertSpec, AnalysisSpec, CanarySpec, CanaryTarget, GatewayRef, HeaderMatch, HeaderOperations, MetricSpec,
    MetricTemplateSpec, RetrySpec, RouteMatch, ServiceMatch, ServiceSpec, Severity, ThresholdRange, WebhookSpec, WebhookType,
} from "../analysis/spec/canary";
export type { CanaryNames } from "../analysis/spec/names";
export { parseCanarySpec, validateCanarySpec, type WiredRefs } from "../analysis/spec/validation";
export type { ValidationFailure } from "../analysis/spec/failures";
