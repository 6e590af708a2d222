/**
 * The names Flagger gives the objects of one Canary (`GetServiceNames` and the workload names), in one place so
 * that Deployments, Services, VirtualNodes and routers always agree.
 */
import { CanarySpec, apexName } from "./canary";
import { DNS_LABEL } from "./failures";

/** Label key that tells primary pods from canary pods (the first of Flagger's `-selector-labels`). */
export const SELECTOR_LABEL = "app";

const PRIMARY_SUFFIX = "-primary";

/** The primary copy of a Deployment, ConfigMap or Secret, or the primary side's Service: `<name>-primary`. */
export function primaryName(name: string): string {
    return `${name}${PRIMARY_SUFFIX}`;
}

/** Longest name whose `-primary` / `-canary` objects still fit a 63-character DNS label. */
export const MAX_BASE_NAME = 63 - PRIMARY_SUFFIX.length;

/** Services of the two sides a router splits traffic between (App Mesh VirtualNodes of the same names). */
export interface RouterNodes {
    primary: string;
    canary: string;
}

export function routerNodes(apex: string): RouterNodes {
    return { primary: primaryName(apex), canary: `${apex}-canary` };
}

export interface CanaryNames {
    /** Target Deployment and Canary name, e.g. `podinfo`; canary pods carry `app: <target>`. */
    target: string;
    /** Primary Deployment, `<target>-primary`; primary pods carry `app: <target>-primary`. */
    primary: string;
    /** Apex Service, VirtualRouter and VirtualService: `service.name` or the target name. */
    apex: string;
    /** `<apex>-primary` and `<apex>-canary`: Services and VirtualNodes of each side. */
    nodes: RouterNodes;
    /** Router and VirtualService serving only the canary: `<apex>-canary`. */
    canaryRouter: string;
}

export function canaryNames(target: string, spec: CanarySpec): CanaryNames {
    if (!DNS_LABEL.test(target) || target.length > MAX_BASE_NAME) {
        throw new Error(`Canary name ${JSON.stringify(target)} must be a DNS label of at most ${MAX_BASE_NAME} characters: ` +
            "it names the target Deployment and, with -primary, the primary one");
    }
    const apex = apexName(spec, target);
    return { target, primary: primaryName(target), apex, nodes: routerNodes(apex), canaryRouter: `${apex}-canary` };
}

/** Pod labels (and Deployment selector) of each side. */
export function podSelector(names: CanaryNames, side: "primary" | "canary"): Record<string, string> {
    return { [SELECTOR_LABEL]: side === "primary" ? names.primary : names.target };
}

/** The cluster DNS name of a Service, as App Mesh service discovery wants it (fully qualified, trailing dot). */
export function serviceHostname(service: string, namespace: string): string {
    return `${service}.${namespace}.svc.cluster.local.`;
}
