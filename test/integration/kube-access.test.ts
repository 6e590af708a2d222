/**
 * How the analysis reaches a cluster, without one: which URLs go through the API server's service proxy and how,
 * the TLS material it carries, and that no failure ever shows the kubeconfig's token or a provider's credentials.
 * (The adapters against a real API server: kube-apiserver.test.ts.)
 */
import * as assert from "node:assert/strict";
import * as https from "https";
import { inspect } from "util";
import { stringify as stringifyYaml } from "yaml";
import { clusterService, serviceProxyResolver } from "../../analysis/adapters/kubernetes/service-proxy";
import { KubeWorkloads } from "../../analysis/adapters/kubernetes/workloads";
import { KubeRouter } from "../../analysis/routers/appmesh/kube-router";
import { APPMESH_QUERIES } from "../../analysis/routers/appmesh/queries";
import { PrometheusMetrics } from "../../analysis/adapters/metrics";
import { HttpWebhooks } from "../../analysis/adapters/webhooks";
import { restingRouterSpec } from "./rollout-fixtures";

const NS = "test";

/** A kubeconfig for an API server that is not there (nothing listens on port 1). */
function closedPortKubeconfig(token: string): string {
    return stringifyYaml({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: "http://127.0.0.1:1", "insecure-skip-tls-verify": true } }],
        users: [{ name: "u", user: { token } }],
        contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
        "current-context": "c",
    });
}

describe("serviceProxyResolver", () => {
    it("calls external and local URLs directly", async () => {
        const resolve = serviceProxyResolver({ access: { kubeconfig: closedPortKubeconfig("t0ken") }, namespaces: [NS] });
        assert.deepEqual(await resolve("https://hooks.slack.com/services/x"), { url: "https://hooks.slack.com/services/x" });
        assert.deepEqual(await resolve("http://127.0.0.1:9090/api"), { url: "http://127.0.0.1:9090/api" });
    });

    it("sends cluster-internal URLs through the API server's service proxy with the kubeconfig's token", async () => {
        const resolve = serviceProxyResolver({ access: { kubeconfig: closedPortKubeconfig("t0ken") }, namespaces: [NS, "appmesh-system"] });
        const prometheus = await resolve("http://appmesh-prometheus.appmesh-system:9090/api/v1/query?query=up");
        assert.equal(prometheus.url, "http://127.0.0.1:1/api/v1/namespaces/appmesh-system/services/http:appmesh-prometheus:9090/proxy/api/v1/query?query=up");
        assert.equal(prometheus.headers?.Authorization, "Bearer t0ken");
        assert.equal((await resolve("http://flagger-loadtester.test/")).url, "http://127.0.0.1:1/api/v1/namespaces/test/services/http:flagger-loadtester:80/proxy/");
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
        // The CA goes into one secure context for all the agent's connections (a real server's is checked in kube-apiserver.test.ts).
        const options = (endpoint.httpsAgent as any).options;
        assert.ok(options.secureContext?.context, "a secure context built from the kubeconfig");
        assert.equal(options.ca, undefined, "the CA is not turned into the connection pool's key on every request");
        assert.notEqual(options.rejectUnauthorized, false);
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
        assert.notEqual((other.httpsAgent as any).options.secureContext, (first.httpsAgent as any).options.secureContext);
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
        // Every adapter fails against a closed port with the token in its request headers.
        const access = { kubeconfig: closedPortKubeconfig(SECRET) };
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
