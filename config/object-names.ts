/**
 * Every object name a stack's apps create, by kind, so that two apps (or an app and the stack's own gateway
 * and load tester) never claim the same Service, Deployment, VirtualNode or config in the namespace. Pure.
 */
import { canaryNames, primaryName } from "../analysis/spec/names";
import { FailureCollector } from "../analysis/spec/failures";
import { appRouterKind, type AppConfig } from "./apps";

/** One object a part of the stack creates, and the config path that names it. */
export interface ClaimedName {
    kind: string;
    name: string;
    /** Who claims it: `apps.<app>` (or a field under it), `gateway`, `loadtester`. */
    path: string;
}

/**
 * The objects of one app, as the Canary component names them (Flagger's names). `path` is the app's config
 * path, `specPath` its canary spec's (`<path>.canary`, or `.canary.spec` for a pasted manifest).
 */
export function appObjectNames(app: AppConfig, path: string, specPath: string): ClaimedName[] {
    const names = canaryNames(app.name, app.canary);
    const servicePath = app.canary.service.name ? `${specPath}.service.name` : path;
    const claim = (kind: string, at: string) => (name: string): ClaimedName => ({ kind, name, path: at });
    return [
        ...[names.target, names.primary].map(claim("Deployment", path)),
        ...(app.workload.autoscaler ? [names.target, names.primary].map(claim("HorizontalPodAutoscaler", path)) : []),
        ...[names.apex, names.nodes.primary, names.nodes.canary].map(claim("Service", servicePath)),
        ...(appRouterKind(app) === "gatewayapi"
            ? [claim("HTTPRoute", servicePath)(names.apex)]
            : [
                ...[names.nodes.primary, names.nodes.canary].map(claim("VirtualNode", servicePath)),
                ...[names.apex, names.canaryRouter].map(claim("VirtualRouter", servicePath)),
                ...[names.apex, names.canaryRouter].map(claim("VirtualService", servicePath)),
            ]),
        ...app.workload.configMaps.flatMap((c) => [c.name, primaryName(c.name)].map(claim("ConfigMap", `${path}.configMaps.${c.name}`))),
        ...app.workload.secrets.flatMap((s) => [s.name, primaryName(s.name)].map(claim("Secret", `${path}.secrets.${s.name}`))),
    ];
}

/**
 * The objects the stack's own components create beside the apps: the App Mesh gateway's Deployment and Service
 * (a Gateway API Gateway is one object; its controller names the rest), the load tester's (a mesh backend too
 * when the stack has App Mesh apps).
 */
export function sharedObjectNames(
    gateway: { name: string; gatewayApi: boolean } | undefined, loadtester: { name: string; meshNode: boolean } | undefined,
): ClaimedName[] {
    const gatewayKinds = gateway?.gatewayApi ? ["Gateway"] : ["Deployment", "Service"];
    const loadtesterKinds = loadtester?.meshNode ? ["Deployment", "Service", "VirtualNode"] : ["Deployment", "Service"];
    return [
        ...(gateway ? gatewayKinds.map((kind) => ({ kind, name: gateway.name, path: "gateway" })) : []),
        ...(loadtester ? loadtesterKinds.map((kind) => ({ kind, name: loadtester.name, path: "loadtester" })) : []),
    ];
}

/** A failure for every name claimed twice, at the later claimant's path, naming the first. */
export function checkUniqueObjectNames(c: FailureCollector, claims: ClaimedName[]): void {
    const first = new Map<string, ClaimedName>();
    const reported = new Set<string>();
    for (const claim of claims) {
        const key = `${claim.kind}/${claim.name}`;
        const owner = first.get(key);
        if (!owner) {
            first.set(key, claim);
        } else if (owner.path !== claim.path && !reported.has(`${claim.path} ${owner.path}`)) {
            reported.add(`${claim.path} ${owner.path}`);
            c.fail(claim.path, `makes ${claim.kind} ${claim.name}, which ${owner.path} makes too: every object name must be unique in the namespace`);
        }
    }
}
