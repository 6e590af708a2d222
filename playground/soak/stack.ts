/**
 * The soak's stack: the playground stack (the tutorial's App Mesh canary at a 2 s interval) with a 20 s
 * progress deadline, so a gate that never opens or a canary that never gets Ready costs seconds, and the
 * soak's own gate, check and rollback hooks beside the tutorial's.
 */
import { PROJECT } from "../../config/stack";
import { CHECK_TIMEOUT_MS } from "./hook-server";

export const SOAK_STACK = "soak";
export const SOAK_PROGRESS_DEADLINE_SECONDS = 20;

type Config = Record<string, unknown>;

/** The soak stack's config from the playground stack's, with its hooks under `hooksUrl`. */
export function soakStackConfig(playground: Config, hooksUrl: string): Config {
    const canary = playground[`${PROJECT}:canary`] as { analysis: { webhooks?: unknown[] } } & Config;
    const hooks = [
        { name: "soak-gate", type: "confirm-rollout", url: `${hooksUrl}/gate`, timeout: "2s" },
        { name: "soak-check", type: "rollout", url: `${hooksUrl}/check`, timeout: `${CHECK_TIMEOUT_MS / 1000}s` },
        { name: "soak-rollback", type: "rollback", url: `${hooksUrl}/rollback`, timeout: "2s" },
    ];
    return {
        ...playground,
        [`${PROJECT}:canary`]: {
            ...canary,
            progressDeadlineSeconds: SOAK_PROGRESS_DEADLINE_SECONDS,
            analysis: { ...canary.analysis, webhooks: [...(canary.analysis.webhooks ?? []), ...hooks] },
        },
    };
}
