/** Small HTTP helpers shared by the playground's servers. */
import * as http from "http";
import type { AddressInfo } from "net";

/** Start listening on a free port of 127.0.0.1 and return that port. */
export function listenOnFreePort(server: http.Server): Promise<number> {
    return listenOnPort(server, 0);
}

/**
 * A port of 127.0.0.1 free right now, for a child process to listen on. Another socket may take it before the
 * child binds, so callers retry on "address already in use" (see `startOnFreePort`).
 */
export async function freePort(): Promise<number> {
    const probe = http.createServer();
    const port = await listenOnFreePort(probe);
    await closeServer(probe);
    return port;
}

/** How many ports a child process gets to try before its start fails. */
export const PORT_ATTEMPTS = 3;

/** Whether a failed start was a lost race for its port. */
export function lostPortRace(error: unknown): boolean {
    return /address already in use/i.test(String((error as Error)?.message ?? error));
}

/** Start something on a free port, trying a new port while the failure is a lost race for it. */
export async function startOnFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
        try {
            return await start(await freePort());
        } catch (error) {
            if (attempt >= PORT_ATTEMPTS || !lostPortRace(error)) {
                throw error;
            }
        }
    }
}

/** Start listening on `port` of 127.0.0.1 (a free one for 0) and return the port. */
export function listenOnPort(server: http.Server, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => {
            server.off("error", reject);
            resolve((server.address() as AddressInfo).port);
        });
    });
}

/** Close a server, ending idle keep-alive connections so the close does not wait for clients. */
export function closeServer(server: http.Server): Promise<void> {
    return new Promise((resolve) => {
        if (!server.listening) {
            resolve();
            return;
        }
        server.close(() => resolve());
        server.closeAllConnections();
    });
}

/**
 * Stop accepting connections and let the requests in flight finish, as a pod does on termination; whatever
 * is still open after `graceMs` is ended.
 */
export function drainServer(server: http.Server, graceMs: number): Promise<void> {
    return new Promise((resolve) => {
        if (!server.listening) {
            resolve();
            return;
        }
        const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
        // A keep-alive connection turns idle once its last response is sent; end it then.
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        server.close(() => {
            clearTimeout(deadline);
            clearInterval(sweep);
            resolve();
        });
        server.closeIdleConnections();
    });
}

/** The whole request body. */
export function readBody(req: http.IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        req.on("data", (chunk: Buffer) => chunks.push(chunk));
        req.on("end", () => resolve(Buffer.concat(chunks)));
        req.on("error", reject);
    });
}

export interface ProxiedAnswer {
    status: number;
    body: string;
}

/** One request sent through an HTTP forward proxy (absolute URL in the request line), like curl with http_proxy. */
export function requestThroughProxy(
    proxyUrl: string,
    targetUrl: string,
    opts: { method?: string; headers?: Record<string, string>; body?: string; agent?: http.Agent } = {},
): Promise<ProxiedAnswer> {
    const proxy = new URL(proxyUrl);
    const target = new URL(targetUrl);
    return new Promise((resolve, reject) => {
        const req = http.request(
            {
                host: proxy.hostname,
                port: proxy.port,
                method: opts.method ?? "GET",
                path: target.href,
                headers: { host: target.host, ...opts.headers },
                agent: opts.agent,
            },
            (res) => {
                readBody(res).then((body) => resolve({ status: res.statusCode ?? 0, body: body.toString("utf8") }), reject);
            },
        );
        req.on("error", reject);
        req.end(opts.body);
    });
}
