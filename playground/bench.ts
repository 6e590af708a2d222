/**
 * `npm run bench`: the playground's speed numbers on the local cluster (the real control plane), through
 * Pulumi's dynamic-provider host as the demo runs them, each against its target:
 *
 * 1. healthy rollout wall time: within 1.05 × (weight steps × interval) plus the canary pods' start, the
 *    promotion interval and the primary's roll;
 * 2. fault onset (the canary starts failing mid-rollout) to traffic back on the primary: within threshold ×
 *    interval plus the metric window and one scrape;
 * 3. CPU the provider host (engine + adapters) spends per analysis tick: at most 15 ms;
 * 4. 20 canaries rolled out at once through one provider host and one cluster, with the CPU of each part.
 */
import * as fs from "fs";
import { readWeights } from "../analysis/routers/appmesh/routes";
import { routerNodes } from "../analysis/spec/names";
import { parseDuration, resolveAnalysis, type CanarySpec } from "../analysis/spec/canary";
import { rolloutPlan } from "../analysis/engine/weights";
import { loadCanary, type LoadedCanary } from "./canary-spec";
import { providerHostDriver } from "./host-driver";
import { startPlayground, type Playground } from "./playground";
import { runPlaygroundRollout } from "./rollout";
import { runScenario, scenarioSpec, FROM_VERSION, TO_VERSION } from "./scenario-run";
import { SCENARIOS } from "./scenarios";

const INTERVAL_MS = 2000;
const CONCURRENT_CANARIES = 20;
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

/** The spec for canary `target`: its load tests address that canary's services instead of podinfo's. */
function specFor(spec: CanarySpec, target: string): CanarySpec {
    const retarget = (cmd: string) => cmd.replace(/\bpodinfo-canary\.test\b/g, `${target}-canary.test`).replace(/\bpodinfo\.test\b/g, `${target}.test`);
    return {
        ...spec,
        analysis: { ...spec.analysis, webhooks: spec.analysis?.webhooks?.map((w) => (w.metadata?.cmd ? { ...w, metadata: { ...w.metadata, cmd: retarget(w.metadata.cmd) } } : w)) },
    };
}

async function concurrentCanaries(loaded: LoadedCanary, rows: Row[]): Promise<void> {
    const { spec, floorMs } = healthyPlan(loaded);
    let playground: Playground | undefined;
    const driver = await providerHostDriver();
    try {
        const targets = Array.from({ length: CONCURRENT_CANARIES }, (_, i) => `podinfo-${String(i + 1).padStart(2, "0")}`);
        const installStart = Date.now();
        playground = await startPlayground({
            namespace: loaded.namespace,
            canaries: targets.map((target) => ({ target, spec: specFor(spec, target), version: FROM_VERSION, primaryReplicas: 1 })),
        });
        const pg = playground;
        const installMs = Date.now() - installStart;
        const canaries = pg.canaries;
        const cpuBefore = cpuSeconds(driver.processId!);
        const controlPlane = Object.values(pg.cluster.controlPlane.processIds());
        const controlPlaneCpu = () => controlPlane.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
        const controlPlaneCpuBefore = controlPlaneCpu();
        const playgroundCpuBefore = process.cpuUsage();
        const started = Date.now();
        const results = await Promise.all(
            canaries.map((canary) =>
                runPlaygroundRollout({ playground: pg, canary, fromVersion: FROM_VERSION, toVersion: TO_VERSION, driver, title: canary.target, userTrafficPerSecond: 0 }).then((r) => r.record),
            ),
        );
        const wall = Date.now() - started;
        const playgroundCpu = process.cpuUsage(playgroundCpuBefore);
        const durations = results.map((r) => r.finishedAt - r.startedAt).sort((a, b) => a - b);
        const promoted = results.filter((r) => r.result === "promoted").length;
        const failures = results.filter((r) => r.result !== "promoted").map((r) => `${r.canary}: ${r.result} ${r.reason ?? ""}`);
        rows.push({
            measure: `${CONCURRENT_CANARIES} canaries rolled out at once`,
            value: seconds(wall),
            reference: `floor ${seconds(floorMs)} each`,
            note:
                `${promoted}/${CONCURRENT_CANARIES} promoted; per canary median ${seconds(durations[Math.floor(durations.length / 2)])}, max ${seconds(durations[durations.length - 1])}; ` +
                `CPU: provider host ${(cpuSeconds(driver.processId!) - cpuBefore).toFixed(1)}s, playground process (node agent, pods, mesh proxy and its sync, Prometheus queries) ` +
                `${((playgroundCpu.user + playgroundCpu.system) / 1e6).toFixed(1)}s, control plane (etcd, kube-apiserver, kube-controller-manager) ${(controlPlaneCpu() - controlPlaneCpuBefore).toFixed(1)}s; ` +
                `cluster start and install ${seconds(installMs)}` +
                (failures.length > 0 ? `; ${failures.join("; ")}` : ""),
        });
        rows.push({
            measure: `provider host peak memory, ${CONCURRENT_CANARIES} canaries`,
            value: `${peakRssMiB(driver.processId!).toFixed(0)} MiB`,
            reference: "one host serves every dynamic resource of a deployment",
            note: "peak resident set (VmHWM) of Pulumi's dynamic-provider host process over the whole run",
        });
    } finally {
        await driver.stop();
        await playground?.stop();
    }
}

function printTable(rows: Row[]): void {
    const headers: Row = { measure: "measure", value: "value", reference: "reference", note: "note" };
    const keys = Object.keys(headers) as (keyof Row)[];
    const widths = keys.map((k) => Math.max(...[headers, ...rows].map((r) => r[k].length)));
    const line = (r: Row) => keys.map((k, i) => r[k].padEnd(widths[i])).join(" | ");
    process.stdout.write([line(headers), widths.map((w) => "-".repeat(w)).join("-|-"), ...rows.map(line)].join("\n") + "\n");
}

async function main(): Promise<void> {
    const loaded = loadCanary();
    const rows: Row[] = [];
    const step = async (name: string, run: () => Promise<void>) => {
        const t = Date.now();
        process.stderr.write(`bench: ${name} ...\n`);
        await run();
        process.stderr.write(`bench: ${name} done in ${seconds(Date.now() - t)}\n`);
    };
    await step("healthy rollout and CPU per tick", () => healthyAndCpu(loaded, rows));
    await step("fault onset to rollback", () => faultOnset(loaded, rows));
    await step(`${CONCURRENT_CANARIES} concurrent canaries`, () => concurrentCanaries(loaded, rows));
    process.stdout.write(`\nplayground bench (analysis interval ${seconds(INTERVAL_MS)}, Prometheus scrape 1s, dev stack canary spec, Pulumi provider host)\n\n`);
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
