/**
 * A load tester speaking flagger-loadtester's webhook protocol: `cmd` tasks run in the background (202,
 * de-duplicated per canary and command), `bash` tasks block (200, or 500 with the failure), plus the
 * manual gates and rollback gates. Commands run for real under `sh -c` / `bash -c`, with the mesh proxy in
 * `http_proxy` and the hey wrapper first on PATH, so the tutorial's commands work unchanged.
 */
import { spawn } from "child_process";
import * as http from "http";
import * as path from "path";
import { closeServer, listenOnFreePort, readBody } from "./http-util";
import { writeHeyWrapper, HeyWrapper } from "./hey-wrapper";
import { requireExecutable, stopChild, trackChild } from "./processes";
import type { ChildProcess } from "child_process";

export interface LoadTesterOptions {
    /** The mesh proxy (`http://127.0.0.1:<port>`) the commands send their requests through. */
    proxyUrl: string;
    /** Exec timeout of every task (flagger-loadtester's `-timeout`, default 1h). */
    commandTimeoutMs?: number;
    /** Only payloads whose namespace matches are served (`-namespace-regexp`). */
    namespaceRegexp?: string;
    log?: (line: string) => void;
}

export interface LoadTester {
    /** `http://127.0.0.1:<port>` */
    url: string;
    /** Commands started so far (both types), in order. */
    readonly commands: { type: "cmd" | "bash"; cmd: string; canary: string; started: number; exitCode?: number | null }[];
    /** Number of background tasks still running. */
    running(): number;
    stop(): Promise<void>;
}

interface Payload {
    name?: string;
    namespace?: string;
    phase?: string;
    metadata?: Record<string, string>;
}

const SUPPORTED_TYPES = ["cmd", "bash"];

export async function startLoadTester(opts: LoadTesterOptions): Promise<LoadTester> {
    const sh = requireExecutable("sh");
    const bash = requireExecutable("bash");
    const wrapper: HeyWrapper = writeHeyWrapper(opts.proxyUrl);
    const log = opts.log ?? (() => undefined);
    const timeoutMs = opts.commandTimeoutMs ?? 3_600_000;
    const namespaceFilter = opts.namespaceRegexp ? new RegExp(opts.namespaceRegexp) : undefined;
    const gates = new Set<string>();
    const runningTasks = new Map<string, ChildProcess>();
    const children = new Set<ChildProcess>();
    const commands: LoadTester["commands"] = [];
    const env = {
        ...process.env,
        PATH: [wrapper.dir, process.env.PATH ?? ""].join(path.delimiter),
        http_proxy: opts.proxyUrl,
        HTTP_PROXY: opts.proxyUrl,
        no_proxy: "127.0.0.1,localhost",
        NO_PROXY: "127.0.0.1,localhost",
    };

    function run(shell: string, cmd: string): { child: ChildProcess; done: Promise<{ code: number | null; output: string; error?: string }> } {
        const child = spawn(shell, ["-c", cmd], { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
        trackChild(child);
        children.add(child);
        let output = "";
        child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
        child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
        let timedOut = false;
        const timer = setTimeout(() => {
            timedOut = true;
            void stopChild(child);
        }, timeoutMs);
        const done = new Promise<{ code: number | null; output: string; error?: string }>((resolve) => {
            child.on("error", (err) => resolve({ code: null, output, error: err.message }));
            child.on("close", (code, signal) => {
                clearTimeout(timer);
                children.delete(child);
                const error = timedOut ? "signal: killed (timeout)" : signal ? `signal: ${signal}` : code !== 0 ? `exit status ${code}` : undefined;
                resolve({ code, output, error });
            });
        });
        return { child, done };
    }

    async function handleTask(payload: Payload, res: http.ServerResponse): Promise<void> {
        const canary = `${payload.name}.${payload.namespace}`;
        const metadata = payload.metadata!;
        const type = metadata.type ?? "cmd";
        if (!SUPPORTED_TYPES.includes(type)) {
            res.writeHead(400).end(`type ${type} is not supported by the playground load tester (supported: ${SUPPORTED_TYPES.join(", ")})`);
            return;
        }
        const cmd = metadata.cmd;
        if (!cmd) {
            res.writeHead(400).end("cmd not found in metadata");
            return;
        }
        const record: LoadTester["commands"][number] = { type: type as "cmd" | "bash", cmd, canary, started: Date.now() };
        if (type === "cmd") {
            const key = `${canary}\u0000${cmd}`;
            if (runningTasks.has(key)) {
                log(`command skipped ${cmd} is already running`);
                res.writeHead(202).end();
                return;
            }
            commands.push(record);
            const task = run(sh, cmd);
            runningTasks.set(key, task.child);
            log(`command starting ${cmd}`);
            res.writeHead(202).end();
            const result = await task.done;
            runningTasks.delete(key);
            record.exitCode = result.code;
            if (metadata.logCmdOutput === "true") {
                log(result.output.trimEnd());
            }
            log(result.error ? `command failed ${cmd}: ${result.error}` : `command finished ${cmd}`);
            return;
        }
        commands.push(record);
        const result = await run(bash, cmd).done;
        record.exitCode = result.code;
        log(`command ${cmd}: ${result.output.trimEnd()}`);
        if (result.error) {
            res.writeHead(500).end(`command ${cmd} failed: ${result.output.trimEnd()}: ${result.error}`);
        } else if (metadata.returnCmdOutput === "true") {
            res.writeHead(200).end(result.output);
        } else {
            res.writeHead(200).end("Ok");
        }
    }

    function handleGate(route: string, key: (p: Payload) => string, payload: Payload, res: http.ServerResponse): void {
        if (route.endsWith("/approve")) {
            res.writeHead(200).end("OK");
        } else if (route.endsWith("/halt")) {
            res.writeHead(403).end("Forbidden");
        } else if (route.endsWith("/check")) {
            const open = gates.has(key(payload));
            res.writeHead(open ? 200 : 403).end(open ? "Approved" : "Forbidden");
        } else if (route.endsWith("/open")) {
            gates.add(key(payload));
            res.writeHead(202).end("Gate opened");
        } else if (route.endsWith("/close")) {
            gates.delete(key(payload));
            res.writeHead(202).end("Gate closed");
        } else {
            res.writeHead(404).end("Not found");
        }
    }

    const server = http.createServer(async (req, res) => {
        const route = (req.url ?? "/").split("?")[0];
        if (route === "/healthz") {
            res.writeHead(200).end("OK");
            return;
        }
        if (req.method !== "POST") {
            res.writeHead(405).end("Method not allowed");
            return;
        }
        let payload: Payload;
        try {
            payload = JSON.parse((await readBody(req)).toString("utf8") || "{}");
        } catch (err) {
            res.writeHead(400).end(`error decoding payload: ${(err as Error).message}`);
            return;
        }
        if (namespaceFilter && !namespaceFilter.test(payload.namespace ?? "")) {
            res.writeHead(403).end("Forbidden");
            return;
        }
        if (route.startsWith("/gate/")) {
            handleGate(route, (p) => `${p.name}.${p.namespace}`, payload, res);
        } else if (route.startsWith("/rollback/")) {
            handleGate(route, (p) => `rollback.${p.name}.${p.namespace}`, payload, res);
        } else if (route === "/") {
            if (!payload.metadata) {
                res.writeHead(400).end("metadata not found in payload");
                return;
            }
            await handleTask(payload, res);
        } else {
            res.writeHead(404).end("Not found");
        }
    });
    const port = await listenOnFreePort(server);
    return {
        url: `http://127.0.0.1:${port}`,
        commands,
        running: () => runningTasks.size,
        async stop() {
            await closeServer(server);
            await Promise.all([...children].map((c) => stopChild(c)));
            wrapper.remove();
        },
    };
}
