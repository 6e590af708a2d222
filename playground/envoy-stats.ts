/**
 * The per-pod sidecar's request statistics, exposed the way Envoy's admin `/stats/prometheus` does for the
 * App Mesh ingress cluster: `envoy_cluster_upstream_rq` counters by response code and the
 * `envoy_cluster_upstream_rq_time` histogram with Envoy's default millisecond buckets. The built-in App Mesh
 * queries read exactly these series.
 */
import { histogramLines } from "./histogram-text";

/** Envoy's default histogram bucket bounds, in milliseconds. */
export const ENVOY_TIME_BUCKETS_MS = [
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
] as const;

/** App Mesh names the sidecar's cluster for inbound traffic `cds_ingress_<mesh>_<virtual node>_<protocol>_<port>`. */
export function ingressClusterName(mesh: string, virtualNode: string, port: number): string {
    return `cds_ingress_${mesh}_${virtualNode}_http_${port}`;
}

export class EnvoyStats {
    private readonly byCode = new Map<number, number>();
    private readonly buckets = new Array<number>(ENVOY_TIME_BUCKETS_MS.length).fill(0);
    private count = 0;
    private sumMs = 0;

    constructor(private readonly clusterName: string) {}

    /** Count one request the pod answered, with its status code and how long it took. */
    record(statusCode: number, durationMs: number): void {
        this.byCode.set(statusCode, (this.byCode.get(statusCode) ?? 0) + 1);
        this.count += 1;
        this.sumMs += durationMs;
        const index = ENVOY_TIME_BUCKETS_MS.findIndex((bound) => durationMs <= bound);
        if (index >= 0) {
            this.buckets[index] += 1;
        }
    }

    get total(): number {
        return this.count;
    }

    /** Requests answered with the given status code. */
    countOf(statusCode: number): number {
        return this.byCode.get(statusCode) ?? 0;
    }

    /** The Prometheus text exposition (version 0.0.4) of these statistics. */
    render(): string {
        const cluster = `envoy_cluster_name="${this.clusterName}"`;
        const lines = ["# TYPE envoy_cluster_upstream_rq counter"];
        for (const [code, n] of [...this.byCode.entries()].sort((a, b) => a[0] - b[0])) {
            lines.push(`envoy_cluster_upstream_rq{envoy_response_code="${code}",${cluster}} ${n}`);
        }
        lines.push("# TYPE envoy_cluster_upstream_rq_time histogram");
        lines.push(...histogramLines("envoy_cluster_upstream_rq_time", cluster, ENVOY_TIME_BUCKETS_MS, this.buckets, this.count, this.sumMs));
        return lines.join("\n") + "\n";
    }
}
