/**
 * What the playground's stand-in Kubernetes API server serves: the few objects the analysis reads and
 * writes. The playground implements it with real processes; the Kubernetes adapter tests implement it in memory.
 */

/** A Kubernetes object as JSON (apiVersion, kind, metadata, spec, status). */
export type KubeObject = Record<string, any>;

export interface ClusterBackend {
    /** A VirtualRouter (appmesh.k8s.aws/v1beta2), or undefined when it does not exist. */
    getVirtualRouter(namespace: string, name: string): KubeObject | undefined;
    /** Store a VirtualRouter (already validated by the server) and make the data plane follow it. */
    putVirtualRouter(namespace: string, name: string, object: KubeObject): Promise<KubeObject>;
    /** A Deployment with a status that follows Kubernetes' rules (generation, observedGeneration, replicas...). */
    getDeployment(namespace: string, name: string): KubeObject | undefined;
    /** Change a Deployment's replicas (the scale subresource or a merge patch of spec.replicas). */
    scaleDeployment(namespace: string, name: string, replicas: number): Promise<KubeObject>;
    /** Base URL the API server's service proxy forwards `<ns>/services/<name>:<port>` to, if the Service exists. */
    serviceUrl(namespace: string, name: string, port: number | string): string | undefined;
}
