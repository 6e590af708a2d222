/**
 * Steady user traffic, sent through a proxy (the mesh proxy, or the ingress gateway as the tutorial's users
 * come in), so the apex route's split can be observed while the analysis moves the weights.
 */
import * as http from "http";
import { requestThroughProxy } from "./http-util";

export interface Traffic {
    /** Stop sending; resolves with the number of requests sent and answered with a status below 500. */
    stop(): Promise<{ sent: number; ok: number }>;
}

export function startTraffic(opts: { proxyUrl: string; url: string; ratePerSecond: number; headers?: Record<string, string> }): Traffic {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const inFlight = new Set<Promise<void>>();
    let sent = 0;
    let ok = 0;
    const tickMs = 50;
    let credit = 0;
    const timer = setInterval(() => {
        credit += (opts.ratePerSecond * tickMs) / 1000;
        for (; credit >= 1; credit -= 1) {
            sent += 1;
            const request: Promise<void> = requestThroughProxy(opts.proxyUrl, opts.url, { headers: opts.headers, agent })
                .then((answer) => {
                    ok += answer.status < 500 ? 1 : 0;
                })
                .catch(() => undefined)
                .finally(() => inFlight.delete(request));
            inFlight.add(request);
        }
    }, tickMs);
    return {
        async stop() {
            clearInterval(timer);
            await Promise.all([...inFlight]);
            agent.destroy();
            return { sent, ok };
        },
    };
}
