/** One histogram series in the Prometheus text exposition: cumulative `_bucket` lines, `+Inf`, `_sum` and `_count`. */
export function histogramLines(name: string, labels: string, bounds: readonly number[], buckets: number[], count: number, sum: number): string[] {
    let cumulative = 0;
    return [
        ...bounds.map((bound, i) => {
            cumulative += buckets[i];
            return `${name}_bucket{${labels},le="${bound}"} ${cumulative}`;
        }),
        `${name}_bucket{${labels},le="+Inf"} ${count}`,
        `${name}_sum{${labels}} ${sum}`,
        `${name}_count{${labels}} ${count}`,
    ];
}
