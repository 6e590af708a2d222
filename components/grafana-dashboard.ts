/**
 * The canary dashboard (`dashboards/appmesh-canary.json`) as a ConfigMap that Grafana's dashboard sidecar (the
 * grafana chart's `sidecar.dashboards`, also in kube-prometheus-stack) loads into Grafana: labelled
 * `grafana_dashboard: "1"`, and annotated with a folder when one is given.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
// Imported rather than read from a path: tsc emits the JSON beside the compiled library (dist/dashboards/), so the
// installed package, whose `files` hold only dist/, finds it as the repository does.
import dashboard from "../dashboards/appmesh-canary.json";

/** The key the dashboard is stored under; the sidecar writes it to a file of that name. */
export const DASHBOARD_FILE_NAME = "appmesh-canary.json";
/** The label the sidecar selects ConfigMaps by (the chart's default `label` and `labelValue`). */
export const GRAFANA_DASHBOARD_LABEL = { grafana_dashboard: "1" } as const;
/** The annotation naming the folder; the chart reads it once `sidecar.dashboards.folderAnnotation` is set to this key. */
export const GRAFANA_FOLDER_ANNOTATION = "grafana_folder";

export interface GrafanaDashboardArgs {
    /** Namespace the Grafana sidecar watches for dashboards, e.g. `monitoring`. */
    readonly namespace: pulumi.Input<string>;
    /** Grafana folder to put the dashboard in; without it, the sidecar's default folder. */
    readonly folder?: pulumi.Input<string>;
}

export class GrafanaDashboard extends pulumi.ComponentResource {
    public readonly configMap: k8s.core.v1.ConfigMap;

    /** `name` is also the ConfigMap's name. */
    constructor(name: string, args: GrafanaDashboardArgs, opts?: pulumi.ComponentResourceOptions) {
        super("appmesh-canary:index:GrafanaDashboard", name, {}, opts);
        this.configMap = new k8s.core.v1.ConfigMap(`${name}-configmap`, {
            metadata: {
                name,
                namespace: args.namespace,
                labels: GRAFANA_DASHBOARD_LABEL,
                ...(args.folder === undefined ? {} : { annotations: { [GRAFANA_FOLDER_ANNOTATION]: args.folder } }),
            },
            // Formatted as the file is, so the ConfigMap holds the file's text.
            data: { [DASHBOARD_FILE_NAME]: `${JSON.stringify(dashboard, null, 2)}\n` },
        }, { parent: this });
        this.registerOutputs({ configMap: this.configMap.metadata.name });
    }
}
