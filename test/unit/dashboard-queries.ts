/**
 * The shipped Grafana dashboard as the tests read it, and what Grafana does with its text before a query
 * reaches Prometheus: variable interpolation, `label_values(...)` variable queries and a variable's `/regex/`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT } from "../../scripts/render";

export const DASHBOARD_FILE = path.join(REPO_ROOT, "dashboards", "appmesh-canary.json");

export interface DatasourceRef {
    type: string;
    uid: string;
}

export interface DashboardTarget {
    refId: string;
    expr: string;
    legendFormat?: string;
    datasource?: DatasourceRef;
}

export interface DashboardPanel {
    id: number;
    type: string;
    title: string;
    datasource?: DatasourceRef;
    gridPos: { h: number; w: number; x: number; y: number };
    targets: DashboardTarget[];
}

export interface DashboardVariable {
    name: string;
    type: string;
    query: string;
    regex?: string;
    datasource?: DatasourceRef;
}

export interface Dashboard {
    uid: string;
    title: string;
    schemaVersion: number;
    templating: { list: DashboardVariable[] };
    panels: DashboardPanel[];
    __inputs?: unknown;
}

export function loadDashboard(): Dashboard {
    return JSON.parse(fs.readFileSync(DASHBOARD_FILE, "utf8")) as Dashboard;
}

/** Grafana's variable interpolation (`$name`, `${name}`); a variable `values` lacks is an error naming it. */
export function interpolate(text: string, values: Record<string, string>): string {
    return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole: string, braced: string | undefined, bare: string | undefined) => {
        const name = (braced ?? bare)!;
        if (!Object.prototype.hasOwnProperty.call(values, name)) {
            throw new Error(`${whole} in ${JSON.stringify(text)} is not one of the variables ${Object.keys(values).join(", ")}`);
        }
        return values[name];
    });
}

/** The variables a text refers to (`$name`, `${name}`), in order of appearance. */
export function referencedVariables(text: string): string[] {
    return [...text.matchAll(/\$\{(\w+)\}|\$(\w+)/g)].map((m) => m[1] ?? m[2]);
}

/** `label_values(<series selector>, <label>)`, the Prometheus data source's variable query. */
export function parseLabelValues(query: string): { selector: string; label: string } {
    const match = /^label_values\((.+),\s*(\w+)\)$/.exec(query.trim());
    if (!match) {
        throw new Error(`not a label_values(<selector>, <label>) query: ${query}`);
    }
    return { selector: match[1].trim(), label: match[2] };
}

/**
 * What Grafana keeps of a query variable's values under its `/regex/`: the matching values, each replaced by its
 * first capture group when the regex has one, without duplicates.
 */
export function applyVariableRegex(values: string[], regex: string | undefined): string[] {
    if (!regex) {
        return [...new Set(values)];
    }
    const literal = /^\/(.*)\/([gimsuy]*)$/s.exec(regex);
    if (!literal) {
        throw new Error(`a variable regex is written /pattern/flags, got ${regex}`);
    }
    const pattern = new RegExp(literal[1], literal[2]);
    const kept = values.flatMap((value) => {
        const match = pattern.exec(value);
        return match ? [match.length > 1 ? match[1] : value] : [];
    });
    return [...new Set(kept)];
}

/** The pod name matchers (`kubernetes_pod_name=~"..."`) of a query, as the fully anchored regexes Prometheus applies. */
export function podNameMatchers(query: string): RegExp[] {
    return [...query.matchAll(/kubernetes_pod_name=~"([^"]*)"/g)].map((m) => new RegExp(`^(?:${m[1]})$`));
}
