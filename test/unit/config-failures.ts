import * as assert from "node:assert/strict";
import type { ValidationFailure } from "../../analysis/spec/failures";

/** Asserts one of `failures` is at `property` with a reason matching `reason`. */
export function assertFailureAt(failures: ValidationFailure[], property: string, reason: RegExp): void {
    const match = failures.find((f) => f.property === property);
    assert.ok(match, `expected a failure at ${property}, got ${JSON.stringify(failures)}`);
    assert.match(match.reason, reason);
}
