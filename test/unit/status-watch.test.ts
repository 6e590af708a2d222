import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { nextStatus, statusConfigMapName, statusData } from "../../analysis/report/status";
import { nextWatchStart, runStatus } from "../../cli/status";

/** What the API server sends when a watch asks for a version it no longer has. */
const EXPIRED = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "too old resource version: 100 (150)", reason: "Expired", code: 410 };

describe("appmesh-canary status --watch after the watched version expired", () => {
    it("lists again on 410 Gone, whether an ERROR event or the answer says it, and resumes from the last version otherwise", () => {
        assert.equal(nextWatchStart({ errorEvent: EXPIRED }), "relist");
        assert.equal(nextWatchStart({ error: { statusCode: 410 } }), "relist");
        assert.equal(nextWatchStart({ error: null }), "resume", "the API server closed the watch: its timeout");
        assert.equal(nextWatchStart({ errorEvent: { code: 500 } }), "resume");
        assert.equal(nextWatchStart({ error: { statusCode: 503 } }), "resume");
        assert.equal(nextWatchStart({}), "resume");
    });

    describe("against an API server whose first watch answers 410", () => {
        const configMap = (name: string, canaryWeight: number, resourceVersion: string) => ({
            metadata: { name: statusConfigMapName(name), namespace: "shop", resourceVersion },
            data: statusData(nextStatus(undefined, { message: "advance", timestamp: Date.UTC(2026, 11, 2, 17, 58, 41), phase: "Progressing", canaryWeight, failedChecks: 0 }, "r1")),
        });
        const lists = [
            { resourceVersion: "100", items: [configMap("checkout", 5, "90"), configMap("catalog", 0, "80")] },
            // Meanwhile checkout moved on and catalog's status was deleted.
            { resourceVersion: "200", items: [configMap("checkout", 10, "190")] },
        ];
        const watchedFrom: string[] = [];
        let server: http.Server;
        let dir: string;

        before(async () => {
            server = http.createServer((req, res) => {
                const url = new URL(req.url!, "http://api");
                assert.equal(url.searchParams.get("labelSelector"), "appmesh-canary.io/canary-status=true");
                res.setHeader("Content-Type", "application/json");
                if (url.searchParams.get("watch") !== "true") {
                    const { resourceVersion, items } = lists.shift()!;
                    res.end(JSON.stringify({ kind: "ConfigMapList", apiVersion: "v1", metadata: { resourceVersion }, items }));
                    return;
                }
                const from = url.searchParams.get("resourceVersion")!;
                watchedFrom.push(from);
                if (from === "100") {
                    res.end(`${JSON.stringify({ type: "ERROR", object: EXPIRED })}\n`);
                } else {
                    // A change, then the watch stays open until the command stops.
                    res.write(`${JSON.stringify({ type: "MODIFIED", object: configMap("checkout", 20, "201") })}\n`);
                }
            });
            await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "status-watch-"));
            const address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
            fs.writeFileSync(
                path.join(dir, "kubeconfig"),
                JSON.stringify({
                    apiVersion: "v1", kind: "Config", "current-context": "fake",
                    // Plain HTTP, which the client allows only with TLS verification off.
                    clusters: [{ name: "fake", cluster: { server: address, "insecure-skip-tls-verify": true } }],
                    users: [{ name: "fake", user: { token: "t" } }],
                    contexts: [{ name: "fake", context: { cluster: "fake", user: "fake" } }],
                }),
            );
        });

        after(() => {
            server.closeAllConnections();
            server.close();
            fs.rmSync(dir, { recursive: true, force: true });
        });

        it("restarts from the new list's version, printing what changed meanwhile (a deletion too), then watches on", async () => {
            const lines: string[] = [];
            const stop = new AbortController();
            const done = runStatus({ watch: true, kubeconfig: path.join(dir, "kubeconfig") }, (line) => {
                lines.push(line);
                if (/^shop\s+checkout\s+Progressing\s+20\s/.test(line)) {
                    stop.abort();
                }
            }, stop.signal);
            // A command looping on the expired version never gets there: stop it to show what it watched.
            const deadline = setTimeout(() => stop.abort(), 10_000);
            await done.finally(() => clearTimeout(deadline));
            assert.deepEqual(watchedFrom, ["100", "200"], "the expired version is not watched again");
            assert.deepEqual(lines.map((line) => line.split(/\s+/).slice(0, 4).join(" ") + (line.endsWith("(deleted)") ? " (deleted)" : "")), [
                "NAMESPACE NAME STATUS WEIGHT",
                "shop catalog Progressing 0",
                "shop checkout Progressing 5",
                "shop checkout Progressing 10",
                "shop catalog Progressing 0 (deleted)",
                "shop checkout Progressing 20",
            ]);
        });
    });
});
