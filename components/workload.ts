/**
 * The workload pair of one Canary, split where the analysis sits between them: the target side (canary
 * Deployment, its HPA, the tracked ConfigMaps/Secrets, the `-canary` Service) and the primary side
 * (`-primary` Deployment, HPA and config copies, the `-primary` and apex Services), as Flagger generates them.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { REVISION_ANNOTATION } from "../analysis/spec/annotations";
import { ServiceSpec } from "../analysis/spec/canary";
import { CanaryNames, SELECTOR_LABEL, podSelector, primaryName } from "../analysis/spec/names";

export type PodTemplate = pulumi.Unwrap<k8s.types.input.core.v1.PodTemplateSpec>;

/** Deployment fields Flagger copies from the target to the primary. */
export interface DeploymentSettings {
    /** Replicas of the primary when no autoscaler manages it. */
    readonly replicas?: number;
    /** Seconds a new pod must be ready before it counts as available. */
    readonly minReadySeconds?: number;
    /** Old ReplicaSets kept for rollback. */
    readonly revisionHistoryLimit?: number;
    /** Seconds before Kubernetes reports a stuck rollout. */
    readonly progressDeadlineSeconds?: number;
    /** Rolling update settings, e.g. maxUnavailable 0. */
    readonly strategy?: k8s.types.input.apps.v1.DeploymentStrategy;
}

/** The target's HorizontalPodAutoscaler (autoscaling/v2); the primary gets a copy. */
export interface AutoscalerSettings {
    /** Lowest replica count the HPA scales to. */
    readonly minReplicas: number;
    /** Highest replica count the HPA scales to. */
    readonly maxReplicas: number;
    /** What the HPA scales on, e.g. 99% CPU utilisation. */
    readonly metrics: k8s.types.input.autoscaling.v2.MetricSpec[];
}

/** A ConfigMap the pod template references by name; Flagger tracks it and runs `<name>-primary` for the primary. */
export interface TrackedConfigMap {
    /** ConfigMap name the pod template references. */
    readonly name: string;
    /** Its data. */
    readonly data: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** A Secret the pod template references by name (types Flagger tracks: Opaque, basic-auth, ssh-auth, tls). */
export interface TrackedSecret {
    /** Secret name the pod template references. */
    readonly name: string;
    /** Secret type; default Opaque. */
    readonly type?: string;
    /** Its data as strings (Pulumi keeps Secret data secret). */
    readonly stringData: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The Service of one role: apex and primary select primary pods, canary selects canary pods. */
export function buildServiceSpec(service: ServiceSpec, names: CanaryNames, role: "apex" | "primary" | "canary"): k8s.types.input.core.v1.ServiceSpec {
    return {
        type: "ClusterIP",
        selector: podSelector(names, role === "canary" ? "canary" : "primary"),
        ports: [{
            name: service.portName ?? "http",
            protocol: "TCP",
            port: service.port,
            targetPort: service.targetPort ?? service.port,
        }],
    };
}

/** Service names by role. */
export function serviceName(names: CanaryNames, role: "apex" | "primary" | "canary"): string {
    return role === "apex" ? names.apex : names.nodes[role];
}

/** The target's pod template with the canary pod label the selectors and the canary VirtualNode rely on. */
export function targetPodTemplate(template: PodTemplate, names: CanaryNames): PodTemplate {
    const metadata = template.metadata ?? {};
    return { ...template, metadata: { ...metadata, labels: { ...metadata.labels, ...podSelector(names, "canary") } } };
}

/**
 * Flagger's primary pod template: the target's, with the primary pod label, tracked ConfigMap/Secret references
 * renamed `<name>-primary`, and spread/anti-affinity selectors that named the target pointed at the primary.
 */
export function primaryPodTemplate(template: PodTemplate, names: CanaryNames, tracked: { configMaps: string[]; secrets: string[] }): PodTemplate {
    const copy = structuredClone(template) as any;
    copy.metadata = { ...copy.metadata, labels: { ...copy.metadata?.labels, ...podSelector(names, "primary") } };
    const spec = copy.spec ?? {};
    const configMap = (ref: any) => {
        if (ref?.name && tracked.configMaps.includes(ref.name)) {
            ref.name = primaryName(ref.name);
        }
    };
    const secret = (ref: any, key: "name" | "secretName" = "name") => {
        if (ref?.[key] && tracked.secrets.includes(ref[key])) {
            ref[key] = primaryName(ref[key]);
        }
    };
    for (const volume of spec.volumes ?? []) {
        configMap(volume.configMap);
        secret(volume.secret, "secretName");
        for (const source of volume.projected?.sources ?? []) {
            configMap(source.configMap);
            secret(source.secret);
        }
    }
    for (const container of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
        for (const env of container.env ?? []) {
            configMap(env.valueFrom?.configMapKeyRef);
            secret(env.valueFrom?.secretKeyRef);
        }
        for (const source of container.envFrom ?? []) {
            configMap(source.configMapRef);
            secret(source.secretRef);
        }
    }
    const retarget = (selector: any) => {
        if (selector?.matchLabels?.[SELECTOR_LABEL] === names.target) {
            selector.matchLabels[SELECTOR_LABEL] = names.primary;
        }
    };
    for (const constraint of spec.topologySpreadConstraints ?? []) {
        retarget(constraint.labelSelector);
    }
    const antiAffinity = spec.affinity?.podAntiAffinity;
    for (const term of antiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
        retarget(term.labelSelector);
    }
    for (const term of antiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
        retarget(term.podAffinityTerm?.labelSelector);
    }
    return copy;
}

/**
 * Options of the canary (target) Deployment: its pods wait for the VirtualNodes (sidecar injection needs a
 * node selecting them, Flagger #957), and its replicas belong to the analysis, which parks it at 0.
 */
export function canaryDeploymentOptions(parent: pulumi.Resource, podsAfter: pulumi.Resource[]): pulumi.CustomResourceOptions {
    return { parent, dependsOn: podsAfter, ignoreChanges: ["spec.replicas"] };
}

/** Options of the primary Deployment: its pods too wait for the VirtualNodes. */
export function primaryDeploymentOptions(parent: pulumi.Resource, podsAfter: pulumi.Resource[]): pulumi.CustomResourceOptions {
    return { parent, dependsOn: podsAfter };
}

function deploymentSpecFields(settings: DeploymentSettings) {
    return {
        minReadySeconds: settings.minReadySeconds,
        revisionHistoryLimit: settings.revisionHistoryLimit,
        progressDeadlineSeconds: settings.progressDeadlineSeconds,
        strategy: settings.strategy,
    };
}

function autoscaler(name: string, objectName: string, namespace: pulumi.Input<string>, deployment: string, settings: AutoscalerSettings, parent: pulumi.Resource) {
    return new k8s.autoscaling.v2.HorizontalPodAutoscaler(name, {
        metadata: { name: objectName, namespace },
        spec: {
            scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: deployment },
            minReplicas: settings.minReplicas,
            maxReplicas: settings.maxReplicas,
            metrics: settings.metrics,
        },
    }, { parent });
}

function service(
    name: string, namespace: pulumi.Input<string>, spec: ServiceSpec, names: CanaryNames, role: "apex" | "primary" | "canary",
    parent: pulumi.Resource, dependsOn: pulumi.Resource[] = [],
) {
    const objectName = serviceName(names, role);
    const apex = role === "apex" ? spec.apex ?? {} : {};
    return new k8s.core.v1.Service(name, {
        metadata: { name: objectName, namespace, labels: { ...apex.labels, [SELECTOR_LABEL]: objectName }, annotations: apex.annotations },
        spec: buildServiceSpec(spec, names, role),
    }, { parent, dependsOn });
}

interface WorkloadSideArgs {
    /** Namespace of every object (an output of the Mesh component). */
    readonly namespace: pulumi.Input<string>;
    /** Object names of this Canary. */
    readonly names: CanaryNames;
    /** `service` of the canary spec: port, targetPort, portName, apex metadata. */
    readonly service: ServiceSpec;
    /** Deployment settings copied to both sides. */
    readonly deployment: DeploymentSettings;
    /** The target's autoscaler, if any. */
    readonly autoscaler?: AutoscalerSettings;
    /** Resources the pods need first: the VirtualNodes selecting them. */
    readonly podsAfter: pulumi.Resource[];
}

export interface TargetWorkloadArgs extends WorkloadSideArgs {
    /** The app's pod template; changing it (or a tracked config) is a new revision. */
    readonly podTemplate: pulumi.Input<k8s.types.input.core.v1.PodTemplateSpec>;
    /** ConfigMaps the template references, created as given. */
    readonly configMaps?: TrackedConfigMap[];
    /** Secrets the template references, created as given. */
    readonly secrets?: TrackedSecret[];
}

/** The target side: the canary Deployment (parked at 0 replicas between rollouts), its HPA and configs, `-canary` Service. */
export class TargetWorkload extends pulumi.ComponentResource {
    public readonly deployment: k8s.apps.v1.Deployment;
    public readonly service: k8s.core.v1.Service;
    public readonly autoscaler?: k8s.autoscaling.v2.HorizontalPodAutoscaler;
    public readonly configMaps: k8s.core.v1.ConfigMap[];
    public readonly secrets: k8s.core.v1.Secret[];
    /** The pod template the canary runs, labels applied. */
    public readonly podTemplate: pulumi.Output<PodTemplate>;

    constructor(name: string, args: TargetWorkloadArgs, opts?: pulumi.ComponentResourceOptions) {
        super("appmesh-canary:index:TargetWorkload", name, {}, opts);
        const { names, namespace } = args;
        this.configMaps = (args.configMaps ?? []).map((c) =>
            new k8s.core.v1.ConfigMap(`${name}-${c.name}`, { metadata: { name: c.name, namespace }, data: c.data }, { parent: this }));
        this.secrets = (args.secrets ?? []).map((s) =>
            new k8s.core.v1.Secret(`${name}-${s.name}`, { metadata: { name: s.name, namespace }, type: s.type ?? "Opaque", stringData: s.stringData }, { parent: this }));
        this.service = service(`${name}-canary`, namespace, args.service, names, "canary", this);
        this.podTemplate = pulumi.output(args.podTemplate).apply((t) => targetPodTemplate(t, names));
        this.deployment = new k8s.apps.v1.Deployment(`${name}-canary`, {
            metadata: { name: names.target, namespace, labels: podSelector(names, "canary") },
            spec: {
                // Created parked: the analysis scales the canary up for a rollout and back to 0 after it.
                replicas: 0,
                selector: { matchLabels: podSelector(names, "canary") },
                template: this.podTemplate,
                ...deploymentSpecFields(args.deployment),
            },
        }, canaryDeploymentOptions(this, [...args.podsAfter, ...this.configMaps, ...this.secrets]));
        if (args.autoscaler) {
            this.autoscaler = autoscaler(`${name}-canary`, names.target, namespace, names.target, args.autoscaler, this);
        }
        this.registerOutputs({ deployment: this.deployment.metadata.name, service: this.service.metadata.name, podTemplate: this.podTemplate });
    }
}

export interface PrimaryWorkloadArgs extends WorkloadSideArgs {
    /** The promoted revision, recorded on the primary Deployment so the Analysis can tell a replace from a first deployment. */
    readonly revision: pulumi.Input<string>;
    /** The promoted pod template (the target's template as it was last promoted). */
    readonly podTemplate: pulumi.Input<PodTemplate>;
    /** Promoted data of the tracked ConfigMaps, copied to `<name>-primary`. */
    readonly configMaps?: TrackedConfigMap[];
    /** Promoted data of the tracked Secrets, copied to `<name>-primary`. */
    readonly secrets?: TrackedSecret[];
}

/** The primary side: `-primary` Deployment, HPA and config copies, and the Services that route to it. */
export class PrimaryWorkload extends pulumi.ComponentResource {
    public readonly deployment: k8s.apps.v1.Deployment;
    public readonly apexService: k8s.core.v1.Service;
    public readonly service: k8s.core.v1.Service;
    public readonly autoscaler?: k8s.autoscaling.v2.HorizontalPodAutoscaler;
    public readonly configMaps: k8s.core.v1.ConfigMap[];
    public readonly secrets: k8s.core.v1.Secret[];

    constructor(name: string, args: PrimaryWorkloadArgs, opts?: pulumi.ComponentResourceOptions) {
        super("appmesh-canary:index:PrimaryWorkload", name, {}, opts);
        const { names, namespace } = args;
        const configMaps = args.configMaps ?? [];
        const secrets = args.secrets ?? [];
        this.configMaps = configMaps.map((c) =>
            new k8s.core.v1.ConfigMap(`${name}-${c.name}-primary`, { metadata: { name: primaryName(c.name), namespace }, data: c.data }, { parent: this }));
        this.secrets = secrets.map((s) =>
            new k8s.core.v1.Secret(`${name}-${s.name}-primary`, {
                metadata: { name: primaryName(s.name), namespace }, type: s.type ?? "Opaque", stringData: s.stringData,
            }, { parent: this }));
        this.service = service(`${name}-primary`, namespace, args.service, names, "primary", this);
        const tracked = { configMaps: configMaps.map((c) => c.name), secrets: secrets.map((s) => s.name) };
        this.deployment = new k8s.apps.v1.Deployment(`${name}-primary`, {
            metadata: { name: names.primary, namespace, labels: podSelector(names, "primary"), annotations: { [REVISION_ANNOTATION]: args.revision } },
            spec: {
                // With an autoscaler the HPA owns the replicas; declaring them would fight it on every update.
                replicas: args.autoscaler ? undefined : args.deployment.replicas ?? 1,
                selector: { matchLabels: podSelector(names, "primary") },
                template: pulumi.output(args.podTemplate).apply((t) => primaryPodTemplate(t, names, tracked)),
                ...deploymentSpecFields(args.deployment),
            },
        }, primaryDeploymentOptions(this, [...args.podsAfter, ...this.configMaps, ...this.secrets]));
        if (args.autoscaler) {
            this.autoscaler = autoscaler(`${name}-primary`, names.primary, namespace, names.primary, args.autoscaler, this);
        }
        // The apex Service switches traffic to the primary pods once they exist, as Flagger's Reconcile does.
        this.apexService = service(`${name}-apex`, namespace, args.service, names, "apex", this, [this.deployment]);
        this.registerOutputs({ deployment: this.deployment.metadata.name, apexService: this.apexService.metadata.name });
    }
}
