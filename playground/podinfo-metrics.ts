/**
 * podinfo's own request metrics, exposed on its `/metrics` as podinfo's Prometheus middleware does: the
 * `http_request_duration_seconds` histogram by method, path and status, with the Prometheus client's default
 * buckets. Flagger's HTTP observer (the Gateway API router's built-in metrics) reads exactly these series.
 */
import { histogramLines } from "./histogram-text";

/** The Prometheus Go client's default histogram buckets, in seconds. */
export const DEFAULT_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

interface Series {
    buckets: number[];
    count: number;
    sum: number;
}

/** podinfo labels a path by its route, `/` as `root` and `/status/500` as `status`. */
export function routeLabel(path: string): string {
    const first = path.split("?")[0].split("/").filter(Boolean)[0];
    return first ?? "root";
}

export class HttpRequestMetrics {
    private readonly series = new Map<string, Series>();

    /** Count one answered request. */
    record(method: string, path: string, status: number, seconds: number): void {
        const key = JSON.stringify([method, routeLabel(path), String(status)]);
        const series = this.series.get(key) ?? this.series.set(key, { buckets: new Array<number>(DEFAULT_BUCKETS_SECONDS.length).fill(0), count: 0, sum: 0 }).get(key)!;
        series.count += 1;
        series.sum += seconds;
        const index = DEFAULT_BUCKETS_SECONDS.findIndex((bound) => seconds <= bound);
        if (index >= 0) {
            series.buckets[index] += 1;
        }
    }

    /** The Prometheus text exposition (version 0.0.4). */
    render(): string {
        const lines = ["# TYPE http_request_duration_seconds histogram"];
        for (const [key, series] of [...this.series.entries()].sort()) {
            const [method, path, status] = JSON.parse(key) as string[];
            const labels = `method="${method}",path="${path}",status="${status}"`;
            lines.push(...histogramLines("http_request_duration_seconds", labels, DEFAULT_BUCKETS_SECONDS, series.buckets, series.count, series.sum));
        }
        return lines.join("\n") + "\n";
    }
}
