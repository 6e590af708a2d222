/**
 * Child processes of the playground: finding the executables it needs (with the package that provides
 * them), and making sure no child outlives the playground, Ctrl-C included.
 */
import { ChildProcess } from "child_process";
import * as fs from "fs";
import * as path from "path";

/** Where to get each external program the playground runs. */
const PACKAGES: Record<string, string> = {
    hey: 'the Debian/Ubuntu package "hey" (apt-get install hey) or Homebrew "hey" (brew install hey)',
    prometheus: 'the Debian/Ubuntu package "prometheus" (apt-get install prometheus) or Homebrew "prometheus" (brew install prometheus)',
    bash: 'the Debian/Ubuntu package "bash"',
};

/** Absolute path of an executable on PATH (skipping `exclude` directories), or undefined. */
export function findExecutable(name: string, exclude: string[] = []): string | undefined {
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
        if (!dir || exclude.includes(dir)) {
            continue;
        }
        const candidate = path.join(dir, name);
        try {
            fs.accessSync(candidate, fs.constants.X_OK);
            if (fs.statSync(candidate).isFile()) {
                return candidate;
            }
        } catch {
            // not in this directory
        }
    }
    return undefined;
}

/** Like findExecutable, but a missing program is an error naming the package to install. */
export function requireExecutable(name: string, exclude: string[] = []): string {
    const found = findExecutable(name, exclude);
    if (!found) {
        throw new Error(`${name} is not installed (not found on PATH): install ${PACKAGES[name] ?? `a package providing ${name}`}`);
    }
    return found;
}

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Signal a child's whole process group (it was spawned detached), falling back to the child alone. */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
        return;
    }
    try {
        process.kill(-child.pid, signal);
    } catch {
        try {
            child.kill(signal);
        } catch {
            // already gone
        }
    }
}

/** Keep track of a child (spawned with `detached: true`) so it is killed when this process exits. */
export function trackChild(child: ChildProcess): void {
    children.add(child);
    child.once("exit", () => children.delete(child));
    if (!exitHookInstalled) {
        exitHookInstalled = true;
        process.once("exit", () => {
            for (const c of children) {
                signalGroup(c, "SIGKILL");
            }
        });
    }
}

/** Stop a child: SIGTERM to its group, SIGKILL after `graceMs`; resolves when it has exited. */
export function stopChild(child: ChildProcess, graceMs = 2000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) {
        return Promise.resolve();
    }
    return new Promise((resolve) => {
        const timer = setTimeout(() => signalGroup(child, "SIGKILL"), graceMs);
        child.once("exit", () => {
            clearTimeout(timer);
            resolve();
        });
        signalGroup(child, "SIGTERM");
    });
}

/** Whether a process runs: it exists and is not a zombie waiting for its (new) parent to reap it. */
export function isRunning(pid: number): boolean {
    try {
        process.kill(pid, 0);
    } catch {
        return false;
    }
    try {
        // /proc/<pid>/stat: "pid (comm) state ..."; comm may hold spaces, the state follows its last ')'.
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
    } catch {
        return true;
    }
}
