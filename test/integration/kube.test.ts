import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import axios from "axios";
import { AddressInfo } from "net";
import { inspect } from "util";
import { parse as parseYaml } from "yaml";
import { ANALYSIS_FIELD_MANAGER, REQUEST_TIMEOUT_MS } from "../../analysis/adapters/kubernetes/client";
import { clusterService, serviceProxyResolver } from "../../analysis/adapters/kubernetes/service-proxy";
import { KubeWorkloads } from "../../analysis/adapters/kubernetes/workloads";
import { KubeRouter } from "../../analysis/routers/appmesh/kube-router";
import { APPMESH_QUERIES } from "../../analysis/routers/appmesh/queries";
import { PrometheusMetrics } from "../../analysis/adapters/metrics";
import { HttpWebhooks } from "../../analysis/adapters/webhooks";
import { withWeights, type VirtualRouterSpec } from "../../analysis/routers/appmesh/routes";
import { routerNodes } from "../../analysis/spec/names";
import { restingRouterSpec } from "./rollout-fixtures";
import { AppMeshSchemas } from "../../playground/crd-schemas";
import { startKubeApiServer, type KubeApiServer } from "../../playground/kube-api-server";
import { MemoryCluster } from "./memory-cluster";

const NS = "test";
const FAST_RETRY = { attempts: 4, initialDelayMs: 5 };

function routerObject(spec: VirtualRouterSpec, annotations: Record<string, string> = {}) {
    return { apiVersion: "appmesh.k8s.aws/v1beta2", kind: "VirtualRouter", metadata: { name: "podinfo", namespace: NS, annotations }, spec };
}

/** Apply as Pulumi's Kubernetes provider does (its own field manager, force only with patchForce). */
async function pulumiApply(api: KubeApiServer, spec: VirtualRouterSpec, force: boolean) {
    return axios.patch(`${api.url}/apis/appmesh.k8s.aws/v1beta2/namespaces/${NS}/virtualrouters/podinfo`, JSON.stringify(routerObject(spec)), {
        params: { fieldManager: "pulumi-kubernetes-3b1e0f2a", force },
        headers: { Authorization: `Bearer ${api.token}`, "Content-Type": "application/apply-patch+yaml" },
        validateStatus: () => true,
    });
}

describe("the Kubernetes adapters against the stand-in API server", function () {
    let cluster: MemoryCluster;
    let api: KubeApiServer;
    const schemas = new AppMeshSchemas();

    beforeEach(async () => {
        cluster = new MemoryCluster();
        cluster.addDeployment(NS, "podinfo", { replicas: 0 });
        cluster.addDeployment(NS, "podinfo-primary", { replicas: 3 });
        api = await startKubeApiServer(cluster);
        const created = await pulumiApply(api, restingRouterSpec(), false);
        assert.equal(created.status, 201, JSON.stringify(created.data));
    });

    afterEach(async () => {
        // Every VirtualRouter the server stored satisfies the CRD schema.
        for (const write of cluster.writes.filter((w) => w.kind === "router")) {
            assert.deepEqual(schemas.problems("VirtualRouter", { ...write.object, metadata: {} }), []);
        }
        await api.stop();
    });

    const router = (spec = restingRouterSpec()) => new KubeRouter({ access: { kubeconfig: api.kubeconfig }, namespace: NS, name: "podinfo", restingSpec: spec, retry: FAST_RETRY });
    const workloads = (extra: Partial<ConstructorParameters<typeof KubeWorkloads>[0]> = {}) =>
        new KubeWorkloads({ access: { kubeconfig: api.kubeconfig }, namespace: NS, canary: "podinfo", retry: FAST_RETRY, ...extra });

    it("sets weights by server-side applying the resting routes under its own manager with force", async () => {
        await router().setWeights({ primary: 95, canary: 5 });
        assert.deepEqual(cluster.weightsOf(NS, "podinfo"), { primary: 95, canary: 5 });
        assert.deepEqual(await router().getWeights(), { primary: 95, canary: 5 });
        const apply = api.requests.filter((r) => r.method === "PATCH").at(-1)!;
        assert.equal(apply.contentType, "application/apply-patch+yaml");
        assert.equal(apply.query.get("fieldManager"), ANALYSIS_FIELD_MANAGER);
        assert.equal(apply.query.get("force"), "true");
        assert.equal(apply.query.get("fieldValidation"), "Strict");
        // Only spec.routes is applied: the analysis owns exactly the list it changes.
        assert.deepEqual(Object.keys((apply.body as any).spec), ["routes"]);
        const stored = cluster.getVirtualRouter(NS, "podinfo")!;
        assert.deepEqual(stored.spec.listeners, restingRouterSpec().listeners);
        assert.deepEqual(stored.spec.routes[0].httpRoute.timeout, restingRouterSpec().routes[0].httpRoute.timeout);
        const managers = Object.fromEntries(stored.metadata.managedFields.map((m: any) => [m.manager, m.fieldsV1]));
        assert.deepEqual(managers[ANALYSIS_FIELD_MANAGER], { "f:spec": { "f:routes": {} } });
        assert.deepEqual(managers["pulumi-kubernetes-3b1e0f2a"]["f:spec"], { "f:listeners": {} });
    });

    it("never conflicts with Pulumi's next apply of an unchanged router once back at resting weights", async () => {
        await router().setWeights({ primary: 70, canary: 30 });
        // Mid-rollout, a plain apply of the declared router would conflict: Pulumi cannot silently reset traffic.
        const midRollout = await pulumiApply(api, restingRouterSpec(), false);
        assert.equal(midRollout.status, 409);
        assert.equal(midRollout.data.kind, "Status");
        assert.match(midRollout.data.message, /conflict with "appmesh-canary-analysis" using appmesh\.k8s\.aws\/v1beta2: \.spec\.routes/);
        await router().setWeights({ primary: 100, canary: 0 });
        const unchanged = await pulumiApply(api, restingRouterSpec(), false);
        assert.equal(unchanged.status, 200, JSON.stringify(unchanged.data));
        // Same value, so the list is now shared: neither side's next apply of it conflicts.
        const owners = cluster.getVirtualRouter(NS, "podinfo")!.metadata.managedFields.filter((m: any) => m.fieldsV1["f:spec"]?.["f:routes"]).map((m: any) => m.manager);
        assert.deepEqual(owners.sort(), [ANALYSIS_FIELD_MANAGER, "pulumi-kubernetes-3b1e0f2a"]);
    });

    it("lets Pulumi take changed routes back with patchForce, and the next rollout keeps the new route fields", async () => {
        await router().setWeights({ primary: 50, canary: 50 });
        await router().setWeights({ primary: 100, canary: 0 });
        const changed = restingRouterSpec("30s");
        assert.equal((await pulumiApply(api, changed, false)).status, 409);
        assert.equal((await pulumiApply(api, changed, true)).status, 200);
        const owners = cluster.getVirtualRouter(NS, "podinfo")!.metadata.managedFields.map((m: any) => m.manager);
        assert.deepEqual(owners, ["pulumi-kubernetes-3b1e0f2a"]);
        await router(changed).setWeights({ primary: 90, canary: 10 });
        const stored = cluster.getVirtualRouter(NS, "podinfo")!;
        assert.equal(stored.spec.routes[0].httpRoute.timeout.perRequest.value, 30000);
        assert.deepEqual(cluster.weightsOf(NS, "podinfo"), { primary: 90, canary: 10 });
    });

    it("retries a 409 conflict and a 500 on the first try", async () => {
        const path = `/apis/appmesh.k8s.aws/v1beta2/namespaces/${NS}/virtualrouters/podinfo`;
        api.injectFault({ path, method: "PATCH", status: 409 });
        await router().setWeights({ primary: 90, canary: 10 });
        api.injectFault({ path, method: "PATCH", status: 500 });
        await router().setWeights({ primary: 80, canary: 20 });
        api.injectFault({ path, method: "GET", status: "reset" });
        assert.deepEqual(await router().getWeights(), { primary: 80, canary: 20 });
        const statuses = api.requests.filter((r) => r.path === path).map((r) => `${r.method} ${r.status}`);
        assert.deepEqual(statuses.slice(1), ["PATCH 409", "PATCH 200", "PATCH 500", "PATCH 200", "GET -1", "GET 200"]);
    });

    it("retries through a refused connection while the API server restarts", async () => {
        const outage = api.outage(300);
        const slowRetry = new KubeRouter({ access: { kubeconfig: api.kubeconfig }, namespace: NS, name: "podinfo", restingSpec: restingRouterSpec(), retry: { attempts: 6, initialDelayMs: 100 } });
        await slowRetry.setWeights({ primary: 90, canary: 10 });
        await outage;
        assert.deepEqual(cluster.weightsOf(NS, "podinfo"), { primary: 90, canary: 10 });
    });

    it("gives up on a request the API server never answers after its deadline, then retries it", async function () {
        this.timeout(30_000);
        api.injectFault({ path: `/apis/appmesh.k8s.aws/v1beta2/namespaces/${NS}/virtualrouters/podinfo`, method: "GET", status: "hang" });
        const started = Date.now();
        assert.deepEqual(await router().getWeights(), { primary: 100, canary: 0 });
        const waited = Date.now() - started;
        assert.ok(waited >= REQUEST_TIMEOUT_MS && waited < REQUEST_TIMEOUT_MS + 5_000, `waited ${waited} ms`);
    });

    it("says whether an error it gives up on is transient, naming an unreachable API server", async () => {
        const unreachable = new KubeRouter({ access: { kubeconfig: api.kubeconfig }, namespace: NS, name: "podinfo", restingSpec: restingRouterSpec(), retry: FAST_RETRY });
        await api.stop();
        const refused = await unreachable.getWeights().then(() => undefined, (error) => error);
        assert.match(refused.message, /get VirtualRouter test\/podinfo failed \(after 4 attempts\): the Kubernetes API server could not be reached: .*ECONNREFUSED/);
        assert.equal(refused.transient, true);
        api = await startKubeApiServer(cluster);
        const missing = new KubeRouter({ access: { kubeconfig: api.kubeconfig }, namespace: NS, name: "nope", restingSpec: restingRouterSpec(), retry: FAST_RETRY });
        assert.equal((await missing.getWeights().then(() => undefined, (error) => error)).transient, false);
    });

    it("gives up on a transient error after its attempts, naming the call", async () => {
        api.injectFault({ path: "/apis/appmesh.k8s.aws", status: 503, times: 10 });
        await assert.rejects(router().setWeights({ primary: 90, canary: 10 }), /apply VirtualRouter test\/podinfo weights primary 90 canary 10 failed \(after 4 attempts\): 503 ServiceUnavailable/);
    });

    it("surfaces a schema rejection (422) at once, with the API server's reason", async () => {
        const invalid = restingRouterSpec();
        (invalid.routes[0].httpRoute.retryPolicy as any).perRetryTimeout.unit = "h";
        const before = api.requests.length;
        await assert.rejects(router(invalid).setWeights({ primary: 90, canary: 10 }), /422 Invalid: VirtualRouter\.appmesh\.k8s\.aws "podinfo" is invalid: .*perRetryTimeout\/unit must be equal to one of the allowed values/);
        assert.equal(api.requests.length - before, 1);
        assert.deepEqual(cluster.weightsOf(NS, "podinfo"), { primary: 100, canary: 0 });
    });

    it("reports a missing router and a wrong token as permanent errors", async () => {
        const missing = new KubeRouter({ access: { kubeconfig: api.kubeconfig }, namespace: NS, name: "nope", restingSpec: restingRouterSpec(), retry: FAST_RETRY });
        await assert.rejects(missing.getWeights(), /get VirtualRouter test\/nope failed: 404 NotFound: virtualrouters\.appmesh\.k8s\.aws "nope" not found/);
        const badToken = new KubeRouter({ access: { kubeconfig: api.kubeconfig.replace(api.token, "wrong") }, namespace: NS, name: "podinfo", restingSpec: restingRouterSpec(), retry: FAST_RETRY });
        await assert.rejects(badToken.getWeights(), /401 Unauthorized/);
    });

    it("scales the canary through the scale subresource and applies Flagger's ScaleFromZero rule", async () => {
        const w = workloads();
        assert.equal(await w.canaryReplicasWhenActive(), 3);
        assert.equal(await workloads({ autoscalerMinReplicas: 2 }).canaryReplicasWhenActive(), 2);
        await w.scaleCanary(3);
        assert.equal(cluster.replicasOf(NS, "podinfo"), 3);
        const scale = api.requests.filter((r) => r.method === "PATCH").at(-1)!;
        assert.equal(scale.path, `/apis/apps/v1/namespaces/${NS}/deployments/podinfo/scale`);
        assert.equal(scale.contentType, "application/merge-patch+json");
        assert.deepEqual(await w.canaryReadiness(100, 600), { ready: true });
        assert.equal(await w.canaryReplicasWhenActive(), 3);
        await w.scaleCanary(0);
        assert.equal(cluster.replicasOf(NS, "podinfo"), 0);
    });

    it("wraps readiness in Flagger's words for the canary and the primary", async () => {
        cluster.addDeployment(NS, "podinfo", { replicas: 2, unhealthy: true });
        const canary = await workloads().canaryReadiness(100, 600);
        assert.deepEqual(canary, { ready: false, retriable: true, reason: "canary deployment podinfo.test not ready: waiting for rollout to finish: 0 of 2 (readyThreshold 100%) updated replicas are available" });
        const later = await workloads({ now: () => Date.now() + 601_000 }).canaryReadiness(100, 600);
        assert.equal(later.ready === false && later.retriable, false);
        cluster.addDeployment(NS, "podinfo-primary", { replicas: 2, unhealthy: true });
        const primary = await workloads().primaryReadiness(50, 600);
        assert.equal(primary.ready === false && primary.reason, "podinfo-primary.test not ready: waiting for rollout to finish: 0 of 1 (readyThreshold 50%) updated replicas are available");
        await assert.rejects(workloads({ canary: "ghost" }).canaryReadiness(100, 600), /Deployment test\/ghost not found/);
    });

    it("answers like an API server: Status objects for auth, media type, manager, dry run and bad replicas", async () => {
        const vr = `${api.url}/apis/appmesh.k8s.aws/v1beta2/namespaces/${NS}/virtualrouters/podinfo`;
        const auth = { Authorization: `Bearer ${api.token}` };
        const call = (method: string, url: string, data?: unknown, headers: Record<string, string> = {}, params: Record<string, string> = {}) =>
            axios.request({ method, url, data: data === undefined ? undefined : JSON.stringify(data), headers: { ...auth, ...headers }, params, validateStatus: () => true });
        const unauthorized = await axios.get(vr, { validateStatus: () => true });
        assert.deepEqual([unauthorized.status, unauthorized.data.kind, unauthorized.data.reason], [401, "Status", "Unauthorized"]);
        const merge = await call("PATCH", vr, { spec: {} }, { "Content-Type": "application/merge-patch+json" }, { fieldManager: "x" });
        assert.deepEqual([merge.status, merge.data.reason], [415, "UnsupportedMediaType"]);
        const noManager = await call("PATCH", vr, routerObject(restingRouterSpec()), { "Content-Type": "application/apply-patch+yaml" });
        assert.deepEqual([noManager.status, noManager.data.reason], [400, "BadRequest"]);
        const dryRun = await call("PATCH", vr, routerObject(withWeights(restingRouterSpec(), routerNodes("podinfo"), { primary: 0, canary: 100 })), { "Content-Type": "application/apply-patch+yaml" }, { fieldManager: "x", force: "true", dryRun: "All" });
        assert.equal(dryRun.status, 200);
        assert.equal(dryRun.data.spec.routes[0].httpRoute.action.weightedTargets[0].weight, 100);
        assert.deepEqual(cluster.weightsOf(NS, "podinfo"), { primary: 100, canary: 0 }, "a dry run stores nothing");
        const unknown = await call("GET", `${api.url}/api/v1/namespaces/${NS}/pods`);
        assert.deepEqual([unknown.status, unknown.data.reason], [404, "NotFound"]);
        const scale = await call("GET", `${api.url}/apis/apps/v1/namespaces/${NS}/deployments/podinfo-primary/scale`);
        assert.deepEqual([scale.data.kind, scale.data.spec.replicas, scale.data.status.selector], ["Scale", 3, "app=podinfo-primary"]);
        const negative = await call("PATCH", `${api.url}/apis/apps/v1/namespaces/${NS}/deployments/podinfo/scale`, { spec: { replicas: -1 } }, { "Content-Type": "application/merge-patch+json" });
        assert.deepEqual([negative.status, negative.data.reason, negative.data.details.causes[0].field], [422, "Invalid", "spec.replicas"]);
    });

    it("retries a 500 when scaling", async () => {
        api.injectFault({ path: `/apis/apps/v1/namespaces/${NS}/deployments/podinfo/scale`, status: 500 });
        await workloads().scaleCanary(1);
        assert.equal(cluster.replicasOf(NS, "podinfo"), 1);
    });

    describe("service proxy", () => {
        let upstream: http.Server;
        let seen: { url?: string; authorization?: string; body?: string }[];

        beforeEach(async () => {
            seen = [];
            upstream = http.createServer((req, res) => {
                let body = "";
                req.on("data", (c) => (body += c));
                req.on("end", () => {
                    seen.push({ url: req.url, authorization: req.headers.authorization, body });
                    res.writeHead(200, { "content-type": "application/json" });
                    res.end(JSON.stringify({ status: "success", path: req.url }));
                });
            });
            await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
            const port = (upstream.address() as AddressInfo).port;
            cluster.addService("appmesh-system", "appmesh-prometheus", 9090, `http://127.0.0.1:${port}`);
            cluster.addService(NS, "flagger-loadtester", 80, `http://127.0.0.1:${port}`);
        });

        afterEach(() => new Promise<void>((r) => upstream.close(() => r())));

        it("reaches cluster-internal URLs through the API server with the kubeconfig's token", async () => {
            const resolve = serviceProxyResolver({ access: { kubeconfig: api.kubeconfig }, namespaces: [NS, "appmesh-system"] });
            const prom = await resolve("http://appmesh-prometheus.appmesh-system:9090/api/v1/query?query=up");
            assert.equal(prom.url, `${api.url}/api/v1/namespaces/appmesh-system/services/http:appmesh-prometheus:9090/proxy/api/v1/query?query=up`);
            assert.equal(prom.headers?.Authorization, `Bearer ${api.token}`);
            const answer = await axios.get(prom.url, { headers: prom.headers });
            assert.deepEqual(answer.data, { status: "success", path: "/api/v1/query?query=up" });
            const hook = await resolve("http://flagger-loadtester.test/");
            const posted = await axios.post(hook.url, { name: "podinfo" }, { headers: hook.headers });
            assert.equal(posted.status, 200);
            // The API server's token is not forwarded to the service.
            assert.deepEqual(seen.map((s) => [s.url, s.authorization, s.body]), [
                ["/api/v1/query?query=up", undefined, ""],
                ["/", undefined, JSON.stringify({ name: "podinfo" })],
            ]);
        });

        it("calls external URLs directly", async () => {
            const resolve = serviceProxyResolver({ access: { kubeconfig: api.kubeconfig }, namespaces: [NS] });
            assert.deepEqual(await resolve("https://hooks.slack.com/services/x"), { url: "https://hooks.slack.com/services/x" });
            assert.deepEqual(await resolve("http://127.0.0.1:9090/api"), { url: "http://127.0.0.1:9090/api" });
        });

        it("answers 404 and 503 Status objects for a missing or unreachable service", async () => {
            const resolve = serviceProxyResolver({ access: { kubeconfig: api.kubeconfig }, namespaces: [NS] });
            const missing = await resolve("http://nothing.test:80/");
            const answer = await axios.get(missing.url, { headers: missing.headers, validateStatus: () => true });
            assert.equal(answer.status, 404);
            assert.equal(answer.data.kind, "Status");
            cluster.addService(NS, "down", 80, "http://127.0.0.1:1");
            const down = await resolve("http://down.test/");
            const refused = await axios.get(down.url, { headers: down.headers, validateStatus: () => true });
            assert.equal(refused.status, 503);
            assert.match(refused.data.message, /error trying to reach service/);
        });
    });

    it("accepts a JSON kubeconfig (pulumi-eks `kubeconfigJson`) and exec credentials (`aws eks get-token`)", async () => {
        const json = JSON.stringify(parseYaml(api.kubeconfig));
        const viaJson = new KubeRouter({ access: { kubeconfig: json }, namespace: NS, name: "podinfo", restingSpec: restingRouterSpec() });
        assert.deepEqual(await viaJson.getWeights(), { primary: 100, canary: 0 });
        // An exec plugin that prints an ExecCredential, as `aws eks get-token` does.
        const credential = JSON.stringify({ apiVersion: "client.authentication.k8s.io/v1beta1", kind: "ExecCredential", status: { token: api.token } });
        const config = parseYaml(api.kubeconfig);
        config.users[0].user = { exec: { apiVersion: "client.authentication.k8s.io/v1beta1", command: process.execPath, args: ["-e", `process.stdout.write(${JSON.stringify(credential)})`], interactiveMode: "Never" } };
        const viaExec = new KubeRouter({ access: { kubeconfig: JSON.stringify(config) }, namespace: NS, name: "podinfo", restingSpec: restingRouterSpec() });
        await viaExec.setWeights({ primary: 90, canary: 10 });
        assert.deepEqual(cluster.weightsOf(NS, "podinfo"), { primary: 90, canary: 10 });
        const resolve = serviceProxyResolver({ access: { kubeconfig: JSON.stringify(config) }, namespaces: [NS] });
        assert.equal((await resolve("http://flagger-loadtester.test/")).headers?.Authorization, `Bearer ${api.token}`);
    });

    it("reads KUBECONFIG when no kubeconfig input is given", async () => {
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kube-")), "config");
        fs.writeFileSync(file, api.kubeconfig);
        const saved = process.env.KUBECONFIG;
        process.env.KUBECONFIG = file;
        try {
            assert.deepEqual(await new KubeRouter({ access: {}, namespace: NS, name: "podinfo", restingSpec: restingRouterSpec() }).getWeights(), { primary: 100, canary: 0 });
        } finally {
            if (saved === undefined) {
                delete process.env.KUBECONFIG;
            } else {
                process.env.KUBECONFIG = saved;
            }
        }
    });
});

describe("serviceProxyResolver against an HTTPS API server", () => {
    it("carries the cluster's CA and the token in the endpoint, without connecting", async () => {
        const ca = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
        const kubeconfig = JSON.stringify({
            apiVersion: "v1",
            kind: "Config",
            clusters: [{ name: "eks", cluster: { server: "https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com", "certificate-authority-data": Buffer.from(ca).toString("base64") } }],
            users: [{ name: "eks", user: { token: "t0ken" } }],
            contexts: [{ name: "eks", context: { cluster: "eks", user: "eks" } }],
            "current-context": "eks",
        });
        const endpoint = await serviceProxyResolver({ access: { kubeconfig }, namespaces: ["appmesh-system"] })("http://appmesh-prometheus.appmesh-system:9090/api/v1/query?query=up");
        assert.equal(endpoint.url, "https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com/api/v1/namespaces/appmesh-system/services/http:appmesh-prometheus:9090/proxy/api/v1/query?query=up");
        assert.equal(endpoint.headers?.Authorization, "Bearer t0ken");
        assert.ok(endpoint.httpsAgent instanceof https.Agent);
        assert.equal(String((endpoint.httpsAgent as any).options.ca), ca);
    });

    it("reuses one agent across calls while the TLS material is unchanged; another CA gets its own", async () => {
        const kubeconfig = (ca: string) => JSON.stringify({
            apiVersion: "v1",
            clusters: [{ name: "eks", cluster: { server: "https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com", "certificate-authority-data": Buffer.from(ca).toString("base64") } }],
            users: [{ name: "eks", user: { token: "t0ken" } }],
            contexts: [{ name: "eks", context: { cluster: "eks", user: "eks" } }],
            "current-context": "eks",
        });
        const resolve = serviceProxyResolver({ access: { kubeconfig: kubeconfig("ca-one") }, namespaces: ["appmesh-system"] });
        const first = await resolve("http://appmesh-prometheus.appmesh-system:9090/api/v1/query?query=up");
        const second = await resolve("http://flagger-loadtester.appmesh-system/");
        assert.ok(first.httpsAgent instanceof https.Agent);
        assert.equal(second.httpsAgent, first.httpsAgent);
        const other = await serviceProxyResolver({ access: { kubeconfig: kubeconfig("ca-two") }, namespaces: ["appmesh-system"] })("http://flagger-loadtester.appmesh-system/");
        assert.notEqual(other.httpsAgent, first.httpsAgent);
        assert.equal(String((other.httpsAgent as any).options.ca), "ca-two");
    });
});

describe("clusterService", () => {
    const at = (u: string, namespaces = ["test", "appmesh-system"], def?: string) => clusterService(new URL(u), namespaces, def);
    it("recognises the forms of a cluster-internal host", () => {
        assert.deepEqual(at("http://appmesh-prometheus.appmesh-system:9090"), { name: "appmesh-prometheus", namespace: "appmesh-system" });
        assert.deepEqual(at("http://podinfo-canary.test.svc.cluster.local:9898/"), { name: "podinfo-canary", namespace: "test" });
        assert.deepEqual(at("http://podinfo-canary.other.svc:9898/"), { name: "podinfo-canary", namespace: "other" });
        assert.deepEqual(at("http://podinfo-canary:9898/", [], "test"), { name: "podinfo-canary", namespace: "test" });
    });
    it("leaves external and local hosts alone", () => {
        assert.equal(at("https://discord.com/api/webhooks/1"), undefined);
        assert.equal(at("https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1"), undefined);
        assert.equal(at("http://localhost:9090"), undefined);
        assert.equal(at("http://10.0.0.1:9090"), undefined);
        assert.equal(at("http://podinfo:9898/"), undefined);
    });
});

describe("secrets in failures", () => {
    const SECRET = "s3cr3t-token-value-0123456789";
    const inspectAll = (value: unknown) => `${String(value)} ${inspect(value, { depth: 8, showHidden: true })}`;

    it("reports an unreadable kubeconfig by position, never quoting its lines", async () => {
        const broken = `apiVersion: v1\nclusters:\n- name: c\n  cluster: {server: "https://example.invalid"}\nusers:\n- name: u\n  user:\n    token: ${SECRET}\n   client-key-data: x\n`;
        const router = new KubeRouter({ access: { kubeconfig: broken }, namespace: NS, name: "podinfo", restingSpec: restingRouterSpec() });
        const error = await router.getWeights().then(() => undefined, (e: unknown) => e);
        assert.match(String(error), /the kubeconfig could not be read: not valid YAML or JSON: .* at line 9, column 4/);
        assert.ok(!inspectAll(error).includes(SECRET), inspectAll(error));
        // client-node's own checks name the field.
        const unnamed = `apiVersion: v1\nclusters:\n- cluster: {server: "https://example.invalid"}\nusers:\n- name: u\n  user: {token: ${SECRET}}\n`;
        const invalid = new KubeWorkloads({ access: { kubeconfig: unnamed }, namespace: NS, canary: "podinfo" });
        await assert.rejects(invalid.canaryReplicas(), { message: "the kubeconfig could not be read: clusters[0].name is missing" });
    });

    it("keeps the kubeconfig's token and a metric provider's credentials out of failed requests", async () => {
        const cluster = new MemoryCluster();
        const api = await startKubeApiServer(cluster, { token: SECRET });
        await api.stop();
        // Every adapter now fails against a closed port with the token in its request headers.
        const access = { kubeconfig: api.kubeconfig };
        const failures: unknown[] = [];
        const retry = { attempts: 2, initialDelayMs: 1 };
        for (const call of [
            () => new KubeRouter({ access, namespace: NS, name: "podinfo", restingSpec: restingRouterSpec(), retry }).setWeights({ primary: 90, canary: 10 }),
            () => new KubeWorkloads({ access, namespace: NS, canary: "podinfo", retry }).scaleCanary(0),
        ]) {
            failures.push(await call().then(() => assert.fail("the call should fail"), (e: unknown) => e));
        }
        const resolve = serviceProxyResolver({ access, namespaces: [NS, "appmesh-system"] });
        const viaProxy = await new PrometheusMetrics({ builtinQueries: APPMESH_QUERIES, address: "http://appmesh-prometheus.appmesh-system:9090", resolve }).read({ name: "request-success-rate" }, { namespace: NS, name: "podinfo", target: "podinfo", service: "podinfo" });
        const templates = { secured: { provider: { type: "prometheus" as const, address: `http://user:${SECRET}@127.0.0.1:1/prom`, token: SECRET, headers: { "X-Scope-OrgID": SECRET } }, query: "up" } };
        const direct = await new PrometheusMetrics({ builtinQueries: APPMESH_QUERIES, address: "http://127.0.0.1:1", templates }).read({ name: "up", templateRef: { name: "secured" } }, { namespace: NS, name: "podinfo", target: "podinfo", service: "podinfo" });
        const hook = await new HttpWebhooks({ resolve }).call({ name: "load-test", url: "http://flagger-loadtester.test/" }, { name: "podinfo", namespace: NS, phase: "Progressing", checksum: "x" });
        for (const [what, failure] of [["router", failures[0]], ["workloads", failures[1]], ["proxied metric", viaProxy], ["template metric", direct], ["webhook", hook]] as const) {
            const text = inspectAll(failure) + JSON.stringify(failure);
            assert.match(text, /ECONNREFUSED|failed/, `${what}: ${text}`);
            assert.ok(!text.includes(SECRET), `${what} leaks the secret: ${text}`);
        }
        assert.equal((viaProxy as { kind: string }).kind, "error");
        assert.equal((direct as { kind: string }).kind, "error");
        assert.equal(hook.ok, false);
    });
});
