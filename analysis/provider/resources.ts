/**
 * The Analysis and Finalize resources as a Pulumi program declares them: their args, the secret inputs and
 * outputs, and the revision computed from the pod template and tracked data.
 */
import * as pulumi from "@pulumi/pulumi";
import { describePlan } from "../engine/plan";
import type { RouterInput } from "../routers/router";
import type { AlertProviderSpec, CanarySpec, CanaryTarget, MetricTemplateSpec } from "../spec/canary";
import { analysisProvider, finalizeProvider, type RolloutStatus } from "./providers";
import { computeRevision, type TrackedData } from "./revision";

export interface RolloutArgs {
    /** `<name>.<namespace>` of the rollout and its apex service (the Canary component's `target`). */
    readonly target: pulumi.Input<CanaryTarget>;
    /** The validated canary spec (Flagger's Canary `spec`). */
    readonly canary: pulumi.Input<CanarySpec>;
    /** The router (chosen by the canary's `provider`) and what Pulumi declares for it at resting weights. */
    readonly router: pulumi.Input<RouterInput>;
    /** Kubeconfig of the cluster (the stack's Kubernetes provider's); `KUBECONFIG` at run time when absent. Kept secret. */
    readonly kubeconfig?: pulumi.Input<string>;
    /** Kubeconfig context to use instead of its current one. */
    readonly kubeContext?: pulumi.Input<string>;
    /** Namespaces whose `<service>.<namespace>` URLs are reached through the API server; the target's and `appmesh-system` by default. */
    readonly clusterNamespaces?: pulumi.Input<string[]>;
    /** Metric templates by name for `templateRef` metrics (may hold credentials; kept secret). */
    readonly metricTemplates?: pulumi.Input<Record<string, MetricTemplateSpec>>;
    /** Alert providers by name (webhook addresses are credentials; kept secret). */
    readonly alertProviders?: pulumi.Input<Record<string, AlertProviderSpec>>;
    /** `minReplicas` of the target's HPA, for Flagger's scale-from-zero rule. */
    readonly autoscalerMinReplicas?: pulumi.Input<number>;
    /** `metadata.uid` of the canary Deployment; the analysis refuses to run against a cluster where it differs. */
    readonly targetUid?: pulumi.Input<string>;
}

export interface AnalysisArgs extends RolloutArgs {
    /** The canary Deployment's pod template: the revision to roll out. */
    readonly template: pulumi.Input<Record<string, unknown>>;
    /** Data of the tracked ConfigMaps by name. */
    readonly configData?: pulumi.Input<TrackedData>;
    /** Data of the tracked Secrets by name (kept secret). */
    readonly secretData?: pulumi.Input<TrackedData>;
    /** A held revision (its analysis failed, so updates to it do not analyse it again) to analyse again on purpose. */
    readonly retryRevision?: pulumi.Input<string>;
    /** Where each analysis writes its rollout report (HTML and JSON), an absolute path; none when absent. */
    readonly reportDirectory?: pulumi.Input<string>;
}

const SECRET_INPUTS = ["kubeconfig", "metricTemplates", "alertProviders"];

function secretInputs(args: RolloutArgs) {
    return {
        kubeconfig: args.kubeconfig === undefined ? undefined : pulumi.secret(args.kubeconfig),
        metricTemplates: args.metricTemplates === undefined ? undefined : pulumi.secret(args.metricTemplates),
        alertProviders: args.alertProviders === undefined ? undefined : pulumi.secret(args.alertProviders),
    };
}

/** The plan line, or why there is none (check reports the spec's problems). */
function planOf(canary: CanarySpec): string {
    try {
        return describePlan(canary);
    } catch (error) {
        return `no plan: ${(error as Error).message}`;
    }
}

/** The canary analysis of one rollout; its outputs are the promoted revision the primary runs. */
export class Analysis extends pulumi.dynamic.Resource {
    /** The promoted revision (hash of template and tracked config data). */
    public readonly revision!: pulumi.Output<string>;
    /** The promoted pod template, for the primary Deployment. */
    public readonly template!: pulumi.Output<Record<string, unknown>>;
    /** The promoted ConfigMap data, for the `-primary` copies. */
    public readonly configData!: pulumi.Output<TrackedData>;
    /** The promoted Secret data, for the `-primary` copies (secret). */
    public readonly secretData!: pulumi.Output<TrackedData>;
    /** What the last run did: initialized, promoted or skipped. */
    public readonly status!: pulumi.Output<RolloutStatus>;
    /** The rollout plan, e.g. "weights 5→50 step 5 every 1m, ~10m, rollback after 5 failed checks". */
    public readonly plan!: pulumi.Output<string>;

    constructor(name: string, args: AnalysisArgs, opts?: pulumi.CustomResourceOptions) {
        const configData = args.configData ?? {};
        const secretData = pulumi.secret(args.secretData ?? {});
        // A digest of the data is no secret; keeping it plain lets previews show that the revision changes.
        const revision = pulumi.unsecret(pulumi.all([args.template, configData, secretData]).apply(([t, c, s]) => computeRevision(t, c, s)));
        const props = {
            ...args,
            ...secretInputs(args),
            configData,
            secretData,
            revision,
            plan: pulumi.output(args.canary).apply(planOf),
            status: undefined,
        };
        super(analysisProvider, name, props, { ...opts, additionalSecretOutputs: [...SECRET_INPUTS, "secretData"] }, "appmesh-canary", "Analysis");
    }
}

export interface FinalizeArgs extends RolloutArgs {
    /** The Analysis resource's `revision` output. */
    readonly revision: pulumi.Input<string>;
    /** The Analysis resource's `status` output. */
    readonly status: pulumi.Input<RolloutStatus>;
}

/** Ends a rollout after the primary rolled out: traffic back to the primary, canary to zero, post-rollout hooks. */
export class Finalize extends pulumi.dynamic.Resource {
    public readonly revision!: pulumi.Output<string>;
    public readonly status!: pulumi.Output<RolloutStatus>;

    constructor(name: string, args: FinalizeArgs, opts?: pulumi.CustomResourceOptions) {
        super(finalizeProvider, name, { ...args, ...secretInputs(args) }, { ...opts, additionalSecretOutputs: SECRET_INPUTS }, "appmesh-canary", "Finalize");
    }
}
