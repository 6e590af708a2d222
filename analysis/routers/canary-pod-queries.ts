/**
 * The shape of Flagger's observer queries over the canary pods' own request metrics: the success rate from a
 * request counter and a filter of the non-5xx ones, the P99 from a latency histogram. Each router's observer
 * names its metrics; the text is laid out so that, whitespace collapsed, it is Flagger's.
 */
import type { BuiltinQueries } from "../adapters/promql";

/** Canary pods only: a fully anchored `<target>-<rs hash>-<pod id>` leaves out `<target>-primary-<hash>-<id>`. */
const CANARY_PODS = `
    kubernetes_namespace="{{ namespace }}",
    kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"`;

export interface ObserverMetrics {
    /** The request counter, e.g. `envoy_cluster_upstream_rq`. */
    requests: string;
    /** The label filter of successful requests, e.g. `envoy_response_code!~"5.*"`. */
    successFilter: string;
    /** The latency histogram's buckets, e.g. `envoy_cluster_upstream_rq_time_bucket`. */
    durationBuckets: string;
    /** Appended to the P99 to make it milliseconds, e.g. ` * 1000` for a histogram in seconds. */
    toMilliseconds?: string;
}

export function canaryPodQueries(metrics: ObserverMetrics): BuiltinQueries {
    return {
        "request-success-rate": `
sum(
  rate(
    ${metrics.requests}{${CANARY_PODS},
      ${metrics.successFilter}
    }[{{ interval }}]
  )
)
/
sum(
  rate(
    ${metrics.requests}{${CANARY_PODS}
    }[{{ interval }}]
  )
)
* 100`,
        "request-duration": `
histogram_quantile(
  0.99,
  sum(
    rate(
      ${metrics.durationBuckets}{${CANARY_PODS}
      }[{{ interval }}]
    )
  ) by (le)
)${metrics.toMilliseconds ?? ""}`,
    };
}
