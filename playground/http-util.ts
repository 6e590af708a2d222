/** Small HTTP helpers shared by the playground's servers. */
import * as http from "http";
import type { AddressInfo } from "net";

/** Start listening on a free port of 127.0.0.1 and return that port. */
export function listenOnFreePort(server: http.Server): Promise<number> {
    return listenOnPort(server, 0);
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
