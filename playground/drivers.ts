/**
 * Which driver runs the playground's rollouts: Pulumi's dynamic-provider host (what `pulumi up` runs) by
 * default, or the engine in this process (`--driver engine`, quicker to start, same ports).
 */
import { inProcessDriver } from "./engine-driver";
import { providerHostDriver } from "./host-driver";
import type { RolloutDriver } from "./rollout";

export const DRIVER_NAMES = ["provider-host", "engine"] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];

export async function startDriver(name: DriverName = "provider-host"): Promise<RolloutDriver> {
    return name === "engine" ? inProcessDriver() : providerHostDriver();
}
