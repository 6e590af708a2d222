/**
 * The Grafana dashboard shipped in dashboards/: its structure (variables, panels, queries Grafana can resolve),
 * the stack config `grafana` and its validation, and the ConfigMap the stack provisions for Grafana's sidecar.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { parseStackConfig, validateStackConfig, type StackConfig } from "../../config/stack";
import { REPO_ROOT, installMocks, manifests, settle, stackFileValues, type RecordingMocks } from "../../scripts/render";
import { assertFailureAt, itRejects, type RejectionRule } from "./config-failures";
import {
    DASHBOARD_FILE, applyVariableRegex, interpolate, loadDashboard, parseLabelValues, podNameMatchers, referencedVariables, type Dashboard,
} from "./dashboard-queries";

type Manifest = Record<string, any>;
type Main = (config: StackConfig, opts: pulumi.ComponentResourceOptions, cluster: { create: false }) => unknown;

/** Variables Grafana defines itself. */
const GRAFANA_BUILTINS = ["__rate_interval", "__interval", "__range"];
/** Pod names as the ReplicaSet controller makes them: `<deployment>-<replicaset hash>-<pod id>`. */
const PRIMARY_POD = "podinfo-primary-7b9d8c6f5-x2x4z";
const CANARY_POD = "podinfo-6c8f9d7b4-n3w9p";
const SELECTED = { datasource: "prometheus", namespace: "test", primary: "podinfo-primary", canary: "podinfo", __rate_interval: "30s", __interval: "15s", __range: "30m" };

const dev = (): any => structuredClone(stackFileValues("dev"));

describe("Grafana dashboard (dashboards/appmesh-canary.json)", function () {
    let dashboard: Dashboard;

    before(() => {
        dashboard = loadDashboard();
    });

    describe("the JSON", () => {
        it("is a dashboard of its own uid and title, importable and provisionable: a datasource variable, no import-only __inputs", () => {
            assert.equal(dashboard.uid, "appmesh-canary");
            assert.equal(dashboard.title, "App Mesh canary");
            assert.ok(dashboard.schemaVersion >= 36, `schemaVersion ${dashboard.schemaVersion}`);
            assert.equal(dashboard.__inputs, undefined, "file provisioning (the sidecar) never substitutes __inputs");
            const datasource = dashboard.templating.list.find((v) => v.type === "datasource");
            assert.equal(datasource?.name, "datasource");
            assert.equal(datasource?.query, "prometheus");
        });

        it("defines the variables namespace, primary and canary, each from label_values of the Envoy metrics, referring only to earlier ones", () => {
            const variables = dashboard.templating.list;
            assert.deepEqual(variables.map((v) => v.name), ["datasource", "namespace", "primary", "canary"]);
            variables.forEach((variable, i) => {
                const earlier = variables.slice(0, i).map((v) => v.name);
                if (variable.type === "query") {
                    assert.deepEqual(variable.datasource, { type: "prometheus", uid: "${datasource}" }, variable.name);
                    assert.match(parseLabelValues(variable.query).selector, /^envoy_cluster_upstream_rq/, variable.name);
                }
                for (const name of referencedVariables(`${variable.query} ${variable.datasource?.uid ?? ""}`)) {
                    assert.ok(earlier.includes(name), `${variable.name} refers to ${name}, which is not defined before it`);
                }
            });
        });

        it("the variables' regexes turn pod names into Deployment names: primary from the primary's pods, canary from the primary's too", () => {
            const variable = (name: string) => dashboard.templating.list.find((v) => v.name === name)!;
            const pods = [PRIMARY_POD, "podinfo-primary-7b9d8c6f5-q8w2e", CANARY_POD, "backend-primary-5d6f7c8b9-a1b2c"];
            assert.deepEqual(applyVariableRegex(pods, variable("primary").regex), ["podinfo-primary", "backend-primary"]);
            assert.deepEqual(applyVariableRegex([PRIMARY_POD, "podinfo-primary-7b9d8c6f5-q8w2e"], variable("canary").regex), ["podinfo"]);
            assert.deepEqual(applyVariableRegex([CANARY_POD], variable("canary").regex), [], "a canary pod is never mistaken for a primary");
        });

        it("has panels with unique ids, non-overlapping places, the datasource variable and targets with unique refIds and a PromQL expr", () => {
            assert.ok(dashboard.panels.length >= 4);
            const ids = dashboard.panels.map((p) => p.id);
            assert.equal(new Set(ids).size, ids.length, `panel ids ${ids.join(", ")}`);
            for (const panel of dashboard.panels) {
                assert.deepEqual(panel.datasource, { type: "prometheus", uid: "${datasource}" }, panel.title);
                assert.ok(panel.targets.length > 0, `${panel.title} has no targets`);
                assert.equal(new Set(panel.targets.map((t) => t.refId)).size, panel.targets.length, `${panel.title}: refIds repeat`);
                for (const target of panel.targets) {
                    assert.ok(typeof target.expr === "string" && target.expr.trim().length > 0, `${panel.title} ${target.refId} has no expr`);
                }
            }
            const overlap = (a: Dashboard["panels"][number]["gridPos"], b: typeof a) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
            dashboard.panels.forEach((a, i) => dashboard.panels.slice(i + 1).forEach((b) => assert.ok(!overlap(a.gridPos, b.gridPos), `${a.title} overlaps ${b.title}`)));
        });

        it("shows request rate, success rate and P99 of primary against canary, and the canary's observed share", () => {
            const byTitle = Object.fromEntries(dashboard.panels.map((p) => [p.title, p]));
            assert.deepEqual(Object.keys(byTitle), ["Request rate", "Success rate (non-5xx)", "P99 latency", "Canary's observed share of requests"]);
            for (const title of ["Request rate", "Success rate (non-5xx)", "P99 latency"]) {
                assert.deepEqual(byTitle[title].targets.map((t) => t.legendFormat), ["primary", "canary"], title);
            }
            for (const target of byTitle["Request rate"].targets) {
                assert.match(target.expr, /^sum\(rate\(envoy_cluster_upstream_rq\{/);
            }
            assert.match(byTitle["Success rate (non-5xx)"].targets[0].expr, /envoy_response_code!~"5\.\*"/);
            for (const target of byTitle["P99 latency"].targets) {
                assert.match(target.expr, /^histogram_quantile\(0\.99, sum by \(le\) \(rate\(envoy_cluster_upstream_rq_time_bucket\{/);
            }
        });

        it("every query resolves with the variables defined (and Grafana's own), and selects each side's pods only, anchored as queries.ts anchors them", () => {
            const defined = new Set([...dashboard.templating.list.map((v) => v.name), ...GRAFANA_BUILTINS]);
            for (const panel of dashboard.panels) {
                for (const target of panel.targets) {
                    const at = `${panel.title} ${target.refId}`;
                    assert.deepEqual(referencedVariables(target.expr).filter((name) => !defined.has(name)), [], at);
                    const matchers = podNameMatchers(interpolate(target.expr, SELECTED));
                    assert.ok(matchers.length > 0, `${at} selects no pods`);
                    const sides = matchers.map((m) => `${m.test(PRIMARY_POD) ? "primary" : ""}${m.test(CANARY_POD) ? "canary" : ""}`);
                    if (target.legendFormat === "primary" || target.legendFormat === "canary") {
                        assert.deepEqual(new Set(sides), new Set([target.legendFormat]), at);
                    } else {
                        // The share: canary requests over both sides' requests.
                        assert.deepEqual(sides, ["canary", "primarycanary"], at);
                    }
                }
            }
        });
    });

    describe("stack config grafana", () => {
        it("is off by default", () => {
            assert.deepEqual(parseStackConfig(dev()).grafana, { enabled: false });
        });

        it("accepts the README's example", () => {
            const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
            const block = /```yaml\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf("### The Grafana dashboard")))![1];
            const raw = { ...dev(), grafana: parse(block).config["appmesh-canary:grafana"] };
            assert.deepEqual(validateStackConfig(raw), []);
            assert.deepEqual(parseStackConfig(raw).grafana, { enabled: true, namespace: "monitoring", folder: "Canaries" });
        });

        const RULES: RejectionRule<any>[] = [
            ["grafana not an object", (c) => { c.grafana = true; }, "grafana", /must be an object, got true/],
            ["grafana without enabled", (c) => { c.grafana = { namespace: "monitoring" }; }, "grafana.enabled", /is required when grafana is set/],
            ["grafana enabled not boolean", (c) => { c.grafana = { enabled: "yes" }; }, "grafana.enabled", /true or false, got "yes"/],
            ["grafana namespace not a DNS label", (c) => { c.grafana = { enabled: true, namespace: "Monitoring" }; }, "grafana.namespace", /DNS label/],
            ["grafana folder empty", (c) => { c.grafana = { enabled: true, folder: "" }; }, "grafana.folder", /non-empty string/],
            ["grafana unknown field", (c) => { c.grafana = { enabled: true, label: "grafana_dashboard" }; }, "grafana.label", /allowed: enabled, namespace, folder$/],
        ];
        itRejects(RULES, dev, validateStackConfig);

        it("reports each bad field once, at its path", () => {
            const raw = dev();
            raw.grafana = { enabled: 1, namespace: "mon_itoring", folder: 7, sidecar: {} };
            assert.deepEqual(validateStackConfig(raw).map((f) => f.property).sort(), ["grafana.enabled", "grafana.folder", "grafana.namespace", "grafana.sidecar"]);
        });

        it("refuses an app's ConfigMap of the dashboard's name in the same namespace, and allows it when the dashboard goes elsewhere", () => {
            const raw = {
                namespace: "shop",
                mesh: "global",
                grafana: { enabled: true },
                apps: {
                    checkout: {
                        workload: {
                            containers: [{
                                name: "checkout",
                                image: "example.org/checkout:1.0.0",
                                ports: [{ name: "http", containerPort: 8080 }],
                                envFrom: [{ configMapRef: { name: "appmesh-canary-dashboard" } }],
                            }],
                        },
                        configMaps: { "appmesh-canary-dashboard": { data: { MODE: "x" } } },
                        canary: { service: { port: 8080 }, analysis: { interval: "1m", threshold: 1, maxWeight: 50, stepWeight: 10 } },
                    },
                },
            };
            assertFailureAt(validateStackConfig(raw), "grafana", /makes ConfigMap appmesh-canary-dashboard, which apps\.checkout\.configMaps\.appmesh-canary-dashboard makes too/);
            assert.deepEqual(validateStackConfig({ ...raw, grafana: { enabled: true, namespace: "monitoring" } }), []);
            assert.deepEqual(validateStackConfig({ ...raw, grafana: { enabled: false } }), []);
        });
    });

    describe("the stack under mocks", () => {
        let mocks: RecordingMocks;
        let main: Main;

        before(async () => {
            mocks = await installMocks("dev");
            main = require("../../index");
        });

        async function render(grafana?: Record<string, unknown>): Promise<Manifest[]> {
            const raw = dev();
            if (grafana) {
                raw.grafana = grafana;
            }
            mocks.clear();
            main(parseStackConfig(raw), {}, { create: false });
            await settle();
            return manifests(mocks.resources).filter((o) => o.kind === "ConfigMap");
        }

        it("provisions nothing for Grafana by default", async () => {
            assert.deepEqual(await render(), []);
        });

        it("grafana.enabled: the dashboard's text in ConfigMap appmesh-canary-dashboard of the stack's namespace, labelled for Grafana's sidecar", async () => {
            const [configMap, ...others] = await render({ enabled: true });
            assert.deepEqual(others, []);
            assert.deepEqual(configMap.metadata, { name: "appmesh-canary-dashboard", namespace: "test", labels: { grafana_dashboard: "1" } });
            assert.deepEqual(Object.keys(configMap.data), ["appmesh-canary.json"]);
            assert.equal(configMap.data["appmesh-canary.json"], fs.readFileSync(DASHBOARD_FILE, "utf8"));
            assert.ok(mocks.resources.some((r) => r.type === "appmesh-canary:index:GrafanaDashboard" && r.name === "appmesh-canary-dashboard"));
        });

        it("grafana.namespace and grafana.folder: the ConfigMap goes to Grafana's namespace, with the folder annotation", async () => {
            const [configMap] = await render({ enabled: true, namespace: "monitoring", folder: "Canaries" });
            assert.deepEqual(configMap.metadata, {
                name: "appmesh-canary-dashboard",
                namespace: "monitoring",
                labels: { grafana_dashboard: "1" },
                annotations: { grafana_folder: "Canaries" },
            });
        });
    });
});
