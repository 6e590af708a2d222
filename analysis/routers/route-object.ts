/** What a router's adapter needs to reach the object its weights live in, and that object, shared by the routers. */
import type { KubeAccess, RetryOptions } from "../adapters/kubernetes/client";
import { KubeCustomObject, type CustomObjectRef } from "../adapters/kubernetes/custom-object";
import { routerNodes, type RouterNodes } from "../spec/names";

export interface RouteObjectOptions<S> {
    access: KubeAccess;
    namespace: string;
    /** The apex object, e.g. `podinfo`. */
    name: string;
    /** Its spec as Pulumi declares it, at resting weights. */
    restingSpec: S;
    /** The weighted primary and canary; `<name>-primary` / `<name>-canary` by default. */
    nodes?: RouterNodes;
    fieldManager?: string;
    retry?: RetryOptions;
}

/** The object of `type` named by the options, and the weighted sides. */
export function routeObject<S>(options: RouteObjectOptions<S>, type: Omit<CustomObjectRef, "namespace" | "name">): { object: KubeCustomObject; nodes: RouterNodes } {
    const ref = { ...type, namespace: options.namespace, name: options.name };
    return {
        object: new KubeCustomObject({ access: options.access, ref, fieldManager: options.fieldManager, retry: options.retry }),
        nodes: options.nodes ?? routerNodes(options.name),
    };
}
