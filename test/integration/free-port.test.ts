/**
 * Child processes of the playground (etcd, kube-apiserver, Prometheus) get a port that was free a moment
 * before they bind it; another socket can take it first (a CI run lost etcd's start that way). They start
 * through `startOnFreePort`, which tries a new port after a lost race and only then.
 */
import assert from "node:assert/strict";
import * as http from "node:http";
import { closeServer, listenOnPort, PORT_ATTEMPTS, startOnFreePort } from "../../playground/http-util";

describe("startOnFreePort", () => {
    const servers: http.Server[] = [];

    afterEach(async () => {
        await Promise.all(servers.splice(0).map(closeServer));
    });

    /** Listen on `port`, as the child would; the real EADDRINUSE error if it is taken. */
    async function listen(port: number): Promise<number> {
        const server = http.createServer();
        servers.push(server);
        return listenOnPort(server, port);
    }

    it("tries a new port when another socket took the first one before the start bound it", async () => {
        const tried: number[] = [];
        const port = await startOnFreePort(async (candidate) => {
            tried.push(candidate);
            if (tried.length === 1) {
                await listen(candidate);
            }
            return listen(candidate);
        });
        assert.equal(tried.length, 2);
        assert.notEqual(tried[0], tried[1]);
        assert.equal(port, tried[1]);
    });

    it("gives up after its attempts with the last start's error", async () => {
        let attempts = 0;
        await assert.rejects(
            startOnFreePort(async (candidate) => {
                attempts++;
                await listen(candidate);
                return listen(candidate);
            }),
            /address already in use/,
        );
        assert.equal(attempts, PORT_ATTEMPTS);
    });

    it("does not retry a start that failed for another reason", async () => {
        let attempts = 0;
        await assert.rejects(
            startOnFreePort(async () => {
                attempts++;
                throw new Error("etcd exited (1): data directory is not writable");
            }),
            /not writable/,
        );
        assert.equal(attempts, 1);
    });
});
