/**
 * The Gateway API stack (`Pulumi.gatewayapi.yaml`, rendered as `npm run render` renders it) on the local
 * cluster with the Gateway API CRDs and the playground's Gateway controller: the Gateway is accepted and gets
 * an address, the HTTPRoute is accepted for each generation (the analysis's readiness gate reads that), the
 * Gateway's listener splits real requests by the route's weights, the load tester reaches the canary Service
 * as kube-proxy routes it, and Flagger's HTTP observer queries read podinfo's own histogram in Prometheus.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as http from "node:http";
import * as path from "node:path";
import { promisify } from "node:util";
import axios from "axios";
import * as fs from "node:fs";
import { parse } from "yaml";
import { builtinQuery, renderQuery } from "../../analysis/adapters/promql";
import { KubeHTTPRoute } from "../../analysis/routers/gatewayapi/kube-route";
import { HTTP_QUERIES } from "../../analysis/routers/gatewayapi/queries";
import type { HTTPRouteSpec } from "../../analysis/routers/gatewayapi/routes";
import { PLAYGROUND_GATEWAY_CONTROLLER } from "../../playground/gateway-api";
import { parseObjects, prometheusAddress, startLocalCluster, type LocalCluster } from "../../playground/local-cluster";
import { faultSwitches } from "../../playground/podinfo-app";
import { withVersion } from "../../playground/playground";

const NS = "test";
const REPO = path.resolve(__dirname, "..", "..");

/** Send `count` requests to `url` with `headers`, `concurrency` at a time; resolves with the statuses. */
async function send(url: string, count: number, headers: Record<string, string> = {}, concurrency = 8): Promise<number[]> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    const statuses: number[] = [];
    const worker = async () => {
        while (statuses.length < count) {
            statuses.push((await axios.get(url, { headers, httpAgent: agent, proxy: false, validateStatus: () => true })).status);
        }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    agent.destroy();
    return statuses;
}

describe("the Gateway API stack on the local cluster, through the playground's Gateway controller", function () {
    this.timeout(300_000);
    let cluster: LocalCluster;
    let objects: Record<string, any>[];
    const faults = faultSwitches();
    let route: KubeHTTPRoute;

    before(async () => {
        const rendered = promisify(execFile)(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", "scripts/render.ts", "--stack", "gatewayapi"], { cwd: REPO, maxBuffer: 16 << 20 });
        cluster = await startLocalCluster({ gatewayApi: true, podinfo: { faults } });
        objects = parseObjects((await rendered).stdout);
        // The canary runs the next version, scaled up as the analysis scales it, as after `pulumi up` with a new image.
        objects = objects.map((o) => (o.kind === "Deployment" && o.metadata.name === "podinfo" ? { ...withVersion(o, "6.0.1"), spec: { ...withVersion(o, "6.0.1").spec, replicas: 2 } } : o));
        await cluster.apply(objects);
        for (const name of ["podinfo-primary", "podinfo", "flagger-loadtester"]) {
            await cluster.waitForRollout(NS, name, 120_000);
        }
        const declared = objects.find((o) => o.kind === "HTTPRoute")!.spec as HTTPRouteSpec;
        route = new KubeHTTPRoute({ access: { kubeconfig: cluster.kubeconfig }, namespace: NS, name: "podinfo", restingSpec: declared });
    });

    after(async () => {
        await cluster?.stop();
    });

    it("accepts the Gateway and publishes its address; the listener serves the stack's route", async () => {
        const k8s = await import("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        kc.loadFromString(cluster.kubeconfig);
        const custom = kc.makeApiClient(k8s.CustomObjectsApi);
        const gateway: any = await custom.getNamespacedCustomObject({ group: "gateway.networking.k8s.io", version: "v1", namespace: NS, plural: "gateways", name: "canary-gateway" });
        assert.equal(gateway.status.addresses[0].value, cluster.gateways!.address(NS, "canary-gateway"));
        assert.ok(gateway.status.conditions.some((c: any) => c.type === "Programmed" && c.status === "True"));
        assert.equal(gateway.status.listeners[0].attachedRoutes, 1);
        const httpRoute: any = await custom.getNamespacedCustomObject({ group: "gateway.networking.k8s.io", version: "v1", namespace: NS, plural: "httproutes", name: "podinfo" });
        const parent = httpRoute.status.parents.find((p: any) => p.controllerName === PLAYGROUND_GATEWAY_CONTROLLER);
        assert.deepEqual(parent.conditions.map((c: any) => [c.type, c.status, c.observedGeneration]), [["Accepted", "True", httpRoute.metadata.generation], ["ResolvedRefs", "True", httpRoute.metadata.generation]]);
        const listener = cluster.gateways!.listenerUrl(NS, "canary-gateway")!;
        const versions = await Promise.all(Array.from({ length: 10 }, () => axios.get(listener, { proxy: false }).then((r) => r.data.version)));
        assert.deepEqual(new Set(versions), new Set(["6.0.0"]), "at rest every request reaches the primary");
    });

    it("splits requests by the weights the analysis applies, once the controller accepted the new generation", async () => {
        assert.deepEqual(await route.getWeights(), { primary: 100, canary: 0 });
        await route.setWeights({ primary: 50, canary: 50 });
        assert.deepEqual(await route.getWeights(), { primary: 50, canary: 50 });
        const before = cluster.gateways!.accessLog.length;
        const statuses = await send(cluster.gateways!.listenerUrl(NS, "canary-gateway")!, 400);
        assert.ok(statuses.every((s) => s === 200));
        const served = cluster.gateways!.accessLog.slice(before);
        const canaryShare = served.filter((e) => e.virtualNode === "podinfo-canary").length / served.length;
        assert.ok(canaryShare > 0.4 && canaryShare < 0.6, `canary share ${canaryShare} at weight 50`);
        assert.ok(cluster.gateways!.routeChanges.some((c) => c.spec.rules[0].backendRefs.some((b) => b.name === "podinfo-canary" && b.weight === 50)));
    });

    it("lets the load tester reach the canary Service as kube-proxy routes it, without a mesh", async () => {
        const answer = await axios.get("http://podinfo-canary.test:9898/version", { proxy: { protocol: "http", host: "127.0.0.1", port: Number(new URL(cluster.mesh.proxyUrl).port) } });
        assert.equal(answer.data.version, "6.0.1");
    });

    it("reads the canary's success rate and latency with Flagger's HTTP observer queries, from podinfo's own histogram", async () => {
        faults("6.0.1").errorRate = 0.2;
        // A series rate() reads needs a scrape before its increase counts: the first 500s make the series, the rest are measured.
        await send(cluster.gateways!.listenerUrl(NS, "canary-gateway")!, 100);
        await new Promise((resolve) => setTimeout(resolve, 2500));
        await send(cluster.gateways!.listenerUrl(NS, "canary-gateway")!, 600);
        const prometheus = `http://${prometheusAddress(cluster.node.pods())}`;
        const model = { namespace: NS, name: "podinfo", target: "podinfo", service: "podinfo", interval: "1m" };
        const query = async (text: string) => (await axios.get(`${prometheus}/api/v1/query`, { params: { query: text }, proxy: false })).data.data.result;
        const sentAt = Date.now() / 1000;
        const canaryPods = cluster.node.pods().filter((p) => p.namespace === NS && p.labels.app === "podinfo");
        // Read once every canary pod was scraped a few seconds after the last request: an earlier read sees part of the
        // batch, and rate() extrapolates each series by up to half a scrape interval over its sampled span, which
        // differs between the young 5xx series and the older 2xx one unless both spans are several intervals long.
        const deadline = Date.now() + 20_000;
        for (;;) {
            const scrapes = await Promise.all(canaryPods.map((p) => query(`timestamp(up{instance="${p.ports.get(9797)}"})`)));
            if (scrapes.every((s) => s.length === 1 && Number(s[0].value[1]) > sentAt + 4)) {
                break;
            }
            assert.ok(Date.now() < deadline, "the canary pods were not scraped 4 s after the last request, within 20 s");
            await new Promise((resolve) => setTimeout(resolve, 500));
        }
        const result = await query(builtinQuery(HTTP_QUERIES, "request-success-rate", model));
        assert.equal(result.length, 1);
        const rate = Number(result[0].value[1]);
        // Not equal to the share the canary answered below 500: rate() drops what a series counted before its first
        // scrape (the 2xx series started with the 50/50 split above) and extrapolates each series to the window's edges.
        const served = [...cluster.gateways!.accessLog, ...cluster.mesh.accessLog].filter((e) => e.virtualNode === "podinfo-canary" && e.time >= Date.now() - 60_000);
        const answered = (100 * served.filter((e) => e.status < 500).length) / served.length;
        assert.ok(rate > 70 && rate < 95, `canary success rate ${rate}; the canary answered ${answered.toFixed(1)}% of ${served.length} requests below 500`);
        // Scraped from podinfo's metrics port (9797, as the tutorial's template annotates it for Prometheus).
        const canaryPod = cluster.node.pods().find((p) => p.namespace === NS && p.labels.app === "podinfo")!;
        const up = await query(`up{instance="${canaryPod.ports.get(9797)}"}`);
        assert.equal(up[0]?.value[1], "1", `the canary pod's metrics port ${canaryPod.ports.get(9797)} is scraped`);
        const duration = await query(builtinQuery(HTTP_QUERIES, "request-duration", model));
        assert.equal(duration.length, 1);
        // In milliseconds, as Flagger turns the histogram's seconds into them; the playground answers in a few.
        assert.ok(Number(duration[0].value[1]) > 0 && Number(duration[0].value[1]) < 500, `P99 ${duration[0].value[1]} ms`);
        // The README's Istio and Envoy templates are PromQL the real Prometheus parses (no such series here: empty results).
        const readme = fs.readFileSync(path.join(REPO, "README.md"), "utf8");
        const section = readme.slice(readme.indexOf("### Routing through the Gateway API"), readme.indexOf("### Several apps in one stack"));
        const templates = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].slice(1).flatMap((m) => Object.values(parse(m[1])["appmesh-canary:metricTemplates"] as Record<string, { query: string }>));
        assert.equal(templates.length, 4);
        for (const template of templates) {
            const answer = await axios.get(`${prometheus}/api/v1/query`, { params: { query: renderQuery(template.query, model) }, proxy: false, validateStatus: () => true });
            assert.equal(answer.data.status, "success", `${template.query}: ${answer.data.error}`);
        }
        // The primary's pods are outside the observer's selector: its own series would say 100%.
        const primary = await query(builtinQuery(HTTP_QUERIES, "request-success-rate", { ...model, target: "podinfo-primary" }));
        assert.ok(primary.length === 0 || Number(primary[0].value[1]) === 100);
    });
});
