/**
 * The real Pulumi CLI for the demo and the end-to-end tests: where it and its plugins are (`pulumi` on PATH,
 * else what `npm run toolchain` built), and a workspace of its own for one stack: a local file backend,
 * an isolated `PULUMI_HOME`, a passphrase, and a project file beside the stack file whose `main` links to
 * this program, so the repository's own `Pulumi.<stack>.yaml` files are never written.
 */
import { spawn, spawnSync, type ChildProcess } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as readline from "readline";
import { parse, stringify } from "yaml";
import { toolchainPaths } from "./control-plane";
import { findExecutable, isRunning, trackChild } from "./processes";

/** The program's directory (where `Pulumi.yaml` and `node_modules` are). */
export const PROJECT_DIR = path.resolve(__dirname, "..");

/** The workspace's link to the program. */
const PROGRAM_LINK = "program";

/** The oldest CLI that shows a dynamic provider's output lines as diagnostics while the update runs. */
const MIN_PULUMI_VERSION = "3.146.0";

export interface PulumiToolchain {
    /** The `pulumi` executable. */
    pulumi: string;
    version: string;
    /** Directories put first on PATH for its plugins (language host, dynamic-provider shim, Kubernetes). */
    pluginDirs: string[];
}

function newerOrSame(version: string, minimum: string): boolean {
    const parts = (v: string) => v.replace(/^v/, "").split(/[.+-]/).slice(0, 3).map(Number);
    const [a, b] = [parts(version), parts(minimum)];
    for (let i = 0; i < 3; i++) {
        if (a[i] !== b[i]) {
            return (a[i] ?? 0) > (b[i] ?? 0);
        }
    }
    return true;
}

/**
 * The Pulumi CLI to use: one on PATH when it is recent enough, else the toolchain's build; undefined when
 * neither exists (the demo then says how to get one and uses the provider-host driver).
 */
export function findPulumiToolchain(): PulumiToolchain | undefined {
    const paths = toolchainPaths();
    const pluginDirs = (paths.PULUMI_PLUGIN_PATH ?? "").split(":").filter((dir) => dir && fs.existsSync(dir));
    for (const candidate of [findExecutable("pulumi"), paths.PULUMI]) {
        if (!candidate || !fs.existsSync(candidate)) {
            continue;
        }
        const version = spawnSync(candidate, ["version"], { encoding: "utf8", env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" } }).stdout?.trim() ?? "";
        if (/^v?\d+\.\d+\.\d+/.test(version) && newerOrSame(version, MIN_PULUMI_VERSION)) {
            return { pulumi: candidate, version: version.replace(/^v/, ""), pluginDirs: [path.dirname(candidate), ...pluginDirs] };
        }
    }
    return undefined;
}

/** What to do when there is no usable CLI. */
export const NO_PULUMI_HINT =
    `no Pulumi CLI >= ${MIN_PULUMI_VERSION} found: install it (https://www.pulumi.com/docs/install/) or build it with \`npm run toolchain\` (about 30 minutes on 2 cores)`;

export interface PulumiResult {
    code: number | null;
    signal: NodeJS.Signals | null;
    /** stdout and stderr, interleaved as they came. */
    output: string;
}

export interface PulumiCommand {
    /** The `pulumi` process itself (its plugins are its children, not in its process group). */
    process: ChildProcess;
    done: Promise<PulumiResult>;
}

export interface RunOptions {
    /** Every output line as it comes. */
    onLine?: (line: string) => void;
    /** Written to the command's stdin (a secret value for `config set`, never on the command line). */
    input?: string;
    /** Added to the workspace's environment. */
    env?: NodeJS.ProcessEnv;
}

export interface PulumiWorkspace {
    dir: string;
    stack: string;
    /** The stack's config file in the workspace. */
    stackFile: string;
    /** The environment every command runs with (backend, home, passphrase, plugins on PATH). */
    env: NodeJS.ProcessEnv;
    toolchain: PulumiToolchain;
    /** Start `pulumi <args> --stack <stack>` in the workspace. */
    start(args: string[], opts?: RunOptions): PulumiCommand;
    /** Run it to the end; a non-zero exit throws with its output unless `allowFailure`. */
    run(args: string[], opts?: RunOptions & { allowFailure?: boolean }): Promise<PulumiResult>;
    /** `pulumi config set` (`secret`: stored encrypted). */
    setConfig(key: string, value: string, opts?: { secret?: boolean; path?: boolean }): Promise<void>;
}

export interface WorkspaceOptions {
    /** A directory of its own (created); backend, home and stack file live in it. */
    dir: string;
    stack: string;
    /** The stack's starting config (`config:` of a `Pulumi.<stack>.yaml`). */
    config: Record<string, unknown>;
    toolchain: PulumiToolchain;
}

/** The `config:` map of a stack file. */
export function readStackConfig(file: string): Record<string, unknown> {
    return (parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null)?.config ?? {};
}

/** Log in to a file backend in `dir`, write the project and stack files there, and create the stack. */
export async function createPulumiWorkspace(opts: WorkspaceOptions): Promise<PulumiWorkspace> {
    const { dir, stack, toolchain } = opts;
    for (const sub of ["home", "state"]) {
        fs.mkdirSync(path.join(dir, sub), { recursive: true });
    }
    // The project as the repository declares it, run from the repository: only the stack file is the
    // workspace's. Pulumi wants `main` inside the project's folder, so it goes through a link to the repository
    // (plugins start in the link, the program file's folder, and find its node_modules). `main` names the
    // program file itself: a folder would run package.json's `main`, the library.
    const project = parse(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8")) as { main: string } & Record<string, unknown>;
    fs.symlinkSync(PROJECT_DIR, path.join(dir, PROGRAM_LINK));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), stringify({ ...project, main: path.posix.join(PROGRAM_LINK, project.main) }));
    const stackFile = path.join(dir, `Pulumi.${stack}.yaml`);
    fs.writeFileSync(stackFile, stringify({ config: opts.config }));
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        PATH: [...toolchain.pluginDirs, process.env.PATH ?? ""].join(path.delimiter),
        PULUMI_HOME: path.join(dir, "home"),
        PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: randomBytes(16).toString("hex"),
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_SKIP_CONFIRMATIONS: "true",
        // The program is type-checked by `npm test`; ts-node's type check would double every run's start.
        PULUMI_NODEJS_TRANSPILE_ONLY: "true",
        NO_COLOR: "1",
    };
    delete env.KUBECONFIG;
    const start = (args: string[], runOpts: RunOptions = {}): PulumiCommand => {
        // Its own process group: the test's SIGKILL can reach the CLI alone, as an OOM kill does.
        const stackFlag = args[0] === "stack" && args[1] === "init" ? [] : ["--stack", stack];
        const child = spawn(toolchain.pulumi, [...args, ...stackFlag, "--non-interactive", "--color", "never"], {
            cwd: dir,
            env: { ...env, ...runOpts.env },
            detached: true,
            stdio: ["pipe", "pipe", "pipe"],
        });
        trackChild(child);
        child.stdin!.end(runOpts.input ?? "");
        let output = "";
        const collect = (stream: NodeJS.ReadableStream) => {
            readline.createInterface({ input: stream }).on("line", (line) => {
                output += `${line}\n`;
                runOpts.onLine?.(line);
            });
        };
        collect(child.stdout!);
        collect(child.stderr!);
        const done = new Promise<PulumiResult>((resolve, reject) => {
            child.once("error", reject);
            // `close`: every line has been read.
            child.once("close", (code, signal) => resolve({ code, signal, output }));
        });
        return { process: child, done };
    };
    const run = async (args: string[], runOpts: RunOptions & { allowFailure?: boolean } = {}) => {
        const result = await start(args, runOpts).done;
        if (result.code !== 0 && !runOpts.allowFailure) {
            throw new Error(`pulumi ${args.join(" ")} failed (${result.signal ?? `exit ${result.code}`}):\n${result.output.trim().split("\n").slice(-30).join("\n")}`);
        }
        return result;
    };
    const workspace: PulumiWorkspace = {
        dir,
        stack,
        stackFile,
        env,
        toolchain,
        start,
        run,
        async setConfig(key, value, setOpts = {}) {
            const flags = [...(setOpts.secret ? ["--secret"] : []), ...(setOpts.path ? ["--path"] : [])];
            // The value goes through stdin: a kubeconfig never shows up in the process list, and no value is
            // read as a flag.
            await run(["config", "set", key, ...flags], { input: value });
        },
    };
    const login = spawnSync(toolchain.pulumi, ["login", env.PULUMI_BACKEND_URL!], { cwd: dir, env, encoding: "utf8" });
    if (login.status !== 0) {
        throw new Error(`pulumi login ${env.PULUMI_BACKEND_URL} failed: ${login.stderr || login.stdout}`);
    }
    await run(["stack", "init", stack]);
    return workspace;
}

/** A process started for the workspace: the CLI, its language host and its plugins (they inherit its PULUMI_HOME). */
export interface WorkspaceProcess {
    pid: number;
    /** Its command line, arguments joined by spaces. */
    command: string;
}

/**
 * Every live process of the workspace, found by the PULUMI_HOME in its environment (Linux `/proc`): a
 * killed CLI leaves its plugins running outside its process group, so its process tree cannot find them.
 */
export function workspaceProcesses(workspace: Pick<PulumiWorkspace, "env">): WorkspaceProcess[] {
    const marker = `PULUMI_HOME=${workspace.env.PULUMI_HOME}\0`;
    const found: WorkspaceProcess[] = [];
    for (const entry of fs.existsSync("/proc") ? fs.readdirSync("/proc") : []) {
        if (!/^\d+$/.test(entry) || Number(entry) === process.pid) {
            continue;
        }
        try {
            if (!fs.readFileSync(`/proc/${entry}/environ`, "latin1").includes(marker)) {
                continue;
            }
            const command = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim();
            if (isRunning(Number(entry))) {
                found.push({ pid: Number(entry), command });
            }
        } catch {
            // gone meanwhile, or not ours to read
        }
    }
    return found;
}

/** SIGKILL whatever the workspace still runs (plugins a killed CLI left behind). */
export function killWorkspaceProcesses(workspace: Pick<PulumiWorkspace, "env">): WorkspaceProcess[] {
    const left = workspaceProcesses(workspace);
    for (const { pid } of left) {
        try {
            process.kill(pid, "SIGKILL");
        } catch {
            // already gone
        }
    }
    return left;
}
