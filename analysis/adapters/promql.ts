/**
 * PromQL text: the rendering of built-in queries, metric templates and inline queries (Go `text/template`
 * with `missingkey=error`, reduced to the functions Flagger defines). The built-in queries themselves belong
 * to each router. Pure.
 */
import type { QueryContext } from "../engine/ports";
import type { BuiltinMetricName } from "../spec/canary";
import { isKindedError, kindedError } from "../engine/errors";

/** What `{{ ... }}` actions can refer to. */
export interface TemplateModel extends QueryContext {
    interval: string;
    variables?: Record<string, string>;
}

/** A metric template that does not render (Flagger's "query render error"). */
const queryRenderError = (message: string) => kindedError("query-render", message, {});
export const isQueryRenderError = (error: unknown): boolean => isKindedError(error, "query-render");

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
            throw queryRenderError(
                `template variable "${key}" is not set in templateVariables (${known.length > 0 ? `set: ${known.join(", ")}` : "none set"})`,
            );
        }
        return variables[key];
    }
    throw queryRenderError(
        `unsupported template action "{{ ${expression} }}": use one of ${PLAIN_FUNCTIONS.map((f) => `{{ ${f} }}`).join(", ")} or {{ variables.<key> }}`,
    );
}

function checkNoOpenAction(text: string): string {
    if (text.includes("{{")) {
        throw queryRenderError(`unclosed template action "${text.slice(text.indexOf("{{"), text.indexOf("{{") + 40)}": missing "}}"`);
    }
    return text;
}

/** Flagger sends every query with each whitespace run replaced by one space (not trimmed). */
export function collapseWhitespace(query: string): string {
    return query.replace(/\s+/g, " ");
}

/** Names of the built-in metrics, the queries of the router's metrics observer (Flagger's observers). */
export type BuiltinQueries = Record<BuiltinMetricName, string>;

/** A built-in query exactly as Flagger sends it to Prometheus. */
export function builtinQuery(queries: BuiltinQueries, name: BuiltinMetricName, model: TemplateModel): string {
    return collapseWhitespace(renderQuery(queries[name], model));
}
