/**
 * The appmesh-prometheus pod's port when its queries may fail: query requests answer 503 with Prometheus's
 * own error body (`errorType: unavailable`) while `queryError` gives a message, as an overloaded or broken
 * Prometheus answers; everything else, and every query while it gives none, passes to the real server.
 */
import * as http from "http";
import { closeServer, listenOnFreePort, readBody } from "./http-util";
import { callUpstream } from "./upstream";

const QUERY_PATHS = /^\/api\/v1\/query(_range)?$/;
const UPSTREAM_TIMEOUT_MS = 30_000;

export interface PrometheusFront {
    /** `http://127.0.0.1:<port>` */
    url: string;
    stop(): Promise<void>;
}

export async function startPrometheusFront(upstream: string, queryError: () => string | undefined): Promise<PrometheusFront> {
    const agent = new http.Agent({ keepAlive: true });
    const server = http.createServer(async (req, res) => {
        const body = await readBody(req);
        const error = queryError();
        if (error !== undefined && QUERY_PATHS.test(new URL(req.url ?? "/", "http://front").pathname)) {
            res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ status: "error", errorType: "unavailable", error }));
            return;
        }
        const { answer } = await callUpstream(agent, `${upstream}${req.url ?? "/"}`, req.method, req.headers, body, UPSTREAM_TIMEOUT_MS);
        res.writeHead(answer.status, answer.headers).end(answer.body);
    });
    const port = await listenOnFreePort(server);
    return {
        url: `http://127.0.0.1:${port}`,
        async stop() {
            await closeServer(server);
            agent.destroy();
        },
    };
}
