/**
 * A real Prometheus server for the playground and the tests: the `prometheus` binary as a child process with a
 * generated config in a temporary directory, scraping targets listed in a file_sd file, so `setTargets` takes
 * effect without a restart. Targets carry the labels the appmesh-prometheus chart adds
 * (`kubernetes_namespace`, `kubernetes_pod_name`).
 *
 * Prometheus applies discovered target changes at most every 5 seconds (its discovery and scrape managers
 * batch updates), so a change takes about 5s to show; `startPrometheus` and `setTargets` resolve once
 * Prometheus scrapes exactly the given targets.
 */
import axios from "axios";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import { startOnFreePort } from "./http-util";
import { requireExecutable, stopChild, trackChild } from "./processes";

export interface ScrapeTarget {
    /** host:port */
    address: string;
    labels: Record<string, string>;
    /** Defaults to /metrics. */
    metricsPath?: string;
}

export interface PrometheusServer {
    url: string;
    setTargets(targets: ScrapeTarget[]): Promise<void>;
    stop(): Promise<void>;
}

export interface StartPrometheusOptions {
    /** Scrape (and rule evaluation) interval; default 1s. */
    scrapeIntervalMs?: number;
    targets?: ScrapeTarget[];
    /** How long to wait for readiness and for target changes to apply; default 30s. */
    waitTimeoutMs?: number;
}

const JOB = "playground";
const POLL_MS = 100;

export async function startPrometheus(opts: StartPrometheusOptions = {}): Promise<PrometheusServer> {
    const binary = requireExecutable("prometheus");
    const intervalMs = opts.scrapeIntervalMs ?? 1000;
    if (!Number.isInteger(intervalMs) || intervalMs < 10) {
        throw new Error(`scrapeIntervalMs must be a whole number of milliseconds >= 10 (got ${intervalMs})`);
    }
    const waitMs = opts.waitTimeoutMs ?? 30_000;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "playground-prometheus-"));
    const removeDir = () => fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    process.once("exit", removeDir);
    const targetsFile = path.join(dir, "targets.json");
    const configFile = path.join(dir, "prometheus.yml");
    try {
        writeTargets(targetsFile, opts.targets ?? []);
        fs.writeFileSync(configFile, prometheusConfig(intervalMs, targetsFile));
        const { child, url } = await launch(binary, configFile, path.join(dir, "data"), waitMs);
        let stopped: Promise<void> | undefined;
        const server: PrometheusServer = {
            url,
            async setTargets(targets) {
                writeTargets(targetsFile, targets);
                await waitForTargets(url, targets, child, waitMs);
            },
            stop() {
                stopped ??= stopChild(child).then(() => {
                    removeDir();
                    process.off("exit", removeDir);
                });
                return stopped;
            },
        };
        try {
            await waitForTargets(url, opts.targets ?? [], child, waitMs);
        } catch (error) {
            await server.stop();
            throw error;
        }
        return server;
    } catch (error) {
        if (fs.existsSync(dir)) {
            removeDir();
            process.off("exit", removeDir);
        }
        throw error;
    }
}

/** The config: one job whose targets come from the file; scrape timeout = interval (it may not exceed it). */
export function prometheusConfig(intervalMs: number, targetsFile: string): string {
    const interval = `${intervalMs}ms`;
    return stringify({
        global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
        scrape_configs: [{ job_name: JOB, file_sd_configs: [{ files: [targetsFile], refresh_interval: interval }] }],
    });
}

/** file_sd target groups; a custom metrics path travels as the `__metrics_path__` label. */
export function fileSdGroups(targets: ScrapeTarget[]): { targets: string[]; labels: Record<string, string> }[] {
    return targets.map((target) => ({
        targets: [target.address],
        labels: target.metricsPath ? { ...target.labels, __metrics_path__: target.metricsPath } : { ...target.labels },
    }));
}

/** Replace the file in one rename, so Prometheus never reads half a file. */
function writeTargets(file: string, targets: ScrapeTarget[]): void {
    const partial = `${file}.tmp`;
    fs.writeFileSync(partial, JSON.stringify(fileSdGroups(targets), null, 2));
    fs.renameSync(partial, file);
}

/** Start the process on a free port and wait for `/-/ready`. */
function launch(binary: string, configFile: string, dataDir: string, waitMs: number): Promise<{ child: ChildProcess; url: string }> {
    return startOnFreePort(async (port) => {
        const child = spawn(
            binary,
            [
                `--config.file=${configFile}`,
                `--storage.tsdb.path=${dataDir}`,
                `--web.listen-address=127.0.0.1:${port}`,
                "--log.level=warn",
            ],
            { detached: true, stdio: ["ignore", "ignore", "pipe"] },
        );
        trackChild(child);
        const stderr: string[] = [];
        child.stderr!.setEncoding("utf8");
        child.stderr!.on("data", (chunk: string) => {
            stderr.push(chunk);
            if (stderr.length > 50) {
                stderr.shift();
            }
        });
        const url = `http://127.0.0.1:${port}`;
        try {
            await waitUntil(waitMs, child, () => stderr.join(""), async () => (await get(`${url}/-/ready`)).status === 200, "become ready");
            return { child, url };
        } catch (error) {
            await stopChild(child);
            throw error;
        }
    });
}

/**
 * Until Prometheus scrapes exactly `targets`, each at least once, and a query sees each one's `up` series.
 * The targets API alone is not enough: Prometheus marks a target scraped before it commits the scrape's
 * samples, so a query right after could still miss them (the cause of a rare test failure).
 */
async function waitForTargets(url: string, targets: ScrapeTarget[], child: ChildProcess, waitMs: number): Promise<void> {
    const wanted = new Set(targets.map((target) => `http://${target.address}${target.metricsPath ?? "/metrics"}`));
    let seen = "";
    await waitUntil(waitMs, child, () => `scraping ${seen || "nothing"}; want ${[...wanted].join(", ") || "nothing"}`, async () => {
        const response = await get(`${url}/api/v1/targets?state=active`);
        const active: { scrapeUrl: string; health: string }[] = response.data?.data?.activeTargets ?? [];
        seen = active.map((target) => `${target.scrapeUrl} (${target.health})`).join(", ");
        return active.length === wanted.size && active.every((target) => wanted.has(target.scrapeUrl) && target.health !== "unknown");
    }, "scrape exactly its targets");
    await waitUntil(waitMs, child, () => `no \`up\` series yet for some of ${[...wanted].join(", ")}`, async () => {
        const response = await get(`${url}/api/v1/query?query=${encodeURIComponent(`up{job="${JOB}"}`)}`);
        const series: { metric: Record<string, string> }[] = response.data?.data?.result ?? [];
        return targets.every((target) =>
            series.some(({ metric }) => metric.instance === target.address && Object.entries(target.labels).every(([key, value]) => metric[key] === value)),
        );
    }, "store a scrape of every target");
}

async function waitUntil(waitMs: number, child: ChildProcess, details: () => string, check: () => Promise<boolean>, goal: string): Promise<void> {
    const deadline = Date.now() + waitMs;
    for (;;) {
        if (child.exitCode !== null || child.signalCode !== null) {
            throw new Error(`prometheus exited (${child.exitCode ?? child.signalCode}) while waiting for it to ${goal}: ${details().trim()}`);
        }
        if (await check().catch(() => false)) {
            return;
        }
        if (Date.now() > deadline) {
            throw new Error(`prometheus did not ${goal} within ${waitMs}ms: ${details().trim()}`);
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
}

function get(url: string) {
    return axios.get(url, { timeout: 2000, validateStatus: () => true, proxy: false });
}
