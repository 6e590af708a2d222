/**
 * The query of a `cloudwatch` metric template: a JSON list of CloudWatch `MetricDataQuery` objects, as Flagger's
 * CloudWatch provider takes it (field names as in the CloudWatch API). Checked field by field, at `pulumi
 * preview` on the template text (template actions stand in as placeholders) and again on the rendered query.
 * Pure.
 */

/** CloudWatch's `StandardUnit` values. */
export const CLOUDWATCH_UNITS = [
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes", "Bits", "Kilobits", "Megabits",
    "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
    "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
] as const;

/** One `MetricDataQuery`, as GetMetricData takes it. */
export interface MetricDataQuery {
    Id: string;
    Expression?: string;
    MetricStat?: {
        Metric: { Namespace: string; MetricName: string; Dimensions?: { Name: string; Value: string }[] };
        Period: number;
        Stat: string;
        Unit?: (typeof CLOUDWATCH_UNITS)[number];
    };
    Label?: string;
    ReturnData?: boolean;
    Period?: number;
    AccountId?: string;
}

const QUERY_FIELDS = ["Id", "Expression", "MetricStat", "Label", "ReturnData", "Period", "AccountId"];
const METRIC_STAT_FIELDS = ["Metric", "Period", "Stat", "Unit"];
const METRIC_FIELDS = ["Namespace", "MetricName", "Dimensions"];
const DIMENSION_FIELDS = ["Name", "Value"];
/** CloudWatch's limits: 500 queries per request, 30 dimensions per metric. */
const MAX_QUERIES = 500;
const MAX_DIMENSIONS = 30;
const ID = /^[a-z][a-zA-Z0-9_]*$/;
/** High-resolution periods; any other period is a multiple of 60 seconds. */
const SHORT_PERIODS = [1, 5, 10, 20, 30];

/** One problem of a query: where (`[0].MetricStat.Stat`, empty for the whole list) and what. */
export interface QueryProblem {
    path: string;
    message: string;
}

export type QueryCheck = { queries: MetricDataQuery[]; problems: [] } | { queries?: undefined; problems: QueryProblem[] };

/** The queries of a rendered `cloudwatch` template query, or every problem with its path. */
export function parseMetricDataQueries(text: string): QueryCheck {
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch (error) {
        return { problems: [{ path: "", message: `is not JSON (a list of CloudWatch MetricDataQuery objects): ${(error as Error).message}` }] };
    }
    const problems = checkQueries(parsed);
    return problems.length === 0 ? { queries: parsed as MetricDataQuery[], problems: [] } : { problems };
}

/**
 * The template text with each `{{ ... }}` action replaced by a value of the right JSON kind for where it
 * stands (`"x"` inside a string, `0` outside), so the template's structure can be checked before rendering.
 */
export function withPlaceholders(template: string): string {
    let output = "";
    let inString = false;
    for (let i = 0; i < template.length; i++) {
        const char = template[i];
        if (template.startsWith("{{", i)) {
            const end = template.indexOf("}}", i + 2);
            if (end < 0) {
                return output + template.slice(i);
            }
            output += inString ? "x" : "0";
            i = end + 1;
            continue;
        }
        if (inString && char === "\\") {
            output += template.slice(i, i + 2);
            i++;
            continue;
        }
        if (char === '"') {
            inString = !inString;
        }
        output += char;
    }
    return output;
}

/** The query whose result Flagger reads (the first returned): the first whose `ReturnData` is not false. */
/** Problems as one line: `[0].MetricStat.Stat must name a statistic ...; ...`. */
export function describeProblems(problems: QueryProblem[]): string {
    return problems.map((p) => `${p.path} ${p.message}`.trim()).join("; ");
}

export function returnedQuery(queries: MetricDataQuery[]): MetricDataQuery | undefined {
    return queries.find((q) => q.ReturnData !== false);
}

function checkQueries(value: unknown): QueryProblem[] {
    const problems: QueryProblem[] = [];
    const fail = (path: string, message: string) => problems.push({ path, message });
    if (!Array.isArray(value)) {
        return [{ path: "", message: `must be a JSON list of CloudWatch MetricDataQuery objects, got ${kind(value)}` }];
    }
    if (value.length === 0 || value.length > MAX_QUERIES) {
        return [{ path: "", message: `must hold 1 to ${MAX_QUERIES} MetricDataQuery objects, got ${value.length}` }];
    }
    const ids = new Set<string>();
    value.forEach((query, i) => {
        const at = `[${i}]`;
        if (!isObject(query)) {
            fail(at, `must be a MetricDataQuery object, got ${kind(query)}`);
            return;
        }
        unknownKeys(at, query, "MetricDataQuery", QUERY_FIELDS, fail);
        if (typeof query.Id !== "string" || !ID.test(query.Id)) {
            fail(`${at}.Id`, `must start with a lower-case letter and hold only letters, digits and _, got ${show(query.Id)}`);
        } else if (ids.has(query.Id)) {
            fail(`${at}.Id`, `repeats the Id ${show(query.Id)}; each query needs its own`);
        } else {
            ids.add(query.Id);
        }
        if ((query.Expression === undefined) === (query.MetricStat === undefined)) {
            fail(at, "needs exactly one of Expression (metric math) and MetricStat (one metric)");
        }
        if (query.Expression !== undefined && (typeof query.Expression !== "string" || query.Expression.trim() === "")) {
            fail(`${at}.Expression`, `must be a non-empty string, got ${show(query.Expression)}`);
        }
        if (query.MetricStat !== undefined) {
            checkMetricStat(`${at}.MetricStat`, query.MetricStat, fail);
        }
        for (const key of ["Label", "AccountId"]) {
            if (query[key] !== undefined && typeof query[key] !== "string") {
                fail(`${at}.${key}`, `must be a string, got ${show(query[key])}`);
            }
        }
        if (query.ReturnData !== undefined && typeof query.ReturnData !== "boolean") {
            fail(`${at}.ReturnData`, `must be true or false, got ${show(query.ReturnData)}`);
        }
        if (query.Period !== undefined) {
            checkPeriod(`${at}.Period`, query.Period, fail);
        }
    });
    if (problems.length === 0 && returnedQuery(value as MetricDataQuery[]) === undefined) {
        fail("", "returns no data: every query sets ReturnData to false; the value read is the first query that returns data");
    }
    return problems;
}

function checkMetricStat(at: string, stat: unknown, fail: (path: string, message: string) => void): void {
    if (!isObject(stat)) {
        fail(at, `must be an object with Metric, Period and Stat, got ${kind(stat)}`);
        return;
    }
    unknownKeys(at, stat, "MetricStat", METRIC_STAT_FIELDS, fail);
    checkPeriod(`${at}.Period`, stat.Period, fail);
    if (typeof stat.Stat !== "string" || stat.Stat.trim() === "") {
        fail(`${at}.Stat`, `must name a statistic (Sum, Average, p99, ...), got ${show(stat.Stat)}`);
    }
    if (stat.Unit !== undefined && !(CLOUDWATCH_UNITS as readonly unknown[]).includes(stat.Unit)) {
        fail(`${at}.Unit`, `must be one of ${CLOUDWATCH_UNITS.join(", ")}, got ${show(stat.Unit)}`);
    }
    const metric = stat.Metric;
    if (!isObject(metric)) {
        fail(`${at}.Metric`, `must be an object with Namespace, MetricName and Dimensions, got ${kind(metric)}`);
        return;
    }
    unknownKeys(`${at}.Metric`, metric, "Metric", METRIC_FIELDS, fail);
    for (const key of ["Namespace", "MetricName"]) {
        if (typeof metric[key] !== "string" || (metric[key] as string).trim() === "") {
            fail(`${at}.Metric.${key}`, `must be a non-empty string, got ${show(metric[key])}`);
        }
    }
    if (metric.Dimensions === undefined) {
        return;
    }
    if (!Array.isArray(metric.Dimensions) || metric.Dimensions.length > MAX_DIMENSIONS) {
        fail(`${at}.Metric.Dimensions`, `must be a list of at most ${MAX_DIMENSIONS} {Name, Value} objects, got ${show(metric.Dimensions)}`);
        return;
    }
    metric.Dimensions.forEach((dimension: unknown, j: number) => {
        const path = `${at}.Metric.Dimensions[${j}]`;
        if (!isObject(dimension)) {
            fail(path, `must be a {Name, Value} object, got ${kind(dimension)}`);
            return;
        }
        unknownKeys(path, dimension, "Dimension", DIMENSION_FIELDS, fail);
        for (const key of DIMENSION_FIELDS) {
            if (typeof dimension[key] !== "string" || (dimension[key] as string) === "") {
                fail(`${path}.${key}`, `must be a non-empty string, got ${show(dimension[key])}`);
            }
        }
    });
}

function checkPeriod(at: string, period: unknown, fail: (path: string, message: string) => void): void {
    if (typeof period !== "number" || !Number.isInteger(period) || period < 1 || (!SHORT_PERIODS.includes(period) && period % 60 !== 0)) {
        fail(at, `must be a period in seconds: ${SHORT_PERIODS.join(", ")} or a multiple of 60, got ${show(period)}`);
    }
}

function unknownKeys(at: string, value: Record<string, unknown>, type: string, known: string[], fail: (path: string, message: string) => void): void {
    for (const key of Object.keys(value)) {
        if (!known.includes(key)) {
            fail(`${at}.${key}`, `is not a known field of ${type}; allowed: ${known.join(", ")}`);
        }
    }
}

function isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

function kind(value: unknown): string {
    return Array.isArray(value) ? "a list" : value === null ? "null" : typeof value === "object" ? "an object" : `${typeof value} ${show(value)}`;
}

function show(value: unknown): string {
    return value === undefined ? "nothing" : JSON.stringify(value);
}
