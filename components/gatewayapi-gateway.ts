/**
 * A Gateway API Gateway the stack creates for its apps' routes (`gateway.className`): one HTTP listener that
 * takes routes from the stack's namespace. The GatewayClass's controller (the AWS Gateway API Controller for
 * VPC Lattice, Envoy Gateway, Istio...) runs the data plane and publishes the address.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GATEWAY_API_API_VERSION } from "../analysis/routers/gatewayapi/api";

export interface GatewayApiGatewayArgs {
    /** Namespace of the Gateway (the apps'); its listener admits routes from this namespace. */
    readonly namespace: pulumi.Input<string>;
    /** GatewayClass of the Gateway, e.g. amazon-vpc-lattice, eg or istio. */
    readonly className: pulumi.Input<string>;
    /** Port of the HTTP listener. */
    readonly port: pulumi.Input<number>;
}

/** The Gateway spec: one HTTP listener named `http` admitting routes of the Gateway's own namespace. */
export function buildGatewaySpec(className: string, port: number) {
    return {
        gatewayClassName: className,
        listeners: [{ name: "http", protocol: "HTTP", port, allowedRoutes: { namespaces: { from: "Same" } } }],
    };
}

/** `http://<address>[:port]` once the controller published one; undefined before (and under preview). */
export function gatewayApiUrl(addresses: { value?: string }[] | undefined, port: number): string | undefined {
    const address = addresses?.[0]?.value;
    return address ? `http://${address}${port === 80 ? "" : `:${port}`}` : undefined;
}

export class GatewayApiGateway extends pulumi.ComponentResource {
    public readonly gateway: k8s.apiextensions.CustomResource;
    /** The Gateway's URL once its controller publishes an address. */
    public readonly url: pulumi.Output<string | undefined>;

    constructor(name: string, args: GatewayApiGatewayArgs, opts?: pulumi.ComponentResourceOptions) {
        super("appmesh-canary:index:GatewayApiGateway", name, {}, opts);
        this.gateway = new k8s.apiextensions.CustomResource(`${name}-gateway`, {
            apiVersion: GATEWAY_API_API_VERSION,
            kind: "Gateway",
            // Pulumi waits until the controller has programmed the Gateway, so its address is an output of this update.
            metadata: { name, namespace: args.namespace, annotations: { "pulumi.com/waitFor": "condition=Programmed" } },
            spec: pulumi.all([args.className, args.port]).apply(([className, port]) => buildGatewaySpec(className, port)),
            // Named so that the controller's status becomes an output of the resource.
            status: undefined,
        }, { parent: this });
        const status = (this.gateway as unknown as { status: pulumi.Output<{ addresses?: { value?: string }[] } | undefined> }).status;
        this.url = pulumi.all([status, args.port]).apply(([live, port]) => gatewayApiUrl(live?.addresses, port));
        this.registerOutputs({ url: this.url });
    }
}
