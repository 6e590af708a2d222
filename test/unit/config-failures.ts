import * as assert from "node:assert/strict";
import type { ValidationFailure } from "../../analysis/spec/failures";

/** Asserts one of `failures` is at `property` with a reason matching `reason`. */
export function assertFailureAt(failures: ValidationFailure[], property: string, reason: RegExp): void {
    const match = failures.find((f) => f.property === property);
    assert.ok(match, `expected a failure at ${property}, got ${JSON.stringify(failures)}`);
    assert.match(match.reason, reason);
}

/** A rule of a table of bad configs: its title, an edit that breaks a valid config, where it must fail and why. */
export type RejectionRule<T> = [title: string, edit: (config: T) => void, property: string, reason: RegExp];

/** One test per rule: the valid config, edited, fails at the rule's property with its reason. */
export function itRejects<T>(rules: RejectionRule<T>[], valid: () => T, validate: (config: T) => ValidationFailure[]): void {
    for (const [title, edit, property, reason] of rules) {
        it(`rejects: ${title} (${property})`, () => {
            const config = valid();
            edit(config);
            assertFailureAt(validate(config), property, reason);
        });
    }
}
