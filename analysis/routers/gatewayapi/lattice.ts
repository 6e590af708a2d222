/**
 * What VPC Lattice (through the AWS Gateway API Controller) cannot route: more than one match per rule, header
 * matches other than Exact or more than 5 of them, query parameter matches, regular-expression paths, and
 * weights above 999. The controller passes such rules on or rejects them at reconcile time; these checks say
 * so at `pulumi preview`. Pure.
 */
import { LATTICE_MAX_HEADER_MATCHES, LATTICE_MAX_WEIGHT } from "./api";
import type { HTTPRouteSpec } from "./routes";

export interface LatticeProblem {
    /** Under the route spec, e.g. `rules[0].matches`. */
    path: string;
    message: string;
}

export function latticeProblems(route: HTTPRouteSpec): LatticeProblem[] {
    const problems: LatticeProblem[] = [];
    route.rules.forEach((rule, i) => {
        const matches = rule.matches ?? [];
        if (matches.length > 1) {
            problems.push({ path: `rules[${i}].matches`, message: `holds ${matches.length} matches; VPC Lattice takes at most one per rule (one service.match entry, and one analysis.match entry for A/B)` });
        }
        matches.forEach((match, j) => {
            const at = `rules[${i}].matches[${j}]`;
            const headers = match.headers ?? [];
            if (headers.length > LATTICE_MAX_HEADER_MATCHES) {
                problems.push({ path: `${at}.headers`, message: `holds ${headers.length} header matches; VPC Lattice takes at most ${LATTICE_MAX_HEADER_MATCHES}` });
            }
            headers.forEach((header, k) => {
                if ((header.type ?? "Exact") !== "Exact") {
                    problems.push({ path: `${at}.headers[${k}]`, message: `matches header ${header.name} by ${header.type}; VPC Lattice takes exact header matches only` });
                }
            });
            if ((match.queryParams ?? []).length > 0) {
                problems.push({ path: `${at}.queryParams`, message: "VPC Lattice does not match query parameters" });
            }
            if (match.path?.type === "RegularExpression") {
                problems.push({ path: `${at}.path`, message: "VPC Lattice matches paths by Exact or PathPrefix only, not RegularExpression" });
            }
        });
        rule.backendRefs.forEach((ref, j) => {
            if (ref.weight > LATTICE_MAX_WEIGHT) {
                problems.push({ path: `rules[${i}].backendRefs[${j}].weight`, message: `is ${ref.weight}; VPC Lattice takes weights of 0 to ${LATTICE_MAX_WEIGHT}` });
            }
        });
    });
    return problems;
}
