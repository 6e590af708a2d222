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

/** Print the table, then (with `watch`) a line per change until `signal` aborts. `print` gets one line at a time. */
export async function runStatus(options: StatusOptions, print: (line: string) => void, signal?: AbortSignal): Promise<void> {
    const k8s = await import("@kubernetes/client-node");
    const kubeconfig = options.kubeconfig === undefined ? undefined : fs.readFileSync(options.kubeconfig, "utf8");
    const config = await loadKubeConfig({ kubeconfig, context: options.context }, k8s);
    const api = config.makeApiClient(k8s.CoreV1Api);
    const labelSelector = `${STATUS_LABEL}=true`;
    const list = options.namespace
        ? await api.listNamespacedConfigMap({ namespace: options.namespace, labelSelector })
        : await api.listConfigMapForAllNamespaces({ labelSelector });
    const rows = list.items.map(rowOf).filter((r): r is StatusRow => r !== undefined);
    if (rows.length === 0 && !options.watch) {
        print(`No canaries found${options.namespace ? ` in namespace ${options.namespace}` : ""}.`);
        return;
    }
    formatStatusTable(rows).forEach(print);
    if (!options.watch) {
        return;
    }
    const path = options.namespace ? `/api/v1/namespaces/${options.namespace}/configmaps` : "/api/v1/configmaps";
    const shown = new Map(rows.map((r) => [`${r.namespace}/${r.name}`, JSON.stringify(r.status)]));
    let resourceVersion = list.metadata?.resourceVersion;
    // The API server ends a watch after a while; each end starts the next from the last version seen.
    while (!signal?.aborted) {
        await new Promise<void>((resolve) => {
            const watch = new k8s.Watch(config);
            const started = watch.watch(
                path,
                { labelSelector, resourceVersion, allowWatchBookmarks: true },
                (type: string, object: ConfigMap) => {
                    resourceVersion = object.metadata?.resourceVersion ?? resourceVersion;
                    const row = rowOf(object);
                    if (type === "BOOKMARK" || !row) {
                        return;
                    }
                    const key = `${row.namespace}/${row.name}`;
                    const text = type === "DELETED" ? "deleted" : JSON.stringify(row.status);
                    if (shown.get(key) !== text) {
                        shown.set(key, text);
                        const [line] = formatStatusTable([row], false);
                        print(type === "DELETED" ? `${line}   (deleted)` : line);
                    }
                },
                () => resolve(),
            );
            signal?.addEventListener("abort", () => void started.then((request) => request.abort()), { once: true });
            started.catch(() => resolve());
        });
        if (!signal?.aborted) {
            await new Promise((resolve) => setTimeout(resolve, 1000));
        }
    }
}
