/**
 * The Canary component: everything Flagger generates for one Canary on App Mesh, composed in Flagger's order
 * (VirtualNodes and routers before any pod, target side, then the primary side).
 *
 * The primary runs the *promoted* revision. `promotedRevision` below is the one place it comes from; until the
 * analysis resources exist it is the target's current template and config data.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { VirtualRouterSpec } from "../analysis/routes";
import { CanarySpec, CanaryTarget } from "../analysis/spec";
import { AppMeshRouting } from "./appmesh";
import { CanaryNames, canaryNames } from "./names";
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
    /** Envoy access logs of the canary's VirtualNodes. */
    readonly accessLog?: boolean;
}

/** What the primary side runs: the promoted pod template and the promoted data of the tracked configs. */
export interface PromotedRevision {
    podTemplate: pulumi.Input<PodTemplate>;
    configMaps: TrackedConfigMap[];
    secrets: TrackedSecret[];
}

/** The Canary component's children. The component name is the target Deployment's name (e.g. `podinfo`). */
export class Canary extends pulumi.ComponentResource {
    /** The validated spec the analysis runs. */
    public readonly spec: CanarySpec;
    public readonly names: CanaryNames;
    /** `<name>.<namespace>` and the apex service, as the analysis identifies the rollout. */
    public readonly target: pulumi.Output<CanaryTarget>;
    public readonly routing: AppMeshRouting;
    public readonly targetWorkload: TargetWorkload;
    public readonly primaryWorkload: PrimaryWorkload;
    /** The canary (target) Deployment; its replicas belong to the analysis. */
    public readonly canaryDeployment: k8s.apps.v1.Deployment;
    public readonly primaryDeployment: k8s.apps.v1.Deployment;
    public readonly apexRouter: k8s.apiextensions.CustomResource;
    public readonly canaryRouter: k8s.apiextensions.CustomResource;
    /** The apex VirtualRouter spec at resting weights (primary 100 / canary 0). */
    public readonly restingApexRouterSpec: pulumi.Output<VirtualRouterSpec>;

    constructor(name: string, args: CanaryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("appmesh-canary:index:Canary", name, {}, opts);
        this.spec = args.spec;
        this.names = canaryNames(name, args.spec);
        const names = this.names;
        const namespace = args.namespace;
        this.target = pulumi.output(namespace).apply((ns) => ({ name: names.target, namespace: ns, service: names.apex }));

        this.routing = new AppMeshRouting(name, { namespace, spec: args.spec, names, accessLog: args.accessLog }, { parent: this });
        this.apexRouter = this.routing.apexRouter;
        this.canaryRouter = this.routing.canaryRouter;
        this.restingApexRouterSpec = pulumi.output(this.routing.restingApexRouterSpec);

        const shared = { namespace, names, service: args.spec.service, deployment: args.deployment, autoscaler: args.autoscaler, podsAfter: this.routing.virtualNodes };
        this.targetWorkload = new TargetWorkload(name, {
            ...shared, podTemplate: args.podTemplate, configMaps: args.configMaps, secrets: args.secrets,
        }, { parent: this });
        this.canaryDeployment = this.targetWorkload.deployment;

        const promoted = this.promotedRevision(args);
        this.primaryWorkload = new PrimaryWorkload(name, { ...shared, ...promoted }, { parent: this });
        this.primaryDeployment = this.primaryWorkload.deployment;

        this.registerOutputs({
            target: this.target,
            canaryDeployment: this.canaryDeployment.metadata.name,
            primaryDeployment: this.primaryDeployment.metadata.name,
            restingApexRouterSpec: this.restingApexRouterSpec,
        });
    }

    /**
     * The revision the primary runs. Without an analysis resource the primary takes the target's current pod
     * template and config data at once; the analysis replaces this with its promoted outputs.
     */
    private promotedRevision(args: CanaryArgs): PromotedRevision {
        return {
            podTemplate: this.targetWorkload.podTemplate,
            configMaps: args.configMaps ?? [],
            secrets: args.secrets ?? [],
        };
    }
}
