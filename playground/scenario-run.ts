/**
 * One scenario end to end, as the demo, the tests and the benchmark run it: start the playground, deploy
 * 6.0.0 as the primary, switch on the new version's fault, roll out 6.0.1 with the canary spec, and stop
 * everything again (after `inspect` has looked at the live playground).
 */
import type { RolloutRecord } from "../analysis/report/report";
import { routerKindOfSpec } from "../analysis/routers/factory";
import type { CanarySpec } from "../analysis/spec/canary";
import { GATEWAY_API_NAME } from "../config/stack";
import { PLAYGROUND_GATEWAY_CLASSES } from "./gateway-api";
import { parseCanarySpec } from "../analysis/spec/validation";
import { abVariant, withInterval, type LoadedCanary } from "./canary-spec";
import { startPlayground, type InstalledCanary, type Playground } from "./playground";
import type { StackDriver } from "./pulumi-driver";
import { runPlaygroundRollout, type RolloutDriver } from "./rollout";
import { routerView } from "./router-view";
import type { Scenario } from "./scenarios";
import type { TrafficResult } from "./traffic";

export const FROM_VERSION = "6.0.0";
export const TO_VERSION = "6.0.1";

/** The spec a scenario runs: the A/B variant when it needs one, sped up to the interval. */
export function scenarioSpec(loaded: LoadedCanary, scenario: Scenario, intervalMs: number): CanarySpec {
    const viaGateway = routerKindOfSpec(loaded.spec) === "gatewayapi";
    // Through the Gateway API, A/B requests must pass the Gateway that holds the header rule.
    const loadTestUrl = viaGateway ? `http://${GATEWAY_API_NAME}-${PLAYGROUND_GATEWAY_CLASSES[0]}.${loaded.namespace}/` : undefined;
    const base = scenario.abTesting && !(loaded.spec.analysis?.match?.length ?? 0) ? abVariant(loaded.spec, loadTestUrl) : loaded.spec;
    return parseCanarySpec(withInterval(base, intervalMs));
}

export interface ScenarioRunOptions {
    loaded: LoadedCanary;
    scenario: Scenario;
    intervalMs: number;
    /** The provider updates on a playground installed as `pulumi up` would, or the real `pulumi up` (which installs it). */
    driver: RolloutDriver | StackDriver;
    log?: (line: string) => void;
    userTrafficPerSecond?: number;
    /** Called with the live playground after the rollout, before it stops. */
    inspect?: (playground: Playground, canary: InstalledCanary) => void | Promise<void>;
    /** Called once the playground runs, so a signal handler can stop it. */
    onStarted?: (playground: Playground) => void;
}

export interface ScenarioRun {
    record: RolloutRecord;
    userTraffic: TrafficResult;
    /** The apex route's primary and canary weights and the canary's replicas when the rollout ended. */
    final: { weightedTargets: string; canaryReplicas: number };
}

export async function runScenario(opts: ScenarioRunOptions): Promise<ScenarioRun> {
    const { loaded, scenario } = opts;
    const log = opts.log ?? (() => undefined);
    const spec = scenarioSpec(loaded, scenario, opts.intervalMs);
    log("starting the local cluster (etcd, kube-apiserver, kube-controller-manager, the playground node and mesh, appmesh-prometheus) ...");
    const started = Date.now();
    const install = { namespace: loaded.namespace, canaries: [{ target: loaded.target, spec, version: FROM_VERSION }] };
    const playground = "install" in opts.driver ? await opts.driver.install(install) : await startPlayground(install);
    try {
        opts.onStarted?.(playground);
        const canary = playground.canaries[0];
        log(`deployed ${canary.names.primary} ${FROM_VERSION} (routes 100% primary) in ${((Date.now() - started) / 1000).toFixed(1)}s; Prometheus ${playground.prometheusUrl}, mesh proxy ${playground.cluster.mesh.proxyUrl}`);
        playground.setFault(TO_VERSION, scenario.fault);
        log(`rolling out ${loaded.target} ${TO_VERSION} through ${opts.driver.name}\n`);
        const { record, userTraffic } = await runPlaygroundRollout({
            playground,
            canary,
            fromVersion: FROM_VERSION,
            toVersion: TO_VERSION,
            driver: opts.driver,
            title: `${loaded.target} ${FROM_VERSION} → ${TO_VERSION}, scenario ${scenario.name}`,
            userTrafficPerSecond: opts.userTrafficPerSecond ?? 10,
            log,
        });
        const weightedTargets = await routerView(playground, canary).describeLive();
        const canaryReplicas = (await playground.deployment(canary.namespace, canary.target)).spec.replicas ?? -1;
        await opts.inspect?.(playground, canary);
        return { record, userTraffic, final: { weightedTargets, canaryReplicas } };
    } finally {
        await playground.stop();
    }
}
