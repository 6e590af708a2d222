/**
 * What the playground reads of a canary's routing, whichever router its spec names: the router input the
 * providers get, the built-in queries of its metrics observer, the apex route's weights after each change the
 * data plane took up, the user requests the apex route served with the canary weight of the rule that took
 * each, and the live route's weights. App Mesh reads the mesh data plane; the Gateway API the Gateway's.
 */
import type { BuiltinQueries } from "../analysis/adapters/promql";
import { appMeshRouterInput } from "../analysis/routers/appmesh/input";
import { readWeights as readRouterWeights, type VirtualRouterSpec } from "../analysis/routers/appmesh/routes";
import { GATEWAY_API_GROUP, GATEWAY_API_VERSION } from "../analysis/routers/gatewayapi/api";
import { gatewayApiRouterInput } from "../analysis/routers/gatewayapi/input";
import { readWeights as readRouteWeights, type HTTPRouteSpec } from "../analysis/routers/gatewayapi/routes";
import { routerFor, routerKindOfSpec } from "../analysis/routers/factory";
import type { RouterInput } from "../analysis/routers/router";
import type { TrafficRow, WeightSample } from "../analysis/report/report";
import { routerNodes } from "../analysis/spec/names";
import type { AccessLogEntry } from "./mesh-router";
import type { InstalledCanary, Playground } from "./playground";

export interface RouterView {
    input: RouterInput;
    queries: BuiltinQueries;
    /** The apex route's weights after every change the data plane took up, since `since`. */
    weightHistory(since: number): WeightSample[];
    /** The apex route's user requests since `since`, by rule and the canary weight it had then. */
    traffic(since: number): TrafficRow[];
    /** The requests the apex route served since `since`. */
    served(since: number): AccessLogEntry[];
    /** The live route's primary and canary weights, e.g. `podinfo-primary 100, podinfo-canary 0`. */
    describeLive(): Promise<string>;
    /** The live route's spec. */
    live(): Promise<Record<string, any>>;
}

/** Requests grouped by a label of the rule that took them and that rule's canary weight then, with how many the canary served. */
export function trafficRows(entries: AccessLogEntry[], ruleOf: RuleOf, canaryNode: string): TrafficRow[] {
    const rows = new Map<string, TrafficRow>();
    for (const entry of entries) {
        const rule = ruleOf(entry);
        if (!rule) {
            continue;
        }
        const key = `${rule.label}\u0000${rule.canaryWeight}`;
        const row = rows.get(key) ?? { route: rule.label, canaryWeight: rule.canaryWeight, requests: 0, toCanary: 0 };
        row.requests += 1;
        row.toCanary += entry.virtualNode === canaryNode ? 1 : 0;
        rows.set(key, row);
    }
    return [...rows.values()];
}

/** The spec in force at `time` among changes in time order. */
function specAt<T>(changes: { time: number; spec: T }[], time: number): T | undefined {
    return changes.filter((c) => c.time <= time).pop()?.spec;
}

type RuleOf = (entry: AccessLogEntry) => { label: string; canaryWeight: number } | undefined;

/** The App Mesh route that took a request (named in the access log) and its canary weight then. */
export function appMeshRuleOf(changes: { time: number; spec: VirtualRouterSpec }[], canaryNode: string): RuleOf {
    return (entry) => {
        const route = specAt(changes, entry.time)?.routes.find((r) => r.name === entry.route);
        return route ? { label: route.name, canaryWeight: route.httpRoute.action.weightedTargets.find((t) => t.virtualNodeRef.name === canaryNode)?.weight ?? 0 } : undefined;
    };
}

/** The HTTPRoute rule that took a request (`<namespace>/<name>#<index>` in the access log, `<name> rule <index>` in reports) and its canary weight then. */
export function gatewayRuleOf(changes: { time: number; spec: HTTPRouteSpec }[], routeName: string, canaryNode: string): RuleOf {
    return (entry) => {
        const index = Number(entry.route?.split("#")[1]);
        const rule = specAt(changes, entry.time)?.rules[index];
        return rule ? { label: `${routeName} rule ${index}`, canaryWeight: rule.backendRefs.find((b) => b.name === canaryNode)?.weight ?? 0 } : undefined;
    };
}

export function routerView(pg: Playground, canary: InstalledCanary): RouterView {
    const kind = routerKindOfSpec(canary.spec);
    const nodes = routerNodes(canary.names.apex);
    const queries = routerFor(kind)!.builtinQueries;
    const describe = (weights: { primary: number; canary: number }) => `${nodes.primary} ${weights.primary}, ${nodes.canary} ${weights.canary}`;
    if (kind === "gatewayapi") {
        const gateways = pg.cluster.gateways!;
        const routeKey = `${canary.namespace}/${canary.names.apex}`;
        const changes = () => gateways.routeChanges.filter((c) => c.namespace === canary.namespace && c.name === canary.names.apex);
        const served = (since: number) => gateways.accessLog.filter((e) => e.time >= since && e.route?.startsWith(`${routeKey}#`));
        const live = () => pg.customObject(GATEWAY_API_GROUP, GATEWAY_API_VERSION, "httproutes", canary.namespace, canary.names.apex);
        return {
            input: gatewayApiRouterInput(canary.spec, canary.names),
            queries,
            weightHistory: (since) => changes().filter((c) => c.time >= since).map((c) => ({ time: c.time, ...readRouteWeights(c.spec, canary.names.apex, nodes) })),
            served,
            traffic: (since) => trafficRows(served(since), gatewayRuleOf(changes(), canary.names.apex, nodes.canary), nodes.canary),
            live,
            describeLive: async () => describe(readRouteWeights((await live()).spec, canary.names.apex, nodes)),
        };
    }
    const changes = () => pg.cluster.mesh.routeChanges.filter((c) => c.namespace === canary.namespace && c.name === canary.names.apex);
    const host = `${canary.names.apex}.${canary.namespace}:${canary.spec.service.port}`;
    const served = (since: number) => pg.cluster.mesh.accessLog.filter((e) => e.host === host && e.time >= since);
    const live = () => pg.virtualRouter(canary.namespace, canary.names.apex);
    return {
        input: appMeshRouterInput(canary.spec, canary.names),
        queries,
        weightHistory: (since) => changes().filter((c) => c.time >= since).map((c) => ({ time: c.time, ...readRouterWeights(c.spec, canary.names.apex, nodes) })),
        served,
        traffic: (since) => trafficRows(served(since), appMeshRuleOf(changes(), nodes.canary), nodes.canary),
        live,
        describeLive: async () => {
            const router = await live();
            return (router.spec.routes[0].httpRoute.action.weightedTargets ?? []).map((t: { virtualNodeRef: { name: string }; weight: number }) => `${t.virtualNodeRef.name} ${t.weight}`).join(", ");
        },
    };
}
