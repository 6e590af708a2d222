/**
 * The built-in metrics of Flagger's HTTP observer, which serves the Gateway API router: the app's own
 * `http_request_duration_seconds` histogram (podinfo's, with its `status` label) on the canary pods. Flagger
 * turns the P99's seconds into milliseconds; here the query does.
 */
import { canaryPodQueries } from "../canary-pod-queries";

export const HTTP_QUERIES = canaryPodQueries({
    requests: "http_request_duration_seconds_count",
    successFilter: 'status!~"5.*"',
    durationBuckets: "http_request_duration_seconds_bucket",
    toMilliseconds: " * 1000",
});
