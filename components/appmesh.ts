/**
 * App Mesh routing for one Canary as Pulumi resources: VirtualNodes, VirtualRouters and VirtualServices in
 * Flagger's reconcile order, with specs from the App Mesh router's pure builders.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { APPMESH_API_VERSION } from "../analysis/routers/appmesh/api";
import { appMeshRouterInput, type AppMeshRouterInput } from "../analysis/routers/appmesh/input";
import type { VirtualRouterSpec } from "../analysis/routers/appmesh/routes";
import { apexVirtualServiceAnnotations, buildVirtualNodeSpec, buildVirtualRouterSpec, buildVirtualServiceSpec } from "../analysis/routers/appmesh/specs";
import type { CanarySpec } from "../analysis/spec/canary";
import type { CanaryNames } from "../analysis/spec/names";

export interface AppMeshRoutingArgs {
    /** Namespace of the objects (an output of the Mesh component, so they wait for the mesh). */
    readonly namespace: pulumi.Input<string>;
    /** The validated canary spec; plain, because object names and router specs derive from it. */
    readonly spec: CanarySpec;
    /** Object names of this Canary. */
    readonly names: CanaryNames;
    /** Envoy access logs of both VirtualNodes to /dev/stdout. */
    readonly accessLog?: boolean;
}

/** VirtualNodes, VirtualRouters and VirtualServices of one Canary, in Flagger's reconcile order. */
export class AppMeshRouting extends pulumi.ComponentResource {
    /** Both VirtualNodes; pods of either side must not be created before them (sidecar injection). */
    public readonly virtualNodes: k8s.apiextensions.CustomResource[];
    /** What pods wait for: the VirtualNodes. */
    public readonly podsAfter: pulumi.Resource[];
    /** The apex router at resting weights, as the analysis takes it. */
    public readonly routerInput: AppMeshRouterInput;
    public readonly apexRouter: k8s.apiextensions.CustomResource;
    public readonly canaryRouter: k8s.apiextensions.CustomResource;
    public readonly virtualServices: k8s.apiextensions.CustomResource[];
    /** The apex router's spec at resting weights: what the analysis re-applies with other weights. */
    public readonly restingApexRouterSpec: VirtualRouterSpec;

    constructor(name: string, args: AppMeshRoutingArgs, opts?: pulumi.ComponentResourceOptions) {
        super("appmesh-canary:index:AppMeshRouting", name, {}, opts);
        const { spec, names } = args;
        const apexMetadata = spec.service.apex ?? {};
        const node = (side: "primary" | "canary", dependsOn: pulumi.Resource[]) =>
            new k8s.apiextensions.CustomResource(`${name}-${side}`, {
                apiVersion: APPMESH_API_VERSION,
                kind: "VirtualNode",
                metadata: { name: names.nodes[side], namespace: args.namespace, labels: apexMetadata.labels, annotations: apexMetadata.annotations },
                spec: pulumi.output(args.namespace).apply((ns) => buildVirtualNodeSpec(spec, names, side, ns, args.accessLog)),
            }, { parent: this, dependsOn });
        const primaryNode = node("primary", []);
        const canaryNode = node("canary", [primaryNode]);
        this.virtualNodes = [primaryNode, canaryNode];
        this.podsAfter = this.virtualNodes;

        this.routerInput = appMeshRouterInput(spec, names);
        this.restingApexRouterSpec = this.routerInput.virtualRouter;
        const router = (suffix: string, routerName: string, routerSpec: VirtualRouterSpec, dependsOn: pulumi.Resource[]) =>
            new k8s.apiextensions.CustomResource(`${name}-${suffix}`, {
                apiVersion: APPMESH_API_VERSION,
                kind: "VirtualRouter",
                // The analysis re-applies spec.routes under its own field manager during a rollout; the declared
                // resting spec must still win when the program changes it.
                metadata: { name: routerName, namespace: args.namespace, annotations: { "pulumi.com/patchForce": "true" } },
                spec: routerSpec,
            }, { parent: this, dependsOn });
        const service = (suffix: string, routerName: string, dependsOn: pulumi.Resource[], annotations?: Record<string, string>) =>
            new k8s.apiextensions.CustomResource(`${name}-${suffix}`, {
                apiVersion: APPMESH_API_VERSION,
                kind: "VirtualService",
                metadata: { name: routerName, namespace: args.namespace, annotations },
                spec: buildVirtualServiceSpec(routerName),
            }, { parent: this, dependsOn });

        this.apexRouter = router("apex", names.apex, this.restingApexRouterSpec, this.virtualNodes);
        const apexService = service("apex", names.apex, [this.apexRouter], apexVirtualServiceAnnotations(spec.service));
        this.canaryRouter = router("canary", names.canaryRouter, buildVirtualRouterSpec(spec, names, "canary"), [apexService]);
        const canaryService = service("canary", names.canaryRouter, [this.canaryRouter]);
        this.virtualServices = [apexService, canaryService];

        this.registerOutputs({
            virtualNodes: this.virtualNodes.map((n) => n.metadata.name),
            apexRouter: this.apexRouter.metadata.name,
            canaryRouter: this.canaryRouter.metadata.name,
            restingApexRouterSpec: this.restingApexRouterSpec,
        });
    }
}
