/**
 * Validation of Flagger's Canary `spec` as it arrives from stack config (or from a dynamic provider's
 * `check`). Pure and dependency-free: every problem is collected with its dotted path and the allowed
 * values, so one message can list them all at `pulumi preview` time.
 */
import {
    BUILTIN_METRICS,
    DEFAULT_PROVIDER,
    SEVERITIES,
    CanarySpec,
    HTTP_RETRY_EVENTS,
    WEBHOOK_TYPES,
} from "./canary";
import { MAX_BASE_NAME } from "./names";
import { FailureCollector, formatFailures, isObject, show, withoutUnknowns, type Json, type ValidationFailure } from "./failures";
import {
    checkGatewayRefs, checkHeaderModifiers, checkHostnames, checkLatticeLimits, checkRewrite, checkRouteMatches, checkRouteTimeout,
} from "./gateway-route-validation";
import { checkStringConditions } from "./header-match";
import { CANARY_PROVIDERS, COMMON_SERVICE_FIELDS, ROUTER_FIELD_RULES, UNSUPPORTED_SERVICE_FIELDS, type RouterFieldRules } from "./router-fields";
import { GATEWAYAPI_PROVIDER } from "../routers/gatewayapi/api";

/** Names the program gives the objects `targetRef`/`autoscalerRef` may point at. */
export interface WiredRefs {
    /** The target Deployment the program creates. */
    deployment: string;
    /** The target HorizontalPodAutoscaler the program creates. */
    autoscaler: string;
    /** Ports the target's container listens on; when given, `service.port`/`targetPort` must point at one of them. */
    containerPorts?: readonly { name?: string; containerPort: number }[];
}

/** What the stack knows of where the spec's routes go, beyond the spec itself. */
export interface RouteContext {
    /** The Gateway API route attaches to VPC Lattice Gateways (GatewayClass `amazon-vpc-lattice`): Lattice's limits apply. */
    lattice?: boolean;
}


/** Shortest analysis interval accepted; Flagger clamps anything below 10s, the playground runs faster. */
export const MIN_INTERVAL_MS = 1000;

/** Flagger fields with an effect this program does not implement on any router: rejected, not ignored. */
const UNSUPPORTED_FIELDS: Record<string, Record<string, string>> = {
    spec: {
        suspend: "remove the Canary from the stack or stop running `pulumi up` instead",
        revertOnDeletion: "`pulumi destroy` removes every generated object",
        canaryAnalysis: "use `analysis` (canaryAnalysis is Flagger's deprecated alias)",
    },
    webhook: { disableTLS: "webhooks verify TLS; give the endpoint a certificate the machine running `pulumi up` trusts" },
    autoscalerRef: { primaryScalerReplicas: "the primary HPA copies the target HPA's replicas" },
};

/** Flagger fields no router here acts on (other routers' references): accepted so a Canary pastes in, with no effect. */
const IGNORED_SPEC_FIELDS = ["ingressRef", "routeRef", "upstreamRef"];

const KNOWN_FIELDS = {
    spec: ["provider", "metricsServer", "progressDeadlineSeconds", "skipAnalysis", "service", "analysis", "targetRef", "autoscalerRef"],
    targetRef: ["apiVersion", "kind", "name"],
    autoscalerRef: ["apiVersion", "kind", "name"],
    retries: ["attempts", "perTryTimeout", "retryOn"],
    serviceMatch: ["uri"],
    uri: ["prefix"],
    apex: ["labels", "annotations"],
    analysis: [
        "interval", "threshold", "maxWeight", "stepWeight", "stepWeights", "stepWeightPromotion", "iterations", "match",
        "primaryReadyThreshold", "canaryReadyThreshold", "metrics", "webhooks", "alerts",
    ],
    analysisMatch: ["headers"],
    metric: ["name", "interval", "thresholdRange", "threshold", "query", "templateRef", "templateVariables"],
    thresholdRange: ["min", "max"],
    templateRef: ["name", "namespace"],
    webhook: ["name", "type", "url", "timeout", "retries", "muteAlert", "metadata"],
    alert: ["name", "severity", "providerRef"],
    providerRef: ["name", "namespace"],
} as const;


const PORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Every problem with a canary spec (Flagger's Canary `spec`, as its router reads it), each with its dotted path.
 * With `refs`, `targetRef`/`autoscalerRef` must name the objects the program creates.
 */
export function validateCanarySpec(raw: unknown, path = "canary", refs?: WiredRefs, route: RouteContext = {}): ValidationFailure[] {
    return withoutUnknowns(collectCanaryFailures(raw, path, refs, route), raw, path);
}

function collectCanaryFailures(raw: unknown, path: string, refs: WiredRefs | undefined, route: RouteContext): ValidationFailure[] {
    const c = new FailureCollector();
    if (!c.object(path, raw)) {
        return c.failures;
    }
    c.keys(path, raw, KNOWN_FIELDS.spec, IGNORED_SPEC_FIELDS, UNSUPPORTED_FIELDS.spec);
    const rules = checkProvider(c, `${path}.provider`, raw.provider);
    if (raw.metricsServer !== undefined) {
        c.url(`${path}.metricsServer`, raw.metricsServer);
    }
    if (raw.progressDeadlineSeconds !== undefined) {
        c.integer(`${path}.progressDeadlineSeconds`, raw.progressDeadlineSeconds, 1);
    }
    if (raw.skipAnalysis !== undefined) {
        c.boolean(`${path}.skipAnalysis`, raw.skipAnalysis);
    }
    checkRef(c, `${path}.targetRef`, raw.targetRef, KNOWN_FIELDS.targetRef, "apps/v1", "Deployment", refs?.deployment, {});
    checkRef(c, `${path}.autoscalerRef`, raw.autoscalerRef, KNOWN_FIELDS.autoscalerRef, "autoscaling/v2", "HorizontalPodAutoscaler",
        refs?.autoscaler, UNSUPPORTED_FIELDS.autoscalerRef);
    if (raw.service === undefined) {
        c.fail(`${path}.service`, "is required: at least `service.port`, the container port the mesh routes to");
    } else {
        checkService(c, `${path}.service`, raw.service, rules, raw);
        checkServedPort(c, `${path}.service`, raw.service, refs?.containerPorts);
    }
    if (raw.analysis !== undefined) {
        checkAnalysis(c, `${path}.analysis`, raw.analysis, raw.skipAnalysis === true, rules);
    }
    if (route.lattice && rules === ROUTER_FIELD_RULES[GATEWAYAPI_PROVIDER]) {
        checkLatticeLimits(c, path, raw);
    }
    return c.failures;
}

/** A validated spec, without `targetRef`/`autoscalerRef` (the program wires those); throws listing every failure. */
export function parseCanarySpec(raw: unknown, refs?: WiredRefs): CanarySpec {
    const failures = validateCanarySpec(raw, "canary", refs);
    if (failures.length > 0) {
        throw new Error(formatFailures("invalid canary spec", failures));
    }
    const { targetRef: _target, autoscalerRef: _autoscaler, ...spec } = raw as Json;
    return spec as unknown as CanarySpec;
}

/** The field rules of the spec's router; App Mesh's (the default) when the provider is not one this program routes. */
function checkProvider(c: FailureCollector, path: string, provider: unknown): RouterFieldRules {
    const rules = ROUTER_FIELD_RULES[typeof provider === "string" ? provider : DEFAULT_PROVIDER];
    if (provider === undefined || (rules && Object.prototype.hasOwnProperty.call(ROUTER_FIELD_RULES, provider as string))) {
        return rules;
    }
    if (provider === "appmesh" || provider === "appmesh:v1beta1") {
        c.fail(path, `App Mesh v1beta1 (\`${provider}\`) is not supported; use ${DEFAULT_PROVIDER}`);
    } else if (provider === "gatewayapi" || provider === "gatewayapi:v1beta1") {
        c.fail(path, `Gateway API v1beta1 (\`${provider}\`) is not supported; use ${GATEWAYAPI_PROVIDER} (HTTPRoute v1, Gateway API 1.0 or later)`);
    } else {
        c.fail(path, `must be one of ${CANARY_PROVIDERS.join(", ")} (the routers this program implements), got ${show(provider)}`);
    }
    return ROUTER_FIELD_RULES[DEFAULT_PROVIDER];
}

function checkRef(
    c: FailureCollector, path: string, ref: unknown, known: readonly string[], apiVersion: string, kind: string,
    wiredName: string | undefined, unsupported: Record<string, string>,
): void {
    if (ref === undefined || !c.object(path, ref)) {
        return;
    }
    c.keys(path, ref, known, [], unsupported);
    if (ref.apiVersion !== undefined && ref.apiVersion !== apiVersion) {
        c.fail(`${path}.apiVersion`, `must be ${apiVersion} (the program creates a ${kind}), got ${show(ref.apiVersion)}`);
    }
    if (ref.kind !== kind) {
        c.fail(`${path}.kind`, `must be ${kind} (the program creates one), got ${show(ref.kind)}`);
    }
    if (wiredName === undefined) {
        c.string(`${path}.name`, ref.name);
    } else if (ref.name !== wiredName) {
        c.fail(`${path}.name`, `must be ${show(wiredName)}: the program wires the ${kind} it creates itself; ` +
            `remove the reference or name that object, got ${show(ref.name)}`);
    }
}

function checkService(c: FailureCollector, path: string, service: unknown, rules: RouterFieldRules, spec: Json): void {
    if (!c.object(path, service)) {
        return;
    }
    c.keys(path, service, [...COMMON_SERVICE_FIELDS, ...rules.service.known], rules.service.ignored, { ...UNSUPPORTED_SERVICE_FIELDS, ...rules.service.unsupported });
    const gatewayApi = rules === ROUTER_FIELD_RULES[GATEWAYAPI_PROVIDER];
    if (service.name !== undefined) {
        c.dnsLabel(`${path}.name`, service.name, MAX_BASE_NAME);
    }
    c.integer(`${path}.port`, service.port, 1, 65535);
    const targetPort = service.targetPort;
    if (targetPort !== undefined && typeof targetPort !== "string") {
        c.integer(`${path}.targetPort`, targetPort, 1, 65535);
    } else if (typeof targetPort === "string" && !PORT_NAME.test(targetPort)) {
        c.fail(`${path}.targetPort`, `must be a port number from 1 to 65535 or a container port name, got ${show(targetPort)}`);
    }
    if (service.portName !== undefined && !(typeof service.portName === "string" && PORT_NAME.test(service.portName) && service.portName.length <= 15)) {
        c.fail(`${path}.portName`, `must be a port name (lowercase letters, digits and '-', at most 15 characters), got ${show(service.portName)}`);
    }
    if (service.timeout !== undefined) {
        if (gatewayApi) {
            checkRouteTimeout(c, `${path}.timeout`, service.timeout);
        } else {
            c.duration(`${path}.timeout`, service.timeout, 1);
        }
    }
    if (service.match !== undefined) {
        if (gatewayApi) {
            checkRouteMatches(c, `${path}.match`, service.match, rules.maxHeaderMatches);
        } else {
            checkServiceMatch(c, `${path}.match`, service.match);
        }
    }
    if (service.hosts !== undefined) {
        if (gatewayApi) {
            checkHostnames(c, `${path}.hosts`, service.hosts);
        } else {
            c.stringList(`${path}.hosts`, service.hosts);
        }
    }
    if (gatewayApi) {
        checkGatewayRefs(c, `${path}.gatewayRefs`, service.gatewayRefs);
        if (service.rewrite !== undefined) {
            checkRewrite(c, `${path}.rewrite`, service.rewrite, spec);
        }
        if (service.headers !== undefined) {
            checkHeaderModifiers(c, `${path}.headers`, service.headers);
        }
    } else {
        if (service.retries !== undefined) {
            checkRetries(c, `${path}.retries`, service.retries);
        }
        if (service.backends !== undefined) {
            c.stringList(`${path}.backends`, service.backends);
        }
    }
    if (service.apex !== undefined && c.object(`${path}.apex`, service.apex)) {
        c.keys(`${path}.apex`, service.apex, KNOWN_FIELDS.apex);
        for (const key of ["labels", "annotations"] as const) {
            if (service.apex[key] !== undefined) {
                c.stringMap(`${path}.apex.${key}`, service.apex[key]);
            }
        }
    }
}

/**
 * The Services send traffic to `targetPort` (default `port`), and the App Mesh listener (an integer targetPort,
 * else `port`) is where Envoy hands requests to the app: both must be ports the container listens on, or every
 * request to the apex Service fails once the config is applied. Values that are invalid anyway are reported once.
 */
function checkServedPort(c: FailureCollector, path: string, service: unknown, ports: WiredRefs["containerPorts"]): void {
    if (!ports || ports.length === 0 || !isObject(service)) {
        return;
    }
    const listens = ports.map((p) => (p.name ? `${p.containerPort} (${p.name})` : `${p.containerPort}`)).join(", ");
    const validNumber = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;
    const { port, targetPort } = service;
    if (typeof targetPort === "string" && PORT_NAME.test(targetPort) && !ports.some((p) => p.name === targetPort)) {
        c.fail(`${path}.targetPort`, `must name a port of the app's container: ${listens}; got ${show(targetPort)}`);
    }
    const [field, listener] = validNumber(targetPort) ? ["targetPort", targetPort] : ["port", port];
    if (validNumber(listener) && !ports.some((p) => p.containerPort === listener)) {
        const why = field === "port" && typeof targetPort === "string" ? " (App Mesh listens on port when targetPort is a name)" : "";
        c.fail(`${path}.${field}`, `must be a port the app's container listens on${why}: ${listens}; got ${listener}`);
    }
}

function checkRetries(c: FailureCollector, path: string, retries: unknown): void {
    if (!c.object(path, retries)) {
        return;
    }
    c.keys(path, retries, KNOWN_FIELDS.retries);
    if (retries.attempts !== undefined) {
        c.integer(`${path}.attempts`, retries.attempts, 0);
    }
    if (retries.perTryTimeout !== undefined) {
        c.duration(`${path}.perTryTimeout`, retries.perTryTimeout, 1);
    }
    if (retries.retryOn !== undefined && c.string(`${path}.retryOn`, retries.retryOn)) {
        for (const event of retryEvents(retries.retryOn)) {
            if (!(HTTP_RETRY_EVENTS as readonly string[]).includes(event)) {
                c.fail(`${path}.retryOn`, `has unknown retry event ${show(event)}; App Mesh allows ${HTTP_RETRY_EVENTS.join(", ")}`);
            }
        }
    }
}

/** The comma-separated retry events of `retries.retryOn`, blanks around commas dropped. */
export function retryEvents(retryOn: string): string[] {
    return retryOn.split(",").map((e) => e.trim());
}

function checkServiceMatch(c: FailureCollector, path: string, match: unknown): void {
    if (!c.array(path, match)) {
        return;
    }
    if (match.length > 1) {
        c.fail(path, `has ${match.length} entries; App Mesh routes on the first URI prefix only, so give exactly one`);
    }
    match.forEach((entry, i) => {
        const at = `${path}[${i}]`;
        if (!c.object(at, entry)) {
            return;
        }
        c.keys(at, entry, KNOWN_FIELDS.serviceMatch);
        if (entry.uri !== undefined && c.object(`${at}.uri`, entry.uri)) {
            c.keys(`${at}.uri`, entry.uri, KNOWN_FIELDS.uri);
            const prefix = entry.uri.prefix;
            if (!(typeof prefix === "string" && prefix.startsWith("/"))) {
                c.fail(`${at}.uri.prefix`, `must be a path prefix starting with "/", got ${show(prefix)}`);
            }
        }
    });
}

function checkAnalysis(c: FailureCollector, path: string, analysis: unknown, skipAnalysis: boolean, rules: RouterFieldRules): void {
    if (!c.object(path, analysis)) {
        return;
    }
    const a = analysis;
    c.keys(path, a, [...KNOWN_FIELDS.analysis, ...rules.analysis.known], rules.analysis.ignored, rules.analysis.unsupported);
    if (a.interval !== undefined) {
        c.duration(`${path}.interval`, a.interval, MIN_INTERVAL_MS);
    }
    if (a.threshold !== undefined) {
        c.integer(`${path}.threshold`, a.threshold, 1);
    }
    if (a.maxWeight !== undefined) {
        c.integer(`${path}.maxWeight`, a.maxWeight, 1, 100);
    }
    if (a.stepWeight !== undefined) {
        c.integer(`${path}.stepWeight`, a.stepWeight, 0, 100);
    }
    if (a.stepWeights !== undefined) {
        checkStepWeights(c, `${path}.stepWeights`, a.stepWeights);
    }
    if (a.stepWeightPromotion !== undefined) {
        c.integer(`${path}.stepWeightPromotion`, a.stepWeightPromotion, 1, 100);
    }
    if (a.iterations !== undefined) {
        c.integer(`${path}.iterations`, a.iterations, 0);
    }
    for (const key of ["primaryReadyThreshold", "canaryReadyThreshold"] as const) {
        if (a[key] !== undefined) {
            c.integer(`${path}.${key}`, a[key], 1, 100);
        }
    }
    checkProgression(c, path, a, skipAnalysis);
    if (a.match !== undefined) {
        checkAnalysisMatch(c, `${path}.match`, a.match, a.iterations, rules);
    }
    if (a.metrics !== undefined && c.array(`${path}.metrics`, a.metrics)) {
        c.uniqueNames(`${path}.metrics`, a.metrics);
        a.metrics.forEach((m, i) => checkMetric(c, `${path}.metrics[${i}]`, m));
    }
    if (a.webhooks !== undefined && c.array(`${path}.webhooks`, a.webhooks)) {
        c.uniqueNames(`${path}.webhooks`, a.webhooks);
        a.webhooks.forEach((w, i) => checkWebhook(c, `${path}.webhooks[${i}]`, w));
    }
    if (a.alerts !== undefined && c.array(`${path}.alerts`, a.alerts)) {
        c.uniqueNames(`${path}.alerts`, a.alerts);
        a.alerts.forEach((al, i) => checkAlert(c, `${path}.alerts[${i}]`, al));
    }
}

function checkStepWeights(c: FailureCollector, path: string, weights: unknown): void {
    if (!c.array(path, weights)) {
        return;
    }
    if (weights.length === 0) {
        c.fail(path, "must list at least one weight (integers from 1 to 100, strictly increasing)");
        return;
    }
    weights.forEach((w, i) => {
        if (c.integer(`${path}[${i}]`, w, 1, 100) && i > 0 && Number.isInteger(weights[i - 1]) && w <= (weights[i - 1] as number)) {
            c.fail(`${path}[${i}]`, `must be greater than the previous weight ${weights[i - 1]} (weights strictly increase), got ${w}`);
        }
    });
}

/** The schedule must be able to move: canary steps or iterations, not both, not neither. */
function checkProgression(c: FailureCollector, path: string, a: Json, skipAnalysis: boolean): void {
    const stepping = (typeof a.stepWeight === "number" && a.stepWeight > 0) || (Array.isArray(a.stepWeights) && a.stepWeights.length > 0);
    const iterating = typeof a.iterations === "number" && a.iterations > 0;
    if (a.stepWeight !== undefined && a.stepWeights !== undefined) {
        c.fail(`${path}.stepWeights`, "set either stepWeight (fixed increment) or stepWeights (explicit schedule), not both");
    }
    if (stepping && iterating) {
        c.fail(`${path}.iterations`, "cannot be combined with stepWeight/stepWeights: iterations select Blue/Green or A/B, " +
            "step weights select a canary; remove one");
    }
    if (a.maxWeight !== undefined && Array.isArray(a.stepWeights)) {
        c.fail(`${path}.maxWeight`, "has no effect with stepWeights: the last step weight is the maximum; remove maxWeight");
    }
    if (a.maxWeight !== undefined && iterating) {
        c.fail(`${path}.maxWeight`, "has no effect with iterations (Blue/Green and A/B do not shift weights); remove maxWeight");
    }
    if (!stepping && !iterating && !skipAnalysis) {
        c.fail(path, "can never advance: set stepWeight (1-100), stepWeights, or iterations (>= 1); " +
            "or set skipAnalysis: true to promote without analysis");
    }
}

function checkAnalysisMatch(c: FailureCollector, path: string, match: unknown, iterations: unknown, rules: RouterFieldRules): void {
    if (!c.array(path, match)) {
        return;
    }
    if (!(typeof iterations === "number" && iterations > 0)) {
        c.fail(path, "needs analysis.iterations >= 1: header matches select A/B testing, which runs a number of iterations");
    }
    const headers = new Set<string>();
    match.forEach((entry, i) => {
        const at = `${path}[${i}]`;
        if (!c.object(at, entry)) {
            return;
        }
        c.keys(at, entry, KNOWN_FIELDS.analysisMatch);
        if (!isObject(entry.headers) || Object.keys(entry.headers).length === 0) {
            c.fail(`${at}.headers`, "must map at least one header name to {exact|prefix|suffix|regex: value} (A/B routes here match headers)");
            return;
        }
        for (const name of checkStringConditions(c, `${at}.headers`, entry.headers, "header")) {
            headers.add(name.toLowerCase());
        }
    });
    if (headers.size > rules.maxHeaderMatches) {
        c.fail(path, `matches ${headers.size} distinct headers; ${rules.label} allows at most ${rules.maxHeaderMatches} on one route match`);
    }
}

function checkMetric(c: FailureCollector, path: string, metric: unknown): void {
    if (!c.object(path, metric)) {
        return;
    }
    const m = metric;
    c.keys(path, m, KNOWN_FIELDS.metric);
    if (!c.string(`${path}.name`, m.name)) {
        return;
    }
    const builtin = (BUILTIN_METRICS as readonly string[]).includes(m.name);
    if (m.query !== undefined) {
        c.string(`${path}.query`, m.query);
    }
    if (m.templateRef !== undefined && c.object(`${path}.templateRef`, m.templateRef)) {
        c.keys(`${path}.templateRef`, m.templateRef, KNOWN_FIELDS.templateRef);
        c.dnsLabel(`${path}.templateRef.name`, m.templateRef.name);
        if (m.templateRef.namespace !== undefined) {
            c.dnsLabel(`${path}.templateRef.namespace`, m.templateRef.namespace);
        }
    }
    if (m.query !== undefined && m.templateRef !== undefined) {
        c.fail(path, "sets both query and templateRef; use one");
    }
    if (!builtin && m.query === undefined && m.templateRef === undefined) {
        c.fail(`${path}.name`, `is not a built-in metric (${BUILTIN_METRICS.join(", ")}); give the metric a query or a templateRef, got ${show(m.name)}`);
    }
    if (m.interval !== undefined) {
        c.duration(`${path}.interval`, m.interval, MIN_INTERVAL_MS);
    }
    if (m.templateVariables !== undefined) {
        c.stringMap(`${path}.templateVariables`, m.templateVariables);
    }
    if (m.thresholdRange !== undefined) {
        checkThresholdRange(c, `${path}.thresholdRange`, m.thresholdRange);
    } else if (m.threshold !== undefined) {
        c.number(`${path}.threshold`, m.threshold);
    } else {
        c.fail(`${path}.thresholdRange`, "is required: give min, max or both (or the deprecated threshold); a metric without a bound can never fail");
    }
}

function checkThresholdRange(c: FailureCollector, path: string, range: unknown): void {
    if (!c.object(path, range)) {
        return;
    }
    c.keys(path, range, KNOWN_FIELDS.thresholdRange);
    if (range.min === undefined && range.max === undefined) {
        c.fail(path, "must set min, max or both");
        return;
    }
    const minOk = range.min === undefined || c.number(`${path}.min`, range.min);
    const maxOk = range.max === undefined || c.number(`${path}.max`, range.max);
    if (minOk && maxOk && typeof range.min === "number" && typeof range.max === "number" && range.min > range.max) {
        c.fail(path, `min ${range.min} is greater than max ${range.max}; no value could pass`);
    }
}

function checkWebhook(c: FailureCollector, path: string, hook: unknown): void {
    if (!c.object(path, hook)) {
        return;
    }
    c.keys(path, hook, KNOWN_FIELDS.webhook, [], UNSUPPORTED_FIELDS.webhook);
    c.string(`${path}.name`, hook.name);
    if (hook.type !== undefined) {
        c.oneOf(`${path}.type`, hook.type, WEBHOOK_TYPES);
    }
    c.url(`${path}.url`, hook.url);
    if (hook.timeout !== undefined) {
        c.duration(`${path}.timeout`, hook.timeout, 1);
    }
    if (hook.retries !== undefined) {
        c.integer(`${path}.retries`, hook.retries, 0);
    }
    if (hook.muteAlert !== undefined) {
        c.boolean(`${path}.muteAlert`, hook.muteAlert);
    }
    if (hook.metadata !== undefined) {
        c.stringMap(`${path}.metadata`, hook.metadata);
    }
}

function checkAlert(c: FailureCollector, path: string, alert: unknown): void {
    if (!c.object(path, alert)) {
        return;
    }
    c.keys(path, alert, KNOWN_FIELDS.alert);
    c.string(`${path}.name`, alert.name);
    // A missing severity means info, as Flagger documents (its code sends nothing for one).
    if (alert.severity !== undefined) {
        c.oneOf(`${path}.severity`, alert.severity, SEVERITIES);
    }
    if (c.object(`${path}.providerRef`, alert.providerRef)) {
        c.keys(`${path}.providerRef`, alert.providerRef, KNOWN_FIELDS.providerRef);
        c.dnsLabel(`${path}.providerRef.name`, alert.providerRef.name);
        if (alert.providerRef.namespace !== undefined) {
            c.dnsLabel(`${path}.providerRef.namespace`, alert.providerRef.namespace);
        }
    }
}
