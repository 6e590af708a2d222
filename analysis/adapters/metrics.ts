/**
 * The metrics port: built-in queries and inline `query` metrics against the metrics server over Prometheus'
 * HTTP API (`GET /api/v1/query`), as Flagger's Prometheus provider reads it; `templateRef` metrics against
 * their template's provider: a Prometheus (with its bearer token, basic auth, headers, or AWS SigV4 for Amazon
 * Managed Service for Prometheus) or CloudWatch. An empty result or NaN is "no data", which the engine reports
 * differently from a failed query.
 *
 * Reading messages are Flagger's error texts (the `%v` of its events): "no values found",
 * "error response: Status 400 Bad Request: <body>", "query returned multiple values", ...
 */
import axios from "axios";
import * as path from "path";
import { describeRequestError, directEndpoint, EndpointResolver, requestDeadline, resolveRequest, truncateBody } from "./endpoints";
import { NO_VALUES_FOUND, type MetricReading, type MetricsPort, type QueryContext } from "../engine/ports";
import { builtinQuery, type BuiltinQueries, collapseWhitespace, isQueryRenderError, renderQuery, TemplateModel } from "./promql";
import { CloudWatchMetrics } from "./cloudwatch";
import { canonicalQueryUrl, sigV4Signer, type RequestSigner } from "./sigv4";
import { isBuiltinMetric, METRIC_PROVIDER_TYPES, metricInterval, parseDuration } from "../spec/canary";
import type { MetricSpec, MetricTemplateSpec, PrometheusProviderSpec } from "../spec/canary";

export const DEFAULT_PROMETHEUS_TIMEOUT_MS = 5000;
/** GetMetricData is slower than a PromQL query, and the SDK retries a throttled call within this deadline. */
export const DEFAULT_CLOUDWATCH_TIMEOUT_MS = 15_000;

export interface PrometheusMetricsOptions {
    /** The metrics server for built-in and inline metrics (`spec.metricsServer`). */
    address: string;
    /** The built-in metrics' queries, from the router (its metrics observer, as in Flagger). */
    builtinQueries: BuiltinQueries;
    /** Metric templates by name, for `templateRef` metrics. */
    templates?: Record<string, MetricTemplateSpec>;
    resolve?: EndpointResolver;
    timeoutMs?: number;
    /** The signer of a template's SigV4 settings (tests give fixed credentials); default: the SDK's credential chain. */
    signerFor?: (sigv4: NonNullable<PrometheusProviderSpec["sigv4"]>) => RequestSigner;
    /** Reads `cloudwatch` templates; default: the AWS SDK's CloudWatch client. */
    cloudWatch?: CloudWatchMetrics;
}

/** Where and how one query is sent. */
interface QueryTarget {
    address: string;
    headers: Record<string, string>;
    sign?: RequestSigner;
}

export class PrometheusMetrics implements MetricsPort {
    private readonly resolve: EndpointResolver;
    private readonly timeoutMs: number;
    /** One signer per template, so credentials are resolved once and refreshed by the SDK, not per query. */
    private readonly signers = new Map<string, RequestSigner>();
    private cloudWatch?: CloudWatchMetrics;

    constructor(private readonly opts: PrometheusMetricsOptions) {
        this.resolve = opts.resolve ?? directEndpoint;
        this.timeoutMs = opts.timeoutMs ?? DEFAULT_PROMETHEUS_TIMEOUT_MS;
        this.cloudWatch = opts.cloudWatch;
    }

    async read(metric: MetricSpec, context: QueryContext): Promise<MetricReading> {
        const model: TemplateModel = { ...context, interval: metricInterval(metric), variables: metric.templateVariables };
        let target: QueryTarget;
        let query: string;
        try {
            if (metric.templateRef) {
                const template = this.template(metric.templateRef.name);
                const provider = template.provider;
                if (provider.type === "cloudwatch") {
                    this.cloudWatch ??= new CloudWatchMetrics({ timeoutMs: DEFAULT_CLOUDWATCH_TIMEOUT_MS });
                    return await this.cloudWatch.read(provider.region, renderQuery(template.query, model), parseDuration(model.interval) ?? 60_000);
                }
                target = { address: provider.address, headers: providerHeaders(provider), sign: this.signer(metric.templateRef.name, provider) };
                query = renderQuery(template.query, model);
            } else if (metric.query) {
                target = { address: this.opts.address, headers: {} };
                query = renderQuery(metric.query, model);
            } else if (isBuiltinMetric(metric.name)) {
                target = { address: this.opts.address, headers: {} };
                query = builtinQuery(this.opts.builtinQueries, metric.name, model);
            } else {
                return { kind: "error", message: "no usable metrics template and query were configured" };
            }
        } catch (error) {
            const prefix = isQueryRenderError(error) ? "query render error: " : "";
            return { kind: "error", message: prefix + (error as Error).message };
        }
        const reading = await this.runQuery(target, query);
        // Flagger's observer truncates the P99 to whole milliseconds (`time.Duration(int64(value))`).
        if (reading.kind === "value" && !metric.templateRef && !metric.query && metric.name === "request-duration") {
            return { kind: "value", value: Math.trunc(reading.value) };
        }
        return reading;
    }

    private template(name: string): MetricTemplateSpec {
        const template = this.opts.templates?.[name];
        if (!template) {
            const known = Object.keys(this.opts.templates ?? {});
            throw new Error(`metric template "${name}" not found (${known.length > 0 ? `defined: ${known.join(", ")}` : "no metric templates defined"})`);
        }
        const type = template.provider.type ?? "prometheus";
        if (!(METRIC_PROVIDER_TYPES as readonly string[]).includes(type)) {
            throw new Error(`metric template "${name}" provider type "${type}" is not supported: use ${METRIC_PROVIDER_TYPES.join(" or ")}`);
        }
        return template;
    }

    private signer(name: string, provider: PrometheusProviderSpec): RequestSigner | undefined {
        if (!provider.sigv4) {
            return undefined;
        }
        let signer = this.signers.get(name);
        if (!signer) {
            signer = (this.opts.signerFor ?? sigV4Signer)(provider.sigv4);
            this.signers.set(name, signer);
        }
        return signer;
    }

    private async runQuery(target: QueryTarget, query: string): Promise<MetricReading> {
        let url: string;
        try {
            url = queryUrl(target.address, collapseWhitespace(query));
        } catch {
            return { kind: "error", message: "prometheus address is not a valid URL" };
        }
        if (target.sign) {
            url = canonicalQueryUrl(url);
        }
        const urls = [url, target.address];
        try {
            const request = await resolveRequest(this.resolve, url, target.headers);
            urls.push(request.url);
            if (target.sign) {
                // The signature covers the host and path the request reaches: a cluster service reached through
                // the API server's proxy would be signed for the wrong host and carry two credentials.
                if (request.url !== url) {
                    return { kind: "error", message: "sigv4 needs an address reached directly (an AWS endpoint), not a cluster service reached through the API server" };
                }
                try {
                    request.headers = await target.sign(request.url, request.headers as Record<string, string>);
                } catch (error) {
                    return { kind: "error", message: `sigv4 signing failed: ${(error as Error).message}` };
                }
            }
            const response = await axios.request<string>({
                ...request,
                method: "GET",
                ...requestDeadline(this.timeoutMs),
                responseType: "text",
                transformResponse: (data) => data,
                validateStatus: () => true,
            });
            const body = typeof response.data === "string" ? response.data : String(response.data ?? "");
            if (response.status >= 400) {
                return { kind: "error", message: `error response: Status ${response.status} ${response.statusText}: ${truncateBody(body)}` };
            }
            return parseQueryResponse(body);
        } catch (error) {
            return { kind: "error", message: `request failed: ${describeRequestError(error, this.timeoutMs, urls)}` };
        }
    }
}

/** `<address>/api/v1/query?query=...`, keeping a path prefix of the address (a proxy path, for one). */
export function queryUrl(address: string, query: string): string {
    const url = new URL(address);
    url.pathname = path.posix.join(url.pathname, "api/v1/query");
    url.search = new URLSearchParams({ query }).toString();
    return url.toString();
}

/** Flagger's credentials order: a bearer token, else basic auth from username and password; headers as given. */
export function providerHeaders(provider: PrometheusProviderSpec): Record<string, string> {
    const headers: Record<string, string> = { ...provider.headers };
    if (provider.token) {
        headers.Authorization = `Bearer ${provider.token}`;
    } else if (provider.username && provider.password) {
        headers.Authorization = `Basic ${Buffer.from(`${provider.username}:${provider.password}`).toString("base64")}`;
    }
    return headers;
}

/**
 * One value from a `/api/v1/query` answer: a scalar, or the last series of a vector (Flagger's rule). A
 * matrix is an error; no series or NaN is "no data".
 */
export function parseQueryResponse(body: string): MetricReading {
    let parsed: { status?: string; error?: string; data?: { resultType?: string; result?: unknown } };
    try {
        parsed = JSON.parse(body);
    } catch (error) {
        return { kind: "error", message: `error unmarshaling result: ${(error as Error).message}, '${truncateBody(body)}'` };
    }
    if (parsed.status === "error") {
        return { kind: "error", message: `error response: ${parsed.error ?? truncateBody(body)}` };
    }
    const data = parsed.data ?? {};
    let sample: unknown;
    switch (data.resultType) {
        case "scalar":
            sample = data.result;
            break;
        case "vector": {
            const series = Array.isArray(data.result) ? data.result : [];
            sample = series.length > 0 ? (series[series.length - 1] as { value?: unknown }).value : undefined;
            break;
        }
        case "matrix":
            return { kind: "error", message: "query returned multiple values" };
        default:
            return { kind: "error", message: `unexpected result type ${JSON.stringify(data.resultType)} in '${truncateBody(body)}'` };
    }
    if (sample === undefined) {
        return { kind: "no-data", message: NO_VALUES_FOUND };
    }
    const text = Array.isArray(sample) ? sample[1] : undefined;
    const value = typeof text === "string" ? parsePrometheusFloat(text) : undefined;
    if (value === undefined) {
        return { kind: "error", message: `invalid sample value ${JSON.stringify(text)} in '${truncateBody(body)}'` };
    }
    return Number.isNaN(value) ? { kind: "no-data", message: NO_VALUES_FOUND } : { kind: "value", value };
}

/** Prometheus' float text ("1.5", "NaN", "+Inf", "-Inf", "1e+06"). */
function parsePrometheusFloat(text: string): number | undefined {
    switch (text) {
        case "NaN":
            return NaN;
        case "+Inf":
            return Infinity;
        case "-Inf":
            return -Infinity;
    }
    const value = Number(text);
    return text.trim() === "" || Number.isNaN(value) ? undefined : value;
}
