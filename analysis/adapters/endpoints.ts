/**
 * How the adapters reach a URL: directly, or through the Kubernetes API server's service proxy (the
 * provider's resolver). Every adapter passes the complete request URL (path and query included) through an
 * `EndpointResolver` and sends to what comes back, with the resolver's headers over its own. Those headers
 * carry cluster credentials, and URLs may carry tokens (Slack paths, basic auth), so neither is ever put into a
 * message or a log line: `describeRequestError` strips them.
 */
import axios, { AxiosRequestConfig } from "axios";

export interface Endpoint {
    url: string;
    headers?: Record<string, string>;
    httpsAgent?: unknown;
}

export type EndpointResolver = (url: string) => Promise<Endpoint>;

/** Call the URL as it is. */
export const directEndpoint: EndpointResolver = async (url) => ({ url });

/** What to send: the resolved URL, `headers` with the resolver's on top, and the resolver's TLS agent. */
export type ResolvedRequest = Required<Pick<AxiosRequestConfig, "url" | "headers">> & Pick<AxiosRequestConfig, "httpsAgent">;

export async function resolveRequest(
    resolve: EndpointResolver,
    url: string,
    headers: Record<string, string> = {},
): Promise<ResolvedRequest> {
    const endpoint = await resolve(url);
    const resolved: ResolvedRequest = { url: endpoint.url, headers: { ...headers, ...endpoint.headers } };
    if (endpoint.httpsAgent !== undefined) {
        resolved.httpsAgent = endpoint.httpsAgent;
    }
    return resolved;
}

/**
 * A hard deadline for one request. axios' own `timeout` only bounds socket inactivity, so a server that
 * trickles bytes would never time out; the abort signal bounds the whole exchange like Go's `Client.Timeout`.
 */
export function requestDeadline(timeoutMs: number): Pick<AxiosRequestConfig, "timeout" | "signal"> {
    return { timeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) };
}

/** Text of a failed request (timeout, refused connection, TLS, ...) without any of the URLs involved. */
export function describeRequestError(error: unknown, timeoutMs: number, urls: string[]): string {
    let text: string;
    if (axios.isCancel(error) || isTimeout(error)) {
        text = `timeout of ${timeoutMs}ms exceeded`;
    } else if (error instanceof Error) {
        text = error.message || String((error as { code?: string }).code ?? "request failed");
    } else {
        text = String(error);
    }
    return redact(text, urls);
}

/** Remove every occurrence of the given URLs (and their paths, which hold webhook tokens) from a text. */
export function redact(text: string, urls: string[]): string {
    let result = text;
    for (const url of urls) {
        for (const secret of secretParts(url)) {
            result = result.split(secret).join("<redacted>");
        }
    }
    return result;
}

function secretParts(url: string): string[] {
    const parts = [url];
    try {
        const parsed = new URL(url);
        if (parsed.pathname.length > 1) {
            parts.push(parsed.pathname + parsed.search);
        }
        if (parsed.username || parsed.password) {
            parts.push(`${parsed.username}:${parsed.password}`);
        }
    } catch {
        // not a URL; the whole text was added already
    }
    return parts.filter((part) => part.length > 0);
}

function isTimeout(error: unknown): boolean {
    const code = (error as { code?: string } | undefined)?.code;
    return code === "ECONNABORTED" || code === "ETIMEDOUT" || (error as Error | undefined)?.name === "TimeoutError";
}

/** Response bodies go into events and logs; keep them readable. */
export function truncateBody(body: string, limit = 2000): string {
    return body.length > limit ? `${body.slice(0, limit)}... (${body.length - limit} more characters)` : body;
}
