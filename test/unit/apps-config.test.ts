import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { computeRevision } from "../../analysis/provider/revision";
import { parseStackConfig, validateStackConfig } from "../../config/stack";
import { itRejects, type RejectionRule } from "./config-failures";
import { REPO_ROOT, installMocks, manifests, settle, stackFileValues, type RecordingMocks } from "../../scripts/render";

type Main = (config?: unknown, opts?: pulumi.ComponentResourceOptions) => Record<string, any>;
type Manifest = Record<string, any>;

const ANALYSIS_TYPE = "pulumi-nodejs:dynamic/appmesh-canary:Analysis";
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";

/** The tutorial's canary spec for an app of another name and port. */
function canaryFor(name: string, port: number, extra: Record<string, unknown> = {}): Record<string, any> {
    return {
        provider: "appmesh:v1beta2",
        targetRef: { apiVersion: "apps/v1", kind: "Deployment", name },
        service: { port, timeout: "15s" },
        analysis: {
            interval: "1m", threshold: 5, maxWeight: 50, stepWeight: 5,
            metrics: [{ name: "request-success-rate", thresholdRange: { min: 99 }, interval: "1m" }],
        },
        ...extra,
    };
}

function container(name: string, image: string, port: number, extra: Record<string, unknown> = {}): Record<string, any> {
    return { name, image, ports: [{ name: "http", containerPort: port }], ...extra };
}

/** A stack of three apps: checkout (HPA, ConfigMap), catalog (Secret, 2 replicas), search (a whole pod template, a pasted manifest). */
function threeApps(): Record<string, any> {
    return {
        namespace: "shop",
        mesh: "global",
        gateway: { app: "checkout" },
        apps: {
            checkout: {
                workload: { containers: [container("checkout", "example.org/checkout:1.0.0", 8080, { envFrom: [{ configMapRef: { name: "checkout-settings" } }] })] },
                autoscaler: { minReplicas: 2, maxReplicas: 5 },
                configMaps: { "checkout-settings": { data: { CURRENCY: "EUR" } } },
                canary: canaryFor("checkout", 8080, {
                    autoscalerRef: { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", name: "checkout" },
                }),
            },
            catalog: {
                workload: {
                    replicas: 2,
                    containers: [container("catalog", "example.org/catalog:2.1.0", 9000, {
                        env: [{ name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "catalog-db", key: "password" } } }],
                    })],
                },
                secrets: { "catalog-db": { data: { password: "hunter2" } } },
                canary: canaryFor("catalog", 9000, { service: { port: 9000, name: "products" } }),
            },
            search: {
                workload: {
                    podTemplate: {
                        metadata: { labels: { tier: "backend" } },
                        spec: { containers: [container("search", "example.org/search:0.9.0", 7700), container("sidecar", "example.org/log:1", 9100)] },
                    },
                },
                canary: { apiVersion: "flagger.app/v1beta1", kind: "Canary", metadata: { name: "search", namespace: "shop" }, spec: canaryFor("search", 7700) },
            },
        },
    };
}

describe("apps: several canaries per stack", function () {
    let mocks: RecordingMocks;
    let main: Main;

    before(async () => {
        mocks = await installMocks("prod");
        main = require("../../index");
    });

    async function render(raw: Record<string, any>): Promise<{ objects: Manifest[]; analyses: Record<string, any>; outputs: Record<string, any>; resources: RecordingMocks["resources"] }> {
        mocks.clear();
        const outputs = main(parseStackConfig(raw));
        await settle();
        const resources = [...mocks.resources];
        const analyses = Object.fromEntries(resources.filter((r) => r.type === ANALYSIS_TYPE).map((r) => [r.inputs.target.name, r.inputs]));
        return { objects: manifests(resources), analyses, outputs, resources };
    }

    const find = (objects: Manifest[], kind: string, name: string): Manifest => {
        const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
        assert.equal(found.length, 1, `expected one ${kind} ${name}, found ${found.length}`);
        return found[0];
    };

    it("renders every object of each of three apps, names and ports derived per app", async () => {
        const { objects, analyses, outputs } = await render(threeApps());
        const names = (kind: string) => objects.filter((o) => o.kind === kind).map((o) => o.metadata.name).sort();
        assert.deepEqual(names("Deployment"), [
            "appmesh-gateway", "catalog", "catalog-primary", "checkout", "checkout-primary", "flagger-loadtester", "search", "search-primary",
        ]);
        assert.deepEqual(names("HorizontalPodAutoscaler"), ["checkout", "checkout-primary"]);
        assert.deepEqual(names("Service"), [
            "appmesh-gateway", "checkout", "checkout-canary", "checkout-primary", "flagger-loadtester", "products", "products-canary", "products-primary",
            "search", "search-canary", "search-primary",
        ]);
        assert.deepEqual(names("VirtualNode"), [
            "checkout-canary", "checkout-primary", "flagger-loadtester", "products-canary", "products-primary", "search-canary", "search-primary",
        ]);
        assert.deepEqual(names("VirtualRouter"), ["checkout", "checkout-canary", "products", "products-canary", "search", "search-canary"]);
        assert.deepEqual(names("ConfigMap"), ["checkout-settings", "checkout-settings-primary"]);
        assert.deepEqual(names("Secret"), ["catalog-db", "catalog-db-primary"]);
        assert.deepEqual(Object.keys(analyses).sort(), ["catalog", "checkout", "search"]);

        // Each app's own port, from its container to its Services and its mesh listener.
        assert.deepEqual(find(objects, "Service", "products").spec.ports[0], { name: "http", protocol: "TCP", port: 9000, targetPort: 9000 });
        assert.equal(find(objects, "VirtualNode", "search-primary").spec.listeners[0].portMapping.port, 7700);
        assert.equal(find(objects, "VirtualRouter", "checkout").spec.listeners[0].portMapping.port, 8080);
        // Replicas: the HPA owns checkout's; catalog's primary gets its two.
        assert.equal(find(objects, "Deployment", "checkout-primary").spec.replicas, undefined);
        assert.equal(find(objects, "Deployment", "catalog-primary").spec.replicas, 2);
        assert.equal(find(objects, "HorizontalPodAutoscaler", "checkout-primary").spec.scaleTargetRef.name, "checkout-primary");
        // The primary reads the -primary copies; the whole pod template keeps its labels beside the selector's.
        const primary = find(objects, "Deployment", "catalog-primary").spec.template.spec.containers[0];
        assert.equal(primary.env[0].valueFrom.secretKeyRef.name, "catalog-db-primary");
        assert.deepEqual(find(objects, "Deployment", "search").spec.template.metadata.labels, { tier: "backend", app: "search" });
        assert.equal(find(objects, "Deployment", "search").spec.template.spec.containers.length, 2);
        // The gateway fronts checkout; the load tester may call every app's apex and canary services.
        assert.equal(find(objects, "GatewayRoute", "checkout").spec.httpRoute.action.target.virtualService.virtualServiceRef.name, "checkout");
        const backends = find(objects, "VirtualNode", "flagger-loadtester").spec.backends.map((b: any) => b.virtualService.virtualServiceRef.name).sort();
        assert.deepEqual(backends, ["checkout", "checkout-canary", "products", "products-canary", "search", "search-canary"]);
        assert.deepEqual(Object.keys(outputs.apps), ["checkout", "catalog", "search"]);
        // Secret data reaches the analysis and the Secret as Pulumi secrets only.
        assert.equal(analyses.catalog.secretData[SECRET_SIG_KEY], "1b47061264138c4ac30d75fd1eb44270");
        assert.deepEqual(find(objects, "Secret", "catalog-db").stringData, { password: "[secret]" });
    });

    it("a ConfigMap data change is a new revision of that app only", async () => {
        const revisions = (analyses: Record<string, any>) =>
            Object.fromEntries(Object.entries(analyses).map(([name, inputs]) => [name, computeRevision(inputs.template, inputs.configData, {})]));
        const before = revisions((await render(threeApps())).analyses);
        const changed = threeApps();
        changed.apps.checkout.configMaps["checkout-settings"].data.CURRENCY = "USD";
        const after = revisions((await render(changed)).analyses);
        assert.notEqual(after.checkout, before.checkout);
        assert.equal(after.catalog, before.catalog);
        assert.equal(after.search, before.search);
    });

    it("renders the prod stack file's two apps, each with its own objects", async () => {
        const { objects, analyses } = await render(stackFileValues("prod"));
        assert.deepEqual(Object.keys(analyses).sort(), ["backend", "frontend"]);
        assert.equal(find(objects, "Service", "backend").spec.ports[0].port, 8080);
        assert.equal(find(objects, "GatewayRoute", "frontend").metadata.namespace, "prod");
        assert.deepEqual(find(objects, "ConfigMap", "frontend-settings-primary").data, { PODINFO_UI_COLOR: "#34577c", PODINFO_UI_MESSAGE: "production" });
        assert.equal(analyses.frontend.canary.analysis.stepWeights.length, 5);
    });
});

describe("apps: validation per path", () => {
    const properties = (raw: Record<string, any>) => validateStackConfig(raw).map((f) => f.property);

    it("accepts the three-app stack and the stack files", () => {
        assert.deepEqual(validateStackConfig(threeApps()), []);
        for (const stack of ["dev", "prod", "eks", "playground"]) {
            assert.deepEqual(validateStackConfig(stackFileValues(stack)), [], stack);
        }
    });

    it("accepts the README's two-app example", () => {
        const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
        const section = readme.slice(readme.indexOf("### Several apps in one stack"));
        const block = /```yaml\n([\s\S]*?)```/.exec(section)![1];
        const values = Object.fromEntries(Object.entries(parse(block).config).map(([key, value]) => [key.replace(/^appmesh-canary:/, ""), value]));
        assert.deepEqual(validateStackConfig(values), [], "as written");
        // What `pulumi config set --secret --path 'apps.catalog.secrets.catalog-db.data.password'` adds.
        (values.apps as any).catalog.secrets = { "catalog-db": { data: { password: "s3cret" } } };
        assert.deepEqual(parseStackConfig(values).apps.map((app) => [app.name, app.workload.secrets.length]), [["checkout", 0], ["catalog", 1]]);
    });

    it("reports every bad field of every app in one list, by path", () => {
        const raw = threeApps();
        raw.apps.checkout.canary.service.port = 9090;
        raw.apps.checkout.workload.containers[0].image = "Not An Image";
        raw.apps.catalog.canary.targetRef.name = "checkout";
        raw.apps.catalog.workload.replicas = 0;
        raw.apps.search.canary.metadata.name = "finder";
        raw.apps.search.workload.podTemplate.metadata.labels.app = "search";
        raw.apps.search.retryRevision = "abc";
        assert.deepEqual(properties(raw), [
            "apps.checkout.workload.containers[0].image",
            "apps.checkout.canary.service.port",
            "apps.catalog.workload.replicas",
            "apps.catalog.canary.targetRef.name",
            "apps.search.workload.podTemplate.metadata.labels.app",
            "apps.search.retryRevision",
            "apps.search.canary.metadata.name",
        ]);
        const reasons = validateStackConfig(raw).map((f) => `${f.property}: ${f.reason}`);
        assert.match(reasons[1], /must be a port the app's container listens on: 8080 \(http\); got 9090/);
        assert.match(reasons[3], /must be "catalog"/);
        assert.match(reasons[6], /must be the app's name "search"/);
    });

    const RULES: RejectionRule<any>[] = [
        ["shorthand keys beside apps", (r) => { r.image = "example.org/x:1"; }, "image", /one-app shorthand, and apps is set too/],
        ["no apps", (r) => { r.apps = {}; }, "apps", /at least one app/],
        ["app name not a DNS label", (r) => { r.apps.Checkout = r.apps.checkout; delete r.apps.checkout; r.gateway.app = "Checkout"; }, "apps.Checkout", /DNS label/],
        ["unknown app field", (r) => { r.apps.catalog.image = "example.org/x:1"; }, "apps.catalog.image", /allowed: workload, autoscaler/],
        ["no workload", (r) => { delete r.apps.catalog.workload; }, "apps.catalog.workload", /is required/],
        ["containers and podTemplate", (r) => { r.apps.search.workload.containers = []; }, "apps.search.workload", /exactly one of containers/],
        ["no ports", (r) => { delete r.apps.catalog.workload.containers[0].ports; }, "apps.catalog.workload.containers", /declare no ports/],
        ["container without image", (r) => { delete r.apps.catalog.workload.containers[0].image; }, "apps.catalog.workload.containers[0].image", /is required/],
        ["unknown container field", (r) => { r.apps.catalog.workload.containers[0].imagePull = "Always"; }, "apps.catalog.workload.containers[0].imagePull", /not a known field/],
        ["replicas with an autoscaler", (r) => { r.apps.checkout.workload.replicas = 3; }, "apps.checkout.workload.replicas", /owned by the autoscaler/],
        ["autoscalerRef without autoscaler", (r) => { delete r.apps.checkout.autoscaler; }, "apps.checkout.canary.autoscalerRef", /autoscaler is not set/],
        ["autoscaler without autoscalerRef", (r) => { delete r.apps.checkout.canary.autoscalerRef; }, "apps.checkout.autoscaler", /needs apps.checkout.canary.autoscalerRef/],
        ["max below min replicas", (r) => { r.apps.checkout.autoscaler.maxReplicas = 1; }, "apps.checkout.autoscaler.maxReplicas", /must be >= minReplicas/],
        ["ConfigMap nobody reads", (r) => { r.apps.checkout.configMaps.unused = { data: { a: "b" } }; }, "apps.checkout.configMaps.unused", /not read by the workload's pods/],
        ["Secret value not a string", (r) => { r.apps.catalog.secrets["catalog-db"].data.password = 1234; }, "apps.catalog.secrets.catalog-db.data.password", /must be a string/],
        ["Secret type Flagger does not track", (r) => { r.apps.catalog.secrets["catalog-db"].type = "kubernetes.io/dockerconfigjson"; }, "apps.catalog.secrets.catalog-db.type", /must be one of Opaque/],
        ["manifest in another namespace", (r) => { r.apps.search.canary.metadata.namespace = "other"; }, "apps.search.canary.metadata.namespace", /stack's namespace "shop"/],
        ["manifest of another kind", (r) => { r.apps.search.canary.kind = "Rollout"; }, "apps.search.canary.kind", /must be Canary/],
        ["canary missing", (r) => { delete r.apps.catalog.canary; }, "apps.catalog.canary", /is required/],
        ["templateRef to an undefined template", (r) => { r.apps.catalog.canary.analysis.metrics.push({ name: "errors", templateRef: { name: "nope" }, thresholdRange: { max: 1 } }); },
            "apps.catalog.canary.analysis.metrics[1].templateRef.name", /names no template in metricTemplates/],
        ["gateway.app missing with several apps", (r) => { delete r.gateway.app; }, "gateway.app", /required with several apps: .* checkout, catalog, search/],
        ["gateway.app naming no app", (r) => { r.gateway.app = "cart"; }, "gateway.app", /must name an app of apps/],
    ];
    itRejects(RULES, threeApps, validateStackConfig);

    it("reports two apps that would make the same object, naming both", () => {
        const raw = threeApps();
        raw.apps.search.canary.spec.service.name = "products";
        raw.apps["checkout-primary"] = structuredClone(raw.apps.catalog);
        raw.apps["checkout-primary"].canary.targetRef.name = "checkout-primary";
        raw.apps["checkout-primary"].canary.service.name = "other";
        raw.apps["checkout-primary"].secrets = { "catalog-db": { data: { password: "x" } } };
        const failures = validateStackConfig(raw).map((f) => `${f.property}: ${f.reason}`);
        assert.deepEqual(failures, [
            "apps.search.canary.spec.service.name: makes Service products, which apps.catalog.canary.service.name makes too: every object name must be unique in the namespace",
            "apps.checkout-primary: makes Deployment checkout-primary, which apps.checkout makes too: every object name must be unique in the namespace",
            "apps.checkout-primary.secrets.catalog-db: makes Secret catalog-db, which apps.catalog.secrets.catalog-db makes too: every object name must be unique in the namespace",
        ]);
    });

    it("reports an app named like the stack's own load tester", () => {
        const raw = threeApps();
        raw.apps["flagger-loadtester"] = structuredClone(raw.apps.catalog);
        raw.apps["flagger-loadtester"].canary.targetRef.name = "flagger-loadtester";
        raw.apps["flagger-loadtester"].canary.service.name = "lt";
        raw.apps["flagger-loadtester"].secrets = { "lt-db": { data: { password: "x" } } };
        raw.apps["flagger-loadtester"].workload.containers[0].env[0].valueFrom.secretKeyRef.name = "lt-db";
        assert.deepEqual(validateStackConfig(raw).map((f) => f.property), ["loadtester"]);
    });

    it("keeps the one-app shorthand: a pasted Canary manifest names the app", () => {
        const raw = stackFileValues("dev");
        const manifest = { apiVersion: "flagger.app/v1beta1", kind: "Canary", metadata: { name: "web", namespace: "test" }, spec: structuredClone(raw.canary) };
        (manifest.spec as any).targetRef.name = "web";
        (manifest.spec as any).autoscalerRef.name = "web";
        const config = parseStackConfig({ ...raw, canary: manifest });
        assert.equal(config.apps[0].name, "web");
        assert.equal(config.gateway.app, "web");
        assert.equal(config.apps[0].workload.podTemplate.spec?.containers[0].image, "ghcr.io/stefanprodan/podinfo:6.0.0");
        (manifest.spec as any).service.port = 8080;
        assert.deepEqual(validateStackConfig({ ...raw, canary: manifest }).map((f) => f.property), ["canary.spec.service.port"]);
    });
});
