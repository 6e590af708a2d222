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
import { startApiProxy, type ApiProxy } from "../api-proxy";
import { startLocalCluster, type LocalCluster } from "../local-cluster";
import { attachPlayground, PODINFO_IMAGE } from "../playground";
import { faultSwitches } from "../podinfo-app";
import { requireExecutable } from "../processes";
import { PLAYGROUND_STACK_FILE } from "../pulumi-driver";
import { createPulumiWorkspace, findPulumiToolchain, killWorkspaceProcesses, NO_PULUMI_HINT, readStackConfig, type PulumiWorkspace } from "../pulumi-cli";
import { startSoakHooks, type SoakHooks } from "./hook-server";
import { appNames, describePlan, drawPlans } from "./plan";
import { runPlannedRollout, type SoakContext } from "./rollout";
import { initialVersion, soakStackConfig, SOAK_STACK } from "./stack";
import { failingCanaryBoundMs, soakTable, type SoakRolloutResult } from "./summary";

export interface SoakArgs {
    rollouts: number;
    seed: number;
    /** Apps in the stack, rolled out together in each `pulumi up`. */
    apps: number;
}

const USAGE = "usage: npm run soak -- [--rollouts N] [--seed S] [--apps K]";
/** More apps than this would measure the 2-core machine, not the product. */
export const MAX_APPS = 8;

const wholeNumber = (flag: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
        throw new Error(`${flag} ${value}: must be a whole number ${max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`}\n${USAGE}`);
    }
    return Number(value);
};

export function parseSoakArgs(argv: string[], randomSeed = () => Math.floor(Math.random() * 2 ** 31)): SoakArgs {
    let rollouts = 30;
    let seed: number | undefined;
    let apps = 1;
    for (const [name, value] of commandFlags(argv, ["--rollouts", "--seed", "--apps"], USAGE)) {
        if (name === "--rollouts") {
            rollouts = wholeNumber(name, value, 1);
        } else if (name === "--seed") {
            seed = wholeNumber(name, value, 0);
        } else {
            apps = wholeNumber(name, value, 1, MAX_APPS);
        }
    }
    return { rollouts, seed: seed ?? randomSeed(), apps };
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
    const names = appNames(args.apps);
    const plans = drawPlans(args.seed, args.rollouts, args.apps);
    say(`soak: ${args.rollouts} rollouts of ${names.join(", ")}, seed ${args.seed} (replay with --seed ${args.seed}${args.apps > 1 ? ` --apps ${args.apps}` : ""})`);
    plans.forEach((plan) => say(`  ${describePlan(plan)}`));
    const fault = faultSwitches();
    let prometheusFailing = false;
    let cluster: LocalCluster | undefined;
    let hooks: SoakHooks | undefined;
    let proxy: ApiProxy | undefined;
    let workspace: PulumiWorkspace | undefined;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "appmesh-canary-soak-"));
    const started = Date.now();
    try {
        cluster = await startLocalCluster({ podinfo: { faults: fault }, prometheusQueryError: () => (prometheusFailing ? "query processing would load too many samples into memory" : undefined) });
        hooks = await startSoakHooks();
        proxy = await startApiProxy(cluster.controlPlane.server, cluster.controlPlane.ca, { record: false, token: cluster.controlPlane.token });
        const config = soakStackConfig(readStackConfig(PLAYGROUND_STACK_FILE), hooks.url, names);
        workspace = await createPulumiWorkspace({ dir, stack: SOAK_STACK, config, toolchain });
        // Pulumi's Kubernetes provider and the analysis both reach the cluster through the proxy, as through
        // `kubectl proxy` (it adds the credentials); its injected errors only ever meet the analysis.
        await workspace.setConfig("kubernetes:kubeconfig", proxy.kubeconfig(), { secret: true });
        say(`$ pulumi up   (stack ${SOAK_STACK}: ${names.map((name, i) => `${name} ${initialVersion(i)}`).join(", ")}, everything created)`);
        await workspace.run(["up", "--yes", "--skip-preview"]);
        const specs = names.map((name) => ({ target: name, spec: parseCanarySpec(names.length === 1 ? config[`${PROJECT}:canary`] : (config[`${PROJECT}:apps`] as Record<string, { canary: unknown }>)[name].canary) }));
        const namespace = config[`${PROJECT}:namespace`] as string;
        const playground = await attachPlayground({ cluster, fault, namespace, canaries: specs });
        const ctx: SoakContext = {
            cluster,
            playground,
            workspace,
            hooks,
            proxy,
            fault,
            setPrometheusFailing: (failing) => (prometheusFailing = failing),
            log: say,
            promoted: Object.fromEntries(names.map((name, i) => [name, `${PODINFO_IMAGE}:${initialVersion(i)}`])),
        };
        const results: SoakRolloutResult[] = [];
        for (const plan of plans) {
            say(`\n${describePlan(plan)}`);
            const result = await runPlannedRollout(ctx, plan);
            results.push(result);
            const o = result.observation;
            const outcomes = o.failure !== undefined ? "failed" : o.apps.map((a) => (names.length > 1 ? `${a.name} ${a.outcome}` : a.outcome)).join(", ");
            say(`  → ${outcomes} after ${o.runs} run${o.runs > 1 ? "s" : ""} in ${(result.durationMs / 1000).toFixed(1)}s; ${result.traffic.sent} user requests, ${result.traffic.canaryFaults + result.traffic.routing} failed`);
            result.traffic.failures.forEach((f) => say(`  user request failed: ${f}`));
            result.violations.forEach((v) => say(`  VIOLATION: ${v}`));
        }
        const analysis = resolveAnalysis(specs[0].spec.analysis);
        const windowMs = Math.max(...analysis.metrics.map((m) => parseDuration(metricInterval(m))!));
        const table = soakTable(results, { seed: args.seed, boundMs: failingCanaryBoundMs(analysis.threshold, analysis.intervalMs, windowMs), elapsedMs: Date.now() - started });
        return { results, table };
    } finally {
        await hooks?.stop();
        if (workspace) {
            killWorkspaceProcesses(workspace);
        }
        await proxy?.stop();
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
