/**
 * Rollouts through the real `pulumi up`, as a user runs them: the local cluster, a `playground` stack from
 * `Pulumi.playground.yaml` (`Pulumi.gatewayapi.yaml` for a Gateway API canary, its metrics from the
 * playground's Prometheus; its Kubernetes provider pointed at the local cluster), a first `pulumi up` that
 * creates everything, then `pulumi config set image ...` and `pulumi up` for each new version. What the CLI
 * prints goes to the log as it comes; the canary events are also read from its engine event log, for the report.
 */
import * as fs from "fs";
import * as path from "path";
import type { CanaryEvent } from "../analysis/engine/ports";
import { routerKindOfSpec } from "../analysis/routers/factory";
import { DEFAULT_METRICS_SERVER } from "../analysis/spec/canary";
import { PROJECT } from "../config/stack";
import { GATEWAYAPI_STACK_FILE } from "./canary-spec";
import { startLocalCluster } from "./local-cluster";
import { attachPlayground, PODINFO_IMAGE, type InstalledCanary, type Playground, type PlaygroundOptions } from "./playground";
import { faultSwitches } from "./podinfo-app";
import { parseEventLine, tallyEvent, type EventTally } from "./provider-events";
import { requireExecutable, stopChild } from "./processes";
import { createPulumiWorkspace, killWorkspaceProcesses, PROJECT_DIR, readStackConfig, type PulumiCommand, type PulumiToolchain, type PulumiWorkspace } from "./pulumi-cli";

export const PLAYGROUND_STACK = "playground";
export const PLAYGROUND_STACK_FILE = path.join(PROJECT_DIR, `Pulumi.${PLAYGROUND_STACK}.yaml`);

/** Drives a whole rollout (`pulumi up` of a new version) instead of the two provider updates. */
export interface StackDriver {
    readonly name: string;
    /** Start the local cluster and install the stack with a first `pulumi up`. */
    install(opts: PlaygroundOptions): Promise<Playground>;
    /** `pulumi config set image <podinfo>:<version>` and `pulumi up`; resolves with the failure message when the analysis rolled back. */
    rollOut(canary: InstalledCanary, version: string, onEvent: (event: CanaryEvent) => void): Promise<string | undefined>;
    stop(): Promise<void>;
}

/** The first line of the error a failed Analysis update ends `pulumi up` with (`rolloutFailure`). */
const ROLLBACK_MESSAGE = /canary analysis of \S+ failed: .*/;

/** The diagnostics of a Pulumi engine event log's new lines (one JSON event per line). */
export function diagnosticsOf(lines: string[]): { message: string; time: number }[] {
    const found: { message: string; time: number }[] = [];
    for (const line of lines) {
        let event: { timestamp?: number; diagnosticEvent?: { message?: string; severity?: string } };
        try {
            event = JSON.parse(line);
        } catch {
            continue;
        }
        const diagnostic = event.diagnosticEvent;
        if (diagnostic?.message && diagnostic.severity === "info") {
            const time = (event.timestamp ?? Math.floor(Date.now() / 1000)) * 1000;
            found.push(...diagnostic.message.split("\n").filter((m) => m.trim() !== "").map((message) => ({ message, time })));
        }
    }
    return found;
}

/** Follow a file another process appends to, handing over each complete line. */
function followLines(file: string, onLines: (lines: string[]) => void): { stop(): void } {
    let offset = 0;
    let partial = "";
    const poll = () => {
        let size: number;
        try {
            size = fs.statSync(file).size;
        } catch {
            return;
        }
        if (size <= offset) {
            return;
        }
        const fd = fs.openSync(file, "r");
        const buffer = Buffer.alloc(size - offset);
        fs.readSync(fd, buffer, 0, buffer.length, offset);
        fs.closeSync(fd);
        offset = size;
        const text = partial + buffer.toString("utf8");
        const lines = text.split("\n");
        partial = lines.pop() ?? "";
        onLines(lines);
    };
    const timer = setInterval(poll, 200);
    return {
        stop() {
            clearInterval(timer);
            poll();
        },
    };
}

/** `pulumi up` with its engine events followed for the canary's events. */
export function upWithEvents(workspace: PulumiWorkspace, log: (line: string) => void, onEvent: (event: CanaryEvent) => void, args: string[] = []): PulumiCommand {
    const eventLog = path.join(workspace.dir, `events-${Date.now()}.jsonl`);
    const tally: EventTally = { weight: 0, failedChecks: 0 };
    const follower = followLines(eventLog, (lines) => {
        for (const { message, time } of diagnosticsOf(lines)) {
            const event = parseEventLine(message);
            if (event) {
                onEvent(tallyEvent(event, tally, time));
            }
        }
    });
    // `--event-log` (a debug command's flag) writes the engine events as JSON lines beside the usual output.
    const command = workspace.start(["up", "--yes", "--skip-preview", "--event-log", eventLog, ...args], { onLine: log, env: { PULUMI_DEBUG_COMMANDS: "true" } });
    command.done.finally(() => follower.stop()).catch(() => undefined);
    return command;
}

/** The failure `pulumi up` ended with: the analysis's rollback message, or the last lines of its output. */
export function upFailure(output: string): { rolledBack: boolean; message: string } {
    const rollback = ROLLBACK_MESSAGE.exec(output);
    if (rollback) {
        return { rolledBack: true, message: rollback[0].trim() };
    }
    return { rolledBack: false, message: output.trim().split("\n").slice(-20).join("\n") };
}

export function pulumiStackDriver(opts: { toolchain: PulumiToolchain; dir: string; log?: (line: string) => void }): StackDriver {
    const log = opts.log ?? (() => undefined);
    let workspace: PulumiWorkspace | undefined;
    let stopCluster: (() => Promise<void>) | undefined;
    let running: PulumiCommand | undefined;
    return {
        name: `pulumi up (Pulumi CLI ${opts.toolchain.version}, stack ${PLAYGROUND_STACK}, local file backend in ${opts.dir})`,
        async install(install) {
            requireExecutable("prometheus");
            requireExecutable("hey");
            if (install.canaries.length !== 1 || install.canaries[0].target !== "podinfo") {
                throw new Error("the pulumi driver deploys the stack's one app, podinfo; use --driver provider-host for other targets");
            }
            const [app] = install.canaries;
            const namespace = install.namespace ?? "test";
            const fault = faultSwitches();
            const gatewayApi = routerKindOfSpec(app.spec) === "gatewayapi";
            const cluster = await startLocalCluster({ podinfo: { faults: fault }, gatewayApi });
            stopCluster = () => cluster.stop();
            const config = {
                ...(gatewayApi
                    ? { ...readStackConfig(GATEWAYAPI_STACK_FILE), [`${PROJECT}:metricsServer`]: DEFAULT_METRICS_SERVER }
                    : readStackConfig(PLAYGROUND_STACK_FILE)),
                [`${PROJECT}:namespace`]: namespace,
                [`${PROJECT}:image`]: `${PODINFO_IMAGE}:${app.version}`,
                [`${PROJECT}:canary`]: app.spec,
            };
            workspace = await createPulumiWorkspace({ dir: opts.dir, stack: PLAYGROUND_STACK, config, toolchain: opts.toolchain });
            await workspace.setConfig("kubernetes:kubeconfig", cluster.kubeconfig, { secret: true });
            log(`$ pulumi up   (stack ${PLAYGROUND_STACK}: podinfo ${app.version}, everything created)`);
            await workspace.run(["up", "--yes", "--skip-preview"], { onLine: log });
            return attachPlayground({ cluster, fault, namespace, canaries: install.canaries });
        },
        async rollOut(_canary, version, onEvent) {
            if (!workspace) {
                throw new Error("install the stack first");
            }
            await workspace.setConfig(`${PROJECT}:image`, `${PODINFO_IMAGE}:${version}`);
            log(`$ pulumi config set image ${PODINFO_IMAGE}:${version} && pulumi up`);
            running = upWithEvents(workspace, log, onEvent);
            const result = await running.done;
            if (result.code === 0) {
                return undefined;
            }
            const failure = upFailure(result.output);
            if (failure.rolledBack) {
                return failure.message;
            }
            throw new Error(`pulumi up failed (${result.signal ?? `exit ${result.code}`}):\n${failure.message}`);
        },
        async stop() {
            if (running) {
                await stopChild(running.process, 5_000);
                await running.done.catch(() => undefined);
            }
            // A CLI that had to be killed leaves its plugins behind, outside its process group.
            if (workspace) {
                killWorkspaceProcesses(workspace);
            }
            await stopCluster?.();
        },
    };
}
