/**
 * The stack's namespace when no app routes through App Mesh: a plain namespace, no injector label. It takes over
 * the namespace a former Mesh component created (same logical name, aliased type), so a stack whose last App
 * Mesh app moved to the Gateway API keeps its namespace and everything in it.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export interface StackNamespaceArgs {
    /** Namespace to create, e.g. `test`. */
    readonly namespace: pulumi.Input<string>;
}

export class StackNamespace extends pulumi.ComponentResource {
    public readonly namespace: k8s.core.v1.Namespace;
    /** The namespace name, once it exists. */
    public readonly namespaceName: pulumi.Output<string>;

    constructor(name: string, args: StackNamespaceArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("appmesh-canary:index:StackNamespace", name, {}, { ...opts, aliases: [...(opts.aliases ?? []), { type: "appmesh-canary:index:Mesh" }] });
        this.namespace = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: args.namespace } }, { parent: this });
        this.namespaceName = this.namespace.metadata.name;
        this.registerOutputs({ namespaceName: this.namespaceName });
    }
}
