import * as assert from "node:assert/strict";
import * as http from "http";
import type { WebhookPayload } from "../../analysis/engine/ports";
import type { WebhookSpec } from "../../analysis/spec/canary";
import { HttpWebhooks, isRetryableStatus, retryWaitMs, webhookBody, webhookTimeoutMs } from "../../analysis/adapters/webhooks";
import { closeServer, listenOnFreePort, readBody } from "../../playground/http-util";

interface Received {
    path: string;
    method: string;
    headers: http.IncomingHttpHeaders;
    body: string;
    at: number;
}

/** A real HTTP server; each path answers by its script, given the attempt number (0-based). */
class HookServer {
    readonly received: Received[] = [];
    private readonly scripts = new Map<string, (attempt: number, res: http.ServerResponse) => void>();
    private readonly server = http.createServer(async (req, res) => {
        const body = (await readBody(req)).toString("utf8");
        const path = req.url ?? "/";
        const attempt = this.received.filter((r) => r.path === path).length;
        this.received.push({ path, method: req.method ?? "", headers: req.headers, body, at: Date.now() });
        const script = this.scripts.get(path);
        if (script) {
            script(attempt, res);
        } else {
            res.writeHead(404).end("no such hook");
        }
    });
    url = "";

    async start(): Promise<void> {
        this.url = `http://127.0.0.1:${await listenOnFreePort(this.server)}`;
    }

    stop(): Promise<void> {
        return closeServer(this.server);
    }

    on(path: string, script: (attempt: number, res: http.ServerResponse) => void): string {
        this.scripts.set(path, script);
        return `${this.url}${path}`;
    }

    attempts(path: string): Received[] {
        return this.received.filter((r) => r.path === path);
    }
}

const reply = (status: number, body = "", headers: http.OutgoingHttpHeaders = {}) => (_attempt: number, res: http.ServerResponse) =>
    res.writeHead(status, { "Content-Type": "text/plain", ...headers }).end(body);

const payload: WebhookPayload = { name: "podinfo", namespace: "test", phase: "Progressing", checksum: "6b4f5c7d8" };

describe("HttpWebhooks against a real HTTP server", function () {
    this.timeout(20_000);
    const server = new HookServer();
    const fast = new HttpWebhooks({ retryWaitMinMs: 20, retryWaitMaxMs: 100 });
    before(() => server.start());
    after(() => server.stop());

    it("POSTs Flagger's JSON payload with the hook's metadata", async function () {
        const url = server.on("/gate/check", reply(200, "Approved"));
        const hook: WebhookSpec = { name: "load-test", type: "rollout", url, metadata: { type: "cmd", cmd: "hey -z 1m http://podinfo-canary.test:9898/" } };
        assert.deepEqual(await fast.call(hook, payload), { ok: true, status: 200, message: "Approved" });
        const [request] = server.attempts("/gate/check");
        assert.equal(request.method, "POST");
        assert.equal(request.headers["content-type"], "application/json");
        assert.equal(
            request.body,
            '{"name":"podinfo","namespace":"test","phase":"Progressing","checksum":"6b4f5c7d8","metadata":{"type":"cmd","cmd":"hey -z 1m http://podinfo-canary.test:9898/"}}',
        );
    });

    it("omits empty metadata and lets an event's own keys win over the hook's", async function () {
        const url = server.on("/events", reply(202));
        await fast.call({ name: "plain", url }, payload);
        const event = { ...payload, metadata: { eventMessage: "Advance podinfo.test canary weight 10", eventType: "Normal", timestamp: "1700000000000" } };
        await fast.call({ name: "events", type: "event", url, metadata: { eventType: "spoofed", team: "web" } }, event);
        const [plain, withEvent] = server.attempts("/events").map((r) => JSON.parse(r.body));
        assert.deepEqual(plain, { name: "podinfo", namespace: "test", phase: "Progressing", checksum: "6b4f5c7d8" });
        assert.deepEqual(withEvent.metadata, { eventType: "Normal", team: "web", eventMessage: "Advance podinfo.test canary weight 10", timestamp: "1700000000000" });
    });

    it("counts 200 and 202 as success, 203 and 4xx as failure at once, with the body as message", async function () {
        for (const [status, ok] of [[200, true], [202, true], [203, false], [403, false]] as const) {
            const url = server.on(`/status-${status}`, reply(status, `answer ${status}`));
            assert.deepEqual(await fast.call({ name: "hook", url, retries: 3 }, payload), { ok, status, message: `answer ${status}` });
            assert.equal(server.attempts(`/status-${status}`).length, 1, `${status} is final`);
        }
        const url = server.on("/empty-403", reply(403));
        assert.deepEqual(await fast.call({ name: "hook", url }, payload), { ok: false, status: 403, message: "status 403" });
    });

    it("retries 5xx and 429, then gives up keeping the last status and body", async function () {
        const url = server.on("/flaky", reply(500, "command hey failed: exit status 1"));
        const result = await fast.call({ name: "hook", url, retries: 2 }, payload);
        assert.deepEqual(result, { ok: false, status: 500, message: "giving up after 3 attempt(s): status 500: command hey failed: exit status 1" });
        assert.equal(server.attempts("/flaky").length, 3);
        const busy = server.on("/busy", reply(429, "slow down"));
        assert.equal((await fast.call({ name: "hook", url: busy, retries: 1 }, payload)).message, "giving up after 2 attempt(s): status 429: slow down");
        assert.equal(server.attempts("/busy").length, 2);
        const once = server.on("/no-retries", reply(503, "unavailable"));
        assert.equal((await fast.call({ name: "hook", url: once }, payload)).message, "giving up after 1 attempt(s): status 503: unavailable");
        const notImplemented = server.on("/501", reply(501, "not implemented"));
        assert.deepEqual(await fast.call({ name: "hook", url: notImplemented, retries: 2 }, payload), { ok: false, status: 501, message: "not implemented" });
        assert.equal(server.attempts("/501").length, 1);
    });

    it("succeeds when a retry succeeds, waiting go-retryablehttp's default 1s backoff", async function () {
        const url = server.on("/recovers", (attempt, res) => reply(attempt === 0 ? 502 : 200, attempt === 0 ? "bad gateway" : "OK")(attempt, res));
        const result = await new HttpWebhooks().call({ name: "hook", url, retries: 3 }, payload);
        assert.deepEqual(result, { ok: true, status: 200, message: "OK" });
        const [first, second] = server.attempts("/recovers");
        assert.equal(server.attempts("/recovers").length, 2);
        const waited = second.at - first.at;
        assert.ok(waited >= 990 && waited < 1900, `waited ${waited}ms between attempts`);
    });

    it("times out each attempt after the hook's timeout, and retries timeouts", async function () {
        const url = server.on("/slow", (attempt, res) => {
            const timer = setTimeout(() => reply(200, "late")(attempt, res), attempt === 0 ? 3000 : 0);
            res.on("close", () => clearTimeout(timer));
        });
        const started = Date.now();
        assert.deepEqual(await fast.call({ name: "hook", url, timeout: "300ms" }, payload), { ok: false, message: "giving up after 1 attempt(s): timeout of 300ms exceeded" });
        const elapsed = Date.now() - started;
        assert.ok(elapsed >= 290 && elapsed < 1500, `timed out after ${elapsed}ms`);
        const once = server.on("/slow-once", (attempt, res) => {
            const timer = setTimeout(() => reply(200, "second try")(attempt, res), attempt === 0 ? 3000 : 0);
            res.on("close", () => clearTimeout(timer));
        });
        assert.deepEqual(await fast.call({ name: "hook", url: once, timeout: "300ms", retries: 1 }, payload), { ok: true, status: 200, message: "second try" });
        assert.equal(server.attempts("/slow-once").length, 2);
    });

    it("retries refused connections and says why it gave up", async function () {
        const probe = http.createServer();
        const port = await listenOnFreePort(probe);
        await closeServer(probe);
        const result = await fast.call({ name: "hook", url: `http://127.0.0.1:${port}/`, retries: 1 }, payload);
        assert.equal(result.ok, false);
        assert.match(result.message, /^giving up after 2 attempt\(s\): connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    });

    it("reaches cluster-internal URLs through the resolver with its headers, never revealing URLs", async function () {
        const url = server.on("/proxy/flagger-loadtester/", reply(500, "boom"));
        const resolved: string[] = [];
        const webhooks = new HttpWebhooks({
            retryWaitMinMs: 10,
            resolve: async (address) => {
                resolved.push(address);
                return { url, headers: { Authorization: "Bearer kube-token" } };
            },
        });
        await webhooks.call({ name: "load-test", url: "http://flagger-loadtester.test/" }, payload);
        assert.deepEqual(resolved, ["http://flagger-loadtester.test/"]);
        assert.equal(server.attempts("/proxy/flagger-loadtester/")[0].headers.authorization, "Bearer kube-token");

        const secret = "http://127.0.0.1:1/hooks/T000/B000/XXXXSECRETXXXX";
        const failed = await webhooks.call({ name: "notify", url: secret, timeout: "1s" }, payload);
        assert.equal(failed.ok, false);
        assert.doesNotMatch(failed.message, /SECRET|hooks/);
    });

    it("rejects a timeout that is not a duration without calling", async function () {
        const url = server.on("/never", reply(200));
        assert.deepEqual(await fast.call({ name: "hook", url, timeout: "soon" }, payload), {
            ok: false,
            message: 'invalid timeout "soon" of webhook hook: use a duration such as 30s or 1m',
        });
        assert.equal(server.attempts("/never").length, 0);
    });
});

describe("webhook rules (pure)", function () {
    it("defaults the timeout to 10s when unset or shorter than two characters", function () {
        assert.equal(webhookTimeoutMs({}), 10_000);
        assert.equal(webhookTimeoutMs({ timeout: "5" }), 10_000);
        assert.equal(webhookTimeoutMs({ timeout: "30s" }), 30_000);
        assert.equal(webhookTimeoutMs({ timeout: "1m" }), 60_000);
        assert.equal(webhookTimeoutMs({ timeout: "0s" }), undefined);
    });

    it("backs off min * 2^attempt up to max, honouring Retry-After on 429 and 503", function () {
        assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((attempt) => retryWaitMs(attempt, 1000, 30_000)), [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert.equal(retryWaitMs(0, 1000, 30_000, { status: 429, headers: { "retry-after": "3" } }), 3000);
        assert.equal(retryWaitMs(0, 1000, 30_000, { status: 503, headers: { "retry-after": "120" } }), 30_000);
        assert.equal(retryWaitMs(1, 1000, 30_000, { status: 500, headers: { "retry-after": "3" } }), 2000);
    });

    it("retries 429 and 5xx except 501", function () {
        assert.deepEqual([200, 202, 400, 404, 429, 500, 501, 502, 503, 504].filter(isRetryableStatus), [429, 500, 502, 503, 504]);
    });

    it("builds the payload in Flagger's field order", function () {
        assert.equal(webhookBody({}, { ...payload, phase: "Succeeded" }), '{"name":"podinfo","namespace":"test","phase":"Succeeded","checksum":"6b4f5c7d8"}');
    });
});
