/** The App Mesh v1beta2 router: weights on the apex VirtualRouter's first route, Envoy metrics of the canary pods. */
import { RESTING_WEIGHTS } from "../../engine/weights";
import { containsUnknown, type ValidationFailure } from "../../spec/failures";
import { routerNodes } from "../../spec/names";
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
        const failures: ValidationFailure[] = [];
        if (containsUnknown(input.virtualRouter) || containsUnknown(target.service)) {
            return failures;
        }
        try {
            const weights = readWeights(input.virtualRouter, target.service, routerNodes(target.service));
            if (weights.primary !== RESTING_WEIGHTS.primary || weights.canary !== RESTING_WEIGHTS.canary) {
                failures.push({
                    property: "router.virtualRouter",
                    reason: `must be the apex router at resting weights (primary ${RESTING_WEIGHTS.primary}, canary ${RESTING_WEIGHTS.canary}), got primary ${weights.primary} canary ${weights.canary}`,
                });
            }
        } catch (error) {
            failures.push({ property: "router.virtualRouter", reason: (error as Error).message });
        }
        return failures;
    },
};
