/** The soak's closing table: what was injected, how the rollouts ended, what broke, what users saw. */
import type { RolloutObservation } from "./invariants";

/** User requests through the ingress gateway (to the app it fronts) during one rollout, failures split by where they came from. */
export interface UserTraffic {
    sent: number;
    /** Answered 5xx by the canary's own pods (the injected fault). */
    canaryFaults: number;
    /** Failed anywhere else: no route, a proxy error, the primary. */
    routing: number;
    /** The first failures, with when and why. */
    failures: string[];
}

export interface SoakRolloutResult {
    observation: RolloutObservation;
    violations: string[];
    traffic: UserTraffic;
    /** How long a faulty canary took traffic (ms), the longest of the apps with errors or latency that served any. */
    failingCanaryMs?: number;
    durationMs: number;
}

/** How long traffic may stay on a failing canary: threshold × interval, plus the metric window that must fill. */
export function failingCanaryBoundMs(threshold: number, intervalMs: number, metricWindowMs: number): number {
    return threshold * intervalMs + metricWindowMs;
}

function counted(values: string[]): string {
    const counts = new Map<string, number>();
    for (const value of values) {
        counts.set(value, (counts.get(value) ?? 0) + 1);
    }
    return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([value, n]) => `${value} ${n}`).join(", ") || "none";
}

/** A Markdown table of the run, as the soak prints it and the README shows it. */
export function soakTable(results: SoakRolloutResult[], opts: { seed: number; boundMs: number; elapsedMs: number }): string {
    // One outcome per app and rollout; a rollout whose `pulumi up` still failed counts once, as failed.
    const outcomes = results.flatMap(({ observation: o }) => (o.failure !== undefined ? ["failed"] : o.apps.map((a) => (o.runs > 1 ? `recovered, then ${a.outcome}` : a.outcome))));
    const sent = results.reduce((sum, r) => sum + r.traffic.sent, 0);
    const canaryFaults = results.reduce((sum, r) => sum + r.traffic.canaryFaults, 0);
    const routing = results.reduce((sum, r) => sum + r.traffic.routing, 0);
    const failing = results.filter((r) => r.failingCanaryMs !== undefined);
    const longest = failing.reduce<SoakRolloutResult | undefined>((max, r) => (max === undefined || r.failingCanaryMs! > max.failingCanaryMs! ? r : max), undefined);
    const violations = results.reduce((sum, r) => sum + r.violations.length, 0);
    const apps = results[0]?.observation.apps.length ?? 1;
    const rows = [
        ["seed", String(opts.seed)],
        ["rollouts", `${results.length}${apps > 1 ? ` of ${apps} apps each` : ""} in ${(opts.elapsedMs / 60_000).toFixed(1)} min`],
        ["faults injected", counted(results.flatMap((r) => r.observation.injected))],
        ["outcomes", counted(outcomes)],
        ["invariant violations", String(violations)],
        ["user requests", `${sent} sent, ${canaryFaults + routing} failed (${canaryFaults} by the faulty canary, ${routing} by routing)`],
        [
            "longest on a failing canary",
            longest ? `${(longest.failingCanaryMs! / 1000).toFixed(1)} s (#${longest.observation.plan.index}); threshold × interval + metric window = ${(opts.boundMs / 1000).toFixed(1)} s` : "no faulty canary took traffic",
        ],
    ];
    return ["| | |", "|---|---|", ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join("\n");
}
