/**
 * `appmesh-canary status`: every canary's status in the current kubeconfig context, one line each, as
 * `kubectl get canaries -A` prints Flagger's; `--watch` then prints a line whenever one changes, as `kubectl get
 * -w` does. It reads the `<app>-canary-status` ConfigMaps the analysis writes (label `appmesh-canary.io/canary-status`).
 */
import * as fs from "fs";
import { loadKubeConfig } from "../analysis/adapters/kubernetes/client";
import { formatStatusTable, parseStatusData, STATUS_LABEL, statusTarget, type StatusRow } from "../analysis/report/status";

export interface StatusOptions {
    watch: boolean;
    /** Only this namespace; all namespaces when absent. */
    namespace?: string;
    /** A kubeconfig file instead of `KUBECONFIG` / `~/.kube/config`. */
    kubeconfig?: string;
    context?: string;
}

export const STATUS_USAGE = "usage: appmesh-canary status [--watch] [--namespace NAME] [--kubeconfig FILE] [--context NAME]";

/** The command line's options; throws naming a bad one. */
export function parseStatusArguments(argv: string[]): StatusOptions {
    const options: StatusOptions = { watch: false };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const value = () => {
            const next = argv[++i];
            if (next === undefined || next.startsWith("-")) {
                throw new Error(`${arg} needs a value; ${STATUS_USAGE}`);
            }
            return next;
        };
        if (arg === "--watch" || arg === "-w") {
            options.watch = true;
        } else if (arg === "--namespace" || arg === "-n") {
            options.namespace = value();
        } else if (arg === "--kubeconfig") {
            options.kubeconfig = value();
        } else if (arg === "--context") {
            options.context = value();
        } else {
            throw new Error(`unknown option ${arg}; ${STATUS_USAGE}`);
        }
    }
    return options;
}

type ConfigMap = import("@kubernetes/client-node").V1ConfigMap;

function rowOf(configMap: ConfigMap): StatusRow | undefined {
    const status = parseStatusData(configMap.data);
    const { name, namespace } = configMap.metadata ?? {};
    return status && name && namespace ? { namespace, name: statusTarget(name), status } : undefined;
}

/** How one watch ended: the error its request met, or the Status of the ERROR event the API server sent last. */
export interface WatchEnd {
    error?: { statusCode?: number } | null;
    errorEvent?: { code?: number };
}

/**
 * Where the next watch starts: from the last version seen, or from a new list when the API server no longer
 * has that version (410 Gone: it expired, after a quiet spell or a compaction). A watch from an expired version
 * ends at once, so without a new list the command would loop on it and show no change again.
 */
export function nextWatchStart(end: WatchEnd): "resume" | "relist" {
    return end.error?.statusCode === 410 || end.errorEvent?.code === 410 ? "relist" : "resume";
}

/** Print the table, then (with `watch`) a line per change until `signal` aborts. `print` gets one line at a time. */
export async function runStatus(options: StatusOptions, print: (line: string) => void, signal?: AbortSignal): Promise<void> {
    const k8s = await import("@kubernetes/client-node");
    const kubeconfig = options.kubeconfig === undefined ? undefined : fs.readFileSync(options.kubeconfig, "utf8");
    const config = await loadKubeConfig({ kubeconfig, context: options.context }, k8s);
    const api = config.makeApiClient(k8s.CoreV1Api);
    const labelSelector = `${STATUS_LABEL}=true`;
    const listRows = async () => {
        const list = options.namespace
            ? await api.listNamespacedConfigMap({ namespace: options.namespace, labelSelector })
            : await api.listConfigMapForAllNamespaces({ labelSelector });
        return { rows: list.items.map(rowOf).filter((r): r is StatusRow => r !== undefined), resourceVersion: list.metadata?.resourceVersion };
    };
    const listed = await listRows();
    if (listed.rows.length === 0 && !options.watch) {
        print(`No canaries found${options.namespace ? ` in namespace ${options.namespace}` : ""}.`);
        return;
    }
    formatStatusTable(listed.rows).forEach(print);
    if (!options.watch) {
        return;
    }
    const path = options.namespace ? `/api/v1/namespaces/${options.namespace}/configmaps` : "/api/v1/configmaps";
    const keyOf = (row: StatusRow) => `${row.namespace}/${row.name}`;
    /** What was printed last for each canary, so a line is printed only for a change. */
    const shown = new Map(listed.rows.map((r) => [keyOf(r), { row: r, text: JSON.stringify(r.status) }]));
    const show = (row: StatusRow, deleted: boolean) => {
        const text = deleted ? "deleted" : JSON.stringify(row.status);
        if (shown.get(keyOf(row))?.text !== text) {
            shown.set(keyOf(row), { row, text });
            const [line] = formatStatusTable([row], false);
            print(deleted ? `${line}   (deleted)` : line);
        }
    };
    let resourceVersion = listed.resourceVersion;
    const watchOnce = () =>
        new Promise<WatchEnd>((resolve) => {
            const end: WatchEnd = {};
            let started: Promise<AbortController> | undefined;
            const abort = () => void started?.then((controller) => controller.abort());
            const finish = (error: WatchEnd["error"]) => {
                signal?.removeEventListener("abort", abort);
                resolve({ ...end, error });
            };
            signal?.addEventListener("abort", abort, { once: true });
            started = new k8s.Watch(config).watch(
                path,
                { labelSelector, resourceVersion, allowWatchBookmarks: true },
                (type: string, object: ConfigMap & { code?: number }) => {
                    if (type === "ERROR") {
                        end.errorEvent = object;
                        return;
                    }
                    resourceVersion = object.metadata?.resourceVersion ?? resourceVersion;
                    const row = rowOf(object);
                    if (type !== "BOOKMARK" && row) {
                        show(row, type === "DELETED");
                    }
                },
                finish,
            );
            started.catch(finish);
        });
    // The API server ends a watch after a while; each end starts the next from the last version seen, or from a
    // new list (printing what changed meanwhile, deletions too) when that version has expired.
    while (!signal?.aborted) {
        const end = await watchOnce();
        if (nextWatchStart(end) === "relist" && !signal?.aborted) {
            try {
                const relisted = await listRows();
                const present = new Set(relisted.rows.map(keyOf));
                relisted.rows.forEach((row) => show(row, false));
                [...shown.values()].filter(({ row }) => !present.has(keyOf(row))).forEach(({ row }) => show(row, true));
                resourceVersion = relisted.resourceVersion;
            } catch {
                // The API server is away: the next watch from the expired version ends at once and lists again.
            }
        }
        if (!signal?.aborted) {
            await new Promise((resolve) => setTimeout(resolve, 1000));
        }
    }
}
