/**
 * Whether the Analysis may be created. `create` promotes its inputs without analysis, which is right for a
 * first deployment (no primary yet: Pulumi creates it from the Analysis outputs) and over a primary that
 * already runs this revision (the Analysis created again after `pulumi state delete`). Over a primary on
 * another revision, which is what `pulumi up --replace` of the Analysis meets, it would promote without analysis.
 */
import { canaryId } from "../engine/messages";
import { REVISION_ANNOTATION } from "../spec/annotations";
import type { CanaryTarget } from "../spec/canary";
import { primaryName } from "../spec/names";

/** The live primary Deployment: the revision its annotation records, if any. */
export interface LivePrimary {
    revision?: string;
}

/** Why the Analysis of `revision` must not be created over `primary` (undefined: there is none), or undefined when it may. */
export function bootstrapRefusal(target: CanaryTarget, revision: string, primary: LivePrimary | undefined): string | undefined {
    if (primary === undefined || primary.revision === revision) {
        return undefined;
    }
    const deployment = `Deployment ${target.namespace}/${primaryName(target.name)}`;
    const runs = primary.revision ? `runs revision ${primary.revision}` : `carries no ${REVISION_ANNOTATION} annotation (it was deployed before this check)`;
    const adopt = primary.revision
        ? `deploy the revision it runs first (its image and config), then ${revision}`
        : `and it runs the canary's current template and config, annotate it first: kubectl annotate deployment -n ${target.namespace} ${primaryName(target.name)} ${REVISION_ANNOTATION}=${revision}`;
    return (
        `the Analysis of ${canaryId(target)} cannot be created over ${deployment}, which ${runs}: creating it would promote revision ${revision} without analysis. ` +
        `If this is \`pulumi up --replace\` of the Analysis, run \`pulumi up\` without --replace: its update analyses ${revision}. ` +
        `If the Analysis was removed from the stack's state (\`pulumi state delete\`), ${adopt}. Nothing was changed.`
    );
}
