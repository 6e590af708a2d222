/**
 * `npm run bench`: the playground's speed numbers on the local cluster (the real control plane), through
 * Pulumi's dynamic-provider host as the demo runs them, each against its target:
 *
 * 1. healthy rollout wall time: within 1.05 × (weight steps × interval) plus the canary pods' start, the
 *    promotion interval and the primary's roll;
 * 2. fault onset (the canary starts failing mid-rollout) to traffic back on the primary: within threshold ×
 *    interval plus the metric window and one scrape;
 * 3. CPU the provider host (engine + adapters) spends per analysis tick: at most 15 ms;
 * 4. at a 10 s interval, one app rolled out, then 20 apps in one update through one provider host (each on a
 *    fresh cluster and host): the 20 apps within 1.1 × the one app's wall time, no analysis tick of any app
 *    later than 5 % of the interval, and at most 200 MiB peak resident memory for the provider host.
 *
 * `npm run bench -- --only healthy|fault|apps` runs one of the three parts (cases 1 and 3 are one part).
 */
import * as fs from "fs";
import { readWeights } from "../analysis/routers/appmesh/routes";
import { routerNodes } from "../analysis/spec/names";
import { formatDuration, parseDuration, resolveAnalysis, type CanarySpec } from "../analysis/spec/canary";
import { rolloutPlan } from "../analysis/engine/weights";
import type { AnalysisTick } from "../analysis/engine/ports";
import type { RolloutRecord } from "../analysis/report/report";
import { loadCanary, type LoadedCanary } from "./canary-spec";
import { providerHostDriver } from "./host-driver";
import { startPlayground, type Playground } from "./playground";
import { runPlaygroundRollout } from "./rollout";
import { runScenario, scenarioSpec, FROM_VERSION, TO_VERSION } from "./scenario-run";
import { SCENARIOS } from "./scenarios";

const INTERVAL_MS = 2000;
const APPS = 20;
const APPS_INTERVAL_MS = 10_000;
const APPS_WALL_RATIO_TARGET = 1.1;
/** The most an analysis tick may run late, as a share of the interval. */
const TICK_LATENESS_TARGET = 0.05;
const HOST_PEAK_TARGET_MIB = 200;
const FAULT_AT_WEIGHT = 20;
/** Prometheus scrapes the sidecars every second (the appmesh-prometheus pod's setting here). */
const SCRAPE_INTERVAL_MS = 1000;
const CPU_PER_TICK_TARGET_MS = 15;

interface Row {
    measure: string;
    value: string;
    reference: string;
    note: string;
}

/** User + system CPU seconds a process has used so far (Linux /proc). */
function cpuSeconds(pid: number): number {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Peak resident memory of a process so far, in MiB (Linux /proc VmHWM). */
function peakRssMiB(pid: number): number {
    const line = fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmHWM:"));
    return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** The healthy scenario's spec at the bench interval, and its floor: weight steps × interval. */
function healthyPlan(loaded: LoadedCanary) {
    const spec = scenarioSpec(loaded, SCENARIOS.healthy, INTERVAL_MS);
    const analysis = resolveAnalysis(spec.analysis);
    const steps = rolloutPlan(analysis).intervals;
    return { spec, analysis, steps, floorMs: steps * analysis.intervalMs };
}

async function healthyAndCpu(loaded: LoadedCanary, rows: Row[]): Promise<void> {
    const { steps, floorMs } = healthyPlan(loaded);
    const driver = await providerHostDriver();
    const advances: { time: number; cpu: number }[] = [];
    try {
        const { record } = await runScenario({
            loaded,
            scenario: SCENARIOS.healthy,
            intervalMs: INTERVAL_MS,
            driver,
            log: (line) => {
                if (/Advance \S+ canary weight/.test(line)) {
                    advances.push({ time: Date.now(), cpu: cpuSeconds(driver.processId!) });
                }
            },
        });
        const wall = record.finishedAt - record.startedAt;
        const at = (prefix: string) => record.events.find((e) => e.message.startsWith(prefix))?.timestamp;
        const started = at("Starting canary analysis") ?? record.startedAt;
        const copied = at("Copying ") ?? record.finishedAt;
        const routedBack = at("Routing all traffic to primary") ?? record.finishedAt;
        // What lies outside the analysis: the canary pods' start, the promotion interval and the primary's roll.
        const canaryStart = started - record.startedAt;
        const primaryRoll = routedBack - copied;
        const target = 1.05 * floorMs + canaryStart + INTERVAL_MS + primaryRoll;
        rows.push({
            measure: "healthy rollout wall time",
            value: seconds(wall),
            reference: `target ${seconds(target)}: 1.05 × floor ${seconds(floorMs)} (${steps} steps × ${seconds(INTERVAL_MS)}) + canary pods ${seconds(canaryStart)} + promotion interval ${seconds(INTERVAL_MS)} + primary roll ${seconds(primaryRoll)}`,
            note: `${record.result}; ${wall <= target ? "within" : "over"} target (ratio ${(wall / target).toFixed(2)})`,
        });
        const ticks = advances.length - 1;
        const cpu = advances[advances.length - 1].cpu - advances[0].cpu;
        rows.push({
            measure: "provider host CPU per analysis tick",
            value: `${((cpu / ticks) * 1000).toFixed(1)}ms`,
            reference: `target at most ${CPU_PER_TICK_TARGET_MS}ms`,
            note: `${ticks} ticks between the first and last weight advance (router apply, 2 PromQL queries, load-test webhook each)`,
        });
    } finally {
        await driver.stop();
    }
}

async function faultOnset(loaded: LoadedCanary, rows: Row[]): Promise<void> {
    const { spec, analysis } = healthyPlan(loaded);
    const driver = await providerHostDriver();
    let onset: number | undefined;
    let recovered: number | undefined;
    let watcher: NodeJS.Timeout | undefined;
    try {
        const { record } = await runScenario({
            loaded,
            scenario: SCENARIOS.healthy,
            intervalMs: INTERVAL_MS,
            driver,
            onStarted: (pg) => {
                watcher = setInterval(() => {
                    const changes = pg.cluster.mesh.routeChanges.filter((c) => c.name === loaded.target);
                    const weights = changes.map((c) => ({ time: c.time, canary: readWeights(c.spec, loaded.target, routerNodes(loaded.target)).canary }));
                    const latest = weights[weights.length - 1];
                    if (onset === undefined && latest && latest.canary >= FAULT_AT_WEIGHT) {
                        pg.setFault(TO_VERSION, SCENARIOS.errors.fault);
                        onset = Date.now();
                    } else if (onset !== undefined && recovered === undefined) {
                        recovered = weights.find((w) => w.time >= onset! && w.canary === 0)?.time;
                    }
                }, 20);
            },
            // The run can end before the data plane's next poll (every 250 ms) takes up the resting routes.
            inspect: async () => {
                const deadline = Date.now() + 5000;
                while (onset !== undefined && recovered === undefined && Date.now() < deadline) {
                    await new Promise((resolve) => setTimeout(resolve, 20));
                }
            },
        });
        if (onset === undefined || recovered === undefined) {
            throw new Error(`fault-onset run ended ${record.result} without a rollback after the fault (${record.reason ?? ""})`);
        }
        const windowMs = parseDuration(spec.analysis?.metrics?.[0].interval ?? "1m") ?? 60_000;
        const target = analysis.threshold * analysis.intervalMs + windowMs + SCRAPE_INTERVAL_MS;
        rows.push({
            measure: "fault onset → traffic back on primary",
            value: seconds(recovered - onset),
            reference: `target ${seconds(target)}: threshold × interval ${seconds(analysis.threshold * analysis.intervalMs)} + metric window ${seconds(windowMs)} + one scrape ${seconds(SCRAPE_INTERVAL_MS)}`,
            note: `15% HTTP 500 switched on at canary weight ${FAULT_AT_WEIGHT}; ${record.result}; ${recovered - onset <= target ? "within" : "over"} target`,
        });
    } finally {
        clearInterval(watcher);
        await driver.stop();
    }
}

/** How long before the next tick an app's load test ends: more than a tick's requests take with 20 apps at once. */
const LOAD_TEST_SLACK_MS = 3000;

/**
 * The spec for app `target` at `intervalMs`: its load tests address that app's services instead of podinfo's
 * and end `LOAD_TEST_SLACK_MS` before the next tick. The load tester skips a command that is still running, as
 * Flagger's does, and a `hey -z <interval>` started a moment into its tick outlives it, so every other tick
 * would start none and the next one-interval metric window would read "no values found" (the apps get no user
 * traffic: the gateway serves one app).
 */
function specFor(spec: CanarySpec, target: string, intervalMs: number): CanarySpec {
    const loadTestMs = Math.max(1000, intervalMs - LOAD_TEST_SLACK_MS);
    const retarget = (cmd: string) =>
        cmd
            .replace(/\bpodinfo-canary\.test\b/g, `${target}-canary.test`)
            .replace(/\bpodinfo\.test\b/g, `${target}.test`)
            .replace(/(-z\s+)(\S+)/, (whole, flag: string, d: string) => ((parseDuration(d) ?? 0) > loadTestMs ? flag + formatDuration(loadTestMs) : whole));
    return {
        ...spec,
        analysis: { ...spec.analysis, webhooks: spec.analysis?.webhooks?.map((w) => (w.metadata?.cmd ? { ...w, metadata: { ...w.metadata, cmd: retarget(w.metadata.cmd) } } : w)) },
    };
}

/** What one rollout of `count` apps in one update measured. */
interface AppsRun {
    wallMs: number;
    records: RolloutRecord[];
    /** Every analysis interval's start, as the engine in the provider host saw it. */
    ticks: AnalysisTick[];
    installMs: number;
    /** CPU seconds of the provider host, this process (the playground) and the control plane during the rollouts. */
    cpu: { host: number; playground: number; controlPlane: number };
    hostPeakMiB: number;
}

/** `count` apps (`podinfo-01` ...) installed on a fresh cluster, then rolled out at once through one fresh provider host. */
async function rollOutApps(loaded: LoadedCanary, count: number, intervalMs: number): Promise<AppsRun> {
    const spec = scenarioSpec(loaded, SCENARIOS.healthy, intervalMs);
    const ticks: AnalysisTick[] = [];
    let playground: Playground | undefined;
    const driver = await providerHostDriver({ onTick: (tick) => ticks.push(tick) });
    try {
        const targets = Array.from({ length: count }, (_, i) => `podinfo-${String(i + 1).padStart(2, "0")}`);
        const installStart = Date.now();
        playground = await startPlayground({
            namespace: loaded.namespace,
            canaries: targets.map((target) => ({ target, spec: specFor(spec, target, intervalMs), version: FROM_VERSION, primaryReplicas: 1 })),
        });
        const pg = playground;
        const installMs = Date.now() - installStart;
        const hostCpuBefore = cpuSeconds(driver.processId!);
        const controlPlane = Object.values(pg.cluster.controlPlane.processIds());
        const controlPlaneCpu = () => controlPlane.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
        const controlPlaneCpuBefore = controlPlaneCpu();
        const playgroundCpuBefore = process.cpuUsage();
        const started = Date.now();
        const records = await Promise.all(
            pg.canaries.map((canary) =>
                runPlaygroundRollout({ playground: pg, canary, fromVersion: FROM_VERSION, toVersion: TO_VERSION, driver, title: canary.target, userTrafficPerSecond: 0 }).then((r) => r.record),
            ),
        );
        const wallMs = Date.now() - started;
        const playgroundCpu = process.cpuUsage(playgroundCpuBefore);
        return {
            wallMs,
            records,
            ticks,
            installMs,
            cpu: {
                host: cpuSeconds(driver.processId!) - hostCpuBefore,
                playground: (playgroundCpu.user + playgroundCpu.system) / 1e6,
                controlPlane: controlPlaneCpu() - controlPlaneCpuBefore,
            },
            hostPeakMiB: peakRssMiB(driver.processId!),
        };
    } finally {
        await driver.stop();
        await playground?.stop();
    }
}

/** A decision line: how an analysis interval ends (a weight or iteration step, the promotion, a halt). */
const DECISION = /^(Advance \S+ canary (weight|iteration) |Copying \S+ template|Halt )/;

interface TickTiming {
    canary: string;
    index: number;
    /** How late the interval started against the fixed schedule. */
    lateMs: number;
    /** From its start to its decision line, when it printed one. */
    decisionMs?: number;
}

/**
 * Each analysis interval of the runs against a fixed schedule: interval k of an app is due k intervals after
 * its first one started, as the engine timed them. Also how long after its start each printed its decision
 * (as this process read the line): the interval's own requests.
 */
function tickTimings(ticks: AnalysisTick[], records: Pick<RolloutRecord, "canary" | "events">[], intervalMs: number): TickTiming[] {
    const byCanary = new Map<string, AnalysisTick[]>();
    for (const tick of ticks) {
        byCanary.set(tick.canary, [...(byCanary.get(tick.canary) ?? []), tick]);
    }
    return [...byCanary.entries()].flatMap(([canary, own]) => {
        const sorted = [...own].sort((a, b) => a.index - b.index);
        const decisions = (records.find((r) => r.canary === canary)?.events ?? []).filter((e) => DECISION.test(e.message));
        return sorted.map((tick, i) => {
            const end = sorted[i + 1]?.startedAt ?? Infinity;
            const decision = decisions.find((e) => e.timestamp >= tick.startedAt && e.timestamp < end);
            return {
                canary,
                index: tick.index,
                lateMs: tick.startedAt - (sorted[0].startedAt + tick.index * intervalMs),
                ...(decision ? { decisionMs: decision.timestamp - tick.startedAt } : {}),
            };
        });
    });
}

const percentile = (values: number[], p: number) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

/** Wall time, tick lateness and peak memory of one app and then `APPS` apps rolled out in one update, at `APPS_INTERVAL_MS`. */
async function appsAtOnce(loaded: LoadedCanary, rows: Row[]): Promise<void> {
    const one = await rollOutApps(loaded, 1, APPS_INTERVAL_MS);
    const all = await rollOutApps(loaded, APPS, APPS_INTERVAL_MS);
    const verdict = (within: boolean) => (within ? "within target" : "over target");
    // A halt costs its app one more interval.
    const halts = (run: AppsRun) => {
        const halted = run.records.flatMap((r) => r.events.filter((e) => e.message.startsWith("Halt ")).map((e) => e.message.replace(/^Halt (\S+ )?advancement /, "")));
        return halted.length === 0 ? "no halts" : `${halted.length} halts (${[...new Set(halted.map((h) => h.replace(/\d+(\.\d+)?/g, "N")))].join("; ")})`;
    };
    const failures = (run: AppsRun) => run.records.filter((r) => r.result !== "promoted").map((r) => `; ${r.canary}: ${r.result} ${r.reason ?? ""}`).join("");
    const durations = all.records.map((r) => r.finishedAt - r.startedAt);
    const promoted = all.records.filter((r) => r.result === "promoted").length;
    const ratio = all.wallMs / one.wallMs;
    rows.push({
        measure: `${APPS} apps in one update vs one app (interval ${seconds(APPS_INTERVAL_MS)})`,
        value: `${seconds(all.wallMs)} vs ${seconds(one.wallMs)}`,
        reference: `target at most ${APPS_WALL_RATIO_TARGET} × one app: ${seconds(APPS_WALL_RATIO_TARGET * one.wallMs)}`,
        note:
            `ratio ${ratio.toFixed(2)}, ${verdict(ratio <= APPS_WALL_RATIO_TARGET)}; ${promoted}/${APPS} promoted (one app: ${one.records[0].result}); ` +
            `per app median ${seconds(percentile(durations, 50))}, max ${seconds(Math.max(...durations))}; ${halts(all)} (one app: ${halts(one)}); ` +
            `CPU during the ${APPS} rollouts: provider host ${all.cpu.host.toFixed(1)}s, playground process (node agent, pods, mesh proxy and its sync, Prometheus queries) ` +
            `${all.cpu.playground.toFixed(1)}s, control plane (etcd, kube-apiserver, kube-controller-manager) ${all.cpu.controlPlane.toFixed(1)}s ` +
            `(one app: ${one.cpu.host.toFixed(1)}s, ${one.cpu.playground.toFixed(1)}s, ${one.cpu.controlPlane.toFixed(1)}s); cluster start and install ${seconds(all.installMs)} (one app ${seconds(one.installMs)})` +
            failures(one) +
            failures(all),
    });
    const timings = tickTimings(all.ticks, all.records, APPS_INTERVAL_MS);
    const worst = timings.reduce<TickTiming | undefined>((w, t) => (w === undefined || t.lateMs > w.lateMs ? t : w), undefined);
    const limitMs = TICK_LATENESS_TARGET * APPS_INTERVAL_MS;
    const share = (ms: number) => `${((ms / APPS_INTERVAL_MS) * 100).toFixed(1)}%`;
    const oneTimings = tickTimings(one.ticks, one.records, APPS_INTERVAL_MS);
    const decisionsOf = (list: TickTiming[]) => list.flatMap((t) => (t.decisionMs === undefined ? [] : [t.decisionMs]));
    const decisions = decisionsOf(timings);
    const oneDecisions = decisionsOf(oneTimings);
    rows.push({
        measure: `analysis tick lateness, ${APPS} apps`,
        value: worst ? `worst ${worst.lateMs}ms (${share(worst.lateMs)})` : "no ticks",
        reference: `target at most ${TICK_LATENESS_TARGET * 100}% of the interval: ${limitMs}ms`,
        note: worst
            ? `${verdict(worst.lateMs <= limitMs)}; worst ${worst.canary} interval ${worst.index}; ${timings.length} intervals, median ${percentile(timings.map((t) => t.lateMs), 50)}ms, ` +
              `max of one app ${Math.max(...oneTimings.map((t) => t.lateMs))}ms. Interval k of an app is due k intervals after its first one started, as the engine in the host timed them. ` +
              `Each interval's decision line (Advance, Copying, Halt) came ${percentile(decisions, 50)}ms after its start (median; p95 ${percentile(decisions, 95)}ms, max ${Math.max(...decisions)}ms; ` +
              `one app: median ${percentile(oneDecisions, 50)}ms, max ${Math.max(...oneDecisions)}ms): its readiness and weight reads, load-test webhook, two PromQL queries and route apply`
            : "over target: no analysis interval seen",
    });
    rows.push({
        measure: `provider host peak memory, ${APPS} apps`,
        value: `${all.hostPeakMiB.toFixed(0)} MiB`,
        reference: `target at most ${HOST_PEAK_TARGET_MIB} MiB`,
        note: `${verdict(all.hostPeakMiB <= HOST_PEAK_TARGET_MIB)}; one app: ${one.hostPeakMiB.toFixed(0)} MiB; peak resident set (VmHWM) of Pulumi's dynamic-provider host process over the whole run`,
    });
}

function printTable(rows: Row[]): void {
    const headers: Row = { measure: "measure", value: "value", reference: "reference", note: "note" };
    const keys = Object.keys(headers) as (keyof Row)[];
    const widths = keys.map((k) => Math.max(...[headers, ...rows].map((r) => r[k].length)));
    const line = (r: Row) => keys.map((k, i) => r[k].padEnd(widths[i])).join(" | ");
    process.stdout.write([line(headers), widths.map((w) => "-".repeat(w)).join("-|-"), ...rows.map(line)].join("\n") + "\n");
}

const PARTS = ["healthy", "fault", "apps"] as const;
type Part = (typeof PARTS)[number];

/** The parts `--only <part>` names; all of them without it. */
function selectedParts(argv: string[]): readonly Part[] {
    const at = argv.indexOf("--only");
    if (at < 0) {
        return PARTS;
    }
    const part = PARTS.find((p) => p === argv[at + 1]);
    if (!part) {
        throw new Error(`--only takes one of ${PARTS.join(", ")}`);
    }
    return [part];
}

async function main(): Promise<void> {
    const parts = selectedParts(process.argv.slice(2));
    const loaded = loadCanary();
    const rows: Row[] = [];
    const step = async (part: Part, name: string, run: () => Promise<void>) => {
        if (!parts.includes(part)) {
            return;
        }
        const t = Date.now();
        process.stderr.write(`bench: ${name} ...\n`);
        await run();
        process.stderr.write(`bench: ${name} done in ${seconds(Date.now() - t)}\n`);
    };
    await step("healthy", "healthy rollout and CPU per tick", () => healthyAndCpu(loaded, rows));
    await step("fault", "fault onset to rollback", () => faultOnset(loaded, rows));
    await step("apps", `one app, then ${APPS} apps in one update`, () => appsAtOnce(loaded, rows));
    process.stdout.write(
        `\nplayground bench (analysis interval ${seconds(INTERVAL_MS)}, ${seconds(APPS_INTERVAL_MS)} for the apps; Prometheus scrape 1s, dev stack canary spec, Pulumi provider host)\n\n`,
    );
    printTable(rows);
}

if (require.main === module) {
    main().then(
        () => process.exit(0),
        (error) => {
            process.stderr.write(`bench failed: ${(error as Error).stack ?? error}\n`);
            process.exit(1);
        },
    );
}
