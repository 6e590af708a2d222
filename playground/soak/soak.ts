/**
 * `npm run soak -- [--rollouts N] [--seed S]`: N rollouts through the real `pulumi up` on the local control
 * plane, each with faults drawn from the seed (printed first, so a failing run replays with `--seed`), the
 * invariants checked after each, and a closing table. Exits 1 when any invariant broke.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { metricInterval, parseDuration, resolveAnalysis } from "../../analysis/spec/canary";
import { parseCanarySpec } from "../../analysis/spec/validation";
import { PROJECT } from "../../config/stack";
import { commandFlags } from "../cli-flags";
import { startLocalCluster, type LocalCluster } from "../local-cluster";
import { attachPlayground, PODINFO_IMAGE } from "../playground";
import { faultSwitches } from "../podinfo-app";
import { requireExecutable } from "../processes";
import { PLAYGROUND_STACK_FILE } from "../pulumi-driver";
import { createPulumiWorkspace, findPulumiToolchain, killWorkspaceProcesses, NO_PULUMI_HINT, readStackConfig, type PulumiWorkspace } from "../pulumi-cli";
import { startSoakHooks, type SoakHooks } from "./hook-server";
import { describePlan, drawPlans } from "./plan";
import { runPlannedRollout, type SoakContext } from "./rollout";
import { soakStackConfig, SOAK_STACK } from "./stack";
import { failingCanaryBoundMs, soakTable, type SoakRolloutResult } from "./summary";

export interface SoakArgs {
    rollouts: number;
    seed: number;
}

const USAGE = "usage: npm run soak -- [--rollouts N] [--seed S]";
const FIRST_VERSION = "6.0.0";

const positiveInteger = (flag: string, value: string, min: number) => {
    if (!/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
        throw new Error(`${flag} ${value}: must be a whole number of at least ${min}\n${USAGE}`);
    }
    return Number(value);
};

export function parseSoakArgs(argv: string[], randomSeed = () => Math.floor(Math.random() * 2 ** 31)): SoakArgs {
    let rollouts = 30;
    let seed: number | undefined;
    for (const [name, value] of commandFlags(argv, ["--rollouts", "--seed"], USAGE)) {
        if (name === "--rollouts") {
            rollouts = positiveInteger(name, value, 1);
        } else {
            seed = positiveInteger(name, value, 0);
        }
    }
    return { rollouts, seed: seed ?? randomSeed() };
}

export interface SoakRun {
    results: SoakRolloutResult[];
    table: string;
}

/** The soak itself: install the stack once, then each planned rollout in turn. */
export async function runSoak(args: SoakArgs, say: (line: string) => void): Promise<SoakRun> {
    const toolchain = findPulumiToolchain();
    if (!toolchain) {
        throw new Error(`the soak runs the real pulumi up: ${NO_PULUMI_HINT}`);
    }
    requireExecutable("prometheus");
    requireExecutable("hey");
    const plans = drawPlans(args.seed, args.rollouts);
    say(`soak: ${args.rollouts} rollouts, seed ${args.seed} (replay with --seed ${args.seed})`);
    plans.forEach((plan) => say(`  ${describePlan(plan)}`));
    const fault = faultSwitches();
    let cluster: LocalCluster | undefined;
    let hooks: SoakHooks | undefined;
    let workspace: PulumiWorkspace | undefined;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "appmesh-canary-soak-"));
    const started = Date.now();
    try {
        cluster = await startLocalCluster({ podinfo: { faults: fault } });
        hooks = await startSoakHooks();
        const config: Record<string, unknown> = { ...soakStackConfig(readStackConfig(PLAYGROUND_STACK_FILE), hooks.url), [`${PROJECT}:image`]: `${PODINFO_IMAGE}:${FIRST_VERSION}` };
        workspace = await createPulumiWorkspace({ dir, stack: SOAK_STACK, config, toolchain });
        await workspace.setConfig("kubernetes:kubeconfig", cluster.kubeconfig, { secret: true });
        say(`$ pulumi up   (stack ${SOAK_STACK}: podinfo ${FIRST_VERSION}, everything created)`);
        await workspace.run(["up", "--yes", "--skip-preview"]);
        const spec = parseCanarySpec(config[`${PROJECT}:canary`]);
        const namespace = config[`${PROJECT}:namespace`] as string;
        const playground = await attachPlayground({ cluster, fault, namespace, canaries: [{ target: "podinfo", spec }] });
        const ctx: SoakContext = { cluster, playground, canary: playground.canaries[0], workspace, hooks, fault, log: say, promotedImage: `${PODINFO_IMAGE}:${FIRST_VERSION}` };
        const results: SoakRolloutResult[] = [];
        for (const plan of plans) {
            say(`\n${describePlan(plan)}`);
            const result = await runPlannedRollout(ctx, plan);
            results.push(result);
            const o = result.observation;
            say(`  → ${o.outcome} after ${o.runs} run${o.runs > 1 ? "s" : ""} in ${(result.durationMs / 1000).toFixed(1)}s; ${result.traffic.sent} user requests, ${result.traffic.canaryFaults + result.traffic.routing} failed`);
            result.violations.forEach((v) => say(`  VIOLATION: ${v}`));
        }
        const analysis = resolveAnalysis(spec.analysis);
        const windowMs = Math.max(...analysis.metrics.map((m) => parseDuration(metricInterval(m))!));
        const table = soakTable(results, { seed: args.seed, boundMs: failingCanaryBoundMs(analysis.threshold, analysis.intervalMs, windowMs), elapsedMs: Date.now() - started });
        return { results, table };
    } finally {
        await hooks?.stop();
        if (workspace) {
            killWorkspaceProcesses(workspace);
        }
        await cluster?.stop();
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

async function main(argv: string[]): Promise<number> {
    const say = (line: string) => process.stdout.write(line + "\n");
    const { results, table } = await runSoak(parseSoakArgs(argv), say);
    say(`\n${table}`);
    return results.some((r) => r.violations.length > 0) ? 1 : 0;
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (error) => {
            process.stderr.write(`soak failed: ${(error as Error).message}\n`);
            process.exit(2);
        },
    );
}
