/**
 * One app's workload from stack config (`apps.<app>.workload`, `.autoscaler`, `.configMaps`, `.secrets`):
 * validated with one failure per field, then turned into what the Canary component takes. Pure. The API
 * server validates the pod template in full when Pulumi applies it; these checks catch at `pulumi preview`
 * what would otherwise break the canary: a missing image or port, a label the selectors own, a tracked config
 * the pods never read.
 */
import type { AutoscalerSettings, DeploymentSettings, PodTemplate, TrackedConfigMap, TrackedSecret } from "../components/workload";
import { FailureCollector, isObject, show, type Json } from "../analysis/spec/failures";
import { SELECTOR_LABEL } from "../analysis/spec/names";
import { checkImage } from "./image";

/** The fields of a Kubernetes container (core/v1 Container). */
const CONTAINER_FIELDS = [
    "name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources", "resizePolicy", "restartPolicy",
    "volumeMounts", "volumeDevices", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle", "terminationMessagePath",
    "terminationMessagePolicy", "imagePullPolicy", "securityContext", "stdin", "stdinOnce", "tty",
] as const;

/** Deployment fields an app may set beside its pod (Flagger copies them to the primary). */
const DEPLOYMENT_FIELDS = ["replicas", "minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds", "strategy"] as const;

export const WORKLOAD_FIELDS = ["containers", "podTemplate", ...DEPLOYMENT_FIELDS] as const;
const AUTOSCALER_FIELDS = ["minReplicas", "maxReplicas", "metrics"] as const;
const IMAGE_PULL_POLICIES = ["Always", "IfNotPresent", "Never"] as const;
const PROTOCOLS = ["TCP", "UDP", "SCTP"] as const;
/** Secret types Flagger tracks (and copies to `-primary`). */
export const TRACKED_SECRET_TYPES = ["Opaque", "kubernetes.io/basic-auth", "kubernetes.io/ssh-auth", "kubernetes.io/tls"] as const;
/** A ConfigMap or Secret data key. */
const DATA_KEY = /^[-._a-zA-Z0-9]+$/;
/** An IANA_SVC_NAME: a container port's name. */
const PORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The tutorial's HPA target when `autoscaler.metrics` is left out: podinfo's 99% CPU. */
export const DEFAULT_AUTOSCALER_METRICS: AutoscalerSettings["metrics"] = [
    { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 99 } } },
];

/** A port the app's containers listen on. */
export interface ContainerPort {
    name?: string;
    containerPort: number;
}

/** What the Canary component takes for one app's workload. */
export interface AppWorkload {
    podTemplate: PodTemplate;
    deployment: DeploymentSettings;
    autoscaler?: AutoscalerSettings;
    configMaps: TrackedConfigMap[];
    secrets: TrackedSecret[];
    /** Every port of every container: `service.port`/`targetPort` must be one of them. */
    containerPorts: ContainerPort[];
}

/** The containers of `workload` (either form), with the path their list is at; undefined when neither is usable. */
function containersOf(workload: Json, path: string): { containers: unknown; path: string } | undefined {
    if (workload.podTemplate !== undefined) {
        const spec = isObject(workload.podTemplate) && isObject(workload.podTemplate.spec) ? workload.podTemplate.spec : undefined;
        return spec ? { containers: spec.containers, path: `${path}.podTemplate.spec.containers` } : undefined;
    }
    return { containers: workload.containers, path: `${path}.containers` };
}

/** Every port the containers declare (unvalidated entries skipped). */
export function declaredPorts(containers: unknown): ContainerPort[] {
    if (!Array.isArray(containers)) {
        return [];
    }
    return containers.flatMap((container) =>
        isObject(container) && Array.isArray(container.ports)
            ? container.ports.filter(isObject).filter((p) => Number.isInteger(p.containerPort))
                .map((p) => ({ ...(typeof p.name === "string" ? { name: p.name } : {}), containerPort: p.containerPort as number }))
            : []);
}

function checkContainer(c: FailureCollector, path: string, container: unknown): void {
    if (!c.object(path, container)) {
        return;
    }
    c.keys(path, container, CONTAINER_FIELDS);
    c.dnsLabel(`${path}.name`, container.name);
    if (container.image === undefined) {
        c.fail(`${path}.image`, "is required: the container image, e.g. ghcr.io/stefanprodan/podinfo:6.0.0");
    } else {
        checkImage(c, `${path}.image`, container.image);
    }
    for (const key of ["command", "args"] as const) {
        if (container[key] !== undefined) {
            c.stringList(`${path}.${key}`, container[key]);
        }
    }
    if (container.imagePullPolicy !== undefined) {
        c.oneOf(`${path}.imagePullPolicy`, container.imagePullPolicy, IMAGE_PULL_POLICIES);
    }
    if (container.ports !== undefined && c.array(`${path}.ports`, container.ports)) {
        container.ports.forEach((port, i) => checkPort(c, `${path}.ports[${i}]`, port));
        c.uniqueNames(`${path}.ports`, container.ports);
    }
    if (container.env !== undefined && c.array(`${path}.env`, container.env)) {
        container.env.forEach((env, i) => checkEnv(c, `${path}.env[${i}]`, env));
    }
    if (container.envFrom !== undefined && c.array(`${path}.envFrom`, container.envFrom)) {
        container.envFrom.forEach((source, i) => {
            if (c.object(`${path}.envFrom[${i}]`, source) && source.configMapRef === undefined && source.secretRef === undefined) {
                c.fail(`${path}.envFrom[${i}]`, "must have configMapRef or secretRef");
            }
        });
    }
    for (const key of ["livenessProbe", "readinessProbe", "startupProbe", "resources", "securityContext", "lifecycle"] as const) {
        if (container[key] !== undefined) {
            c.object(`${path}.${key}`, container[key]);
        }
    }
}

function checkPort(c: FailureCollector, path: string, port: unknown): void {
    if (!c.object(path, port)) {
        return;
    }
    c.keys(path, port, ["name", "containerPort", "protocol", "hostPort", "hostIP"]);
    c.integer(`${path}.containerPort`, port.containerPort, 1, 65535);
    if (port.name !== undefined && !(typeof port.name === "string" && PORT_NAME.test(port.name) && port.name.length <= 15)) {
        c.fail(`${path}.name`, `must be a port name (lowercase letters, digits and '-', at most 15 characters), got ${show(port.name)}`);
    }
    if (port.protocol !== undefined) {
        c.oneOf(`${path}.protocol`, port.protocol, PROTOCOLS);
    }
}

function checkEnv(c: FailureCollector, path: string, env: unknown): void {
    if (!c.object(path, env)) {
        return;
    }
    c.keys(path, env, ["name", "value", "valueFrom"]);
    c.string(`${path}.name`, env.name);
    if (env.value !== undefined && typeof env.value !== "string") {
        c.fail(`${path}.value`, `must be a string (quote numbers and booleans), got ${show(env.value)}`);
    }
    if (env.value !== undefined && env.valueFrom !== undefined) {
        c.fail(`${path}`, "sets both value and valueFrom; keep one");
    }
}

/** `workload`: containers or a whole pod template, and the Deployment settings (replicas only without an autoscaler). */
export function checkWorkload(c: FailureCollector, path: string, workload: unknown, autoscaled: boolean): void {
    if (workload === undefined) {
        c.fail(path, "is required: the app's containers (workload.containers) or a whole pod template (workload.podTemplate)");
        return;
    }
    if (!c.object(path, workload)) {
        return;
    }
    c.keys(path, workload, WORKLOAD_FIELDS);
    if ((workload.containers === undefined) === (workload.podTemplate === undefined)) {
        c.fail(path, "must set exactly one of containers (the pod's containers) and podTemplate (a whole pod template)");
        return;
    }
    if (workload.podTemplate !== undefined && c.object(`${path}.podTemplate`, workload.podTemplate)) {
        checkPodTemplate(c, `${path}.podTemplate`, workload.podTemplate);
    }
    const found = containersOf(workload, path);
    if (found && c.array(found.path, found.containers)) {
        if (found.containers.length === 0) {
            c.fail(found.path, "must list at least one container");
        }
        found.containers.forEach((container, i) => checkContainer(c, `${found.path}[${i}]`, container));
        c.uniqueNames(found.path, found.containers);
        if (found.containers.length > 0 && declaredPorts(found.containers).length === 0) {
            c.fail(found.path, "declare no ports: list the port the app serves (ports: [{name: http, containerPort: ...}]); canary.service.port must be one of them");
        }
    }
    if (workload.replicas !== undefined && c.integer(`${path}.replicas`, workload.replicas, 1) && autoscaled) {
        c.fail(`${path}.replicas`, "is owned by the autoscaler when the app has one; set autoscaler.minReplicas/maxReplicas instead");
    }
    for (const key of ["minReadySeconds", "revisionHistoryLimit"] as const) {
        if (workload[key] !== undefined) {
            c.integer(`${path}.${key}`, workload[key], 0);
        }
    }
    if (workload.progressDeadlineSeconds !== undefined) {
        c.integer(`${path}.progressDeadlineSeconds`, workload.progressDeadlineSeconds, 1);
    }
    if (workload.strategy !== undefined) {
        c.object(`${path}.strategy`, workload.strategy);
    }
}

function checkPodTemplate(c: FailureCollector, path: string, template: Json): void {
    c.keys(path, template, ["metadata", "spec"]);
    if (template.metadata !== undefined && c.object(`${path}.metadata`, template.metadata)) {
        const metadata = template.metadata;
        c.keys(`${path}.metadata`, metadata, ["labels", "annotations"]);
        if (metadata.labels !== undefined && c.stringMap(`${path}.metadata.labels`, metadata.labels) && SELECTOR_LABEL in metadata.labels) {
            c.fail(`${path}.metadata.labels.${SELECTOR_LABEL}`, `is set by the canary (${SELECTOR_LABEL}: <app> on canary pods, <app>-primary on primary pods); remove it`);
        }
        if (metadata.annotations !== undefined) {
            c.stringMap(`${path}.metadata.annotations`, metadata.annotations);
        }
    }
    if (template.spec === undefined) {
        c.fail(`${path}.spec`, "is required: the pod spec, with its containers");
    } else {
        c.object(`${path}.spec`, template.spec);
    }
}

export function checkAutoscaler(c: FailureCollector, path: string, autoscaler: unknown): void {
    if (!c.object(path, autoscaler)) {
        return;
    }
    c.keys(path, autoscaler, AUTOSCALER_FIELDS);
    const min = c.integer(`${path}.minReplicas`, autoscaler.minReplicas, 1);
    const max = c.integer(`${path}.maxReplicas`, autoscaler.maxReplicas, 1);
    if (min && max && (autoscaler.maxReplicas as number) < (autoscaler.minReplicas as number)) {
        c.fail(`${path}.maxReplicas`, `must be >= minReplicas (${autoscaler.minReplicas}), got ${autoscaler.maxReplicas}`);
    }
    if (autoscaler.metrics !== undefined && c.array(`${path}.metrics`, autoscaler.metrics)) {
        autoscaler.metrics.forEach((metric, i) => {
            if (c.object(`${path}.metrics[${i}]`, metric)) {
                c.string(`${path}.metrics[${i}].type`, metric.type);
            }
        });
    }
}

/** `configMaps.<name>: {data}` or `secrets.<name>: {type, data}`; returns the declared names. */
export function checkTrackedConfigs(c: FailureCollector, path: string, configs: unknown, kind: "ConfigMap" | "Secret"): string[] {
    if (configs === undefined || !c.object(path, configs)) {
        return [];
    }
    for (const [name, config] of Object.entries(configs)) {
        const at = `${path}.${name}`;
        if (!c.dnsLabel(at, name, 63 - "-primary".length) || !c.object(at, config)) {
            continue;
        }
        c.keys(at, config, kind === "Secret" ? ["type", "data"] : ["data"]);
        if (kind === "Secret" && config.type !== undefined) {
            c.oneOf(`${at}.type`, config.type, TRACKED_SECRET_TYPES);
        }
        if (config.data === undefined) {
            c.fail(`${at}.data`, `is required: the ${kind}'s keys and their string values`);
        } else if (c.stringMap(`${at}.data`, config.data)) {
            for (const key of Object.keys(config.data).filter((k) => !DATA_KEY.test(k))) {
                c.fail(`${at}.data.${key}`, "is not a valid data key (letters, digits, '-', '_' and '.')");
            }
        }
    }
    return Object.keys(configs);
}

/** The ConfigMap and Secret names a pod template reads (volumes, projected volumes, env, envFrom). */
export function referencedConfigs(template: PodTemplate): { configMaps: Set<string>; secrets: Set<string> } {
    const configMaps = new Set<string>();
    const secrets = new Set<string>();
    const spec = (template.spec ?? {}) as any;
    const add = (set: Set<string>, name: unknown) => typeof name === "string" && set.add(name);
    for (const volume of spec.volumes ?? []) {
        add(configMaps, volume?.configMap?.name);
        add(secrets, volume?.secret?.secretName);
        for (const source of volume?.projected?.sources ?? []) {
            add(configMaps, source?.configMap?.name);
            add(secrets, source?.secret?.name);
        }
    }
    for (const container of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
        for (const env of container?.env ?? []) {
            add(configMaps, env?.valueFrom?.configMapKeyRef?.name);
            add(secrets, env?.valueFrom?.secretKeyRef?.name);
        }
        for (const source of container?.envFrom ?? []) {
            add(configMaps, source?.configMapRef?.name);
            add(secrets, source?.secretRef?.name);
        }
    }
    return { configMaps, secrets };
}

/** The pod template of a validated workload (its `containers` wrapped in one). */
export function workloadPodTemplate(workload: Json): PodTemplate {
    return (workload.podTemplate as PodTemplate | undefined) ?? { spec: { containers: workload.containers as any[] } };
}

/** A declared config the pod template never reads would start rollouts that change nothing in the pods. */
export function checkConfigsReferenced(c: FailureCollector, path: string, template: PodTemplate, configMaps: string[], secrets: string[]): void {
    const read = referencedConfigs(template);
    for (const [kind, names, used] of [["configMaps", configMaps, read.configMaps], ["secrets", secrets, read.secrets]] as const) {
        for (const name of names.filter((n) => !used.has(n))) {
            c.fail(`${path}.${kind}.${name}`,
                "is not read by the workload's pods (env valueFrom, envFrom or a volume): a tracked config must be, or its changes would start rollouts that change nothing");
        }
    }
}

/** The Canary component's workload arguments from a validated app config. */
export function parseWorkload(app: Json): AppWorkload {
    const workload = app.workload as Json;
    const configs = (app.configMaps ?? {}) as Record<string, { data: Record<string, string> }>;
    const secrets = (app.secrets ?? {}) as Record<string, { type?: string; data: Record<string, string> }>;
    const autoscaler = app.autoscaler as { minReplicas: number; maxReplicas: number; metrics?: AutoscalerSettings["metrics"] } | undefined;
    const deployment = Object.fromEntries(DEPLOYMENT_FIELDS.filter((k) => workload[k] !== undefined).map((k) => [k, workload[k]])) as DeploymentSettings;
    const podTemplate = workloadPodTemplate(workload);
    return {
        podTemplate,
        deployment,
        ...(autoscaler ? { autoscaler: { ...autoscaler, metrics: autoscaler.metrics ?? DEFAULT_AUTOSCALER_METRICS } } : {}),
        configMaps: Object.entries(configs).map(([name, config]) => ({ name, data: config.data })),
        secrets: Object.entries(secrets).map(([name, secret]) => ({ name, ...(secret.type ? { type: secret.type } : {}), stringData: secret.data })),
        containerPorts: declaredPorts(podTemplate.spec?.containers),
    };
}
