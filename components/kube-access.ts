/**
 * How the analysis reaches the cluster when the stack does not create it: the same kubeconfig and context
 * the default Kubernetes provider reads from stack config (`kubernetes:kubeconfig`, `kubernetes:context`), so
 * Pulumi and the analysis always talk to one cluster. Unset: the analysis falls back to `KUBECONFIG`, as the
 * provider does.
 */
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";

export interface KubeAccessConfig {
    /** Kubeconfig contents (a path in config is read here), kept secret. */
    kubeconfig?: pulumi.Output<string>;
    context?: string;
}

/** `kubernetes:kubeconfig` holds either the kubeconfig itself or a path to it, as the provider accepts. */
export function kubeconfigContents(value: string, readFile: (path: string) => string = (p) => fs.readFileSync(p, "utf8")): string {
    const looksLikeDocument = /^\s*[{]/.test(value) || /(^|\n)\s*(apiVersion|clusters|contexts)\s*:/.test(value);
    return looksLikeDocument ? value : readFile(value.replace(/^~(?=\/)/, process.env.HOME ?? "~"));
}

/** The default Kubernetes provider's kubeconfig and context from stack config. */
export function providerKubeAccess(config: pulumi.Config = new pulumi.Config("kubernetes")): KubeAccessConfig {
    const kubeconfig = config.getSecret("kubeconfig");
    return {
        kubeconfig: kubeconfig?.apply((value) => kubeconfigContents(value)),
        context: config.get("context"),
    };
}
