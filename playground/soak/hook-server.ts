/**
 * The soak stack's own webhooks, on this machine: a confirm-rollout gate, a check run every iteration and a
 * rollback hook, each answering as the rollout's planned webhook fault says (Flagger's meaning: 2xx opens a
 * gate, passes a check and, for a rollback hook, asks for the rollback).
 */
import * as http from "http";
import type { AddressInfo } from "net";
import type { HookFault } from "./plan";

/** The check's hook timeout in the soak stack; a `check-timeout` answer comes well after it. */
export const CHECK_TIMEOUT_MS = 1_000;
const LATE_ANSWER_MS = 3 * CHECK_TIMEOUT_MS;

export interface SoakHooks {
    /** `http://127.0.0.1:<port>`; an app's hooks are `/<app>/gate`, `/<app>/check` and `/<app>/rollback` under it. */
    url: string;
    /** `app`'s hooks answer with `fault`, the others as without one. */
    setFault(fault: HookFault, app: string): void;
    /** Calls by path since the last `setFault`. */
    calls(): Record<string, number>;
    stop(): Promise<void>;
}

/** The status each hook answers under a fault, or `late` for an answer after the hook's timeout. */
export function hookAnswer(path: string, fault: HookFault): number | "late" {
    switch (path) {
        case "/gate":
            return fault === "gate-closed" ? 403 : 200;
        case "/check":
            return fault === "check-500" ? 500 : fault === "check-timeout" ? "late" : 200;
        case "/rollback":
            return fault === "rollback" ? 200 : 404;
        default:
            return 404;
    }
}

export async function startSoakHooks(): Promise<SoakHooks> {
    let fault: HookFault = "none";
    let faultyApp = "";
    let calls: Record<string, number> = {};
    const server = http.createServer((req, res) => {
        req.resume();
        req.on("end", () => {
            const path = new URL(req.url ?? "/", "http://hooks").pathname;
            calls[path] = (calls[path] ?? 0) + 1;
            const [, app, hook] = /^\/([^/]+)(\/[^/]+)$/.exec(path) ?? [];
            const applied = app === faultyApp ? fault : "none";
            const answer = hookAnswer(hook ?? path, applied);
            const send = (status: number) => res.writeHead(status, { "content-type": "text/plain" }).end(`${path} under ${applied}: ${status}`);
            if (answer === "late") {
                setTimeout(() => send(200), LATE_ANSWER_MS).unref();
            } else {
                send(answer);
            }
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        setFault(next, app) {
            fault = next;
            faultyApp = app;
            calls = {};
        },
        calls: () => ({ ...calls }),
        stop: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}
