/**
 * A recording, fault-injecting proxy in front of the real API server, for the analysis's access (the tests'
 * Pulumi talks to the API server directly; the soak's comes through too, and its faults name the analysis's
 * clients): every request is passed on with the caller's own credentials, recorded with its answer, or met
 * with an injected fault (a status, a reset connection, no answer) or an outage (nothing listening for a
 * while), as the playground's tests and the soak need.
 */
import * as http from "http";
import * as https from "https";
import { stringify as stringifyYaml } from "yaml";
import { closeServer, listenOnFreePort, listenOnPort, readBody } from "./http-util";

/** An injected failure: the next `times` requests matching `method` and `path` get it instead of an answer. */
export interface Fault {
    /** Matched against the request path (without query): a prefix string or a RegExp. */
    path: string | RegExp;
    method?: string;
    /** An HTTP status answered with a Kubernetes Status object, "reset" to destroy the connection, or "hang" to never answer. */
    status: number | "reset" | "hang";
    times?: number;
    /** Matched against the User-Agent: a fault for one client (the analysis, not Pulumi's Kubernetes provider) when both come through. */
    userAgent?: RegExp;
}

export interface RecordedRequest {
    method: string;
    path: string;
    query: URLSearchParams;
    contentType?: string;
    userAgent?: string;
    /** The JSON or YAML body as sent, parsed when it is JSON. */
    body?: unknown;
    /** The answer's status; -1 for a reset or unanswered request. */
    status: number;
}

export interface ApiProxy {
    /** `http://127.0.0.1:<port>` */
    url: string;
    /** A kubeconfig for this proxy: with the given token, or with none when the proxy adds its own. */
    kubeconfig(token?: string): string;
    requests: RecordedRequest[];
    /** Connections accepted so far (a client that reuses its connections opens few). */
    connections(): number;
    injectFault(fault: Fault): void;
    /** Drop the injected faults not used up. */
    clearFaults(): void;
    /** Stop listening and drop every connection for `ms`, then serve again on the same port. */
    outage(ms: number): Promise<void>;
    stop(): Promise<void>;
}

const REASONS: Record<number, string> = { 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict", 422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable" };

export function faultMatches(fault: Fault, method: string, path: string, userAgent = ""): boolean {
    return (
        (fault.method === undefined || fault.method === method) &&
        (typeof fault.path === "string" ? path.startsWith(fault.path) : fault.path.test(path)) &&
        (fault.userAgent === undefined || fault.userAgent.test(userAgent))
    );
}

export interface ApiProxyOptions {
    /** Keep no requests (a long soak); recorded by default. */
    record?: boolean;
    /**
     * A token the proxy sends for requests that carry no credentials, as `kubectl proxy` does: client-go (Pulumi's
     * Kubernetes provider) sends none to a plain-HTTP server.
     */
    token?: string;
}

/** `server` is the API server's URL, `ca` the PEM its certificate chains to. */
export async function startApiProxy(server: string, ca: string, opts: ApiProxyOptions = {}): Promise<ApiProxy> {
    const upstream = new URL(server);
    const agent = new https.Agent({ ca, keepAlive: true });
    const faults: (Fault & { remaining: number })[] = [];
    const requests: RecordedRequest[] = [];

    const proxy = http.createServer(async (req, res) => {
        const method = req.method ?? "GET";
        const url = new URL(req.url ?? "/", "http://proxy");
        const raw = await readBody(req);
        const record: RecordedRequest = { method, path: url.pathname, query: url.searchParams, contentType: req.headers["content-type"], userAgent: req.headers["user-agent"], status: 0 };
        if (raw.length > 0) {
            try {
                record.body = JSON.parse(raw.toString("utf8"));
            } catch {
                record.body = raw.toString("utf8");
            }
        }
        if (opts.record !== false) {
            requests.push(record);
        }
        const fault = faults.find((f) => f.remaining > 0 && faultMatches(f, method, url.pathname, req.headers["user-agent"]));
        if (fault) {
            fault.remaining--;
            record.status = -1;
            if (fault.status === "reset") {
                req.socket.destroy();
            } else if (fault.status !== "hang") {
                record.status = fault.status;
                const reason = REASONS[fault.status] ?? (fault.status >= 500 ? "InternalError" : "BadRequest");
                const message = fault.status === 409 ? "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again" : `injected fault: HTTP ${fault.status}`;
                res.writeHead(fault.status, { "content-type": "application/json" });
                res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code: fault.status }));
            }
            return;
        }
        const headers = {
            ...req.headers,
            host: upstream.host,
            "content-length": String(raw.length),
            ...(opts.token && !req.headers.authorization ? { authorization: `Bearer ${opts.token}` } : {}),
        };
        const forwarded = https.request({ hostname: upstream.hostname, port: upstream.port, method, path: req.url, headers, agent }, (answer) => {
            record.status = answer.statusCode ?? 0;
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
        });
        forwarded.on("error", () => {
            record.status = -1;
            req.socket.destroy();
        });
        forwarded.end(raw);
    });
    let connections = 0;
    proxy.on("connection", () => connections++);
    const port = await listenOnFreePort(proxy);
    const url = `http://127.0.0.1:${port}`;
    return {
        url,
        kubeconfig: (token) =>
            stringifyYaml({
                apiVersion: "v1",
                kind: "Config",
                // Plain HTTP on loopback; client-node accepts an http server only with TLS verification off.
                clusters: [{ name: "playground", cluster: { server: url, "insecure-skip-tls-verify": true } }],
                users: [{ name: "analysis", user: token === undefined ? {} : { token } }],
                contexts: [{ name: "analysis", context: { cluster: "playground", user: "analysis" } }],
                "current-context": "analysis",
            }),
        requests,
        connections: () => connections,
        injectFault: (fault) => faults.push({ ...fault, remaining: fault.times ?? 1 }),
        clearFaults() {
            faults.length = 0;
        },
        async outage(ms) {
            await closeServer(proxy);
            await new Promise((resolve) => setTimeout(resolve, ms));
            await listenOnPort(proxy, port);
        },
        async stop() {
            await closeServer(proxy);
            agent.destroy();
        },
    };
}
