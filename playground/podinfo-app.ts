/**
 * A podinfo-compatible HTTP app (the endpoints the tutorial and the load tests use), with a fault switch
 * shared by every pod of one version: a fraction of requests answered with HTTP 500, and added latency.
 */
import * as crypto from "crypto";
import * as http from "http";

/** The fault switch of one app version; pods read it on every request, so changes apply at once. */
export interface Fault {
    /** Fraction (0..1) of requests answered with HTTP 500. */
    errorRate: number;
    /** Milliseconds added before every answer. */
    latencyMs: number;
    /** Pods of this version exit at start, as a crash-looping container does, until it is switched off. */
    crashLoop: boolean;
}

/** Fault switches by app version, each created healthy on first use (the runner hands them to the pods). */
export function faultSwitches(): (version: string) => Fault {
    const faults = new Map<string, Fault>();
    return (version) => faults.get(version) ?? faults.set(version, { errorRate: 0, latencyMs: 0, crashLoop: false }).get(version)!;
}

export interface AppInfo {
    hostname: string;
    /** podinfo version string, e.g. `6.0.1`. */
    version: string;
    color: string;
    message: string;
}

/** Paths that report the pod's own health; faults never apply to them, as with a real probe port. */
const PROBE_PATHS = new Set(["/healthz", "/readyz", "/version"]);
const TOKEN_SECRET = crypto.randomBytes(16);

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body, null, 2);
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
    res.end(text);
}

function base64url(data: string | Buffer): string {
    return Buffer.from(data).toString("base64url");
}

/** An HS256 JWT like podinfo's `/token`, naming the caller and expiring in a minute. */
function issueToken(subject: string): { token: string; expires_at: string } {
    const expires = new Date(Date.now() + 60_000);
    const header = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
    const claims = base64url(JSON.stringify({ name: subject, exp: Math.floor(expires.getTime() / 1000) }));
    const signature = base64url(crypto.createHmac("sha256", TOKEN_SECRET).update(`${header}.${claims}`).digest());
    return { token: `${header}.${claims}.${signature}`, expires_at: expires.toISOString() };
}

/**
 * The app's request handler; `isReady` drives `/readyz`. Errors are spread evenly: each request adds errorRate to a debt, and a request fails
 * whenever the debt reaches 1, so the share of 500s follows the switch exactly, even after it changes.
 */
export function podinfoHandler(
    info: AppInfo,
    fault: Fault,
    isReady: () => boolean,
): (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => Promise<void> {
    let errorDebt = 0;
    return async (req, res, body) => {
        const path = (req.url ?? "/").split("?")[0];
        if (!PROBE_PATHS.has(path)) {
            if (fault.latencyMs > 0) {
                await new Promise((resolve) => setTimeout(resolve, fault.latencyMs));
            }
            errorDebt += fault.errorRate;
            if (errorDebt >= 1) {
                errorDebt -= 1;
                sendJson(res, 500, { status: 500, message: "fault injected" });
                return;
            }
        }
        if (path === "/healthz") {
            sendJson(res, 200, { status: "OK" });
        } else if (path === "/readyz") {
            sendJson(res, isReady() ? 200 : 503, { status: isReady() ? "OK" : "Not ready" });
        } else if (path === "/version") {
            sendJson(res, 200, { version: info.version, commit: crypto.createHash("sha1").update(info.version).digest("hex").slice(0, 7) });
        } else if (path === "/token" && req.method === "POST") {
            sendJson(res, 200, issueToken(body.length > 0 ? body.toString("utf8") : "anonymous"));
        } else if (path.startsWith("/status/")) {
            const code = Number(path.slice("/status/".length));
            sendJson(res, Number.isInteger(code) && code >= 200 && code <= 599 ? code : 400, { status: code });
        } else if (path.startsWith("/delay/")) {
            const seconds = Number(path.slice("/delay/".length));
            if (!Number.isFinite(seconds) || seconds < 0) {
                sendJson(res, 400, { message: `invalid delay ${path.slice("/delay/".length)}` });
                return;
            }
            await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
            sendJson(res, 200, { delay: seconds });
        } else if (path === "/" || path === "") {
            sendJson(res, 200, {
                hostname: info.hostname,
                version: info.version,
                revision: crypto.createHash("sha1").update(info.version).digest("hex").slice(0, 7),
                color: info.color,
                message: info.message,
                goos: process.platform,
                goarch: process.arch,
                runtime: `node ${process.version}`,
            });
        } else {
            sendJson(res, 404, { status: 404, message: `no route for ${req.method} ${path}` });
        }
    };
}
