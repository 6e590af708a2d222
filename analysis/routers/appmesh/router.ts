/** The App Mesh v1beta2 router: weights on the apex VirtualRouter's first route, Envoy metrics of the canary pods. */
import { containsUnknown } from "../../spec/failures";
import { routerNodes } from "../../spec/names";
import { restingRouteFailures } from "../resting-check";
import type { Router } from "../router";
import type { AppMeshRouterInput } from "./input";
import { KubeRouter } from "./kube-router";
import { APPMESH_QUERIES } from "./queries";
import { readWeights } from "./routes";

export const appMeshRouter: Router<AppMeshRouterInput> = {
    kind: "appmesh",

    port(input, { access, target }) {
        return new KubeRouter({ access, namespace: target.namespace, name: target.service, restingSpec: input.virtualRouter });
    },

    builtinQueries: APPMESH_QUERIES,

    check(input, target) {
        if (containsUnknown(input.virtualRouter) || containsUnknown(target.service)) {
            return [];
        }
        return restingRouteFailures("router.virtualRouter", "the apex router", () => readWeights(input.virtualRouter, target.service, routerNodes(target.service)));
    },
};
