/**
 * One request from a playground data plane (the mesh proxy, a Gateway's listener) to a pod, as Envoy makes
 * it: hop-by-hop headers dropped, the answer read whole, a timeout ending it with 504 and a failed connection
 * with 503, with what the attempt ended with for retry decisions.
 */
import * as http from "http";
import { readBody } from "./http-util";
import type { AttemptResult } from "./route-match";

export interface UpstreamAnswer {
    status: number;
    headers: http.IncomingHttpHeaders;
    body: Buffer;
}

/** Headers that describe one connection, not the request: a proxy never forwards them. */
export const HOP_BY_HOP = ["connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer", "proxy-authorization"];

/** A plain-text answer of the data plane itself. */
export function plainAnswer(status: number, text: string): UpstreamAnswer {
    return { status, headers: { "content-type": "text/plain" }, body: Buffer.from(text) };
}

/** The request sent to `url` (an endpoint's URL with path and query); `timeoutMs` may be Infinity. */
export function callUpstream(
    agent: http.Agent, url: string, method: string | undefined, requestHeaders: http.IncomingHttpHeaders, body: Buffer, timeoutMs: number,
): Promise<{ result: AttemptResult; answer: UpstreamAnswer }> {
    return new Promise((resolve) => {
        const headers: http.OutgoingHttpHeaders = { ...requestHeaders, "content-length": String(body.length) };
        for (const name of HOP_BY_HOP) {
            delete headers[name];
        }
        const reset = () => resolve({ result: { kind: "reset" }, answer: plainAnswer(503, "upstream connect error or disconnect/reset before headers") });
        const upstream = http.request(url, { method, headers, agent }, (res) => {
            readBody(res).then(
                (data) => resolve({ result: { kind: "status", status: res.statusCode ?? 502 }, answer: { status: res.statusCode ?? 502, headers: res.headers, body: data } }),
                reset,
            );
        });
        const timer = Number.isFinite(timeoutMs)
            ? setTimeout(() => {
                  upstream.destroy();
                  resolve({ result: { kind: "timeout" }, answer: plainAnswer(504, "upstream request timeout") });
              }, timeoutMs)
            : undefined;
        upstream.on("close", () => clearTimeout(timer));
        upstream.on("error", reset);
        upstream.end(body);
    });
}
