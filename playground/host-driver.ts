/**
 * Runs a rollout's Analysis and Finalize updates through Pulumi's dynamic-provider host process, exactly as
 * `pulumi up` does: the providers of `analysis/provider/providers.ts` are serialized into `__provider`, the host
 * deserializes and runs them, and they reach the playground only through its Kubernetes API server (with
 * the kubeconfig input) and the API server's service proxy. The host prints one line per event; those lines
 * become the report's events.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { AnalysisTick, CanaryEvent } from "../analysis/engine/ports";
import { analysisProvider, finalizeProvider, TICK_CHANNEL } from "../analysis/provider/providers";
import { dynamicUrn, serializeProvider, startProviderHost, withProvider } from "./provider-host";
import { parseEventLine, tallyEvent, type EventTally } from "./provider-events";
import type { RolloutDriver } from "./rollout";

/** The update's error when the analysis rolled back (`rolloutFailure`), as opposed to a broken run. */
const ROLLED_BACK = /canary analysis of \S+ failed: /;

interface Listener extends EventTally {
    sink: (event: CanaryEvent) => void;
}

/**
 * A module for the host's `--require` that prints every analysis tick the providers publish on stderr, as
 * `<TICK_CHANNEL> <tick as JSON>`. Measuring only: `pulumi up` loads no such module.
 */
function writeTickProbe(): { file: string; remove(): void } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tick-probe-"));
    const file = path.join(dir, "tick-probe.js");
    const channel = JSON.stringify(TICK_CHANNEL);
    fs.writeFileSync(file, `require("diagnostics_channel").subscribe(${channel}, (tick) => process.stderr.write(${channel} + " " + JSON.stringify(tick) + "\\n"));\n`);
    return { file, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface ProviderHostDriverOptions {
    onOtherLine?: (line: string) => void;
    /** Each analysis interval's start, as the engine in the host saw it (the host then loads a probe for them). */
    onTick?: (tick: AnalysisTick) => void;
}

export async function providerHostDriver(opts: ProviderHostDriverOptions = {}): Promise<RolloutDriver> {
    // Pulumi runs many resources' updates in one host at once; lines naming a canary go to its rollout, the
    // others (e.g. "Routing all traffic to primary") to the only rollout running, if there is just one.
    const listeners = new Map<string, Listener>();
    const listenerFor = (message: string): Listener | undefined => {
        const named = [...listeners.keys()].filter((id) => new RegExp(`(^|\\s)${id.replace(/\./g, "\\.")}(\\s|$)`).test(message));
        if (named.length === 1) {
            return listeners.get(named[0]);
        }
        return listeners.size === 1 ? [...listeners.values()][0] : undefined;
    };
    const probe = opts.onTick ? writeTickProbe() : undefined;
    const tickLine = `${TICK_CHANNEL} `;
    const host = await startProviderHost({
        env: probe ? { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ${probe.file}`.trim() } : undefined,
        onLine: (line) => {
            if (opts.onTick && line.startsWith(tickLine)) {
                return opts.onTick(JSON.parse(line.slice(tickLine.length)) as AnalysisTick);
            }
            const event = parseEventLine(line);
            const listener = event ? listenerFor(event.message) : undefined;
            if (event && listener) {
                listener.sink(tallyEvent(event, listener, Date.now()));
            } else {
                opts.onOtherLine?.(line);
            }
        },
    }).catch((error: Error) => {
        probe?.remove();
        throw error;
    });
    /** Route the events of one rollout to its sink while `call` runs. */
    const listening = async <T>(target: { name: string; namespace: string }, sink: (event: CanaryEvent) => void, call: () => Promise<T>): Promise<T> => {
        const id = `${target.name}.${target.namespace}`;
        listeners.set(id, { sink, weight: listeners.get(id)?.weight ?? 0, failedChecks: 0 });
        try {
            return await call();
        } finally {
            listeners.delete(id);
        }
    };
    try {
        await host.configure();
        const analysisText = await serializeProvider(analysisProvider);
        const finalizeText = await serializeProvider(finalizeProvider);
        return {
            name: "Pulumi's dynamic-provider host (analysis/provider Analysis and Finalize updates, over the Kubernetes API)",
            processId: host.pid,
            async analyse(news, olds, sink) {
                const id = `${news.target.namespace}/${news.target.name}`;
                try {
                    await listening(news.target, sink, () =>
                        host.update(id, dynamicUrn("appmesh-canary:Analysis", news.target.name), withProvider(analysisText, { ...olds, status: "initialized" }), withProvider(analysisText, { ...news })),
                    );
                    return undefined;
                } catch (error) {
                    const message = (error as Error).message;
                    if (ROLLED_BACK.test(message)) {
                        return message.slice(message.search(ROLLED_BACK));
                    }
                    throw error;
                }
            },
            async finalize(news, olds, sink) {
                const id = `${news.target.namespace}/${news.target.name}`;
                await listening(news.target, sink, () =>
                    host.update(id, dynamicUrn("appmesh-canary:Finalize", news.target.name), withProvider(finalizeText, { ...olds }), withProvider(finalizeText, { ...news })),
                );
            },
            async stop() {
                await host.stop();
                probe?.remove();
            },
        };
    } catch (error) {
        await host.stop();
        probe?.remove();
        throw error;
    }
}
