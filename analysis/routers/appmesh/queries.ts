/** The built-in metrics of Flagger's App Mesh observer: Envoy's upstream request metrics of the canary pods. */
import type { BuiltinQueries } from "../../adapters/promql";

/** Canary pods only: a fully anchored `<target>-<rs hash>-<pod id>` leaves out `<target>-primary-<hash>-<id>`. */
const CANARY_PODS = `
    kubernetes_namespace="{{ namespace }}",
    kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"`;

/** The queries of Flagger's App Mesh observer; after whitespace collapsing the text is the same as Flagger's. */
export const APPMESH_QUERIES: BuiltinQueries = {
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
