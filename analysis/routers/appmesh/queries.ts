/** The built-in metrics of Flagger's App Mesh observer: Envoy's upstream request metrics of the canary pods. */
import { canaryPodQueries } from "../canary-pod-queries";

export const APPMESH_QUERIES = canaryPodQueries({
    requests: "envoy_cluster_upstream_rq",
    successFilter: 'envoy_response_code!~"5.*"',
    durationBuckets: "envoy_cluster_upstream_rq_time_bucket",
});
