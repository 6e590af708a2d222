import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { readWeights, withWeights } from "../../analysis/routers/appmesh/routes";
import { routerNodes } from "../../analysis/spec/names";
import { CanarySpec } from "../../analysis/spec/canary";
import { parseStackConfig } from "../../config/stack";
import { AppMeshSchemas, AppMeshKind } from "../../playground/crd-schemas";
import { RecordingMocks, RegisteredResource, installMocks, manifests, redactSecrets, settle, stackFileConfig, stackFileValues } from "../../scripts/render";

// Mocks first; the program and the components are loaded afterwards (see before()).
type Main = (config?: unknown, opts?: pulumi.ComponentResourceOptions) => Record<string, any>;
let main: Main;
let mocks: RecordingMocks;
let components: {
    appmesh: typeof import("../../analysis/routers/appmesh/specs");
    canary: typeof import("../../components/canary");
    names: typeof import("../../analysis/spec/names");
    workload: typeof import("../../components/workload");
    gateway: typeof import("../../components/gateway");
    loadtester: typeof import("../../components/loadtester");
    k8s: typeof import("@pulumi/kubernetes");
};

const schemas = new AppMeshSchemas();

type Manifest = Record<string, any>;

/** Builds a stack from config values under mocks and returns its manifests and raw registrations. */
async function build(values: Record<string, unknown>, opts?: pulumi.ComponentResourceOptions): Promise<{ objects: Manifest[]; resources: RegisteredResource[]; outputs: Record<string, any> }> {
    mocks.clear();
    const outputs = main(parseStackConfig(values), opts);
    await settle();
    const resources = [...mocks.resources];
    return { objects: manifests(resources), resources, outputs };
}

function find(objects: Manifest[], kind: string, name: string): Manifest {
    const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
    assert.equal(found.length, 1, `expected one ${kind} ${name}, found ${found.length}`);
    return found[0];
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
    return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function value<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((v) => { resolve(v); return v; }));
}

const APPMESH_KINDS = new Set(["Mesh", "VirtualNode", "VirtualRouter", "VirtualService", "VirtualGateway", "GatewayRoute"]);

function assertValidAppMesh(objects: Manifest[]): number {
    let checked = 0;
    for (const o of objects.filter((x) => APPMESH_KINDS.has(x.kind))) {
        assert.deepEqual(schemas.problems(o.kind as AppMeshKind, o), [], `${o.kind} ${o.metadata.name}`);
        checked++;
    }
    return checked;
}

describe("stack under mocks", function () {
    let dev: { objects: Manifest[]; resources: RegisteredResource[]; outputs: Record<string, any> };

    before(async () => {
        mocks = await installMocks("dev");
        pulumi.runtime.setAllConfig(stackFileConfig("dev"));
        main = require("../../index");
        components = {
            appmesh: require("../../analysis/routers/appmesh/specs"),
            canary: require("../../components/canary"),
            names: require("../../analysis/spec/names"),
            workload: require("../../components/workload"),
            gateway: require("../../components/gateway"),
            loadtester: require("../../components/loadtester"),
            k8s: require("@pulumi/kubernetes"),
        };
        // The program as Pulumi runs it: no arguments, config from the stack file.
        mocks.clear();
        const outputs = main();
        await settle();
        dev = { objects: manifests(mocks.resources), resources: [...mocks.resources], outputs };
    });

    it("registers every object of the tutorial, each with an explicit name", () => {
        const got = dev.objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`).sort();
        assert.deepEqual(got, [
            "Deployment test/appmesh-gateway",
            "Deployment test/flagger-loadtester",
            "Deployment test/podinfo",
            "Deployment test/podinfo-primary",
            "GatewayRoute test/podinfo",
            "HorizontalPodAutoscaler test/podinfo",
            "HorizontalPodAutoscaler test/podinfo-primary",
            "Mesh /global",
            "Namespace /test",
            "Service test/appmesh-gateway",
            "Service test/flagger-loadtester",
            "Service test/podinfo",
            "Service test/podinfo-canary",
            "Service test/podinfo-primary",
            "VirtualGateway test/appmesh-gateway",
            "VirtualNode test/flagger-loadtester",
            "VirtualNode test/podinfo-canary",
            "VirtualNode test/podinfo-primary",
            "VirtualRouter test/podinfo",
            "VirtualRouter test/podinfo-canary",
            "VirtualService test/podinfo",
            "VirtualService test/podinfo-canary",
        ]);
    });

    it("every App Mesh object validates against the v1beta2 CRD schemas", () => {
        assert.equal(assertValidAppMesh(dev.objects), 10);
    });

    it("creates the mesh-enabled namespace and the Mesh selecting it", () => {
        const label = { "appmesh.k8s.aws/sidecarInjectorWebhook": "enabled" };
        assert.deepEqual(find(dev.objects, "Namespace", "test").metadata.labels, label);
        assert.deepEqual(find(dev.objects, "Mesh", "global").spec, { namespaceSelector: { matchLabels: label } });
    });

    it("runs podinfo exactly as the tutorial declares it", () => {
        const target = find(dev.objects, "Deployment", "podinfo");
        const spec = target.spec;
        assert.equal(spec.minReadySeconds, 3);
        assert.equal(spec.revisionHistoryLimit, 5);
        assert.equal(spec.progressDeadlineSeconds, 60);
        assert.deepEqual(spec.strategy, { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0 } });
        assert.deepEqual(spec.template.metadata.annotations, { "prometheus.io/scrape": "true", "prometheus.io/port": "9797" });
        const [container] = spec.template.spec.containers;
        assert.equal(container.name, "podinfod");
        assert.equal(container.image, "ghcr.io/stefanprodan/podinfo:6.0.0");
        assert.deepEqual(container.command, ["./podinfo", "--port=9898", "--port-metrics=9797", "--grpc-port=9999",
            "--grpc-service-name=podinfo", "--level=info", "--random-delay=false", "--random-error=false"]);
        assert.deepEqual(container.env, [{ name: "PODINFO_UI_COLOR", value: "#34577c" }]);
        assert.deepEqual(container.ports, [
            { name: "http", containerPort: 9898, protocol: "TCP" },
            { name: "http-metrics", containerPort: 9797, protocol: "TCP" },
            { name: "grpc", containerPort: 9999, protocol: "TCP" },
        ]);
        assert.deepEqual(container.livenessProbe, { exec: { command: ["podcli", "check", "http", "localhost:9898/healthz"] }, initialDelaySeconds: 5, timeoutSeconds: 5 });
        assert.deepEqual(container.readinessProbe, { exec: { command: ["podcli", "check", "http", "localhost:9898/readyz"] }, initialDelaySeconds: 5, timeoutSeconds: 5 });
        assert.deepEqual(container.resources, { limits: { cpu: "2000m", memory: "512Mi" }, requests: { cpu: "100m", memory: "64Mi" } });
        // Parked between rollouts; the analysis owns the replicas.
        assert.equal(spec.replicas, 0);
    });

    it("runs the primary on the target's template with the primary label, its replicas left to its HPA", () => {
        const target = find(dev.objects, "Deployment", "podinfo").spec;
        const primary = find(dev.objects, "Deployment", "podinfo-primary").spec;
        assert.equal(primary.replicas, undefined);
        assert.deepEqual(primary.template.spec, target.template.spec);
        assert.deepEqual(primary.template.metadata.labels, { app: "podinfo-primary" });
        assert.deepEqual(target.template.metadata.labels, { app: "podinfo" });
        for (const field of ["minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds", "strategy"]) {
            assert.deepEqual(primary[field], target[field], field);
        }
    });

    it("copies the target HPA (min 2, max 4, 99% CPU) to podinfo-primary", () => {
        const metrics = [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 99 } } }];
        for (const [name, deployment] of [["podinfo", "podinfo"], ["podinfo-primary", "podinfo-primary"]]) {
            const hpa = find(dev.objects, "HorizontalPodAutoscaler", name);
            assert.equal(hpa.apiVersion, "autoscaling/v2");
            assert.deepEqual(hpa.spec, { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: deployment }, minReplicas: 2, maxReplicas: 4, metrics });
        }
    });

    it("keeps selectors, labels and DNS names consistent across Deployments, Services and VirtualNodes", () => {
        const podLabels = (name: string) => find(dev.objects, "Deployment", name).spec.template.metadata.labels;
        const primaryPods = podLabels("podinfo-primary");
        const canaryPods = podLabels("podinfo");
        for (const name of ["podinfo", "podinfo-primary"]) {
            const d = find(dev.objects, "Deployment", name);
            assert.ok(selects(d.spec.selector.matchLabels, d.spec.template.metadata.labels), `${name} selects its own pods`);
        }
        const service = (name: string) => find(dev.objects, "Service", name).spec.selector;
        assert.ok(selects(service("podinfo"), primaryPods) && !selects(service("podinfo"), canaryPods), "apex selects primary pods only");
        assert.ok(selects(service("podinfo-primary"), primaryPods) && !selects(service("podinfo-primary"), canaryPods));
        assert.ok(selects(service("podinfo-canary"), canaryPods) && !selects(service("podinfo-canary"), primaryPods));
        const node = (name: string) => find(dev.objects, "VirtualNode", name).spec;
        assert.ok(selects(node("podinfo-canary").podSelector.matchLabels, canaryPods) && !selects(node("podinfo-canary").podSelector.matchLabels, primaryPods),
            "canary VirtualNode selects canary pods only");
        assert.ok(selects(node("podinfo-primary").podSelector.matchLabels, primaryPods) && !selects(node("podinfo-primary").podSelector.matchLabels, canaryPods),
            "primary VirtualNode selects primary pods only");
        const services = new Set(dev.objects.filter((o) => o.kind === "Service").map((o) => `${o.metadata.name}.${o.metadata.namespace}.svc.cluster.local.`));
        for (const vn of dev.objects.filter((o) => o.kind === "VirtualNode")) {
            assert.ok(services.has(vn.spec.serviceDiscovery.dns.hostname), `${vn.metadata.name} DNS ${vn.spec.serviceDiscovery.dns.hostname} names a Service`);
        }
        assert.equal(node("podinfo-primary").serviceDiscovery.dns.hostname, "podinfo-primary.test.svc.cluster.local.");
        // The loadtester's pods are not caught by the canary's nodes.
        const loadtesterPods = podLabels("flagger-loadtester");
        assert.ok(!selects(node("podinfo-canary").podSelector.matchLabels, loadtesterPods));
        assert.ok(selects(node("flagger-loadtester").podSelector.matchLabels, loadtesterPods));
    });

    it("declares the Services with the canary port and each role's label", () => {
        for (const name of ["podinfo", "podinfo-primary", "podinfo-canary"]) {
            const svc = find(dev.objects, "Service", name);
            assert.equal(svc.spec.type, "ClusterIP");
            assert.deepEqual(svc.spec.ports, [{ name: "http", protocol: "TCP", port: 9898, targetPort: 9898 }]);
            assert.equal(svc.metadata.labels.app, name);
        }
    });

    it("maps the tutorial's service timeout, retries and match onto nodes and routers as Flagger does", () => {
        for (const name of ["podinfo-primary", "podinfo-canary"]) {
            assert.deepEqual(find(dev.objects, "VirtualNode", name).spec.listeners, [{
                portMapping: { port: 9898, protocol: "http" },
                timeout: { http: { perRequest: { unit: "ms", value: 15000 } } },
            }]);
        }
        const expectRoute = (routeName: string, canaryWeight: number) => ({
            name: routeName,
            httpRoute: {
                match: { prefix: "/" },
                timeout: { perRequest: { unit: "ms", value: 15000 } },
                retryPolicy: {
                    maxRetries: 3,
                    perRetryTimeout: { unit: "ms", value: 5000 },
                    httpRetryEvents: ["gateway-error", "client-error", "stream-error"],
                },
                action: {
                    weightedTargets: [
                        { virtualNodeRef: { name: "podinfo-canary" }, weight: canaryWeight },
                        { virtualNodeRef: { name: "podinfo-primary" }, weight: 100 - canaryWeight },
                    ],
                },
            },
        });
        const apex = find(dev.objects, "VirtualRouter", "podinfo");
        assert.deepEqual(apex.spec, { listeners: [{ portMapping: { port: 9898, protocol: "http" } }], routes: [expectRoute("podinfo", 0)] });
        assert.deepEqual(find(dev.objects, "VirtualRouter", "podinfo-canary").spec.routes, [expectRoute("podinfo-canary", 100)]);
        assert.deepEqual(find(dev.objects, "VirtualService", "podinfo").spec, { provider: { virtualRouter: { virtualRouterRef: { name: "podinfo" } } } });
        assert.deepEqual(find(dev.objects, "VirtualService", "podinfo-canary").spec, { provider: { virtualRouter: { virtualRouterRef: { name: "podinfo-canary" } } } });
    });

    it("exposes the resting apex router spec the analysis re-applies, equal to the declared one", async () => {
        assert.deepEqual(Object.keys(dev.outputs.apps), ["podinfo"]);
        const route = await value(dev.outputs.apps.podinfo.restingRoute as pulumi.Output<any>);
        assert.equal(route.kind, "appmesh");
        const resting = route.virtualRouter;
        assert.deepEqual(resting, find(dev.objects, "VirtualRouter", "podinfo").spec);
        const nodes = routerNodes("podinfo");
        assert.deepEqual(readWeights(resting, "podinfo", nodes), { primary: 100, canary: 0 });
        const stepped = withWeights(resting, nodes, { primary: 95, canary: 5 });
        assert.deepEqual(schemas.problems("VirtualRouter", { apiVersion: "appmesh.k8s.aws/v1beta2", kind: "VirtualRouter", metadata: { name: "podinfo" }, spec: stepped }), []);
        assert.deepEqual(await value(dev.outputs.apps.podinfo.target as pulumi.Output<any>), { name: "podinfo", namespace: "test", service: "podinfo" });
    });

    it("creates the gateway: VirtualGateway on 8088, Envoy, NLB Service 80 → 8088, GatewayRoute / → podinfo", () => {
        const label = { "app.kubernetes.io/name": "appmesh-gateway" };
        const vg = find(dev.objects, "VirtualGateway", "appmesh-gateway").spec;
        assert.deepEqual(vg.listeners, [{ portMapping: { port: 8088, protocol: "http" } }]);
        assert.deepEqual(vg.namespaceSelector.matchLabels, { "appmesh.k8s.aws/sidecarInjectorWebhook": "enabled" });
        assert.deepEqual(vg.podSelector.matchLabels, label);
        const envoy = find(dev.objects, "Deployment", "appmesh-gateway").spec;
        assert.equal(envoy.template.spec.containers[0].image, "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.0-prod");
        assert.ok(selects(vg.podSelector.matchLabels, envoy.template.metadata.labels));
        const lb = find(dev.objects, "Service", "appmesh-gateway");
        assert.equal(lb.spec.type, "LoadBalancer");
        assert.equal(lb.metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-type"], "nlb");
        assert.deepEqual(lb.spec.ports, [{ name: "http", port: 80, targetPort: 8088, protocol: "TCP" }]);
        assert.ok(selects(lb.spec.selector, envoy.template.metadata.labels));
        assert.deepEqual(find(dev.objects, "GatewayRoute", "podinfo").spec, {
            httpRoute: { match: { prefix: "/" }, action: { target: { virtualService: { virtualServiceRef: { name: "podinfo" } } } } },
        });
    });

    it("creates the load tester with its mesh node calling podinfo and podinfo-canary", () => {
        const d = find(dev.objects, "Deployment", "flagger-loadtester").spec;
        assert.equal(d.template.spec.containers[0].image, "ghcr.io/fluxcd/flagger-loadtester:0.34.0");
        assert.deepEqual(d.template.spec.containers[0].ports, [{ name: "http", containerPort: 8080, protocol: "TCP" }]);
        assert.deepEqual(d.template.metadata.labels, { app: "loadtester" });
        assert.deepEqual(d.template.metadata.annotations, { "appmesh.k8s.aws/ports": "444" });
        const svc = find(dev.objects, "Service", "flagger-loadtester").spec;
        assert.deepEqual(svc.ports, [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }]);
        const vn = find(dev.objects, "VirtualNode", "flagger-loadtester").spec;
        assert.deepEqual(vn.backends, [
            { virtualService: { virtualServiceRef: { name: "podinfo" } } },
            { virtualService: { virtualServiceRef: { name: "podinfo-canary" } } },
        ]);
        assert.deepEqual(vn.logging, { accessLog: { file: { path: "/dev/stdout" } } });
        const virtualServices = new Set(dev.objects.filter((o) => o.kind === "VirtualService").map((o) => o.metadata.name));
        for (const b of vn.backends) {
            assert.ok(virtualServices.has(b.virtualService.virtualServiceRef.name));
        }
    });

    it("references only App Mesh objects that exist (routers → nodes, services → routers, route → service)", () => {
        const names = (kind: string) => new Set(dev.objects.filter((o) => o.kind === kind).map((o) => o.metadata.name));
        const nodes = names("VirtualNode");
        const routers = names("VirtualRouter");
        const services = names("VirtualService");
        for (const vr of dev.objects.filter((o) => o.kind === "VirtualRouter")) {
            for (const route of vr.spec.routes) {
                for (const t of route.httpRoute.action.weightedTargets) {
                    assert.ok(nodes.has(t.virtualNodeRef.name), `${vr.metadata.name} → ${t.virtualNodeRef.name}`);
                }
            }
        }
        for (const vs of dev.objects.filter((o) => o.kind === "VirtualService")) {
            assert.ok(routers.has(vs.spec.provider.virtualRouter.virtualRouterRef.name));
        }
        assert.ok(services.has(find(dev.objects, "GatewayRoute", "podinfo").spec.httpRoute.action.target.virtualService.virtualServiceRef.name));
    });

    it("registers VirtualNodes before the Deployments whose pods they select, and routes after their targets", () => {
        const order = (kind: string, name: string) => dev.objects.findIndex((o) => o.kind === kind && o.metadata.name === name);
        for (const deployment of ["podinfo", "podinfo-primary"]) {
            for (const node of ["podinfo-primary", "podinfo-canary"]) {
                assert.ok(order("VirtualNode", node) < order("Deployment", deployment), `VirtualNode ${node} before Deployment ${deployment}`);
            }
        }
        assert.ok(order("VirtualNode", "flagger-loadtester") < order("Deployment", "flagger-loadtester"));
        assert.ok(order("VirtualNode", "flagger-loadtester") > order("VirtualService", "podinfo-canary"), "load tester node after its backends");
        assert.ok(order("VirtualGateway", "appmesh-gateway") < order("Deployment", "appmesh-gateway"));
        assert.ok(order("VirtualRouter", "podinfo") > order("VirtualNode", "podinfo-canary"));
        assert.ok(order("VirtualService", "podinfo") > order("VirtualRouter", "podinfo"));
        assert.ok(order("GatewayRoute", "podinfo") > order("VirtualService", "podinfo"));
        assert.ok(order("Service", "podinfo") > order("Deployment", "podinfo-primary"), "apex Service switches to the primary once it exists");
        for (const o of dev.objects.filter((x) => x.metadata.namespace === "test")) {
            assert.ok(dev.objects.indexOf(o) > order("Mesh", "global") && dev.objects.indexOf(o) > order("Namespace", "test"), `${o.kind} ${o.metadata.name} after the mesh`);
        }
    });

    it("builds the prod stack: valid objects, its own namespace and access logs", async () => {
        const prod = await build(stackFileValues("prod"));
        // Two apps: 3 gateway and load tester objects, 6 mesh objects each, and the Mesh.
        assert.equal(assertValidAppMesh(prod.objects), 16);
        assert.ok(prod.objects.filter((o) => o.kind !== "Namespace" && o.kind !== "Mesh").every((o) => o.metadata.namespace === "prod"));
        for (const node of ["frontend-canary", "backend-primary"]) {
            assert.deepEqual(find(prod.objects, "VirtualNode", node).spec.logging, { accessLog: { file: { path: "/dev/stdout" } } });
        }
        assert.equal(find(prod.objects, "Deployment", "appmesh-gateway").spec.replicas, 3);
        assert.deepEqual(find(prod.objects, "VirtualRouter", "frontend").spec.routes[0].httpRoute.retryPolicy.httpRetryEvents, ["gateway-error", "stream-error"]);
    });

    it("ends the program with a clean RunError listing every bad field when the stack config is invalid", () => {
        const stored = stackFileConfig("dev");
        const canary = JSON.parse(stored["appmesh-canary:canary"]);
        canary.analysis.maxWeight = 150;
        // The program knows podinfod's ports: a service port it does not listen on would break the apex Service.
        canary.service.port = 8080;
        pulumi.runtime.setAllConfig({
            ...stored, "appmesh-canary:canary": JSON.stringify(canary), "appmesh-canary:namespace": "Test",
            "appmesh-canary:cluster": JSON.stringify({ create: true, region: "us-west-2" }),
        });
        try {
            assert.throws(() => main(), (err: Error) => {
                assert.ok(pulumi.RunError.isInstance(err), "a RunError: Pulumi prints its message without a stack trace");
                // One message for the whole config: the cluster settings' problems come with the canary's.
                assert.match(err.message, /\(4 problems\)/);
                assert.match(err.message, /  - canary\.service\.port: must be a port the app's container listens on: 9898 \(http\)/);
                assert.match(err.message, /  - cluster\.version: is required when cluster\.create is true/);
                assert.match(err.message, /  - namespace: must be a DNS label/);
                assert.match(err.message, /  - canary\.analysis\.maxWeight: must be an integer from 1 to 100, got 150/);
                return true;
            });
        } finally {
            pulumi.runtime.setAllConfig(stored);
        }
    });

    it("keeps the namespace's logical name when the mesh is renamed (no replacement of the namespace)", async () => {
        const values = structuredClone(stackFileValues("dev")) as any;
        values.mesh.name = "mesh-two";
        const { resources, objects } = await build(values);
        const logicalName = (rs: RegisteredResource[], type: string) => rs.find((r) => r.type === type)?.name;
        assert.equal(logicalName(resources, "kubernetes:core/v1:Namespace"), logicalName(dev.resources, "kubernetes:core/v1:Namespace"));
        assert.equal(find(objects, "Mesh", "mesh-two").spec.namespaceSelector.matchLabels["appmesh.k8s.aws/sidecarInjectorWebhook"], "enabled");
    });

    it("passes metric templates and alert providers from stack config to the analysis, as secrets", async () => {
        const values = structuredClone(stackFileValues("dev")) as any;
        values.metricTemplates = { errors: { provider: { address: "http://prometheus.monitoring:9090", token: "t0ken" }, query: "vector(0)" } };
        values.alertProviders = { oncall: { type: "slack", address: "https://hooks.slack.com/services/T/B/X" } };
        values.canary.analysis.alerts = [{ name: "on-call", severity: "error", providerRef: { name: "oncall" } }];
        const { resources } = await build(values);
        const analysis = resources.find((r) => r.type.startsWith("pulumi-nodejs:dynamic") && r.name === "podinfo-analysis");
        assert.ok(analysis, "the Analysis resource is registered");
        assert.deepEqual(redactSecrets(analysis.inputs.metricTemplates), { errors: "[secret]" });
        assert.deepEqual(redactSecrets(analysis.inputs.alertProviders), { oncall: "[secret]" });
        assert.ok(!JSON.stringify(redactSecrets(analysis.inputs)).includes("t0ken"));
    });

    it("leaves out the gateway and the load tester when disabled", async () => {
        const values = structuredClone(stackFileValues("dev")) as any;
        values.gateway.enabled = false;
        values.loadtester.enabled = false;
        const { objects, outputs } = await build(values);
        assert.ok(!objects.some((o) => /gateway|loadtester/.test(o.metadata.name)));
        assert.equal(outputs.gatewayUrl, undefined);
    });

    it("builds the A/B layout: header route to the canary at 0, fallback to the primary", async () => {
        const values = structuredClone(stackFileValues("dev")) as any;
        values.canary.analysis = {
            interval: "1m", threshold: 10, iterations: 10,
            match: [{ headers: { "x-canary": { exact: "insider" } } }, { headers: { cookie: { regex: "^(.*?;)?(canary=insider)(;.*)?$" } } }],
        };
        const { objects } = await build(values);
        assertValidAppMesh(objects);
        const routes = find(objects, "VirtualRouter", "podinfo").spec.routes;
        assert.deepEqual(routes.map((r: any) => [r.name, r.priority]), [["podinfo-a", 10], ["podinfo-b", 20]]);
        assert.deepEqual(routes[0].httpRoute.match.headers, [
            { name: "x-canary", match: { exact: "insider" } },
            { name: "cookie", match: { regex: "^(.*?;)?(canary=insider)(;.*)?$" } },
        ]);
        assert.deepEqual(readWeights(find(objects, "VirtualRouter", "podinfo").spec, "podinfo", routerNodes("podinfo")), { primary: 100, canary: 0 });
        assert.deepEqual(routes[1].httpRoute.action.weightedTargets, [{ virtualNodeRef: { name: "podinfo-primary" }, weight: 100 }]);
        assert.equal(routes[1].httpRoute.match.headers, undefined);
        // The -canary router keeps the canary layout.
        assert.equal(find(objects, "VirtualRouter", "podinfo-canary").spec.routes.length, 1);
    });

    it("hands a Kubernetes provider from the options to every Kubernetes object", async () => {
        mocks.clear();
        const provider = new components.k8s.Provider("cluster", { kubeconfig: "{}" });
        await settle();
        const { resources } = await build(stackFileValues("dev"), { providers: [provider] });
        const kube = resources.filter((r) => r.custom && r.type.startsWith("kubernetes:"));
        assert.equal(kube.length, 22);
        for (const r of kube) {
            assert.match(r.provider ?? "", /pulumi:providers:kubernetes::cluster::/, `${r.type} ${r.name}`);
        }
    });
});

describe("App Mesh spec builders", () => {
    const spec = (service: Partial<CanarySpec["service"]>, analysis?: CanarySpec["analysis"]): CanarySpec => ({ service: { port: 9898, ...service }, analysis });
    let names: import("../../analysis/spec/names").CanaryNames;
    before(() => {
        names = components.names.canaryNames("podinfo", spec({}));
    });

    it("listens on an integer targetPort, ignores a named one, and speaks grpc when the port name says so", () => {
        const { buildVirtualNodeSpec } = components.appmesh;
        assert.equal(buildVirtualNodeSpec(spec({ targetPort: 8080 }), names, "canary", "test").listeners[0].portMapping.port, 8080);
        assert.equal(buildVirtualNodeSpec(spec({ targetPort: "http" }), names, "canary", "test").listeners[0].portMapping.port, 9898);
        assert.equal(buildVirtualNodeSpec(spec({ portName: "grpc-api" }), names, "canary", "test").listeners[0].portMapping.protocol, "grpc");
        assert.equal(buildVirtualNodeSpec(spec({}), names, "canary", "test").listeners[0].timeout, undefined);
    });

    it("declares backends by name or by ARN, and the access log only when asked", () => {
        const arn = "arn:aws:appmesh:eu-west-1:111122223333:mesh/global/virtualService/backend.test";
        const node = components.appmesh.buildVirtualNodeSpec(spec({ backends: ["backend", arn] }), names, "primary", "test", true);
        assert.deepEqual(node.backends, [
            { virtualService: { virtualServiceRef: { name: "backend" } } },
            { virtualService: { virtualServiceARN: arn } },
        ]);
        assert.deepEqual(node.logging, { accessLog: { file: { path: "/dev/stdout" } } });
        assert.deepEqual(schemas.problems("VirtualNode", { apiVersion: "appmesh.k8s.aws/v1beta2", kind: "VirtualNode", metadata: {}, spec: node }), []);
    });

    it("applies Flagger's retry defaults: 1 attempt, 250ms per try, gateway-error", () => {
        const router = components.appmesh.buildVirtualRouterSpec(spec({ retries: {} }), names, "apex");
        assert.deepEqual(router.routes[0].httpRoute.retryPolicy, { maxRetries: 1, perRetryTimeout: { unit: "ms", value: 250 }, httpRetryEvents: ["gateway-error"] });
        assert.equal(components.appmesh.buildVirtualRouterSpec(spec({}), names, "apex").routes[0].httpRoute.retryPolicy, undefined);
    });

    it("routes on a custom prefix and names objects after service.name", () => {
        const custom = spec({ name: "frontend", match: [{ uri: { prefix: "/api" } }] });
        const customNames = components.names.canaryNames("podinfo", custom);
        assert.deepEqual(customNames, { target: "podinfo", primary: "podinfo-primary", apex: "frontend", nodes: { primary: "frontend-primary", canary: "frontend-canary" }, canaryRouter: "frontend-canary" });
        const router = components.appmesh.buildVirtualRouterSpec(custom, customNames, "canary");
        assert.equal(router.routes[0].name, "frontend-canary");
        assert.equal(router.routes[0].httpRoute.match.prefix, "/api");
        // Pods keep the target's name, nodes take the apex's: Flagger selects on targetRef.name.
        assert.deepEqual(components.appmesh.buildVirtualNodeSpec(custom, customNames, "primary", "test").podSelector.matchLabels, { app: "podinfo-primary" });
    });

    it("refuses a Canary name that cannot name its Deployments", () => {
        assert.throws(() => components.names.canaryNames("PodInfo", spec({})), /must be a DNS label of at most 55 characters/);
        assert.throws(() => components.names.canaryNames("a".repeat(56), spec({})), /DNS label/);
    });

    it("adds Flagger's gateway annotations to the apex VirtualService for service.hosts", () => {
        assert.deepEqual(components.appmesh.apexVirtualServiceAnnotations({ port: 9898, hosts: ["a.example.com", "b.example.com"], timeout: "15s", retries: { attempts: 3 } }), {
            "gateway.appmesh.k8s.aws/expose": "true",
            "gateway.appmesh.k8s.aws/domain": "a.example.com,b.example.com,",
            "gateway.appmesh.k8s.aws/timeout": "15s",
            "gateway.appmesh.k8s.aws/retries": "3",
        });
        assert.equal(components.appmesh.apexVirtualServiceAnnotations({ port: 9898 }), undefined);
    });
});

describe("gateway and load tester builders", () => {
    const object = (kind: AppMeshKind, spec: unknown) => ({ apiVersion: "appmesh.k8s.aws/v1beta2", kind, metadata: { name: "x", namespace: "test" }, spec });

    it("builds a VirtualGateway on another port and a GatewayRoute on a prefix, both valid", () => {
        const gateway = components.gateway.buildVirtualGatewaySpec("edge", 8443);
        assert.deepEqual(gateway.listeners, [{ portMapping: { port: 8443, protocol: "http" } }]);
        assert.deepEqual(gateway.podSelector.matchLabels, components.gateway.gatewayPodLabels("edge"));
        assert.deepEqual(gateway.namespaceSelector.matchLabels, { "appmesh.k8s.aws/sidecarInjectorWebhook": "enabled" });
        const route = components.gateway.buildGatewayRouteSpec("frontend", "/api");
        assert.deepEqual(route.httpRoute, { match: { prefix: "/api" }, action: { target: { virtualService: { virtualServiceRef: { name: "frontend" } } } } });
        assert.deepEqual(schemas.problems("VirtualGateway", object("VirtualGateway", gateway)), []);
        assert.deepEqual(schemas.problems("GatewayRoute", object("GatewayRoute", route)), []);
    });

    it("gives the gateway URL from the NLB's hostname (or IP) once it has one", () => {
        assert.equal(components.gateway.gatewayUrl(undefined), undefined);
        assert.equal(components.gateway.gatewayUrl([]), undefined);
        assert.equal(components.gateway.gatewayUrl([{}]), undefined);
        assert.equal(components.gateway.gatewayUrl([{ hostname: "a1b2.elb.us-west-2.amazonaws.com", ip: "10.0.0.1" }]), "http://a1b2.elb.us-west-2.amazonaws.com");
        assert.equal(components.gateway.gatewayUrl([{ ip: "203.0.113.7" }]), "http://203.0.113.7");
    });

    it("builds the load tester's node: its pods, port 444, access log, backends by name or ARN", () => {
        const arn = "arn:aws:appmesh:us-west-2:111122223333:mesh/global/virtualService/orders.prod";
        const node = components.loadtester.buildLoadTesterNodeSpec("flagger-loadtester", "prod", ["podinfo", arn]);
        assert.deepEqual(node.podSelector.matchLabels, components.loadtester.loadTesterPodLabels());
        assert.deepEqual(node.listeners, [{ portMapping: { port: 444, protocol: "http" } }]);
        assert.equal(node.serviceDiscovery.dns.hostname, "flagger-loadtester.prod.svc.cluster.local.");
        assert.deepEqual(node.backends, [
            { virtualService: { virtualServiceRef: { name: "podinfo" } } },
            { virtualService: { virtualServiceARN: arn } },
        ]);
        assert.deepEqual(schemas.problems("VirtualNode", object("VirtualNode", node)), []);
    });
});

describe("workload helpers and tracked configs", () => {
    it("gives the canary Deployment ignoreChanges on spec.replicas and waits for the VirtualNodes", () => {
        const parent = {} as pulumi.Resource;
        const nodes = [{} as pulumi.Resource, {} as pulumi.Resource];
        const opts = components.workload.canaryDeploymentOptions(parent, nodes);
        assert.deepEqual(opts.ignoreChanges, ["spec.replicas"]);
        assert.equal(opts.dependsOn, nodes);
        assert.equal(opts.parent, parent);
        assert.equal(components.workload.primaryDeploymentOptions(parent, nodes).ignoreChanges, undefined);
    });

    it("renames tracked ConfigMap/Secret references and spread selectors in the primary template only", () => {
        const names = components.names.canaryNames("podinfo", { service: { port: 9898 } });
        const template: any = {
            metadata: { labels: { app: "podinfo", tier: "web" } },
            spec: {
                containers: [{
                    name: "app",
                    env: [
                        { name: "A", valueFrom: { configMapKeyRef: { name: "settings", key: "a" } } },
                        { name: "B", valueFrom: { secretKeyRef: { name: "creds", key: "b" } } },
                        { name: "C", valueFrom: { configMapKeyRef: { name: "untracked", key: "c" } } },
                    ],
                    envFrom: [{ configMapRef: { name: "settings" } }, { secretRef: { name: "creds" } }],
                }],
                initContainers: [{ name: "init", envFrom: [{ configMapRef: { name: "settings" } }] }],
                volumes: [
                    { name: "v1", configMap: { name: "settings" } },
                    { name: "v2", secret: { secretName: "creds" } },
                    { name: "v3", projected: { sources: [{ configMap: { name: "settings" } }, { secret: { name: "creds" } }] } },
                ],
                topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { app: "podinfo" } } }],
            },
        };
        const primary: any = components.workload.primaryPodTemplate(template, names, { configMaps: ["settings"], secrets: ["creds"] });
        const c = primary.spec.containers[0];
        assert.deepEqual(c.env.map((e: any) => (e.valueFrom.configMapKeyRef ?? e.valueFrom.secretKeyRef).name), ["settings-primary", "creds-primary", "untracked"]);
        assert.deepEqual(c.envFrom, [{ configMapRef: { name: "settings-primary" } }, { secretRef: { name: "creds-primary" } }]);
        assert.equal(primary.spec.initContainers[0].envFrom[0].configMapRef.name, "settings-primary");
        assert.equal(primary.spec.volumes[0].configMap.name, "settings-primary");
        assert.equal(primary.spec.volumes[1].secret.secretName, "creds-primary");
        assert.deepEqual(primary.spec.volumes[2].projected.sources, [{ configMap: { name: "settings-primary" } }, { secret: { name: "creds-primary" } }]);
        assert.deepEqual(primary.spec.topologySpreadConstraints[0].labelSelector.matchLabels, { app: "podinfo-primary" });
        assert.deepEqual(primary.metadata.labels, { app: "podinfo-primary", tier: "web" });
        // The input is untouched.
        assert.equal(template.spec.volumes[0].configMap.name, "settings");
        assert.deepEqual(template.metadata.labels, { app: "podinfo", tier: "web" });
    });

    it("creates tracked ConfigMaps/Secrets and their -primary copies, with the primary reading the copies", async () => {
        mocks.clear();
        const config = parseStackConfig(stackFileValues("dev"));
        const podTemplate = {
            spec: { containers: [{ name: "app", image: "app:1", envFrom: [{ configMapRef: { name: "settings" } }, { secretRef: { name: "creds" } }] }] },
        };
        new components.canary.Canary("app", {
            namespace: "test",
            spec: config.apps[0].canary,
            podTemplate,
            deployment: {},
            configMaps: [{ name: "settings", data: { LEVEL: "info" } }],
            secrets: [{ name: "creds", stringData: { TOKEN: "s3cret" } }],
        });
        await settle();
        const objects = manifests(mocks.resources);
        assert.deepEqual(find(objects, "ConfigMap", "settings").data, { LEVEL: "info" });
        assert.deepEqual(find(objects, "ConfigMap", "settings-primary").data, { LEVEL: "info" });
        assert.equal(find(objects, "Secret", "creds-primary").type, "Opaque");
        assert.deepEqual(find(objects, "Secret", "creds-primary").stringData, { TOKEN: "[secret]" }, "rendered Secrets are redacted");
        assert.deepEqual(find(objects, "Deployment", "app-primary").spec.template.spec.containers[0].envFrom,
            [{ configMapRef: { name: "settings-primary" } }, { secretRef: { name: "creds-primary" } }]);
        assert.deepEqual(find(objects, "Deployment", "app").spec.template.spec.containers[0].envFrom,
            [{ configMapRef: { name: "settings" } }, { secretRef: { name: "creds" } }]);
        // Without an HPA the primary declares its replicas (1 by default).
        assert.equal(find(objects, "Deployment", "app-primary").spec.replicas, 1);
        const order = (kind: string, name: string) => objects.findIndex((o) => o.kind === kind && o.metadata.name === name);
        assert.ok(order("ConfigMap", "settings-primary") < order("Deployment", "app-primary"));
        assert.ok(order("Secret", "creds") < order("Deployment", "app"));
    });
});
