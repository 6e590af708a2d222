import * as assert from "node:assert";
import type { RouteSpec, VirtualRouterSpec } from "../../analysis/routers/appmesh/routes";
import { EnvoyStats } from "../../playground/envoy-stats";
import { requestThroughProxy } from "../../playground/http-util";
import { MeshRouter } from "../../playground/mesh-router";
import { Pod, startPod } from "../../playground/pod";
import type { Fault } from "../../playground/podinfo-app";
import { isRetriable, pickWeightedTarget, selectRoute } from "../../playground/route-match";

const targets = (canary: number) => [
    { virtualNodeRef: { name: "podinfo-canary" }, weight: canary },
    { virtualNodeRef: { name: "podinfo-primary" }, weight: 100 - canary },
];

function route(name: string, canary: number, extra: Partial<RouteSpec["httpRoute"]> = {}, priority?: number): RouteSpec {
    return { name, priority, httpRoute: { match: { prefix: "/" }, action: { weightedTargets: targets(canary) }, ...extra } };
}

function router(...routes: RouteSpec[]): VirtualRouterSpec {
    return { listeners: [{ portMapping: { port: 9898, protocol: "http" } }], routes };
}

describe("playground mesh router: route selection (pure)", () => {
    it("orders routes by priority and requires every header of a route (exact, prefix, suffix, regex)", () => {
        const ab = router(
            route("podinfo-b", 0, {}, 20),
            route("podinfo-a", 100, { match: { prefix: "/", headers: [{ name: "X-Canary", match: { exact: "insider" } }, { name: "user-agent", match: { regex: "curl/.*" } }] } }, 10),
        );
        assert.strictEqual(selectRoute(ab, { path: "/", headers: { "x-canary": "insider", "user-agent": "curl/8.0" } })?.name, "podinfo-a");
        assert.strictEqual(selectRoute(ab, { path: "/", headers: { "x-canary": "insider", "user-agent": "hey/0.0.1" } })?.name, "podinfo-b");
        assert.strictEqual(selectRoute(ab, { path: "/", headers: { "x-canary": "insiders", "user-agent": "curl/8.0" } })?.name, "podinfo-b");
        assert.strictEqual(selectRoute(ab, { path: "/", headers: {} })?.name, "podinfo-b");
        const affixes = router(route("a", 100, { match: { prefix: "/api", headers: [{ name: "cookie", match: { prefix: "canary=", suffix: ";x" } }] } }, 1));
        assert.strictEqual(selectRoute(affixes, { path: "/api/v1", headers: { cookie: "canary=1;x" } })?.name, "a");
        assert.strictEqual(selectRoute(affixes, { path: "/api/v1", headers: { cookie: "canary=1;y" } }), undefined);
        assert.strictEqual(selectRoute(affixes, { path: "/web", headers: { cookie: "canary=1;x" } }), undefined);
    });

    it("splits by weight and maps Envoy's retry events", () => {
        assert.strictEqual(pickWeightedTarget(targets(10), 0.05)?.virtualNodeRef.name, "podinfo-canary");
        assert.strictEqual(pickWeightedTarget(targets(10), 0.1)?.virtualNodeRef.name, "podinfo-primary");
        assert.strictEqual(pickWeightedTarget(targets(0), 0)?.virtualNodeRef.name, "podinfo-primary");
        assert.strictEqual(pickWeightedTarget([{ virtualNodeRef: { name: "x" }, weight: 0 }], 0.5), undefined);
        assert.ok(isRetriable({ kind: "status", status: 503 }, ["gateway-error"]));
        assert.ok(!isRetriable({ kind: "status", status: 500 }, ["gateway-error", "client-error"]));
        assert.ok(isRetriable({ kind: "status", status: 500 }, ["server-error"]));
        assert.ok(isRetriable({ kind: "status", status: 409 }, ["client-error"]));
        assert.ok(!isRetriable({ kind: "status", status: 404 }, ["client-error"]));
        assert.ok(isRetriable({ kind: "timeout" }, ["gateway-error"]));
        assert.ok(!isRetriable({ kind: "timeout" }, ["client-error", "stream-error"]));
    });

    it("renders Envoy's exposition with cumulative millisecond buckets", () => {
        const stats = new EnvoyStats("cds_ingress_global_podinfo-canary_http_9898");
        stats.record(200, 3);
        stats.record(500, 700);
        const text = stats.render();
        assert.match(text, /envoy_cluster_upstream_rq\{envoy_response_code="200",envoy_cluster_name="cds_ingress_global_podinfo-canary_http_9898"\} 1/);
        assert.match(text, /envoy_cluster_upstream_rq\{envoy_response_code="500",.*\} 1/);
        assert.match(text, /envoy_cluster_upstream_rq_time_bucket\{.*le="1"\} 0\n.*le="5"\} 1\n/);
        assert.match(text, /le="500"\} 1\n.*le="1000"\} 2\n/);
        assert.match(text, /le="\+Inf"\} 2\n.*_sum\{.*\} 703\n.*_count\{.*\} 2\n$/);
    });
});

describe("playground mesh router: real HTTP through the proxy", function () {
    const pods: Pod[] = [];
    const faults: Record<string, Fault> = { primary: { errorRate: 0, latencyMs: 0, crashLoop: false }, canary: { errorRate: 0, latencyMs: 0, crashLoop: false } };
    let mesh: MeshRouter;

    before(async () => {
        for (const [node, version, fault] of [["podinfo-primary", "6.0.0", faults.primary], ["podinfo-canary", "6.0.1", faults.canary]] as const) {
            for (let i = 0; i < 2; i++) {
                pods.push(await startPod({ namespace: "test", name: `${node}-abc-${i}`, virtualNode: node, mesh: "global", port: 9898, app: { version, color: "#000", message: "hi" }, fault, readyDelayMs: 0 }));
            }
        }
        await Promise.all(pods.map((p) => p.ready));
        mesh = new MeshRouter({
            endpoints: (_ns, node) => pods.filter((p) => p.name.startsWith(`${node}-`) && p.isReady()).map((p) => ({ pod: p.name, url: p.url })),
        });
        await mesh.start();
        mesh.setVirtualService("podinfo.test", "test", "podinfo");
        mesh.setVirtualService("podinfo-canary.test", "test", "podinfo-canary");
        mesh.setRouter("test", "podinfo-canary", router(route("podinfo-canary", 100)));
    });

    after(async () => {
        await mesh.stop();
        await Promise.all(pods.map((p) => p.stop()));
    });

    beforeEach(() => {
        Object.assign(faults.primary, { errorRate: 0, latencyMs: 0 });
        Object.assign(faults.canary, { errorRate: 0, latencyMs: 0 });
    });

    const versionOf = (body: string) => (JSON.parse(body) as { version: string }).version;

    it("splits traffic by the weights of routes[0] and balances over the node's pods", async () => {
        mesh.setRouter("test", "podinfo", router(route("podinfo", 50)));
        const answers = await Promise.all(Array.from({ length: 400 }, () => requestThroughProxy(mesh.proxyUrl, "http://podinfo.test:9898/")));
        const canary = answers.filter((a) => versionOf(a.body) === "6.0.1").length;
        assert.ok(canary > 140 && canary < 260, `about half of 400 requests should reach the canary, got ${canary}`);
        const canaryPods = pods.filter((p) => p.version === "6.0.1").map((p) => p.stats.total);
        assert.ok(canaryPods.every((n) => n > 50), `both canary pods serve: ${canaryPods}`);
        mesh.setRouter("test", "podinfo", router(route("podinfo", 0)));
        const resting = await Promise.all(Array.from({ length: 50 }, () => requestThroughProxy(mesh.proxyUrl, "http://podinfo.test.svc.cluster.local:9898/")));
        assert.deepStrictEqual(new Set(resting.map((a) => versionOf(a.body))), new Set(["6.0.0"]));
        const wrongPort = await requestThroughProxy(mesh.proxyUrl, "http://podinfo.test/");
        assert.strictEqual(wrongPort.status, 404);
        const unknown = await requestThroughProxy(mesh.proxyUrl, "http://nothing.test:9898/");
        assert.strictEqual(unknown.status, 404);
        assert.match(unknown.body, /no virtual service nothing\.test/);
    });

    it("sends only header-matched requests to the canary in the A/B layout", async () => {
        const headers = [{ name: "x-canary", match: { exact: "insider" } }];
        mesh.setRouter("test", "podinfo", router(route("podinfo-a", 100, { match: { prefix: "/", headers } }, 10), route("podinfo-b", 0, {}, 20)));
        const withHeader = await Promise.all(Array.from({ length: 30 }, () => requestThroughProxy(mesh.proxyUrl, "http://podinfo.test:9898/", { headers: { "X-Canary": "insider" } })));
        const without = await Promise.all(Array.from({ length: 30 }, () => requestThroughProxy(mesh.proxyUrl, "http://podinfo.test:9898/")));
        assert.ok(withHeader.every((a) => versionOf(a.body) === "6.0.1"));
        assert.ok(without.every((a) => versionOf(a.body) === "6.0.0"));
        const log = mesh.accessLog.slice(-60);
        assert.ok(log.filter((e) => e.route === "podinfo-b").every((e) => e.virtualNode === "podinfo-primary"));
    });

    it("retries the events of the retry policy and gives up after maxRetries", async () => {
        faults.canary.errorRate = 0.5;
        const retryOn = (events: string[]) =>
            router(route("podinfo-canary", 100, { retryPolicy: { maxRetries: 2, perRetryTimeout: { unit: "s", value: 5 }, httpRetryEvents: events } }));
        mesh.setRouter("test", "podinfo-canary", retryOn(["server-error"]));
        const retried = [];
        for (let i = 0; i < 20; i++) {
            retried.push(await requestThroughProxy(mesh.proxyUrl, "http://podinfo-canary.test:9898/"));
        }
        assert.ok(retried.every((a) => a.status === 200), "server-error retries hide alternating 500s");
        assert.ok(mesh.accessLog.slice(-20).some((e) => e.attempts > 1), "some requests needed a retry");
        // The tutorial's retryOn does not include server-error: the 500s reach the caller.
        mesh.setRouter("test", "podinfo-canary", retryOn(["gateway-error", "client-error", "stream-error"]));
        const plain = [];
        for (let i = 0; i < 20; i++) {
            plain.push(await requestThroughProxy(mesh.proxyUrl, "http://podinfo-canary.test:9898/"));
        }
        const failures = plain.filter((a) => a.status === 500).length;
        assert.ok(failures >= 8 && failures <= 12, `about half fail without server-error retries, got ${failures}`);
        faults.canary.errorRate = 1;
        const exhausted = await requestThroughProxy(mesh.proxyUrl, "http://podinfo-canary.test:9898/");
        assert.strictEqual(exhausted.status, 500);
        mesh.setRouter("test", "podinfo-canary", retryOn(["server-error"]));
        await requestThroughProxy(mesh.proxyUrl, "http://podinfo-canary.test:9898/");
        assert.strictEqual(mesh.accessLog[mesh.accessLog.length - 1].attempts, 3);
    });

    it("enforces perRetryTimeout per attempt and the route's perRequest timeout", async () => {
        faults.canary.latencyMs = 300;
        mesh.setRouter(
            "test",
            "podinfo-canary",
            router(route("podinfo-canary", 100, { retryPolicy: { maxRetries: 2, perRetryTimeout: { unit: "ms", value: 80 }, httpRetryEvents: ["gateway-error"] } })),
        );
        const started = Date.now();
        const perTry = await requestThroughProxy(mesh.proxyUrl, "http://podinfo-canary.test:9898/");
        assert.strictEqual(perTry.status, 504);
        assert.strictEqual(mesh.accessLog[mesh.accessLog.length - 1].attempts, 3);
        assert.ok(Date.now() - started < 300 * 3, "attempts are cut at the per-try timeout");
        mesh.setRouter("test", "podinfo-canary", router(route("podinfo-canary", 100, { timeout: { perRequest: { unit: "ms", value: 100 } } })));
        const perRequest = await requestThroughProxy(mesh.proxyUrl, "http://podinfo-canary.test:9898/");
        assert.strictEqual(perRequest.status, 504);
        assert.match(perRequest.body, /upstream request timeout/);
        mesh.setRouter("test", "podinfo-canary", router(route("podinfo-canary", 100, { timeout: { perRequest: { unit: "s", value: 2 } } })));
        const inTime = await requestThroughProxy(mesh.proxyUrl, "http://podinfo-canary.test:9898/");
        assert.strictEqual(inTime.status, 200);
    });

    it("serves the podinfo endpoints the tutorial uses", async () => {
        mesh.setRouter("test", "podinfo-canary", router(route("podinfo-canary", 100)));
        const token = await requestThroughProxy(mesh.proxyUrl, "http://podinfo-canary.test:9898/token", { method: "POST", body: "test" });
        assert.strictEqual(token.status, 200);
        assert.match(JSON.parse(token.body).token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
        assert.strictEqual((await requestThroughProxy(mesh.proxyUrl, "http://podinfo-canary.test:9898/status/418")).status, 418);
        assert.deepStrictEqual(JSON.parse((await requestThroughProxy(mesh.proxyUrl, "http://podinfo-canary.test:9898/delay/0.05")).body), { delay: 0.05 });
        assert.strictEqual(JSON.parse((await requestThroughProxy(mesh.proxyUrl, "http://podinfo-canary.test:9898/version")).body).version, "6.0.1");
        assert.strictEqual((await requestThroughProxy(mesh.proxyUrl, "http://podinfo-canary.test:9898/readyz")).status, 200);
    });
});

describe("playground pod termination", () => {
    it("finishes the requests in flight when it stops, as a terminating pod does, and refuses new ones", async () => {
        const pod = await startPod({ namespace: "test", name: "podinfo-abc-slow", virtualNode: "podinfo-canary", mesh: "global", port: 9898, app: { version: "6.0.1", color: "#000", message: "hi" }, fault: { errorRate: 0, latencyMs: 400, crashLoop: false }, readyDelayMs: 0 });
        await pod.ready;
        const inFlight = fetch(`${pod.url}/`);
        await new Promise((resolve) => setTimeout(resolve, 100));
        const started = Date.now();
        await pod.stop();
        const answer = await inFlight;
        assert.strictEqual(answer.status, 200, "the request in flight was answered");
        assert.strictEqual((await answer.json()).version, "6.0.1");
        assert.ok(Date.now() - started < 2000, "the stop did not wait for the whole grace period");
        assert.strictEqual(pod.isReady(), false);
        await assert.rejects(fetch(`${pod.url}/`), "a stopped pod takes no new request");
    });
});
