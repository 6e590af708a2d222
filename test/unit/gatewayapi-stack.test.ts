/**
 * A stack whose canaries route through the Gateway API (`Pulumi.gatewayapi.yaml`, and mixed with App Mesh):
 * the stack config's rules (mesh only with App Mesh apps, the Gateway it creates or references, VPC Lattice's
 * limits at preview named by field) and the objects it registers under mocks, checked against the carried CRDs.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { renderQuery } from "../../analysis/adapters/promql";
import { parseStackConfig, validateStackConfig } from "../../config/stack";
import { GatewayApiSchemas } from "../../playground/crd-schemas";
import { installMocks, manifests, settle, stackFileValues, type RecordingMocks } from "../../scripts/render";
import { assertFailureAt, itRejects, type RejectionRule } from "./config-failures";

type Main = (config?: unknown) => Record<string, any>;
type Manifest = Record<string, any>;

const ANALYSIS_TYPE = "pulumi-nodejs:dynamic/appmesh-canary:Analysis";
const schemas = new GatewayApiSchemas();

function gatewayStack(): Record<string, any> {
    return structuredClone(stackFileValues("gatewayapi"));
}

/** One App Mesh app (the dev stack's podinfo) beside one Gateway API app: a stack half way through a migration. */
function mixedStack(): Record<string, any> {
    const dev = stackFileValues("dev") as Record<string, any>;
    const gateway = gatewayStack();
    const workload = { containers: [{ name: "app", image: "ghcr.io/stefanprodan/podinfo:6.0.0", ports: [{ name: "http", containerPort: 9898 }] }] };
    const { targetRef: _t, autoscalerRef: _a, ...meshCanary } = dev.canary;
    const { targetRef: _g, autoscalerRef: _h, ...gatewayCanary } = gateway.canary;
    return {
        namespace: "test",
        mesh: dev.mesh,
        metricsServer: dev.metricsServer,
        gateway: { enabled: true, app: "web" },
        apps: {
            web: { workload, canary: meshCanary },
            api: { workload, canary: { ...gatewayCanary, service: { ...gatewayCanary.service, gatewayRefs: [{ name: "shared", namespace: "gateways" }] } } },
        },
    };
}

const CONFIG_RULES: RejectionRule<Record<string, any>>[] = [
    ["mesh without an App Mesh app", (c) => { c.mesh = "global"; }, "mesh", /no app routes through App Mesh .* keeps the namespace/],
    ["App Mesh gateway without an App Mesh app", (c) => { c.gateway = { enabled: true }; }, "gateway", /no app routes through App Mesh: set gateway.className/],
    ["App Mesh gateway settings with className", (c) => { c.gateway.image = "envoyproxy/envoy:v1.31.0"; }, "gateway.image", /setting of the App Mesh gateway/],
    ["className not a name", (c) => { c.gateway.className = "Envoy Gateway"; }, "gateway.className", /GatewayClass name/],
    ["lattice not a boolean", (c) => { c.gateway.lattice = "yes"; }, "gateway.lattice", /true or false/],
    ["lattice false on a Lattice class", (c) => { c.gateway.className = "amazon-vpc-lattice"; c.gateway.lattice = false; }, "gateway.lattice", /cannot be false/],
    ["gatewayRefs left out", (c) => { delete c.canary.service.gatewayRefs; }, "canary.service.gatewayRefs", /is required for the gatewayapi:v1 provider/],
    ["Lattice: regex header of an A/B test", (c) => {
        c.gateway.className = "amazon-vpc-lattice";
        c.canary.analysis = { interval: "1m", threshold: 5, iterations: 10, match: [{ headers: { cookie: { regex: "^(.*?;)?(canary=always)(;.*)?$" } } }] };
    }, "canary.analysis.match[0].headers", /VPC Lattice matches headers by exact value only/],
    ["Lattice (referenced Gateway): two service matches", (c) => {
        c.gateway = { enabled: false, lattice: true };
        c.canary.service.match = [{ uri: { prefix: "/api" } }, { uri: { prefix: "/web" } }];
    }, "canary.service.match", /VPC Lattice takes one match per route rule/],
];

const MIXED_RULES: RejectionRule<Record<string, any>>[] = [
    ["no mesh with an App Mesh app", (c) => { delete c.mesh; }, "mesh", /is required when an app routes through App Mesh/],
    ["App Mesh gateway fronting the Gateway API app", (c) => { c.gateway.app = "api"; }, "gateway.app", /routes through the Gateway API: the App Mesh gateway fronts an App Mesh app, one of web/],
];

describe("a Gateway API stack: config", () => {
    it("accepts Pulumi.gatewayapi.yaml and a stack mixing both routers", () => {
        assert.deepEqual(validateStackConfig(gatewayStack()), []);
        assert.deepEqual(validateStackConfig(mixedStack()), []);
    });

    it("creates the Gateway on port 80 by default, with no mesh; Lattice's class implies its limits", () => {
        const config = parseStackConfig(gatewayStack());
        assert.equal(config.mesh, undefined);
        assert.deepEqual(config.gateway, { enabled: true, className: "eg", lattice: false, image: config.gateway.image, replicas: 1, port: 80 });
        const { port: _port, ...rest } = gatewayStack().gateway;
        assert.equal(parseStackConfig({ ...gatewayStack(), gateway: { ...rest, className: "amazon-vpc-lattice" } }).gateway.lattice, true);
        assert.equal(parseStackConfig({ ...gatewayStack(), gateway: { ...rest } }).gateway.port, 80);
    });

    itRejects(CONFIG_RULES, gatewayStack, validateStackConfig);
    itRejects(MIXED_RULES, mixedStack, validateStackConfig);

    it("accepts the README's Gateway API excerpt and its Istio and Envoy metric templates, whose queries render", () => {
        const readme = fs.readFileSync(path.resolve(__dirname, "..", "..", "README.md"), "utf8");
        const section = readme.slice(readme.indexOf("### Routing through the Gateway API"), readme.indexOf("### Several apps in one stack"));
        const [excerpt, istio, envoy] = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]));
        const stack = gatewayStack();
        stack.gateway = { ...stack.gateway, ...excerpt.config["appmesh-canary:gateway"] };
        stack.canary = { ...stack.canary, ...excerpt.config["appmesh-canary:canary"], service: { ...stack.canary.service, ...excerpt.config["appmesh-canary:canary"].service } };
        stack.metricTemplates = { ...istio["appmesh-canary:metricTemplates"], ...envoy["appmesh-canary:metricTemplates"] };
        const names = Object.keys(stack.metricTemplates);
        assert.deepEqual(names, ["istio-error-rate", "istio-latency", "envoy-error-rate", "envoy-latency"]);
        stack.canary.analysis.metrics = names.map((name) => ({ name, templateRef: { name }, thresholdRange: { max: name.endsWith("latency") ? 500 : 1 }, interval: "1m" }));
        assert.deepEqual(validateStackConfig(stack), []);
        for (const name of names) {
            const query = renderQuery(stack.metricTemplates[name].query, { namespace: "test", name: "podinfo", target: "podinfo", service: "podinfo", interval: "1m" });
            assert.doesNotMatch(query, /\{\{/, name);
            assert.match(query, /"test"|test\.\*/, name);
        }
    });

    it("checks Lattice's limits only where the Gateway is Lattice's", () => {
        const stack = gatewayStack();
        stack.canary.service.match = [{ uri: { prefix: "/api" } }, { uri: { prefix: "/web" } }];
        assert.deepEqual(validateStackConfig(stack), []);
        stack.gateway.className = "amazon-vpc-lattice";
        assertFailureAt(validateStackConfig(stack), "canary.service.match", /VPC Lattice/);
    });
});

describe("a Gateway API stack: objects under mocks", function () {
    let mocks: RecordingMocks;
    let main: Main;

    before(async () => {
        mocks = await installMocks("gatewayapi");
        main = require("../../index");
    });

    async function render(raw: Record<string, any>) {
        mocks.clear();
        const outputs = main(parseStackConfig(raw));
        await settle();
        const resources = [...mocks.resources];
        return { objects: manifests(resources), resources, outputs };
    }

    const value = <T>(output: pulumi.Output<T>) => new Promise<T>((resolve) => output.apply((v) => { resolve(v); return v; }));

    it("registers the tutorial's objects with an HTTPRoute on the stack's Gateway, and no mesh object", async () => {
        const { objects } = await render(gatewayStack());
        assert.deepEqual(objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`).sort(), [
            "Deployment test/flagger-loadtester",
            "Deployment test/podinfo",
            "Deployment test/podinfo-primary",
            "Gateway test/canary-gateway",
            "HTTPRoute test/podinfo",
            "HorizontalPodAutoscaler test/podinfo",
            "HorizontalPodAutoscaler test/podinfo-primary",
            "Namespace /test",
            "Service test/flagger-loadtester",
            "Service test/podinfo",
            "Service test/podinfo-canary",
            "Service test/podinfo-primary",
        ]);
        const namespace = objects.find((o) => o.kind === "Namespace")!;
        assert.equal(namespace.metadata.labels, undefined, "no App Mesh injector label");
        const loadtester = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "flagger-loadtester")!;
        assert.equal(loadtester.spec.template.metadata.annotations, undefined, "no App Mesh port annotation");
    });

    it("declares a Gateway and an HTTPRoute the Gateway API CRDs accept, the route at resting weights with patchForce", async () => {
        const { objects } = await render(gatewayStack());
        const gateway = objects.find((o) => o.kind === "Gateway")!;
        const route = objects.find((o) => o.kind === "HTTPRoute")!;
        assert.deepEqual(schemas.problems("Gateway", gateway), []);
        assert.deepEqual(schemas.problems("HTTPRoute", route), []);
        assert.deepEqual(gateway.spec, { gatewayClassName: "eg", listeners: [{ name: "http", protocol: "HTTP", port: 80, allowedRoutes: { namespaces: { from: "Same" } } }] });
        assert.equal(route.metadata.annotations["pulumi.com/patchForce"], "true");
        assert.deepEqual(route.spec.parentRefs, [{ name: "canary-gateway" }]);
        assert.deepEqual(route.spec.rules[0].backendRefs.map((b: Manifest) => [b.name, b.weight]), [["podinfo-primary", 100], ["podinfo-canary", 0]]);
    });

    it("hands the analysis the same route as its router input, with Lattice's flag from the stack", async () => {
        const { resources, outputs } = await render(gatewayStack());
        const route = manifests(resources).find((o) => o.kind === "HTTPRoute")!;
        const analysis = resources.find((r) => r.type === ANALYSIS_TYPE && r.name === "podinfo-analysis")!;
        assert.deepEqual(analysis.inputs.router, { kind: "gatewayapi", route: route.spec });
        assert.deepEqual(await value(outputs.apps.podinfo.restingRoute), { kind: "gatewayapi", route: route.spec });
        const lattice = await render({ ...gatewayStack(), gateway: { enabled: true, className: "amazon-vpc-lattice" } });
        const latticeAnalysis = lattice.resources.find((r) => r.type === ANALYSIS_TYPE && r.name === "podinfo-analysis")!;
        assert.equal(latticeAnalysis.inputs.router.lattice, true);
    });

    it("references existing Gateways when it creates none", async () => {
        const stack = gatewayStack();
        stack.gateway = { enabled: false };
        stack.canary.service.gatewayRefs = [{ name: "shared", namespace: "gateways", sectionName: "https" }];
        const { objects } = await render(stack);
        assert.equal(objects.filter((o) => o.kind === "Gateway").length, 0);
        assert.deepEqual(objects.find((o) => o.kind === "HTTPRoute")!.spec.parentRefs, [{ name: "shared", namespace: "gateways", sectionName: "https" }]);
    });

    it("mixes both routers: the mesh, the App Mesh gateway and the load tester's backends for the App Mesh app; an HTTPRoute for the other", async () => {
        const { objects } = await render(mixedStack());
        const names = (kind: string) => objects.filter((o) => o.kind === kind).map((o) => o.metadata.name).sort();
        assert.deepEqual(names("HTTPRoute"), ["api"]);
        assert.deepEqual(names("VirtualRouter"), ["web", "web-canary"]);
        assert.deepEqual(names("VirtualNode"), ["flagger-loadtester", "web-canary", "web-primary"]);
        assert.deepEqual(names("GatewayRoute"), ["web"]);
        assert.deepEqual(names("Mesh"), ["global"]);
        const loadtesterNode = objects.find((o) => o.kind === "VirtualNode" && o.metadata.name === "flagger-loadtester")!;
        assert.deepEqual(loadtesterNode.spec.backends.map((b: Manifest) => b.virtualService.virtualServiceRef.name), ["web", "web-canary"]);
    });
});
