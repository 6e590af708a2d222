/**
 * Steady user traffic, sent through a proxy (the mesh proxy, or the ingress gateway as the tutorial's users
 * come in), so the apex route's split can be observed while the analysis moves the weights.
 */
import * as http from "http";
import { requestThroughProxy } from "./http-util";

/** What the users saw: requests sent, answered below 500, and the first failures with when and why. */
export interface TrafficResult {
    sent: number;
    ok: number;
    failures: string[];
}

/** Failures kept for the report: enough to see when and how requests failed, bounded for a long faulty run. */
const KEPT_FAILURES = 20;

export interface Traffic {
    /** Stop sending; resolves once every request in flight is answered. */
    stop(): Promise<TrafficResult>;
}

export function startTraffic(opts: { proxyUrl: string; url: string; ratePerSecond: number; headers?: Record<string, string> }): Traffic {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const inFlight = new Set<Promise<void>>();
    let sent = 0;
    let ok = 0;
    const failures: string[] = [];
    const failed = (why: string): void => {
        if (failures.length < KEPT_FAILURES) {
            failures.push(`${new Date().toISOString()} ${why}`);
        }
    };
    const tickMs = 50;
    let credit = 0;
    const timer = setInterval(() => {
        credit += (opts.ratePerSecond * tickMs) / 1000;
        for (; credit >= 1; credit -= 1) {
            sent += 1;
            const request: Promise<void> = requestThroughProxy(opts.proxyUrl, opts.url, { headers: opts.headers, agent })
                .then((answer) => {
                    if (answer.status < 500) {
                        ok += 1;
                    } else {
                        failed(`HTTP ${answer.status}`);
                    }
                })
                .catch((error: Error) => failed(error.message))
                .finally(() => inFlight.delete(request));
            inFlight.add(request);
        }
    }, tickMs);
    return {
        async stop() {
            clearInterval(timer);
            await Promise.all([...inFlight]);
            agent.destroy();
            return { sent, ok, failures };
        },
    };
}
