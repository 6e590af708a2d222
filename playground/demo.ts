/**
 * `npm run demo -- [--scenario healthy|errors|latency|ab] [--router appmesh|gatewayapi] [--interval 2s] [--canary FILE] [--out DIR] [--driver pulumi|provider-host|engine]`
 *
 * Starts the local cluster (the real control plane), deploys podinfo 6.0.0 as the primary with `pulumi up` of
 * the `playground` stack, switches on the scenario's fault for the new version, then `pulumi config set image
 * ...:6.0.1` and `pulumi up`: the rollout runs inside the real `pulumi up`, whose output is printed as it
 * comes, with each interval's metric values against their thresholds. Without a Pulumi CLI (or with
 * `--driver provider-host|engine`) the playground is installed as `pulumi up` would and the providers run
 * through Pulumi's dynamic-provider host (or the engine in this process).
 * `--router gatewayapi` runs the tutorial of `Pulumi.gatewayapi.yaml`: an HTTPRoute on the playground's Gateway
 * instead of the mesh (with `--canary FILE`, the file's `provider` decides).
 * Exits 0 when promoted, 3 when rolled back, 1 on an error; writes report.html and report.json.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describePlan } from "../analysis/engine/plan";
import { formatTrafficRow, renderReportHtml, reportJson, type RolloutResult } from "../analysis/report/report";
import { formatDuration, parseDuration } from "../analysis/spec/canary";
import { commandFlags } from "./cli-flags";
import { DEV_STACK_FILE, GATEWAYAPI_STACK_FILE, loadCanary } from "./canary-spec";
import { missingKubeBinaries } from "./control-plane";
import { DRIVER_NAMES, startDriver, type DriverName } from "./drivers";
import type { Playground } from "./playground";
import { runScenario, scenarioSpec } from "./scenario-run";
import { scenarioNamed, SCENARIO_NAMES } from "./scenarios";

const EXIT_CODES: Record<RolloutResult, number> = { promoted: 0, "rolled back": 3, error: 1 };
/** The shell's code for a process ended by SIGINT (128 + 2). */
const INTERRUPTED = 130;
/** How long a failed run waits for a Ctrl-C that reached the provider host first to reach this process too. */
const SIGNAL_GRACE_MS = 500;

export interface DemoArgs {
    scenario: string;
    interval: string;
    canary?: string;
    out: string;
    /** Unset: the real CLI when there is one. */
    driver?: DriverName;
    /** Whose tutorial stack the canary comes from, when no `--canary` file gives it. */
    router: DemoRouter;
}

export const DEMO_ROUTERS = ["appmesh", "gatewayapi"] as const;
export type DemoRouter = (typeof DEMO_ROUTERS)[number];

const USAGE = `usage: npm run demo -- [--scenario ${SCENARIO_NAMES.join("|")}] [--router ${DEMO_ROUTERS.join("|")}] [--interval 2s] [--canary FILE] [--out DIR] [--driver ${DRIVER_NAMES.join("|")}]`;

export function parseDemoArgs(argv: string[]): DemoArgs {
    const args: DemoArgs = { scenario: "healthy", interval: "2s", out: ".", router: "appmesh" };
    for (const [name, value] of commandFlags(argv, ["--scenario", "--interval", "--canary", "--out", "--router", "--driver"], USAGE)) {
        if (name === "--scenario") {
            args.scenario = value;
        } else if (name === "--interval") {
            args.interval = value;
        } else if (name === "--canary") {
            args.canary = value;
        } else if (name === "--out") {
            args.out = value;
        } else if (name === "--router") {
            if (!(DEMO_ROUTERS as readonly string[]).includes(value)) {
                throw new Error(`--router ${value}: must be one of ${DEMO_ROUTERS.join(", ")}`);
            }
            args.router = value as DemoRouter;
        } else {
            if (!(DRIVER_NAMES as readonly string[]).includes(value)) {
                throw new Error(`--driver ${value}: must be one of ${DRIVER_NAMES.join(", ")}`);
            }
            args.driver = value as DriverName;
        }
    }
    scenarioNamed(args.scenario);
    const ms = parseDuration(args.interval);
    if (ms === undefined || ms < 1000) {
        throw new Error(`--interval ${args.interval}: must be a duration of at least 1s, e.g. 2s or 1m`);
    }
    return args;
}

/** A fresh clone's first demo builds the local control plane (once, into the toolchain cache) instead of failing. */
async function buildMissingControlPlane(say: (line: string) => void): Promise<void> {
    const missing = missingKubeBinaries();
    if (missing.length === 0) {
        return;
    }
    say(`${missing.join(" and ")} not built yet: building the local control plane once with \`npm run toolchain -- kube\` (about 8 minutes on 2 cores with an empty Go cache; progress below)`);
    const build = spawnSync("bash", [path.join(__dirname, "..", "scripts", "toolchain.sh"), "kube"], { stdio: ["ignore", "inherit", "inherit"] });
    if (build.status !== 0) {
        throw new Error("building the local control plane failed (see above); run `npm run toolchain -- kube` to retry");
    }
}

async function main(argv: string[]): Promise<number> {
    const args = parseDemoArgs(argv);
    const scenario = scenarioNamed(args.scenario);
    const intervalMs = parseDuration(args.interval)!;
    const loaded = loadCanary(args.canary, args.router === "gatewayapi" ? GATEWAYAPI_STACK_FILE : DEV_STACK_FILE);
    const say = (line: string) => process.stdout.write(line + "\n");
    say(`scenario ${scenario.name}: ${scenario.description}`);
    say(`canary spec from ${loaded.source}; analysis interval ${formatDuration(intervalMs)} (metric windows and load tests scaled with it)`);
    say(`plan: ${describePlan(scenarioSpec(loaded, scenario, intervalMs))}`);

    await buildMissingControlPlane(say);
    const driver = await startDriver(args.driver, say);
    let playground: Playground | undefined;
    let interrupted = false;
    const onSignal = (signal: NodeJS.Signals) => {
        if (!interrupted) {
            interrupted = true;
            say(`\n${signal}: stopping the playground`);
            void Promise.allSettled([driver.stop(), playground?.stop()]).finally(() => process.exit(INTERRUPTED));
        }
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
        // A terminal's Ctrl-C also reaches the provider host, so the rollout may end in an error that is only
        // the interruption: no result, no report. The host's exit can reach this process before the signal's
        // own handler runs, so an error waits a moment for a pending signal before it counts.
        const run = await runScenario({ loaded, scenario, intervalMs, driver, log: say, onStarted: (pg) => (playground = pg) }).catch(async (error: unknown) => {
            await new Promise((resolve) => setTimeout(resolve, SIGNAL_GRACE_MS));
            if (interrupted) {
                return undefined;
            }
            throw error;
        });
        if (interrupted || !run) {
            return INTERRUPTED;
        }
        const { record, userTraffic, final } = run;
        say(`\nresult: ${record.result}${record.reason ? ` (${record.reason})` : ""}`);
        say(`took ${((record.finishedAt - record.startedAt) / 1000).toFixed(1)}s; routes now ${final.weightedTargets}; ${loaded.target} replicas ${final.canaryReplicas}; user traffic to ${loaded.spec.service.name ?? loaded.target}.${loaded.namespace}: ${userTraffic.ok} of ${userTraffic.sent} answered below 500`);
        for (const row of record.traffic ?? []) {
            say(`  ${formatTrafficRow(row)}`);
        }
        fs.mkdirSync(args.out, { recursive: true });
        fs.writeFileSync(path.join(args.out, "report.json"), reportJson(record));
        fs.writeFileSync(path.join(args.out, "report.html"), renderReportHtml(record));
        say(`wrote ${path.join(args.out, "report.html")} and report.json (${record.events.length} events)`);
        return EXIT_CODES[record.result];
    } finally {
        await driver.stop();
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (error) => {
            process.stderr.write(`demo failed: ${(error as Error).message}\n`);
            process.exit(1);
        },
    );
}
