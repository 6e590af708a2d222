/**
 * `cloudwatch` metric templates, read as Flagger's CloudWatch provider reads them: GetMetricData with the
 * rendered list of metric data queries, from 10 × the metric interval ago to now, at most 20 points, newest
 * first; the value is the newest point of the first query that returns data, and no point is "no data". The
 * AWS SDK's default credential chain where `pulumi up` runs (environment, profile, SSO, web identity / IRSA,
 * instance role) signs the calls; `AWS_ENDPOINT_URL_CLOUDWATCH` points them elsewhere as for every SDK. The
 * SDK is loaded when a CloudWatch template is first queried.
 */
import { NO_VALUES_FOUND, type MetricReading } from "../engine/ports";
import { describeProblems, parseMetricDataQueries, returnedQuery } from "../spec/cloudwatch-query";

/** Flagger's lookback: 10 × the metric interval, and at most 20 data points. */
const LOOKBACK_INTERVALS = 10;
const MAX_DATAPOINTS = 20;

type CloudWatchSdk = typeof import("@aws-sdk/client-cloudwatch");
type CloudWatchClient = import("@aws-sdk/client-cloudwatch").CloudWatchClient;

export interface CloudWatchMetricsOptions {
    /** The deadline of one GetMetricData call, its retries included. */
    timeoutMs: number;
    /** The end of the queried range instead of the clock (tests). */
    now?: () => Date;
}

export class CloudWatchMetrics {
    private readonly clients = new Map<string, Promise<CloudWatchClient>>();
    /** The SDK, loaded once: the compiled `import()` copies the module's whole namespace on every call. */
    private sdkModule?: Promise<CloudWatchSdk>;

    constructor(private readonly opts: CloudWatchMetricsOptions) {}

    /** The value of the rendered `query` (a JSON list of MetricDataQuery) in `region` over the metric interval's lookback. */
    async read(region: string, query: string, intervalMs: number): Promise<MetricReading> {
        const check = parseMetricDataQueries(query);
        if (!check.queries) {
            return { kind: "error", message: `invalid CloudWatch query: ${describeProblems(check.problems)}` };
        }
        const returned = returnedQuery(check.queries)!;
        const end = this.opts.now?.() ?? new Date();
        try {
            const [{ GetMetricDataCommand }, client] = await Promise.all([this.sdk(), this.client(region)]);
            const output = await client.send(
                new GetMetricDataCommand({
                    MetricDataQueries: check.queries,
                    StartTime: new Date(end.getTime() - LOOKBACK_INTERVALS * intervalMs),
                    EndTime: end,
                    MaxDatapoints: MAX_DATAPOINTS,
                    ScanBy: "TimestampDescending",
                }),
                { abortSignal: AbortSignal.timeout(this.opts.timeoutMs) },
            );
            const value = output.MetricDataResults?.find((r) => r.Id === returned.Id)?.Values?.[0];
            return value === undefined || Number.isNaN(value) ? { kind: "no-data", message: NO_VALUES_FOUND } : { kind: "value", value };
        } catch (error) {
            return { kind: "error", message: `CloudWatch GetMetricData in ${region} failed: ${describeAwsError(error, this.opts.timeoutMs)}` };
        }
    }

    private sdk(): Promise<CloudWatchSdk> {
        if (!this.sdkModule) {
            this.sdkModule = import("@aws-sdk/client-cloudwatch");
            this.sdkModule.catch(() => (this.sdkModule = undefined));
        }
        return this.sdkModule;
    }

    private client(region: string): Promise<CloudWatchClient> {
        let client = this.clients.get(region);
        if (!client) {
            client = this.sdk().then(({ CloudWatchClient }) => new CloudWatchClient({ region }));
            client.catch(() => this.clients.delete(region));
            this.clients.set(region, client);
        }
        return client;
    }
}

/** The service's error code and message (`AccessDeniedException: User ... is not authorized ...`); they carry no credential. */
function describeAwsError(error: unknown, timeoutMs: number): string {
    if (!(error instanceof Error)) {
        return String(error);
    }
    if (error.name === "AbortError" || error.name === "TimeoutError") {
        return `timeout of ${timeoutMs}ms exceeded`;
    }
    return error.message && error.message !== error.name ? `${error.name}: ${error.message}` : error.name;
}
