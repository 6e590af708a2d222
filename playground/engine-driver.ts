/**
 * Runs a rollout's Analysis and Finalize steps in this process: the engine (`runAnalysis`,
 * `finalizePromotion`) over the same ports the dynamic provider builds (`buildPorts`: the Kubernetes adapters
 * through the API server, Prometheus and webhooks through its service proxy), with events collected here.
 * The provider-host driver runs the very same provider code in Pulumi's host process instead.
 */
import { finalizePromotion, runAnalysis } from "../analysis/engine/engine";
import { buildPorts, rolloutFailure } from "../analysis/provider/providers";
import { parseCanarySpec } from "../analysis/spec/validation";
import type { RolloutDriver } from "./rollout";

export function inProcessDriver(): RolloutDriver {
    return {
        name: "the analysis engine in this process (runAnalysis / finalizePromotion over the provider's ports)",
        async analyse(news, _olds, onEvent) {
            const spec = parseCanarySpec(news.canary);
            const request = { target: news.target, spec, checksum: news.revision };
            const outcome = await runAnalysis(request, { ...buildPorts(news, spec), events: { emit: onEvent } });
            return outcome.status === "failed" ? rolloutFailure(news.target, news.revision, outcome) : undefined;
        },
        async finalize(news, _olds, onEvent) {
            const spec = parseCanarySpec(news.canary);
            await finalizePromotion({ target: news.target, spec, checksum: news.revision }, { ...buildPorts(news, spec), events: { emit: onEvent } }, news.status);
        },
        async stop() {},
    };
}
