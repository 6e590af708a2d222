/**
 * The App Mesh ingress gateway, as the appmesh-gateway chart installs it: a VirtualGateway, the Envoy
 * Deployment it configures, a LoadBalancer Service annotated for an NLB, and a GatewayRoute to the apex
 * VirtualService. The gateway URL is an output.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { APPMESH_API_VERSION } from "../analysis/routers/appmesh/api";
import { INJECTOR_LABEL } from "./mesh";

/** Envoy's admin/stats port; Prometheus scrapes it. */
const ENVOY_ADMIN_PORT = 9901;

export interface GatewayArgs {
    /** Namespace of the gateway (the Mesh component's `namespaceName`). */
    readonly namespace: pulumi.Input<string>;
    /** Envoy image, e.g. public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.0-prod. */
    readonly image: pulumi.Input<string>;
    /** Envoy replicas. */
    readonly replicas: pulumi.Input<number>;
    /** Port the VirtualGateway listens on (8088); the NLB forwards port 80 to it. Plain: the spec builder needs it. */
    readonly port: number;
    /** VirtualService the GatewayRoute sends every request to (the apex, e.g. `podinfo`). */
    readonly virtualService: pulumi.Input<string>;
    /** Resources the route target needs first (the apex VirtualService). */
    readonly routeAfter?: pulumi.Resource[];
}

/** Pod labels of the gateway's Envoy, matched by the VirtualGateway's podSelector. */
export function gatewayPodLabels(name: string): Record<string, string> {
    return { "app.kubernetes.io/name": name };
}

/** The VirtualGateway: an HTTP listener on `port`, serving the gateway's Envoy pods in mesh-enabled namespaces. */
export function buildVirtualGatewaySpec(name: string, port: number) {
    return {
        namespaceSelector: { matchLabels: INJECTOR_LABEL },
        podSelector: { matchLabels: gatewayPodLabels(name) },
        listeners: [{ portMapping: { port, protocol: "http" as const } }],
    };
}

/** A GatewayRoute sending every request under `prefix` to one VirtualService. */
export function buildGatewayRouteSpec(virtualService: string, prefix = "/") {
    return {
        httpRoute: {
            match: { prefix },
            action: { target: { virtualService: { virtualServiceRef: { name: virtualService } } } },
        },
    };
}

/** `http://<load balancer host>` once the NLB has an address; undefined before (and under preview). */
export function gatewayUrl(ingress: { hostname?: string; ip?: string }[] | undefined): string | undefined {
    const address = ingress?.[0]?.hostname ?? ingress?.[0]?.ip;
    return address ? `http://${address}` : undefined;
}

export class Gateway extends pulumi.ComponentResource {
    public readonly virtualGateway: k8s.apiextensions.CustomResource;
    public readonly deployment: k8s.apps.v1.Deployment;
    public readonly service: k8s.core.v1.Service;
    public readonly gatewayRoute: k8s.apiextensions.CustomResource;
    /** Public URL of the gateway (the NLB), e.g. http://a1b2.elb.eu-west-1.amazonaws.com. */
    public readonly url: pulumi.Output<string | undefined>;

    constructor(name: string, args: GatewayArgs, opts?: pulumi.ComponentResourceOptions) {
        super("appmesh-canary:index:Gateway", name, {}, opts);
        const labels = gatewayPodLabels(name);
        this.virtualGateway = new k8s.apiextensions.CustomResource(`${name}-gateway`, {
            apiVersion: APPMESH_API_VERSION,
            kind: "VirtualGateway",
            metadata: { name, namespace: args.namespace },
            spec: buildVirtualGatewaySpec(name, args.port),
        }, { parent: this });
        this.deployment = new k8s.apps.v1.Deployment(`${name}-envoy`, {
            metadata: { name, namespace: args.namespace, labels },
            spec: {
                replicas: args.replicas,
                selector: { matchLabels: labels },
                template: {
                    metadata: { labels },
                    spec: {
                        containers: [{
                            // The App Mesh injector fills in this container's Envoy bootstrap from the VirtualGateway.
                            name: "envoy",
                            image: args.image,
                            ports: [
                                { name: "http", containerPort: args.port, protocol: "TCP" },
                                { name: "stats", containerPort: ENVOY_ADMIN_PORT, protocol: "TCP" },
                            ],
                            resources: { requests: { cpu: "100m", memory: "64Mi" } },
                        }],
                    },
                },
            },
        // Injection needs the VirtualGateway to exist when the pods are created.
        }, { parent: this, dependsOn: [this.virtualGateway] });
        this.service = new k8s.core.v1.Service(`${name}-lb`, {
            metadata: {
                name,
                namespace: args.namespace,
                labels,
                annotations: { "service.beta.kubernetes.io/aws-load-balancer-type": "nlb" },
            },
            spec: {
                type: "LoadBalancer",
                selector: labels,
                ports: [{ name: "http", port: 80, targetPort: args.port, protocol: "TCP" }],
            },
        }, { parent: this });
        this.gatewayRoute = new k8s.apiextensions.CustomResource(`${name}-route`, {
            apiVersion: APPMESH_API_VERSION,
            kind: "GatewayRoute",
            metadata: { name: args.virtualService, namespace: args.namespace },
            spec: pulumi.output(args.virtualService).apply((vs) => buildGatewayRouteSpec(vs)),
        }, { parent: this, dependsOn: [this.virtualGateway, ...(args.routeAfter ?? [])] });
        this.url = this.service.status.apply((s) => gatewayUrl(s?.loadBalancer?.ingress));
        this.registerOutputs({ url: this.url });
    }
}
