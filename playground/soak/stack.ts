/**
 * The soak's stack: the playground stack (the tutorial's App Mesh canary at a 2 s interval) with a 20 s
 * progress deadline, so a gate that never opens or a canary that never gets Ready costs seconds, and the
 * soak's own gate, check and rollback hooks beside the tutorial's. With several apps, each gets the
 * playground's canary retargeted (`apps` config), and the ingress gateway fronts the first.
 */
import { PROJECT } from "../../config/stack";
import { PODINFO_IMAGE } from "../playground";
import { CHECK_TIMEOUT_MS } from "./hook-server";

export const SOAK_STACK = "soak";
export const SOAK_PROGRESS_DEADLINE_SECONDS = 20;

type Config = Record<string, unknown>;
interface CanaryConfig {
    targetRef: { name: string };
    autoscalerRef?: unknown;
    analysis: { webhooks?: { metadata?: { cmd?: string } }[] };
}

/** The podinfo version app `index` (0-based) starts on; a rollout `n` moves it to `6.<index + 1>.<n>`. */
export const initialVersion = (index: number) => `6.${index + 1}.0`;

/** The config key of an app's image. */
export function imageConfigKey(apps: string[], app: string): { key: string; path: boolean } {
    return apps.length === 1 ? { key: `${PROJECT}:image`, path: false } : { key: `${PROJECT}:apps.${app}.workload.containers[0].image`, path: true };
}

/** An app's canary spec with the soak's hooks under `hooksUrl` and the short progress deadline. */
function soakCanary(canary: CanaryConfig, app: string, hooksUrl: string): CanaryConfig {
    const hooks = [
        { name: "soak-gate", type: "confirm-rollout", url: `${hooksUrl}/${app}/gate`, timeout: "2s" },
        { name: "soak-check", type: "rollout", url: `${hooksUrl}/${app}/check`, timeout: `${CHECK_TIMEOUT_MS / 1000}s` },
        { name: "soak-rollback", type: "rollback", url: `${hooksUrl}/${app}/rollback`, timeout: "2s" },
    ];
    return { ...canary, progressDeadlineSeconds: SOAK_PROGRESS_DEADLINE_SECONDS, analysis: { ...canary.analysis, webhooks: [...(canary.analysis.webhooks ?? []), ...hooks] } } as CanaryConfig;
}

/** The tutorial's canary for another app: its own target and load-test URLs; no HPA (one replica). */
function retargeted(canary: CanaryConfig, app: string): CanaryConfig {
    const spec = structuredClone(canary);
    spec.targetRef.name = app;
    delete spec.autoscalerRef;
    for (const webhook of spec.analysis.webhooks ?? []) {
        if (webhook.metadata?.cmd) {
            webhook.metadata.cmd = webhook.metadata.cmd.replace(/podinfo-canary\./g, `${app}-canary.`);
        }
    }
    return spec;
}

/** The soak stack's config from the playground stack's, for `apps` (`podinfo` alone, or several), with its hooks under `hooksUrl`. */
export function soakStackConfig(playground: Config, hooksUrl: string, apps: string[] = ["podinfo"]): Config {
    const { [`${PROJECT}:image`]: _image, [`${PROJECT}:canary`]: canary, ...rest } = playground as Config & { [key: string]: unknown };
    const tutorial = canary as CanaryConfig;
    if (apps.length === 1) {
        return { ...rest, [`${PROJECT}:image`]: `${PODINFO_IMAGE}:${initialVersion(0)}`, [`${PROJECT}:canary`]: soakCanary(tutorial, apps[0], hooksUrl) };
    }
    const app = (name: string, index: number) => ({
        workload: { replicas: 1, containers: [{ name: "app", image: `${PODINFO_IMAGE}:${initialVersion(index)}`, ports: [{ name: "http", containerPort: 9898 }] }] },
        canary: soakCanary(retargeted(tutorial, name), name, hooksUrl),
    });
    return {
        ...rest,
        [`${PROJECT}:gateway`]: { ...(rest[`${PROJECT}:gateway`] as Config), app: apps[0] },
        [`${PROJECT}:apps`]: Object.fromEntries(apps.map((name, index) => [name, app(name, index)])),
    };
}
