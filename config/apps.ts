/**
 * The apps of a stack: `apps.<app>` in stack config (workload, autoscaler, tracked ConfigMaps and Secrets, the
 * Flagger Canary spec or a whole Canary manifest, retryRevision), or the one-app shorthand of Flagger's
 * tutorial (top-level `image` and `canary`: podinfo). Validated per path (`apps.checkout.canary.service.port`),
 * then parsed into what one Canary component takes per app. Pure.
 */
import { routerKindOf, routerKindOfSpec } from "../analysis/routers/factory";
import type { RouterKind } from "../analysis/routers/router";
import { DEFAULT_METRICS_SERVER, DEFAULT_PROVIDER, type CanarySpec } from "../analysis/spec/canary";
import { FailureCollector, isObject, show, type Json } from "../analysis/spec/failures";
import { MAX_BASE_NAME } from "../analysis/spec/names";
import { parseCanarySpec, validateCanarySpec, type WiredRefs } from "../analysis/spec/validation";
import { REVISION_PATTERN } from "../analysis/provider/revision";
import { PODINFO, PODINFO_AUTOSCALER, PODINFO_DEPLOYMENT, PODINFO_PORTS, podinfoPodTemplate } from "../components/podinfo";
import { checkImage } from "./image";
import {
    checkAutoscaler, checkConfigsReferenced, checkTrackedConfigs, checkWorkload, declaredPorts, parseWorkload, workloadPodTemplate, type AppWorkload,
} from "./workload";

/** One app, validated, with its workload and its canary spec. */
export interface AppConfig {
    /** The app's name: its Deployment (and Canary) name, e.g. `podinfo`. */
    name: string;
    /** Flagger's Canary `spec` (targetRef/autoscalerRef dropped: they name the app's own objects). */
    canary: CanarySpec;
    workload: AppWorkload;
    /** A held revision (its analysis failed) to analyse again on purpose. */
    retryRevision?: string;
}

export const APP_FIELDS = ["workload", "autoscaler", "configMaps", "secrets", "canary", "retryRevision"] as const;

/** Flagger's Canary API version, as a pasted manifest carries it. */
export const CANARY_API_VERSION = "flagger.app/v1beta1";

/** The keys of the one-app shorthand, which `apps` replaces. */
export const SHORTHAND_KEYS = ["image", "canary", "retryRevision"] as const;

/** What every app's checks need from the rest of the stack config. */
export interface AppContext {
    namespace?: unknown;
    /** The Gateway API routes attach to VPC Lattice Gateways. */
    lattice?: boolean;
    metricsServer?: unknown;
    /** Names defined in `metricTemplates` and `alertProviders`. */
    templates: string[];
    providers: string[];
}

/** Where an app's canary spec is: the value itself, or a manifest's `spec`; the manifest's name, if any. */
interface CanarySource {
    spec: unknown;
    path: string;
    name?: string;
}

/** `canary` as a bare spec or a whole Canary manifest (`kind: Canary`), whose `metadata.name` names the app. */
function canarySource(c: FailureCollector, path: string, raw: unknown, namespace: unknown): CanarySource | undefined {
    if (!isObject(raw) || raw.kind === undefined) {
        return { spec: raw, path };
    }
    c.keys(path, raw, ["apiVersion", "kind", "metadata", "spec"]);
    if (raw.kind !== "Canary") {
        c.fail(`${path}.kind`, `must be Canary (a Flagger Canary manifest), or leave kind out and give the spec itself; got ${show(raw.kind)}`);
        return undefined;
    }
    if (raw.apiVersion !== CANARY_API_VERSION) {
        c.fail(`${path}.apiVersion`, `must be ${CANARY_API_VERSION}, got ${show(raw.apiVersion)}`);
    }
    if (!c.object(`${path}.metadata`, raw.metadata)) {
        return undefined;
    }
    const metadata = raw.metadata;
    c.keys(`${path}.metadata`, metadata, ["name", "namespace", "labels", "annotations"]);
    if (metadata.namespace !== undefined && typeof namespace === "string" && metadata.namespace !== namespace) {
        c.fail(`${path}.metadata.namespace`, `must be the stack's namespace ${show(namespace)} (every app lives there) or left out, got ${show(metadata.namespace)}`);
    }
    if (raw.spec === undefined) {
        c.fail(`${path}.spec`, "is required: the Canary's spec (service, analysis, ...)");
        return undefined;
    }
    return c.dnsLabel(`${path}.metadata.name`, metadata.name, MAX_BASE_NAME) ? { spec: raw.spec, path: `${path}.spec`, name: metadata.name } : undefined;
}

/** The router of a raw `canary` value (bare spec or manifest), by its provider; undefined for a provider no router serves. */
export function rawRouterKind(canary: unknown): RouterKind | undefined {
    const spec = isObject(canary) && canary.kind !== undefined ? canary.spec : canary;
    const provider = isObject(spec) && spec.provider !== undefined ? spec.provider : DEFAULT_PROVIDER;
    return typeof provider === "string" ? routerKindOf(provider) : undefined;
}

/** The router of a validated app. */
export function appRouterKind(app: AppConfig): RouterKind {
    return routerKindOfSpec(app.canary);
}

/** Where the spec of a `canary` value at `path` is: the value, or a pasted manifest's `spec`. */
export function canarySpecPath(canary: unknown, path: string): string {
    return isObject(canary) && canary.kind !== undefined ? `${path}.spec` : path;
}

/** `templateRef` and `providerRef` names must be defined in this stack's config. */
function checkReferences(c: FailureCollector, path: string, spec: unknown, context: AppContext): void {
    const analysis = (spec as { analysis?: { metrics?: unknown; alerts?: unknown } } | undefined)?.analysis;
    const each = (list: unknown, visit: (item: Record<string, any>, i: number) => void) =>
        Array.isArray(list) && list.forEach((item, i) => isObject(item) && visit(item, i));
    each(analysis?.metrics, (metric, i) => {
        const name = metric.templateRef?.name;
        if (typeof name === "string" && !context.templates.includes(name)) {
            c.fail(`${path}.analysis.metrics[${i}].templateRef.name`,
                `names no template in metricTemplates (defined: ${context.templates.join(", ") || "none"}), got ${show(name)}`);
        }
    });
    each(analysis?.alerts, (alert, i) => {
        const name = alert.providerRef?.name;
        if (typeof name === "string" && !context.providers.includes(name)) {
            c.fail(`${path}.analysis.alerts[${i}].providerRef.name`,
                `names no provider in alertProviders (defined: ${context.providers.join(", ") || "none"}), got ${show(name)}`);
        }
    });
}

/** The canary spec's own checks, its references, and the one Prometheus address of the stack. */
function checkCanary(c: FailureCollector, source: CanarySource, refs: WiredRefs, context: AppContext): void {
    c.failures.push(...validateCanarySpec(source.spec, source.path, refs, { lattice: context.lattice }));
    checkReferences(c, source.path, source.spec, context);
    const inSpec = isObject(source.spec) ? source.spec.metricsServer : undefined;
    if (typeof context.metricsServer === "string" && inSpec !== undefined && inSpec !== context.metricsServer) {
        c.fail(`${source.path}.metricsServer`, `disagrees with metricsServer (${context.metricsServer}); set the Prometheus address in one place`);
    }
}

function checkRetryRevision(c: FailureCollector, path: string, value: unknown): void {
    if (value !== undefined && !(typeof value === "string" && REVISION_PATTERN.test(value))) {
        c.fail(path, `must be a revision as a failed rollout names it (16 hex digits, e.g. 40a857abea41bb8f), got ${show(value)}`);
    }
}

/** `autoscalerRef` and `autoscaler` come together: the ref makes the primary's copy, the settings make the HPA. */
function checkAutoscalerPairing(c: FailureCollector, path: string, source: CanarySource, app: Json): void {
    const ref = isObject(source.spec) ? source.spec.autoscalerRef : undefined;
    if (ref !== undefined && app.autoscaler === undefined) {
        c.fail(`${source.path}.autoscalerRef`, `names an HPA, but ${path}.autoscaler is not set: add it (minReplicas, maxReplicas) or remove autoscalerRef`);
    } else if (ref === undefined && app.autoscaler !== undefined) {
        c.fail(`${path}.autoscaler`, `needs ${source.path}.autoscalerRef (kind HorizontalPodAutoscaler, name the app's) so that the primary gets its copy`);
    }
}

/** Every problem with one `apps.<name>` entry. */
export function validateApp(name: string, raw: unknown, context: AppContext, path = `apps.${name}`): FailureCollector["failures"] {
    const c = new FailureCollector();
    if (!c.dnsLabel(path, name, MAX_BASE_NAME) || !c.object(path, raw)) {
        return c.failures;
    }
    c.keys(path, raw, APP_FIELDS);
    if (raw.autoscaler !== undefined) {
        checkAutoscaler(c, `${path}.autoscaler`, raw.autoscaler);
    }
    checkWorkload(c, `${path}.workload`, raw.workload, raw.autoscaler !== undefined);
    const configMaps = checkTrackedConfigs(c, `${path}.configMaps`, raw.configMaps, "ConfigMap");
    const secrets = checkTrackedConfigs(c, `${path}.secrets`, raw.secrets, "Secret");
    const template = isObject(raw.workload) ? workloadPodTemplate(raw.workload) : undefined;
    if (template) {
        checkConfigsReferenced(c, path, template, configMaps, secrets);
    }
    checkRetryRevision(c, `${path}.retryRevision`, raw.retryRevision);
    if (raw.canary === undefined) {
        c.fail(`${path}.canary`, "is required: Flagger's Canary spec (service, analysis, ...) or a whole Canary manifest");
        return c.failures;
    }
    const source = canarySource(c, `${path}.canary`, raw.canary, context.namespace);
    if (!source) {
        return c.failures;
    }
    if (source.name !== undefined && source.name !== name) {
        c.fail(`${source.path.replace(/\.spec$/, "")}.metadata.name`, `must be the app's name ${show(name)} (its key under apps), got ${show(source.name)}`);
    }
    const ports = declaredPorts(template?.spec?.containers);
    checkCanary(c, source, { deployment: name, autoscaler: name, containerPorts: ports.length > 0 ? ports : undefined }, context);
    checkAutoscalerPairing(c, path, source, raw);
    return c.failures;
}

/** The shorthand's app name: a pasted manifest's `metadata.name`, else the tutorial's podinfo. */
function shorthandName(canary: unknown): string {
    const name = isObject(canary) && canary.kind === "Canary" && isObject(canary.metadata) ? canary.metadata.name : undefined;
    return typeof name === "string" ? name : PODINFO;
}

/** Every problem with the one-app shorthand (`image`, `canary`, `retryRevision`): the tutorial's podinfo. */
export function validateShorthand(raw: Json, context: AppContext): FailureCollector["failures"] {
    const c = new FailureCollector();
    if (raw.image === undefined) {
        c.fail("image", "is required: the app's container image, e.g. ghcr.io/stefanprodan/podinfo:6.0.0 (or describe every app under apps)");
    } else {
        checkImage(c, "image", raw.image);
    }
    checkRetryRevision(c, "retryRevision", raw.retryRevision);
    if (raw.canary === undefined) {
        c.fail("canary", "is required: Flagger's Canary spec (service, analysis, ...) (or describe every app under apps)");
        return c.failures;
    }
    const source = canarySource(c, "canary", raw.canary, context.namespace);
    if (source) {
        const name = shorthandName(raw.canary);
        checkCanary(c, source, { deployment: name, autoscaler: name, containerPorts: PODINFO_PORTS }, context);
    }
    return c.failures;
}

/** The spec of a validated `canary` value (bare or manifest), with the Prometheus address: the stack's, the spec's or the default. */
function parseCanary(raw: unknown, name: string, metricsServer: string | undefined): CanarySpec {
    const spec = parseCanarySpec(isObject(raw) && raw.kind === "Canary" ? raw.spec : raw, { deployment: name, autoscaler: name });
    return { ...spec, metricsServer: metricsServer ?? spec.metricsServer ?? DEFAULT_METRICS_SERVER };
}

/** The app of a validated `apps.<name>` entry. */
export function parseApp(name: string, raw: Json, metricsServer?: string): AppConfig {
    return {
        name,
        canary: parseCanary(raw.canary, name, metricsServer),
        workload: parseWorkload(raw),
        ...(raw.retryRevision === undefined ? {} : { retryRevision: raw.retryRevision as string }),
    };
}

/** The tutorial's app from the validated shorthand: podinfo's pod, Deployment settings and HPA with `image`. */
export function parseShorthand(raw: Json, metricsServer?: string): AppConfig {
    const name = shorthandName(raw.canary);
    return {
        name,
        canary: parseCanary(raw.canary, name, metricsServer),
        workload: {
            podTemplate: podinfoPodTemplate(raw.image as string),
            deployment: PODINFO_DEPLOYMENT,
            autoscaler: PODINFO_AUTOSCALER,
            configMaps: [],
            secrets: [],
            containerPorts: [...PODINFO_PORTS],
        },
        ...(raw.retryRevision === undefined ? {} : { retryRevision: raw.retryRevision as string }),
    };
}
