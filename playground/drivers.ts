/**
 * Which driver runs the playground's rollouts: the real `pulumi up` (`pulumi`, the default when a Pulumi CLI
 * is available), Pulumi's dynamic-provider host driven by this process (`provider-host`: the same provider
 * code, without the CLI), or the engine in this process (`engine`, quickest to start, same ports).
 */
import * as path from "path";
import * as fs from "fs";
import { inProcessDriver } from "./engine-driver";
import { providerHostDriver } from "./host-driver";
import { findPulumiToolchain, NO_PULUMI_HINT, PROJECT_DIR } from "./pulumi-cli";
import { pulumiStackDriver, type StackDriver } from "./pulumi-driver";
import type { RolloutDriver } from "./rollout";

export const DRIVER_NAMES = ["pulumi", "provider-host", "engine"] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];

/** Where the demo's Pulumi workspace (file backend, PULUMI_HOME, stack file) lives; emptied on every run. */
export const PULUMI_WORK_DIR = path.join(PROJECT_DIR, ".playground", "pulumi");

/**
 * The named driver; with no name, `pulumi` when a CLI is found, else `provider-host` (and `say` tells why).
 * Asking for `pulumi` without a CLI is an error that says how to get one.
 */
export async function startDriver(name: DriverName | undefined, say: (line: string) => void = () => undefined): Promise<RolloutDriver | StackDriver> {
    if (name === "engine") {
        return inProcessDriver();
    }
    if (name !== "provider-host") {
        const toolchain = findPulumiToolchain();
        if (toolchain) {
            fs.rmSync(PULUMI_WORK_DIR, { recursive: true, force: true });
            return pulumiStackDriver({ toolchain, dir: PULUMI_WORK_DIR, log: say });
        }
        if (name === "pulumi") {
            throw new Error(NO_PULUMI_HINT);
        }
        say(`${NO_PULUMI_HINT}; running the providers through Pulumi's dynamic-provider host instead (--driver provider-host)`);
    }
    return providerHostDriver();
}
