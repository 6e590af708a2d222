/**
 * PromQL text: Flagger's built-in App Mesh queries and the rendering of metric templates and inline queries
 * (Go `text/template` with `missingkey=error`, reduced to the functions Flagger defines). Pure.
 */
import type { QueryContext } from "./ports";
import { BUILTIN_METRICS, MetricSpec } from "./spec";

export type BuiltinMetricName = (typeof BUILTIN_METRICS)[number];

/** Flagger's `GetMetricInterval()` for built-in and inline metrics; applied to templates too (see metricInterval). */
export const DEFAULT_METRIC_INTERVAL = "1m";

/** Canary pods only: a fully anchored `<target>-<rs hash>-<pod id>` leaves out `<target>-primary-<hash>-<id>`. */
const CANARY_PODS = `
    kubernetes_namespace="{{ namespace }}",
    kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"`;

/** The queries of Flagger's App Mesh observer; after whitespace collapsing the text is the same as Flagger's. */
export const APPMESH_QUERIES: Record<BuiltinMetricName, string> = {
    "request-success-rate": `
sum(
  rate(
    envoy_cluster_upstream_rq{${CANARY_PODS},
      envoy_response_code!~"5.*"
    }[{{ interval }}]
  )
)
/
sum(
  rate(
    envoy_cluster_upstream_rq{${CANARY_PODS}
    }[{{ interval }}]
  )
)
* 100`,
    "request-duration": `
histogram_quantile(
  0.99,
  sum(
    rate(
      envoy_cluster_upstream_rq_time_bucket{${CANARY_PODS}
      }[{{ interval }}]
    )
  ) by (le)
)`,
};

export function isBuiltinMetric(name: string): name is BuiltinMetricName {
    return (BUILTIN_METRICS as readonly string[]).includes(name);
}

/** What `{{ ... }}` actions can refer to. */
export interface TemplateModel extends QueryContext {
    interval: string;
    variables?: Record<string, string>;
}

/**
 * The metric's `interval`, or 1m. Flagger applies the 1m default to built-in and inline metrics only and
 * renders `{{ interval }}` empty for template metrics (a broken range selector); we default all of them.
 */
export function metricInterval(metric: MetricSpec): string {
    return metric.interval || DEFAULT_METRIC_INTERVAL;
}

export class QueryRenderError extends Error {}

const PLAIN_FUNCTIONS = ["name", "namespace", "target", "service", "ingress", "route", "interval"] as const;
const ACTION = /\{\{(-\s)?\s*(.*?)\s*(\s-)?\}\}/gs;
const VARIABLE = /^variables\.([A-Za-z_][A-Za-z0-9_]*)$/;

/**
 * Render `{{ name }}`, `{{ namespace }}`, `{{ target }}`, `{{ service }}`, `{{ interval }}` and
 * `{{ variables.X }}` (plus Flagger's `{{ ingress }}` and `{{ route }}`, which are the target here, as no
 * ingressRef / routeRef exists for App Mesh). `{{-` and `-}}` trim the adjacent whitespace as in Go. A variable
 * that is not set, an unknown action or an unclosed `{{` is an error naming it.
 */
export function renderQuery(template: string, model: TemplateModel): string {
    const values: Record<(typeof PLAIN_FUNCTIONS)[number], string> = {
        name: model.name,
        namespace: model.namespace,
        target: model.target,
        service: model.service,
        ingress: model.target,
        route: model.target,
        interval: model.interval,
    };
    let output = "";
    let last = 0;
    let trimNext = false;
    for (const match of template.matchAll(ACTION)) {
        const [whole, trimBefore, expression, trimAfter] = match;
        let text = template.slice(last, match.index);
        if (trimNext) {
            text = text.trimStart();
        }
        if (trimBefore) {
            text = text.trimEnd();
        }
        output += checkNoOpenAction(text) + evaluate(expression, values, model.variables ?? {});
        last = match.index! + whole.length;
        trimNext = Boolean(trimAfter);
    }
    const rest = template.slice(last);
    output += checkNoOpenAction(trimNext ? rest.trimStart() : rest);
    return output;
}

function evaluate(expression: string, values: Record<string, string>, variables: Record<string, string>): string {
    if ((PLAIN_FUNCTIONS as readonly string[]).includes(expression)) {
        return values[expression];
    }
    const variable = VARIABLE.exec(expression);
    if (variable) {
        const key = variable[1];
        if (!Object.prototype.hasOwnProperty.call(variables, key)) {
            const known = Object.keys(variables);
            throw new QueryRenderError(
                `template variable "${key}" is not set in templateVariables (${known.length > 0 ? `set: ${known.join(", ")}` : "none set"})`,
            );
        }
        return variables[key];
    }
    throw new QueryRenderError(
        `unsupported template action "{{ ${expression} }}": use one of ${PLAIN_FUNCTIONS.map((f) => `{{ ${f} }}`).join(", ")} or {{ variables.<key> }}`,
    );
}

function checkNoOpenAction(text: string): string {
    if (text.includes("{{")) {
        throw new QueryRenderError(`unclosed template action "${text.slice(text.indexOf("{{"), text.indexOf("{{") + 40)}": missing "}}"`);
    }
    return text;
}

/** Flagger sends every query with each whitespace run replaced by one space (not trimmed). */
export function collapseWhitespace(query: string): string {
    return query.replace(/\s+/g, " ");
}

/** The built-in query exactly as Flagger sends it to Prometheus. */
export function builtinQuery(name: BuiltinMetricName, model: TemplateModel): string {
    return collapseWhitespace(renderQuery(APPMESH_QUERIES[name], model));
}
