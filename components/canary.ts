/**
 * The Canary component: everything Flagger generates for one Canary, composed in Flagger's order: the routing of
 * the spec's router (App Mesh: VirtualNodes and routers before any pod; Gateway API: the apex HTTPRoute), the
 * target side, then the primary side.
 *
 * The primary runs the *promoted* revision: the outputs of the `Analysis` resource, which runs the canary
 * analysis when the target's template or tracked config data change. `Finalize` runs after the primary rolled
 * out and returns traffic to it (see DESIGN.md, "How a rollout maps onto Pulumi's graph").
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { Analysis, Finalize, RolloutArgs } from "../analysis/provider/resources";
import { TrackedData } from "../analysis/provider/revision";
import { routerKindOfSpec } from "../analysis/routers/factory";
import type { RouterInput } from "../analysis/routers/router";
import { AlertProviderSpec, CanarySpec, CanaryTarget, MetricTemplateSpec } from "../analysis/spec/canary";
import { AppMeshRouting } from "./appmesh";
import { GatewayApiRouting } from "./gatewayapi";
import { CanaryNames, canaryNames } from "../analysis/spec/names";
import {
    AutoscalerSettings, DeploymentSettings, PodTemplate, PrimaryWorkload, TargetWorkload, TrackedConfigMap, TrackedSecret,
} from "./workload";

export interface CanaryArgs {
    /** Namespace of every object (the Mesh component's `namespaceName`, so the mesh exists first). */
    readonly namespace: pulumi.Input<string>;
    /** Flagger's Canary `spec`, already validated (`parseCanarySpec`); plain, because names derive from it. */
    readonly spec: CanarySpec;
    /** The app's pod template; a change to it is a new revision. */
    readonly podTemplate: pulumi.Input<k8s.types.input.core.v1.PodTemplateSpec>;
    /** Deployment settings of the target, copied to the primary. */
    readonly deployment: DeploymentSettings;
    /** The target's HPA settings; the primary gets a copy. */
    readonly autoscaler?: AutoscalerSettings;
    /** ConfigMaps the pod template references (tracked: the primary runs `<name>-primary` copies). */
    readonly configMaps?: TrackedConfigMap[];
    /** Secrets the pod template references (tracked like ConfigMaps). */
    readonly secrets?: TrackedSecret[];
    /** Envoy access logs of the canary's VirtualNodes (App Mesh). */
    readonly accessLog?: boolean;
    /** The route's Gateways are VPC Lattice's, whose limits the analysis keeps to (Gateway API). */
    readonly lattice?: boolean;
    /** Resources the route waits for, such as a Gateway the stack creates (Gateway API). */
    readonly routeAfter?: pulumi.Resource[];
    /** Kubeconfig the analysis reaches the cluster with (the Kubernetes provider's); `KUBECONFIG` when absent. Kept secret. */
    readonly kubeconfig?: pulumi.Input<string>;
    /** Kubeconfig context the analysis uses instead of the kubeconfig's current one (the provider's `context`). */
    readonly kubeContext?: pulumi.Input<string>;
    /** Metric templates by name, for `templateRef` metrics (kept secret). */
    readonly metricTemplates?: pulumi.Input<Record<string, MetricTemplateSpec>>;
    /** Alert providers by name, for `analysis.alerts` (kept secret). */
    readonly alertProviders?: pulumi.Input<Record<string, AlertProviderSpec>>;
    /** Namespaces whose `<service>.<namespace>` URLs the analysis reaches through the API server. */
    readonly clusterNamespaces?: pulumi.Input<string[]>;
    /** A held revision (its analysis failed, so updates to it do not analyse it again) to analyse again on purpose. */
    readonly retryRevision?: pulumi.Input<string>;
    /** Where each analysis writes its rollout report, relative to the program's directory; `.rollouts/<stack>` by default. */
    readonly reportDirectory?: pulumi.Input<string>;
}

/** What the primary side runs: the promoted revision, its pod template and the data of its tracked configs. */
export interface PromotedRevision {
    revision: pulumi.Input<string>;
    podTemplate: pulumi.Input<PodTemplate>;
    configMaps: TrackedConfigMap[];
    secrets: TrackedSecret[];
}

/** The routing of one Canary, by its spec's router. */
export type CanaryRouting = AppMeshRouting | GatewayApiRouting;

/** The Canary component's children. The component name is the target Deployment's name (e.g. `podinfo`). */
export class Canary extends pulumi.ComponentResource {
    /** The validated spec the analysis runs. */
    public readonly spec: CanarySpec;
    public readonly names: CanaryNames;
    /** `<name>.<namespace>` and the apex service, as the analysis identifies the rollout. */
    public readonly target: pulumi.Output<CanaryTarget>;
    /** The spec's router's objects: App Mesh VirtualNodes, routers and services, or the Gateway API HTTPRoute. */
    public readonly routing: CanaryRouting;
    public readonly targetWorkload: TargetWorkload;
    public readonly primaryWorkload: PrimaryWorkload;
    /** The canary (target) Deployment; its replicas belong to the analysis. */
    public readonly canaryDeployment: k8s.apps.v1.Deployment;
    public readonly primaryDeployment: k8s.apps.v1.Deployment;
    /** The apex route at resting weights (primary 100 / canary 0), as the analysis takes it. */
    public readonly restingRoute: pulumi.Output<RouterInput>;
    /** The canary analysis; its outputs are the promoted revision. */
    public readonly analysis: Analysis;
    /** Returns traffic to the primary once it runs the promoted revision. */
    public readonly finalize: Finalize;

    constructor(name: string, args: CanaryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("appmesh-canary:index:Canary", name, {}, opts);
        this.spec = args.spec;
        this.names = canaryNames(name, args.spec);
        const names = this.names;
        const namespace = args.namespace;
        this.target = pulumi.output(namespace).apply((ns) => ({ name: names.target, namespace: ns, service: names.apex }));

        this.routing = routerKindOfSpec(args.spec) === "gatewayapi"
            ? new GatewayApiRouting(name, { namespace, spec: args.spec, names, lattice: args.lattice, routeAfter: args.routeAfter }, { parent: this })
            : new AppMeshRouting(name, { namespace, spec: args.spec, names, accessLog: args.accessLog }, { parent: this });
        this.restingRoute = pulumi.output<RouterInput>(this.routing.routerInput);

        const shared = { namespace, names, service: args.spec.service, deployment: args.deployment, autoscaler: args.autoscaler, podsAfter: this.routing.podsAfter };
        this.targetWorkload = new TargetWorkload(name, {
            ...shared, podTemplate: args.podTemplate, configMaps: args.configMaps, secrets: args.secrets,
        }, { parent: this });
        this.canaryDeployment = this.targetWorkload.deployment;

        const rollout: RolloutArgs = {
            target: this.target,
            canary: args.spec,
            router: this.restingRoute,
            kubeconfig: args.kubeconfig,
            kubeContext: args.kubeContext,
            metricTemplates: args.metricTemplates,
            alertProviders: args.alertProviders,
            clusterNamespaces: args.clusterNamespaces,
            autoscalerMinReplicas: args.autoscaler?.minReplicas,
            targetUid: this.canaryDeployment.metadata.uid,
        };
        this.analysis = new Analysis(`${name}-analysis`, {
            ...rollout,
            template: this.targetWorkload.podTemplate,
            configData: trackedData((args.configMaps ?? []).map((c) => [c.name, c.data])),
            secretData: trackedData((args.secrets ?? []).map((s) => [s.name, s.stringData])),
            retryRevision: args.retryRevision,
            // Absolute: the provider host may run elsewhere than the program.
            reportDirectory: pulumi.output(args.reportDirectory ?? path.join(".rollouts", pulumi.getStack())).apply((dir) => path.resolve(dir)),
        }, { parent: this, dependsOn: [this.targetWorkload, this.routing] });

        const promoted = this.promotedRevision(args);
        this.primaryWorkload = new PrimaryWorkload(name, { ...shared, ...promoted }, { parent: this });
        this.primaryDeployment = this.primaryWorkload.deployment;
        this.finalize = new Finalize(`${name}-finalize`, { ...rollout, revision: this.analysis.revision, status: this.analysis.status },
            { parent: this, dependsOn: [this.primaryWorkload] });

        this.registerOutputs({
            target: this.target,
            canaryDeployment: this.canaryDeployment.metadata.name,
            primaryDeployment: this.primaryDeployment.metadata.name,
            restingRoute: this.restingRoute,
            revision: this.analysis.revision,
            plan: this.analysis.plan,
        });
    }

    /** The revision the primary runs: the Analysis outputs, which change only when a rollout succeeded. */
    private promotedRevision(args: CanaryArgs): PromotedRevision {
        const promotedData = (data: pulumi.Output<TrackedData>, name: string) => data.apply((d) => d[name] ?? {});
        return {
            revision: this.analysis.revision,
            podTemplate: this.analysis.template as pulumi.Output<PodTemplate>,
            configMaps: (args.configMaps ?? []).map((c) => ({ ...c, data: promotedData(this.analysis.configData, c.name) })),
            secrets: (args.secrets ?? []).map((s) => ({ ...s, stringData: promotedData(this.analysis.secretData, s.name) })),
        };
    }
}

/** Tracked config data by object name, as the Analysis takes it. */
function trackedData(entries: [string, pulumi.Input<Record<string, pulumi.Input<string>>>][]): pulumi.Output<TrackedData> {
    return pulumi.output(Object.fromEntries(entries)) as pulumi.Output<TrackedData>;
}
