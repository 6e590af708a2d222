import * as assert from "node:assert/strict";
import * as http from "http";
import { AlertNotifier, alertAddress, alertPayload, severityAdmits } from "../../analysis/adapters/alerts";
import type { AlertMessage } from "../../analysis/engine/ports";
import type { AlertProviderSpec, AlertSpec, Severity } from "../../analysis/spec/canary";
import { closeServer, listenOnFreePort, readBody } from "../../playground/http-util";

interface Received {
    path: string;
    headers: http.IncomingHttpHeaders;
    body: unknown;
    /** The request line's target: an absolute URL when it came through a proxy. */
    target: string;
}

/** A real HTTP server that records what it gets; `status` per path, 200 by default, and a path that never answers. */
async function startReceiver(status: Record<string, number> = {}) {
    const received: Received[] = [];
    const server = http.createServer(async (req, res) => {
        const text = (await readBody(req)).toString("utf8");
        const path = new URL(req.url!, "http://host").pathname;
        received.push({ path, headers: req.headers, body: text ? JSON.parse(text) : undefined, target: req.url! });
        if (path.startsWith("/hang")) {
            return;
        }
        res.writeHead(status[path] ?? 200, { "Content-Type": "text/plain" }).end(status[path] ? "invalid_payload" : "ok");
    });
    const url = `http://127.0.0.1:${await listenOnFreePort(server)}`;
    return { url, received, stop: () => closeServer(server) };
}

const fields = [
    { name: "Target", value: "Deployment/podinfo.test" },
    { name: "Failed checks threshold", value: "5" },
    { name: "Progress deadline", value: "60s" },
    { name: "Traffic routing", value: "Weight step: 5 max: 50" },
];
const message = (severity: Severity, text = "New revision detected, progressing canary analysis."): AlertMessage => ({
    canary: "podinfo.test",
    message: text,
    severity,
    fields: severity === "info" ? fields : [],
});

describe("alert payloads (pure)", function () {
    const failed = message("error", "Failed checks threshold reached 5");

    it("builds Slack's payload: good for info and warn, danger for error, default channel and username", function () {
        assert.deepEqual(alertPayload({ type: "slack" }, message("info")), {
            channel: "general",
            username: "flagger",
            icon_url: "",
            icon_emoji: ":rocket:",
            attachments: [
                {
                    color: "good",
                    author_name: "podinfo.test",
                    text: "New revision detected, progressing canary analysis.",
                    mrkdwn_in: ["text"],
                    fields: fields.map((f) => ({ title: f.name, value: f.value, short: false })),
                },
            ],
        });
        assert.equal((alertPayload({ type: "slack" }, message("warn")) as any).attachments[0].color, "good");
        const error = alertPayload({ type: "slack", channel: "on-call", username: "canary-bot" }, failed) as any;
        assert.equal(error.attachments[0].color, "danger");
        assert.deepEqual([error.channel, error.username, error.attachments[0].fields], ["on-call", "canary-bot", []]);
    });

    it("uses Slack's format for Discord and Rocket.Chat, with Rocket's colours", function () {
        assert.deepEqual(alertPayload({ type: "discord" }, failed), alertPayload({ type: "slack" }, failed));
        assert.equal((alertPayload({ type: "rocket" }, message("info")) as any).attachments[0].color, "#0076D7");
        assert.equal((alertPayload({ type: "rocket" }, failed) as any).attachments[0].color, "#FF0000");
    });

    it("builds the MS Teams MessageCard", function () {
        assert.deepEqual(alertPayload({ type: "msteams" }, message("info")), {
            "@type": "MessageCard",
            "@context": "http://schema.org/extensions",
            themeColor: "0076D7",
            summary: "podinfo.test",
            sections: [{ activityTitle: "New revision detected, progressing canary analysis.", activitySubtitle: "podinfo.test", facts: fields }],
        });
        assert.equal((alertPayload({ type: "msteams" }, failed) as any).themeColor, "FF0000");
    });

    it("builds the Google Chat card, one section per field", function () {
        assert.deepEqual(alertPayload({ type: "gchat" }, message("info")), {
            cards: [
                {
                    header: { title: "Flagger", subtitle: "podinfo.test", imageUrl: "https://flagger.app/favicon.png" },
                    sections: [
                        { widgets: [{ textParagraph: { text: "<font color=#848484><strong>New revision detected, progressing canary analysis.</strong></font>" } }] },
                        ...fields.map((f) => ({ widgets: [{ textParagraph: { text: `${f.name}<br><font color=#848484><strong>${f.value}</strong></font>` } }] })),
                    ],
                },
            ],
        });
        assert.deepEqual(alertPayload({ type: "gchat" }, failed), alertPayload({ type: "gchat" }, { ...failed, severity: "info" }));
    });

    it("appends /slack to Discord webhooks once", function () {
        assert.equal(alertAddress({ type: "discord", address: "https://discord.test/api/webhooks/1/abc" }), "https://discord.test/api/webhooks/1/abc/slack");
        assert.equal(alertAddress({ type: "discord", address: "https://discord.test/api/webhooks/1/abc/" }), "https://discord.test/api/webhooks/1/abc/slack");
        assert.equal(alertAddress({ type: "discord", address: "https://discord.test/api/webhooks/1/abc/slack" }), "https://discord.test/api/webhooks/1/abc/slack");
        assert.equal(alertAddress({ type: "slack", address: "https://hooks.slack.test/services/T/B/x" }), "https://hooks.slack.test/services/T/B/x");
    });

    it("admits by severity: info all, warn warn and error, error only error; none means info", function () {
        const admitted = (configured: Severity | undefined) => (["info", "warn", "error"] as Severity[]).filter((s) => severityAdmits(configured, s));
        assert.deepEqual(admitted("info"), ["info", "warn", "error"]);
        assert.deepEqual(admitted(undefined), ["info", "warn", "error"]);
        assert.deepEqual(admitted("warn"), ["warn", "error"]);
        assert.deepEqual(admitted("error"), ["error"]);
    });
});

describe("AlertNotifier against real HTTP servers", function () {
    this.timeout(20_000);
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    before(async () => {
        receiver = await startReceiver({ "/broken/T0/B0/SECRETPATH": 500 });
    });
    after(() => receiver.stop());
    beforeEach(() => {
        receiver.received.length = 0;
    });

    it("sends each alert to the providers whose severity admits it, in each provider's format", async function () {
        const providers: Record<string, AlertProviderSpec> = {
            slack: { type: "slack", address: `${receiver.url}/slack-hook`, channel: "deploys" },
            teams: { type: "msteams", address: `${receiver.url}/teams-hook` },
            discord: { type: "discord", address: `${receiver.url}/api/webhooks/1/token` },
            rocket: { type: "rocket", address: `${receiver.url}/rocket-hook` },
            gchat: { type: "gchat", address: `${receiver.url}/gchat-hook` },
        };
        const alerts: AlertSpec[] = [
            { name: "all", severity: "info", providerRef: { name: "slack" } },
            { name: "unset", providerRef: { name: "gchat" } },
            { name: "warnings", severity: "warn", providerRef: { name: "teams" } },
            { name: "errors", severity: "error", providerRef: { name: "discord" } },
            { name: "rocket-errors", severity: "error", providerRef: { name: "rocket" } },
        ];
        const logged: string[] = [];
        const notifier = new AlertNotifier({ alerts, providers, log: (line) => logged.push(line) });
        const byPath = () => receiver.received.map((r) => r.path).sort();

        await notifier.send(message("info"));
        assert.deepEqual(byPath(), ["/gchat-hook", "/slack-hook"]);
        const slack = receiver.received.find((r) => r.path === "/slack-hook")!;
        assert.deepEqual(slack.body, alertPayload(providers.slack, message("info")));
        assert.equal(slack.headers["content-type"], "application/json");
        assert.deepEqual(receiver.received.find((r) => r.path === "/gchat-hook")!.body, alertPayload(providers.gchat, message("info")));

        receiver.received.length = 0;
        await notifier.send(message("warn", "Canary is waiting for approval."));
        assert.deepEqual(byPath(), ["/gchat-hook", "/slack-hook", "/teams-hook"]);
        assert.deepEqual(receiver.received.find((r) => r.path === "/teams-hook")!.body, alertPayload(providers.teams, message("warn", "Canary is waiting for approval.")));

        receiver.received.length = 0;
        const failed = message("error", "Failed checks threshold reached 5");
        await notifier.send(failed);
        assert.deepEqual(byPath(), ["/api/webhooks/1/token/slack", "/gchat-hook", "/rocket-hook", "/slack-hook", "/teams-hook"]);
        assert.deepEqual(receiver.received.find((r) => r.path === "/rocket-hook")!.body, alertPayload(providers.rocket, failed));
        assert.equal((receiver.received.find((r) => r.path === "/slack-hook")!.body as any).attachments[0].color, "danger");
        assert.deepEqual(logged, []);
    });

    it("sends a provider's token as a bearer token, through its proxy when it has one", async function () {
        const proxy = await startReceiver();
        try {
            const notifier = new AlertNotifier({
                alerts: [{ name: "on-call", severity: "info", providerRef: { name: "slack" } }],
                providers: { slack: { type: "slack", address: "http://chat.invalid/api/chat.postMessage", token: "xoxb-1", proxy: proxy.url } },
                log: (line) => assert.fail(line),
            });
            await notifier.send(message("info"));
            assert.equal(proxy.received.length, 1);
            const [viaProxy] = proxy.received;
            assert.equal(viaProxy.target, "http://chat.invalid/api/chat.postMessage");
            assert.equal(viaProxy.headers.authorization, "Bearer xoxb-1");
            assert.equal((viaProxy.body as any).username, "flagger");
        } finally {
            await proxy.stop();
        }
    });

    it("reaches providers through the endpoint resolver", async function () {
        const notifier = new AlertNotifier({
            alerts: [{ name: "internal", severity: "info", providerRef: { name: "chat" } }],
            providers: { chat: { type: "msteams", address: "http://teams-relay.tools/hook" } },
            resolve: async (url) => ({ url: `${receiver.url}/relayed${new URL(url).pathname}`, headers: { Authorization: "Bearer kube-token" } }),
            log: (line) => assert.fail(line),
        });
        await notifier.send(message("info"));
        assert.deepEqual(receiver.received.map((r) => [r.path, r.headers.authorization]), [["/relayed/hook", "Bearer kube-token"]]);
    });

    it("logs failures (status, timeout, unknown provider) without throwing or revealing addresses", async function () {
        const logged: string[] = [];
        const notifier = new AlertNotifier({
            alerts: [
                { name: "broken", providerRef: { name: "broken" } },
                { name: "slow", providerRef: { name: "slow", namespace: "flagger-system" } },
                { name: "missing", providerRef: { name: "missing" } },
                { name: "working", providerRef: { name: "working" } },
            ],
            providers: {
                broken: { type: "slack", address: `${receiver.url}/broken/T0/B0/SECRETPATH` },
                slow: { type: "msteams", address: `${receiver.url}/hang/SECRETPATH` },
                working: { type: "gchat", address: `${receiver.url}/working` },
            },
            log: (line) => logged.push(line),
            timeoutMs: 300,
        });
        const started = Date.now();
        await notifier.send(message("error", "Canary failed"));
        assert.ok(Date.now() - started < 2000);
        assert.deepEqual(logged.sort(), [
            'alert provider broken.test send error: sending notification failed: status 500: invalid_payload',
            'alert provider missing.test send error: provider "missing" of alert missing is not defined',
            "alert provider slow.flagger-system send error: timeout of 300ms exceeded",
        ]);
        assert.ok(logged.every((line) => !line.includes("SECRETPATH") && !line.includes(receiver.url)));
        assert.ok(receiver.received.some((r) => r.path === "/working"));
    });

    it("logs an unreachable provider and sends nothing when no alert admits the severity", async function () {
        const logged: string[] = [];
        const notifier = new AlertNotifier({
            alerts: [{ name: "errors", severity: "error", providerRef: { name: "gone" } }],
            providers: { gone: { type: "slack", address: "http://127.0.0.1:1/services/SECRET" } },
            log: (line) => logged.push(line),
        });
        await notifier.send(message("warn"));
        assert.deepEqual(logged, []);
        await notifier.send(message("error"));
        assert.equal(logged.length, 1);
        assert.match(logged[0], /^alert provider gone\.test send error: connect ECONNREFUSED 127\.0\.0\.1:1$/);
    });
});
