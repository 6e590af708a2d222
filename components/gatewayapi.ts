/**
 * Gateway API routing for one Canary as a Pulumi resource: the apex HTTPRoute, attached to the Gateways of
 * `service.gatewayRefs`, with the primary and canary Services at resting weights. No mesh objects: the
 * Gateway's data plane moves the traffic.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GATEWAY_API_API_VERSION } from "../analysis/routers/gatewayapi/api";
import { gatewayApiRouterInput, type GatewayApiRouterInput } from "../analysis/routers/gatewayapi/input";
import type { CanarySpec } from "../analysis/spec/canary";
import type { CanaryNames } from "../analysis/spec/names";

export interface GatewayApiRoutingArgs {
    /** Namespace of the route (the Canary's). */
    readonly namespace: pulumi.Input<string>;
    /** The validated canary spec; plain, because the route derives from it. */
    readonly spec: CanarySpec;
    /** Object names of this Canary. */
    readonly names: CanaryNames;
    /** The Gateways are VPC Lattice's (GatewayClass `amazon-vpc-lattice`): the analysis keeps to Lattice's limits. */
    readonly lattice?: boolean;
    /** Resources the route waits for (a Gateway the stack creates). */
    readonly routeAfter?: pulumi.Resource[];
}

/** The apex HTTPRoute of one Canary. */
export class GatewayApiRouting extends pulumi.ComponentResource {
    public readonly httpRoute: k8s.apiextensions.CustomResource;
    /** The route at resting weights, as the analysis takes it. */
    public readonly routerInput: GatewayApiRouterInput;
    /** Pods need nothing of this router before they start (no sidecar to inject). */
    public readonly podsAfter: pulumi.Resource[] = [];

    constructor(name: string, args: GatewayApiRoutingArgs, opts?: pulumi.ComponentResourceOptions) {
        super("appmesh-canary:index:GatewayApiRouting", name, {}, opts);
        const apex = args.spec.service.apex ?? {};
        this.routerInput = gatewayApiRouterInput(args.spec, args.names, args.lattice ?? false);
        this.httpRoute = new k8s.apiextensions.CustomResource(`${name}-route`, {
            apiVersion: GATEWAY_API_API_VERSION,
            kind: "HTTPRoute",
            // The analysis re-applies spec.rules under its own field manager during a rollout; the declared resting
            // spec must still win when the program changes it.
            metadata: {
                name: args.names.apex,
                namespace: args.namespace,
                labels: apex.labels,
                annotations: { ...apex.annotations, "pulumi.com/patchForce": "true" },
            },
            spec: this.routerInput.route,
        }, { parent: this, dependsOn: args.routeAfter ?? [] });
        this.registerOutputs({ httpRoute: this.httpRoute.metadata.name, routerInput: this.routerInput });
    }
}
