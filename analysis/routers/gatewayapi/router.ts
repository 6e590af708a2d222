/**
 * The Gateway API v1 router (Flagger's `gatewayapi:v1`): weights on the apex HTTPRoute's first rule, the HTTP
 * observer's metrics of the canary pods. For VPC Lattice Gateways its rules must also fit Lattice's limits.
 */
import { containsUnknown } from "../../spec/failures";
import { routerNodes } from "../../spec/names";
import { restingRouteFailures } from "../resting-check";
import type { Router } from "../router";
import type { GatewayApiRouterInput } from "./input";
import { KubeHTTPRoute } from "./kube-route";
import { latticeProblems } from "./lattice";
import { HTTP_QUERIES } from "./queries";
import { readWeights } from "./routes";

export const gatewayApiRouter: Router<GatewayApiRouterInput> = {
    kind: "gatewayapi",

    port(input, { access, target }) {
        return new KubeHTTPRoute({ access, namespace: target.namespace, name: target.service, restingSpec: input.route });
    },

    builtinQueries: HTTP_QUERIES,

    check(input, target) {
        if (containsUnknown(input.route) || containsUnknown(target.service)) {
            return [];
        }
        const failures = restingRouteFailures("router.route", "the apex route", () => readWeights(input.route, target.service, routerNodes(target.service)));
        if ((input.route.parentRefs ?? []).length === 0) {
            failures.push({ property: "router.route.parentRefs", reason: "must name at least one Gateway (service.gatewayRefs)" });
        }
        if (input.lattice === true) {
            failures.push(...latticeProblems(input.route).map(({ path, message }) => ({ property: `router.route.${path}`, reason: message })));
        }
        return failures;
    },
};
