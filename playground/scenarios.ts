/** The demo's scenarios: what is wrong with the new version, and how the rollout should end. */
import type { RolloutResult } from "../analysis/report/report";
import type { Fault } from "./podinfo-app";

export const SCENARIO_NAMES = ["healthy", "errors", "latency", "ab"] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface Scenario {
    name: ScenarioName;
    description: string;
    /** The new version's fault switch. */
    fault: Fault;
    /** Use the tutorial's A/B analysis (header `x-canary: insider`). */
    abTesting: boolean;
    expected: RolloutResult;
}

export const SCENARIOS: Record<ScenarioName, Scenario> = {
    healthy: { name: "healthy", description: "v2 is healthy: traffic steps up to maxWeight, then promotion", fault: { errorRate: 0, latencyMs: 0, crashLoop: false }, abTesting: false, expected: "promoted" },
    errors: { name: "errors", description: "v2 answers 15% of requests with HTTP 500: success rate halts, rollback at the threshold", fault: { errorRate: 0.15, latencyMs: 0, crashLoop: false }, abTesting: false, expected: "rolled back" },
    latency: { name: "latency", description: "v2 takes 700ms per request: P99 halts, rollback at the threshold", fault: { errorRate: 0, latencyMs: 700, crashLoop: false }, abTesting: false, expected: "rolled back" },
    ab: { name: "ab", description: "A/B: only requests with `x-canary: insider` reach v2 for the iterations, then promotion", fault: { errorRate: 0, latencyMs: 0, crashLoop: false }, abTesting: true, expected: "promoted" },
};

export function scenarioNamed(name: string): Scenario {
    if (!(SCENARIO_NAMES as readonly string[]).includes(name)) {
        throw new Error(`--scenario ${name}: must be one of ${SCENARIO_NAMES.join(", ")}`);
    }
    return SCENARIOS[name as ScenarioName];
}
