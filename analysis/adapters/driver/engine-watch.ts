/**
 * Whether the `pulumi up` driving this dynamic-provider host is still there. When the CLI process is killed
 * (OOM kill, closed terminal, cancelled CI job) its plugin processes live on as orphans, and an analysis in
 * the host would go on shifting traffic and then wait forever for calls that never come. The host is started
 * as `node .../cmd/dynamic-provider <engine address>`; the driver is gone when the host's parent process
 * changes or the engine's gRPC address refuses connections twice in a row (a connect that times out says
 * nothing). Then the host exits, once no rollout is running: an analysis rolls back first.
 *
 * One watch per process, kept on `globalThis`: Pulumi serializes this module into each provider by value, so
 * module-level state would be one copy per serialized provider.
 */
import type { DriverPort } from "../../engine/ports";

const PROBE_EVERY_MS = 1_000;
/** Less than the probe period, so probes never overlap. */
const PROBE_TIMEOUT_MS = 800;
const REFUSALS_WHEN_GONE = 2;
/** The longest the watch takes to tell that the engine is gone: the refused probes, the last one's timeout. */
export const ENGINE_GONE_DETECTION_MS = REFUSALS_WHEN_GONE * PROBE_EVERY_MS + PROBE_TIMEOUT_MS;
/** How long the exit waits for stdout to drain (a pipe whose reader died may never). */
const FLUSH_TIMEOUT_MS = 1_000;
const WATCH_KEY = "appmesh-canary-analysis/engine-watch";

interface EngineAddress {
    host: string;
    port: number;
}

interface EngineWatch {
    engine: EngineAddress;
    parentPid: number;
    refusals: number;
    /** Why the driver is gone, once it is. */
    gone?: string;
    /** Analysis updates and Finalize runs in progress. */
    rollouts: number;
    announce: (reason: string) => void;
    whenGone: Promise<string>;
    timer?: ReturnType<typeof setInterval>;
}

/**
 * The engine address of a dynamic-provider host's command line, or undefined when this process is no such
 * host. The address is the last argument: logging and tracing flags (`--logtostderr`, `--tracing <url>`) come before it.
 */
export function hostEngineAddress(argv: string[]): EngineAddress | undefined {
    if (!/cmd[\\/]dynamic-provider/.test(argv[1] ?? "")) {
        return undefined;
    }
    const match = /^\[?([\w.:-]+?)\]?:(\d{1,5})$/.exec(argv.at(-1) ?? "");
    const port = Number(match?.[2]);
    return argv.length > 2 && match && port > 0 && port < 65536 ? { host: match[1], port } : undefined;
}

function currentWatch(): EngineWatch | undefined {
    return (globalThis as Record<symbol, EngineWatch | undefined>)[Symbol.for(WATCH_KEY)];
}

/**
 * Start watching the engine (once per process; cheap to call again) and return the port over it; undefined
 * outside a dynamic-provider host (the playground runs the engine in-process, with nobody to lose).
 */
export function watchEngine(): DriverPort | undefined {
    const watch = currentWatch() ?? startWatch();
    return watch && { abandoned: () => watch.gone, whenAbandoned: () => watch.whenGone };
}

function startWatch(): EngineWatch | undefined {
    const engine = hostEngineAddress(process.argv);
    if (!engine) {
        return undefined;
    }
    let announce: (reason: string) => void = () => undefined;
    const whenGone = new Promise<string>((resolve) => (announce = resolve));
    const watch: EngineWatch = { engine, parentPid: process.ppid, refusals: 0, rollouts: 0, announce, whenGone };
    // A `pulumi up` that dies closes the pipes the host prints to. A write then fails (EPIPE) after the console
    // stopped listening for it, and Pulumi's host logs each uncaught error to the closed stderr, which fails
    // again: an endless loop that starves the rollback and the exit. Nobody reads what an orphan prints.
    for (const stream of [process.stdout, process.stderr]) {
        stream.on("error", () => undefined);
    }
    watch.timer = setInterval(() => void probe(watch), PROBE_EVERY_MS);
    // The watch alone never keeps the host alive.
    watch.timer.unref();
    (globalThis as Record<symbol, EngineWatch | undefined>)[Symbol.for(WATCH_KEY)] = watch;
    return watch;
}

async function probe(watch: EngineWatch): Promise<void> {
    if (watch.gone !== undefined) {
        return;
    }
    if (process.ppid !== watch.parentPid) {
        return markGone(watch, `the host's parent process ${watch.parentPid} exited`);
    }
    const answer = await connectOnce(watch.engine);
    if (answer === "connected") {
        watch.refusals = 0;
    } else if (answer === "refused" && ++watch.refusals >= REFUSALS_WHEN_GONE) {
        markGone(watch, `the Pulumi engine at ${watch.engine.host}:${watch.engine.port} refuses connections`);
    }
}

/** Open and close one TCP connection to the engine. */
async function connectOnce(engine: EngineAddress): Promise<"connected" | "refused" | "unknown"> {
    const net = await import("net");
    return new Promise((resolve) => {
        const socket = net.connect({ host: engine.host, port: engine.port });
        const done = (answer: "connected" | "refused" | "unknown") => {
            socket.destroy();
            resolve(answer);
        };
        socket.setTimeout(PROBE_TIMEOUT_MS, () => done("unknown"));
        socket.once("connect", () => done("connected"));
        socket.once("error", (error: NodeJS.ErrnoException) => done(error.code === "ECONNREFUSED" ? "refused" : "unknown"));
    });
}

function markGone(watch: EngineWatch, reason: string): void {
    watch.gone = reason;
    clearInterval(watch.timer);
    watch.announce(reason);
    if (watch.rollouts === 0) {
        exitWhenFlushed();
    }
}

/**
 * Run one rollout (an Analysis update or a Finalize run) as the watch counts them: when the driver is gone,
 * the host exits as soon as none is running, so an orphan never outlives the rollback it owed.
 */
export async function whileRollingOut<T>(work: () => Promise<T>): Promise<T> {
    const watch = currentWatch();
    if (watch) {
        watch.rollouts += 1;
    }
    try {
        return await work();
    } finally {
        if (watch) {
            watch.rollouts -= 1;
            if (watch.gone !== undefined && watch.rollouts === 0) {
                exitWhenFlushed();
            }
        }
    }
}

/** Exit once the last events are written out; not later than `FLUSH_TIMEOUT_MS` if the pipe never drains. */
function exitWhenFlushed(): void {
    const exit = () => process.exit(0);
    setTimeout(exit, FLUSH_TIMEOUT_MS);
    process.stdout.write("", exit);
}
