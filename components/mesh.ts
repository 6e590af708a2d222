/**
 * The Mesh and the namespace its sidecar injector serves: App Mesh only injects Envoy into pods of namespaces
 * the Mesh's namespaceSelector matches.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { APPMESH_API_VERSION } from "../analysis/routers/appmesh/api";

/** The label the App Mesh sidecar injector looks for on a namespace. */
export const INJECTOR_LABEL = { "appmesh.k8s.aws/sidecarInjectorWebhook": "enabled" };

export interface MeshArgs {
    /** Mesh name, e.g. `global`. */
    readonly meshName: pulumi.Input<string>;
    /** Namespace to create and enable for injection, e.g. `test`. */
    readonly namespace: pulumi.Input<string>;
}

export class Mesh extends pulumi.ComponentResource {
    public readonly mesh: k8s.apiextensions.CustomResource;
    public readonly namespace: k8s.core.v1.Namespace;
    /**
     * The namespace name, resolved only once both the namespace and the Mesh exist: objects placed in it
     * therefore wait for the mesh their pods are injected from.
     */
    public readonly namespaceName: pulumi.Output<string>;

    constructor(name: string, args: MeshArgs, opts?: pulumi.ComponentResourceOptions) {
        super("appmesh-canary:index:Mesh", name, {}, opts);
        this.mesh = new k8s.apiextensions.CustomResource(`${name}-mesh`, {
            apiVersion: APPMESH_API_VERSION,
            kind: "Mesh",
            metadata: { name: args.meshName },
            spec: { namespaceSelector: { matchLabels: INJECTOR_LABEL } },
        }, { parent: this });
        this.namespace = new k8s.core.v1.Namespace(`${name}-namespace`, {
            metadata: { name: args.namespace, labels: INJECTOR_LABEL },
        }, { parent: this });
        this.namespaceName = pulumi.all([this.namespace.metadata.name, this.mesh.metadata.name]).apply(([namespace]) => namespace);
        this.registerOutputs({ mesh: this.mesh.metadata.name, namespaceName: this.namespaceName });
    }
}
