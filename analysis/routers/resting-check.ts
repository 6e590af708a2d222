/** The check every router makes of its input: the route Pulumi declares is at resting weights. Pure. */
import type { RouteWeights } from "../engine/ports";
import { RESTING_WEIGHTS } from "../engine/weights";
import type { ValidationFailure } from "../spec/failures";

/** Failures at `property` when `read` fails or reads other than resting weights; `what` names the route. */
export function restingRouteFailures(property: string, what: string, read: () => RouteWeights): ValidationFailure[] {
    let weights: RouteWeights;
    try {
        weights = read();
    } catch (error) {
        return [{ property, reason: (error as Error).message }];
    }
    if (weights.primary === RESTING_WEIGHTS.primary && weights.canary === RESTING_WEIGHTS.canary) {
        return [];
    }
    return [
        {
            property,
            reason: `must be ${what} at resting weights (primary ${RESTING_WEIGHTS.primary}, canary ${RESTING_WEIGHTS.canary}), got primary ${weights.primary} canary ${weights.canary}`,
        },
    ];
}
