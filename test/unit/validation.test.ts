import * as assert from "node:assert/strict";
import { parseStackConfig, projectConfigKeys, rawStackConfig, validateStackConfig } from "../../config/stack";
import { WiredRefs, parseCanarySpec, validateCanarySpec } from "../../analysis/spec/validation";
import { ROUTER_FIELD_RULES } from "../../analysis/spec/router-fields";
import { UNKNOWN_VALUE, ValidationFailure } from "../../analysis/spec/failures";
import { PODINFO_PORTS } from "../../components/podinfo";
import { stackFileConfig, stackFileValues } from "../../scripts/render";
import { itRejects, type RejectionRule } from "./config-failures";

const REFS: WiredRefs = { deployment: "podinfo", autoscaler: "podinfo" };

/** The dev stack's canary spec (the tutorial's), freshly copied. */
function tutorialCanary(): any {
    return structuredClone(stackFileValues("dev").canary);
}

function failuresAfter(edit: (spec: any) => void): ValidationFailure[] {
    const spec = tutorialCanary();
    edit(spec);
    return validateCanarySpec(spec, "canary", REFS);
}

/** Each rule: an edit of the tutorial spec, the path it must name, and a phrase of the reason (allowed values). */
const CANARY_RULES: [string, (s: any) => void, string, RegExp][] = [
    ["unknown field (typo)", (s) => { s.analysis.stepweight = 5; }, "canary.analysis.stepweight", /not a known field; allowed: interval, threshold/],
    ["unknown top-level field", (s) => { s.servce = {}; }, "canary.servce", /not a known field/],
    ["unsupported Flagger field", (s) => { s.suspend = true; }, "canary.suspend", /does not support/],
    ["unsupported service field", (s) => { s.service.portDiscovery = true; }, "canary.service.portDiscovery", /does not support/],
    ["other provider", (s) => { s.provider = "istio"; }, "canary.provider", /must be one of appmesh:v1beta2, gatewayapi:v1 \(the routers/],
    ["v1beta1 provider", (s) => { s.provider = "appmesh"; }, "canary.provider", /v1beta1 .* not supported/],
    ["metricsServer not a URL", (s) => { s.metricsServer = "prometheus:9090"; }, "canary.metricsServer", /absolute http/],
    ["progressDeadlineSeconds below 1", (s) => { s.progressDeadlineSeconds = 0; }, "canary.progressDeadlineSeconds", /integer >= 1/],
    ["skipAnalysis not boolean", (s) => { s.skipAnalysis = "yes"; }, "canary.skipAnalysis", /true or false/],
    ["targetRef elsewhere", (s) => { s.targetRef.name = "other"; }, "canary.targetRef.name", /must be "podinfo"/],
    ["targetRef kind", (s) => { s.targetRef.kind = "DaemonSet"; }, "canary.targetRef.kind", /must be Deployment/],
    ["targetRef apiVersion", (s) => { s.targetRef.apiVersion = "apps/v1beta1"; }, "canary.targetRef.apiVersion", /must be apps\/v1/],
    ["autoscalerRef elsewhere", (s) => { s.autoscalerRef.name = "other-hpa"; }, "canary.autoscalerRef.name", /must be "podinfo"/],
    ["autoscalerRef kind", (s) => { s.autoscalerRef.kind = "ScaledObject"; }, "canary.autoscalerRef.kind", /HorizontalPodAutoscaler/],
    ["service missing", (s) => { delete s.service; }, "canary.service", /is required/],
    ["service name not a DNS label", (s) => { s.service.name = "Pod_Info"; }, "canary.service.name", /DNS label/],
    ["service name too long for -primary", (s) => { s.service.name = "a".repeat(56); }, "canary.service.name", /at most 55/],
    ["port above 65535", (s) => { s.service.port = 70000; }, "canary.service.port", /from 1 to 65535/],
    ["port 0", (s) => { s.service.port = 0; }, "canary.service.port", /from 1 to 65535/],
    ["port as string", (s) => { s.service.port = "9898"; }, "canary.service.port", /integer from 1 to 65535/],
    ["targetPort out of range", (s) => { s.service.targetPort = 0; }, "canary.service.targetPort", /from 1 to 65535/],
    ["targetPort bad name", (s) => { s.service.targetPort = "HTTP PORT"; }, "canary.service.targetPort", /port number .* or a container port name/],
    ["portName invalid", (s) => { s.service.portName = "http_web"; }, "canary.service.portName", /port name/],
    ["service timeout not a duration", (s) => { s.service.timeout = "15"; }, "canary.service.timeout", /duration such as 30s/],
    ["negative retry attempts", (s) => { s.service.retries.attempts = -1; }, "canary.service.retries.attempts", /integer >= 0/],
    ["perTryTimeout not a duration", (s) => { s.service.retries.perTryTimeout = "five"; }, "canary.service.retries.perTryTimeout", /duration/],
    ["unknown retry event", (s) => { s.service.retries.retryOn = "gateway-error,5xx"; }, "canary.service.retries.retryOn",
        /"5xx"; App Mesh allows server-error, gateway-error, client-error, stream-error/],
    ["two URI matches", (s) => { s.service.match.push({ uri: { prefix: "/api" } }); }, "canary.service.match", /give exactly one/],
    ["prefix without slash", (s) => { s.service.match[0].uri.prefix = "api"; }, "canary.service.match[0].uri.prefix", /starting with "\/"/],
    ["exact URI match", (s) => { s.service.match[0].uri = { exact: "/" }; }, "canary.service.match[0].uri.exact", /allowed: prefix/],
    ["backend not a string", (s) => { s.service.backends = ["backend", 3]; }, "canary.service.backends[1]", /non-empty string/],
    ["apex label not a string", (s) => { s.service.apex = { labels: { tier: 1 } }; }, "canary.service.apex.labels.tier", /must be a string/],
    ["interval not a duration", (s) => { s.analysis.interval = "1 minute"; }, "canary.analysis.interval", /duration such as 30s, 1m/],
    ["interval below 1s", (s) => { s.analysis.interval = "500ms"; }, "canary.analysis.interval", /at least 1s/],
    ["threshold below 1", (s) => { s.analysis.threshold = 0; }, "canary.analysis.threshold", /integer >= 1/],
    ["maxWeight above 100", (s) => { s.analysis.maxWeight = 150; }, "canary.analysis.maxWeight", /from 1 to 100/],
    ["maxWeight 0", (s) => { s.analysis.maxWeight = 0; }, "canary.analysis.maxWeight", /from 1 to 100/],
    ["negative stepWeight", (s) => { s.analysis.stepWeight = -5; }, "canary.analysis.stepWeight", /from 0 to 100/],
    ["stepWeights not increasing", (s) => { delete s.analysis.stepWeight; s.analysis.stepWeights = [5, 10, 10]; },
        "canary.analysis.stepWeights[2]", /greater than the previous weight 10/],
    ["stepWeights above 100", (s) => { delete s.analysis.stepWeight; s.analysis.stepWeights = [50, 120]; }, "canary.analysis.stepWeights[1]", /from 1 to 100/],
    ["stepWeights empty", (s) => { delete s.analysis.stepWeight; s.analysis.stepWeights = []; }, "canary.analysis.stepWeights", /at least one weight/],
    ["stepWeight and stepWeights", (s) => { s.analysis.stepWeights = [5, 10]; }, "canary.analysis.stepWeights", /either stepWeight .* or stepWeights/],
    ["maxWeight with stepWeights", (s) => { delete s.analysis.stepWeight; s.analysis.stepWeights = [5, 10]; }, "canary.analysis.maxWeight",
        /no effect with stepWeights: the last step weight is the maximum/],
    ["maxWeight with iterations", (s) => { delete s.analysis.stepWeight; s.analysis.iterations = 10; }, "canary.analysis.maxWeight",
        /no effect with iterations/],
    ["stepWeightPromotion above 100", (s) => { s.analysis.stepWeightPromotion = 101; }, "canary.analysis.stepWeightPromotion", /from 1 to 100/],
    ["negative iterations", (s) => { delete s.analysis.stepWeight; s.analysis.iterations = -1; }, "canary.analysis.iterations", /integer >= 0/],
    ["iterations with stepWeight", (s) => { s.analysis.iterations = 10; }, "canary.analysis.iterations", /cannot be combined with stepWeight/],
    ["can never advance", (s) => { delete s.analysis.stepWeight; }, "canary.analysis", /can never advance: set stepWeight .* stepWeights, or iterations/],
    ["match without iterations", (s) => { s.analysis.match = [{ headers: { "x-canary": { exact: "insider" } } }]; },
        "canary.analysis.match", /needs analysis.iterations >= 1/],
    ["header match with two methods", (s) => abTesting(s, { "x-canary": { exact: "a", prefix: "b" } }),
        "canary.analysis.match[0].headers.x-canary", /exactly one of exact, prefix, suffix, regex, got exact, prefix/],
    ["header match with none", (s) => abTesting(s, { "x-canary": {} }), "canary.analysis.match[0].headers.x-canary", /got none/],
    ["header match range", (s) => abTesting(s, { "x-canary": { range: { start: 1 } } }), "canary.analysis.match[0].headers.x-canary.range", /allowed: exact/],
    ["bad header name", (s) => abTesting(s, { "x canary": { exact: "a" } }), "canary.analysis.match[0].headers.x canary", /valid HTTP header name/],
    ["match without headers", (s) => { abTesting(s, {}); }, "canary.analysis.match[0].headers", /at least one header/],
    ["match on uri", (s) => { abTesting(s, { "x-canary": { exact: "a" } }); s.analysis.match[0].uri = { prefix: "/" }; },
        "canary.analysis.match[0].uri", /allowed: headers/],
    ["too many headers", (s) => abTesting(s, Object.fromEntries([...Array(11).keys()].map((i) => [`x-h${i}`, { exact: "1" }]))),
        "canary.analysis.match", /at most 10/],
    ["primaryReadyThreshold 0", (s) => { s.analysis.primaryReadyThreshold = 0; }, "canary.analysis.primaryReadyThreshold", /from 1 to 100/],
    ["canaryReadyThreshold above 100", (s) => { s.analysis.canaryReadyThreshold = 120; }, "canary.analysis.canaryReadyThreshold", /from 1 to 100/],
    ["metric without name", (s) => { delete s.analysis.metrics[0].name; }, "canary.analysis.metrics[0].name", /non-empty string/],
    ["metric neither built-in nor query", (s) => { s.analysis.metrics[0].name = "error-rate"; }, "canary.analysis.metrics[0].name",
        /not a built-in metric \(request-success-rate, request-duration\); give the metric a query or a templateRef/],
    ["metric with query and templateRef", (s) => { s.analysis.metrics[0].query = "vector(1)"; s.analysis.metrics[0].templateRef = { name: "t" }; },
        "canary.analysis.metrics[0]", /both query and templateRef/],
    ["empty thresholdRange", (s) => { s.analysis.metrics[0].thresholdRange = {}; }, "canary.analysis.metrics[0].thresholdRange", /min, max or both/],
    ["thresholdRange min above max", (s) => { s.analysis.metrics[0].thresholdRange = { min: 99, max: 90 }; },
        "canary.analysis.metrics[0].thresholdRange", /greater than max/],
    ["thresholdRange bound not a number", (s) => { s.analysis.metrics[0].thresholdRange = { min: "99" }; },
        "canary.analysis.metrics[0].thresholdRange.min", /must be a number/],
    ["metric without a bound", (s) => { delete s.analysis.metrics[1].thresholdRange; }, "canary.analysis.metrics[1].thresholdRange", /is required/],
    ["metric interval not a duration", (s) => { s.analysis.metrics[1].interval = "30"; }, "canary.analysis.metrics[1].interval", /duration/],
    ["duplicate metric names", (s) => { s.analysis.metrics[1].name = "request-success-rate"; }, "canary.analysis.metrics[1].name", /must be unique/],
    ["unknown webhook type", (s) => { s.analysis.webhooks[0].type = "pre-rollout-check"; }, "canary.analysis.webhooks[0].type",
        /one of confirm-rollout, pre-rollout, rollout, confirm-traffic-increase, confirm-promotion, post-rollout, rollback, event/],
    ["relative webhook url", (s) => { s.analysis.webhooks[0].url = "/gate/check"; }, "canary.analysis.webhooks[0].url", /absolute http/],
    ["non-http webhook url", (s) => { s.analysis.webhooks[0].url = "ftp://flagger-loadtester.test/"; }, "canary.analysis.webhooks[0].url", /absolute http/],
    ["webhook timeout not a duration", (s) => { s.analysis.webhooks[1].timeout = "5"; }, "canary.analysis.webhooks[1].timeout", /duration/],
    ["negative webhook retries", (s) => { s.analysis.webhooks[1].retries = -2; }, "canary.analysis.webhooks[1].retries", /integer >= 0/],
    ["webhook metadata not a string", (s) => { s.analysis.webhooks[1].metadata.logCmdOutput = true; },
        "canary.analysis.webhooks[1].metadata.logCmdOutput", /quote numbers and booleans/],
    ["webhook without name", (s) => { delete s.analysis.webhooks[1].name; }, "canary.analysis.webhooks[1].name", /non-empty string/],
    ["duplicate webhook names", (s) => { s.analysis.webhooks[1].name = "acceptance-test"; }, "canary.analysis.webhooks[1].name", /must be unique/],
    ["muteAlert not boolean", (s) => { s.analysis.webhooks[0].muteAlert = "no"; }, "canary.analysis.webhooks[0].muteAlert", /true or false/],
    ["alert severity unknown", (s) => { s.analysis.alerts = [{ name: "a", severity: "critical", providerRef: { name: "slack" } }]; },
        "canary.analysis.alerts[0].severity", /one of info, warn, error/],
    ["alert without providerRef", (s) => { s.analysis.alerts = [{ name: "a", severity: "info" }]; }, "canary.analysis.alerts[0].providerRef", /must be an object/],
];

function abTesting(spec: any, headers: Record<string, unknown>): void {
    delete spec.analysis.stepWeight;
    delete spec.analysis.maxWeight;
    spec.analysis.iterations = 10;
    spec.analysis.match = [{ headers }];
}

describe("validateCanarySpec", () => {
    it("accepts the tutorial's Canary spec pasted unchanged (targetRef, autoscalerRef, rewrite)", () => {
        assert.deepEqual(validateCanarySpec(tutorialCanary(), "canary", REFS), []);
    });

    it("accepts the tutorial's A/B variant", () => {
        const spec = tutorialCanary();
        spec.analysis = {
            interval: "1m", threshold: 10, iterations: 10,
            match: [{ headers: { "x-canary": { exact: "insider" } } }],
            webhooks: [{ name: "load-test", url: "http://flagger-loadtester.test/", metadata: { cmd: "hey -z 1m -q 10 -c 2 -H 'X-Canary: insider' http://podinfo.test:9898/" } }],
        };
        assert.deepEqual(validateCanarySpec(spec, "canary", REFS), []);
    });

    it("accepts, and ignores, the Flagger fields App Mesh ignores", () => {
        const spec = tutorialCanary();
        spec.analysis.mirror = true;
        spec.analysis.mirrorWeight = 10;
        spec.service.meshName = "global";
        spec.ingressRef = { apiVersion: "networking.k8s.io/v1", kind: "Ingress", name: "podinfo" };
        assert.deepEqual(validateCanarySpec(spec, "canary", REFS), []);
        assert.ok(ROUTER_FIELD_RULES["appmesh:v1beta2"].service.ignored.includes("rewrite"));
        assert.ok(ROUTER_FIELD_RULES["appmesh:v1beta2"].analysis.ignored.includes("mirror"));
    });

    it("accepts a spec without targetRef/autoscalerRef, and any names when the caller wires none", () => {
        const spec = tutorialCanary();
        delete spec.targetRef;
        delete spec.autoscalerRef;
        assert.deepEqual(validateCanarySpec(spec, "canary", REFS), []);
        const other = tutorialCanary();
        other.targetRef.name = "anything";
        assert.deepEqual(validateCanarySpec(other), []);
    });

    it("accepts an alert without severity, which means info", () => {
        const failures = failuresAfter((s) => { s.analysis.alerts = [{ name: "a", providerRef: { name: "slack" } }]; });
        assert.deepEqual(failures, []);
    });

    it("allows a short interval for the playground and a spec that skips the analysis", () => {
        assert.deepEqual(failuresAfter((s) => { s.analysis.interval = "1s"; }), []);
        assert.deepEqual(failuresAfter((s) => { s.skipAnalysis = true; delete s.analysis.stepWeight; }), []);
    });

    for (const [rule, edit, property, reason] of CANARY_RULES) {
        it(`rejects: ${rule} (${property})`, () => {
            const failures = failuresAfter(edit);
            const match = failures.find((f) => f.property === property);
            assert.ok(match, `expected a failure at ${property}, got ${JSON.stringify(failures)}`);
            assert.match(match.reason, reason);
        });
    }

    it("skips values Pulumi does not know yet (preview) and still reports the known bad ones", () => {
        const spec = tutorialCanary();
        spec.service.port = UNKNOWN_VALUE;
        spec.analysis.stepWeight = UNKNOWN_VALUE;
        spec.analysis.webhooks[0] = UNKNOWN_VALUE;
        spec.analysis.maxWeight = 0;
        assert.deepEqual(validateCanarySpec(spec, "canary", REFS).map((f) => f.property), ["canary.analysis.maxWeight"]);
        assert.deepEqual(validateCanarySpec(UNKNOWN_VALUE), []);
    });

    it("rejects a value that is not an object at the given path", () => {
        assert.deepEqual(validateCanarySpec("podinfo", "spec"), [{ property: "spec", reason: 'must be an object, got "podinfo"' }]);
    });

    it("is pure: leaves its input untouched and answers the same every time", () => {
        const spec = tutorialCanary();
        spec.analysis.maxWeight = 0;
        spec.service.retries.retryOn = "5xx";
        const before = structuredClone(spec);
        const first = validateCanarySpec(spec, "canary", REFS);
        assert.equal(first.length, 2);
        assert.deepEqual(validateCanarySpec(spec, "canary", REFS), first);
        assert.deepEqual(spec, before);
    });
});

describe("service ports of the wired app", () => {
    const WIRED: WiredRefs = { ...REFS, containerPorts: PODINFO_PORTS };
    const failures = (service: Record<string, unknown>) => {
        const spec = tutorialCanary();
        Object.assign(spec.service, service);
        return validateCanarySpec(spec, "canary", WIRED);
    };

    it("accepts the tutorial's port, and a targetPort naming or numbering a container port", () => {
        assert.deepEqual(failures({}), []);
        assert.deepEqual(failures({ port: 80, targetPort: 9898 }), []);
        assert.deepEqual(failures({ port: 9898, targetPort: "http" }), []);
    });

    it("rejects a port podinfod does not listen on, listing the ones it does", () => {
        assert.deepEqual(failures({ port: 8080 }), [{
            property: "canary.service.port",
            reason: "must be a port the app's container listens on: 9898 (http), 9797 (http-metrics), 9999 (grpc); got 8080",
        }]);
        assert.deepEqual(failures({ port: 80, targetPort: 8080 }).map((f) => f.property), ["canary.service.targetPort"]);
        assert.match(failures({ targetPort: "web" })[0].reason, /must name a port of the app's container: 9898 \(http\)/);
    });

    it("rejects a named targetPort beside a port App Mesh cannot reach the app on", () => {
        const [failure] = failures({ port: 80, targetPort: "http" });
        assert.equal(failure.property, "canary.service.port");
        assert.match(failure.reason, /App Mesh listens on port when targetPort is a name/);
    });

    it("reports an out-of-range port once, and checks nothing without known container ports", () => {
        assert.equal(failures({ port: 70000 }).length, 1);
        const spec = tutorialCanary();
        spec.service.port = 8080;
        assert.deepEqual(validateCanarySpec(spec, "canary", REFS), []);
    });
});

describe("parseCanarySpec", () => {
    it("strips the references the program wires and keeps everything else", () => {
        const spec = parseCanarySpec(tutorialCanary(), REFS);
        assert.equal((spec as any).targetRef, undefined);
        assert.equal((spec as any).autoscalerRef, undefined);
        assert.equal(spec.service.port, 9898);
        assert.deepEqual(spec.service.rewrite, { uri: "/" });
        assert.equal(spec.analysis?.stepWeight, 5);
    });

    it("throws one error listing every failure with its path", () => {
        const spec = tutorialCanary();
        spec.analysis.maxWeight = 150;
        spec.service.port = 0;
        spec.analysis.webhooks[0].type = "pre";
        assert.throws(() => parseCanarySpec(spec, REFS), (err: Error) => {
            assert.match(err.message, /invalid canary spec \(3 problems\)/);
            assert.match(err.message, /canary\.service\.port: must be an integer from 1 to 65535, got 0/);
            assert.match(err.message, /canary\.analysis\.maxWeight: must be an integer from 1 to 100, got 150/);
            assert.match(err.message, /canary\.analysis\.webhooks\[0\]\.type: must be one of/);
            return true;
        });
    });
});

const TEMPLATE = {
    provider: { type: "prometheus", address: "http://appmesh-prometheus.appmesh-system:9090", headers: { "X-Scope-OrgID": "team-a" } },
    query: "sum(rate(http_requests_total{status=~\"5..\"}[{{ interval }}]))",
};
const PROVIDER = { type: "slack", address: "https://hooks.slack.com/services/T000/B000/XXXX", channel: "on-call", username: "flagger" };

describe("stack config", () => {
    const dev = (): any => structuredClone(stackFileValues("dev"));

    it("accepts the dev and prod stack files", () => {
        for (const stack of ["dev", "prod", "eks"]) {
            assert.deepEqual(validateStackConfig(stackFileValues(stack)), [], stack);
        }
    });

    it("reads values as Pulumi stores them (objects as JSON text, strings as is)", () => {
        const stored = stackFileConfig("dev");
        const raw = rawStackConfig((key) => stored[`appmesh-canary:${key}`]);
        const config = parseStackConfig(raw);
        assert.equal(config.namespace, "test");
        assert.deepEqual(config.mesh, { name: "global", accessLog: false });
        assert.equal(config.apps.length, 1);
        assert.equal(config.apps[0].name, "podinfo");
        assert.equal(config.apps[0].workload.podTemplate.spec?.containers[0].image, "ghcr.io/stefanprodan/podinfo:6.0.0");
        assert.equal(config.apps[0].canary.metricsServer, "http://appmesh-prometheus.appmesh-system:9090");
        assert.deepEqual(config.gateway, { enabled: true, lattice: false, image: "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.0-prod", replicas: 1, port: 8088, app: "podinfo" });
    });

    it("reads every key the stack sets under the project, so a misspelt one is reported", () => {
        const stored = { ...stackFileConfig("dev"), "appmesh-canary:loadTester": '{"enabled":false}', "kubernetes:context": "kind" };
        const present = projectConfigKeys(Object.keys(stored));
        assert.ok(present.includes("loadTester") && !present.includes("context"));
        const raw = rawStackConfig((key) => stored[`appmesh-canary:${key}` as keyof typeof stored], present);
        assert.deepEqual(raw.loadTester, { enabled: false });
        assert.deepEqual(validateStackConfig(raw).map((f) => f.property), ["loadTester"]);
    });

    it("applies the tutorial's defaults to gateway and loadtester, and takes the mesh name as a string", () => {
        const raw = dev();
        delete raw.gateway;
        delete raw.loadtester;
        delete raw.metricsServer;
        raw.mesh = "global";
        const config = parseStackConfig(raw);
        assert.equal(config.gateway.port, 8088);
        assert.equal(config.loadtester.image, "ghcr.io/fluxcd/flagger-loadtester:0.34.0");
        assert.equal(config.apps[0].canary.metricsServer, "http://appmesh-prometheus.appmesh-system:9090");
        assert.deepEqual(config.mesh, { name: "global", accessLog: false });
    });

    const STACK_RULES: RejectionRule<any>[] = [
        ["namespace missing", (c) => { delete c.namespace; }, "namespace", /is required/],
        ["namespace not a DNS label", (c) => { c.namespace = "Test_NS"; }, "namespace", /DNS label/],
        ["mesh missing", (c) => { delete c.mesh; }, "mesh", /is required/],
        ["mesh name invalid", (c) => { c.mesh.name = "Global Mesh"; }, "mesh.name", /DNS label/],
        ["mesh unknown field", (c) => { c.mesh.egress = "DROP_ALL"; }, "mesh.egress", /allowed: name, accessLog/],
        ["image missing", (c) => { delete c.image; }, "image", /is required/],
        ["image with spaces", (c) => { c.image = "podinfo 6.0.0"; }, "image", /container image reference/],
        ["metricsServer not a URL", (c) => { c.metricsServer = "appmesh-prometheus:9090"; }, "metricsServer", /absolute http/],
        ["metricsServer in two places", (c) => { c.canary.metricsServer = "http://prometheus:9090"; }, "canary.metricsServer", /disagrees with metricsServer/],
        ["gateway port out of range", (c) => { c.gateway.port = 80800; }, "gateway.port", /from 1 to 65535/],
        ["gateway unknown field", (c) => { c.gateway.replica = 2; }, "gateway.replica", /allowed: enabled, className, lattice, app, image, replicas, port/],
        ["gateway enabled not boolean", (c) => { c.gateway.enabled = "true"; }, "gateway.enabled", /true or false/],
        ["loadtester replicas 0", (c) => { c.loadtester.replicas = 0; }, "loadtester.replicas", /integer >= 1/],
        ["canary missing", (c) => { delete c.canary; }, "canary", /is required/],
        ["retryRevision not a revision", (c) => { c.retryRevision = "v6.0.1"; }, "retryRevision", /16 hex digits, e\.g\. 40a857abea41bb8f\), got "v6\.0\.1"/],
        ["metricTemplates not a map", (c) => { c.metricTemplates = ["errors"]; }, "metricTemplates", /must be an object/],
        ["template name not a DNS label", (c) => { c.metricTemplates = { Errors: TEMPLATE }; }, "metricTemplates.Errors", /DNS label/],
        ["template without query", (c) => { c.metricTemplates = { errors: { ...TEMPLATE, query: "" } }; }, "metricTemplates.errors.query", /non-empty string/],
        ["template provider address", (c) => { c.metricTemplates = { errors: { ...TEMPLATE, provider: { address: "prometheus:9090" } } }; },
            "metricTemplates.errors.provider.address", /absolute http/],
        ["template provider type", (c) => { c.metricTemplates = { errors: { ...TEMPLATE, provider: { type: "datadog", address: "http://p:9090" } } }; },
            "metricTemplates.errors.provider.type", /one of prometheus/],
        ["template username without password", (c) => { c.metricTemplates = { errors: { ...TEMPLATE, provider: { address: "http://p:9090", username: "u" } } }; },
            "metricTemplates.errors.provider", /both username and password/],
        ["template token and basic auth", (c) => {
            c.metricTemplates = { errors: { ...TEMPLATE, provider: { address: "http://p:9090", token: "t", username: "u", password: "p" } } };
        }, "metricTemplates.errors.provider", /either token .* or username\/password/],
        ["alert provider type", (c) => { c.alertProviders = { oncall: { type: "pagerduty", address: "https://hooks.example.com/x" } }; },
            "alertProviders.oncall.type", /one of slack, msteams, discord, rocket, gchat/],
        ["alert provider without address", (c) => { c.alertProviders = { oncall: { type: "slack" } }; }, "alertProviders.oncall.address", /absolute http/],
        ["alert provider proxy", (c) => { c.alertProviders = { oncall: { ...PROVIDER, proxy: "squid:3128" } }; }, "alertProviders.oncall.proxy", /absolute http/],
        ["alert provider unknown field", (c) => { c.alertProviders = { oncall: { ...PROVIDER, webhook: "x" } }; }, "alertProviders.oncall.webhook",
            /allowed: type, address, channel, username, proxy, token/],
        ["templateRef to an undefined template", (c) => {
            c.metricTemplates = { errors: TEMPLATE };
            c.canary.analysis.metrics.push({ name: "error-rate", templateRef: { name: "latency" }, thresholdRange: { max: 1 } });
        }, "canary.analysis.metrics[2].templateRef.name", /names no template in metricTemplates \(defined: errors\)/],
        ["providerRef to an undefined provider", (c) => {
            c.canary.analysis.alerts = [{ name: "a", severity: "error", providerRef: { name: "oncall" } }];
        }, "canary.analysis.alerts[0].providerRef.name", /names no provider in alertProviders \(defined: none\)/],
        ["canary field inside stack config", (c) => { c.canary.analysis.maxWeight = 101; }, "canary.analysis.maxWeight", /from 1 to 100/],
        ["misspelt config key (its value would be silently defaulted)", (c) => { c.metricServer = c.metricsServer; delete c.metricsServer; },
            "metricServer", /is not a config key of this program \(appmesh-canary:metricServer\); allowed: namespace, mesh, apps, image, metricsServer, .*, cluster$/],
    ];
    itRejects(STACK_RULES, dev, validateStackConfig);

    it("accepts metric templates and alert providers that the canary spec references", () => {
        const raw = dev();
        raw.metricTemplates = { errors: TEMPLATE };
        raw.alertProviders = { oncall: PROVIDER };
        raw.canary.analysis.metrics.push({ name: "error-rate", templateRef: { name: "errors" }, thresholdRange: { max: 1 }, interval: "1m" });
        raw.canary.analysis.alerts = [{ name: "on-call", severity: "warn", providerRef: { name: "oncall" } }];
        const config = parseStackConfig(raw);
        assert.deepEqual(config.metricTemplates, { errors: TEMPLATE });
        assert.deepEqual(config.alertProviders, { oncall: PROVIDER });
        assert.deepEqual(parseStackConfig(dev()).metricTemplates, {});
    });

    it("reports every bad field of the whole config in one error", () => {
        const raw = dev();
        raw.namespace = "TEST";
        raw.gateway.port = 0;
        raw.canary.analysis.interval = "soon";
        assert.throws(() => parseStackConfig(raw), (err: Error) => {
            assert.match(err.message, /invalid stack config \(keys appmesh-canary:<path>\) \(3 problems\)/);
            for (const path of ["namespace", "gateway.port", "canary.analysis.interval"]) {
                assert.ok(err.message.includes(`  - ${path}: `), `${path} missing from ${err.message}`);
            }
            return true;
        });
    });
});
