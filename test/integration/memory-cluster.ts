/**
 * An in-memory `ClusterBackend` for the Kubernetes adapter and provider tests: Deployments whose status
 * follows a scale the way the Deployment controller reports it (generation, observedGeneration, replica
 * counts, Available / Progressing conditions), VirtualRouters with a history of every stored version, and
 * Services mapped to local HTTP servers.
 */
import type { ClusterBackend, KubeObject } from "../../playground/cluster-backend";

export interface MemoryDeploymentOptions {
    replicas: number;
    template?: KubeObject;
    /** Pods never become available (a crash-looping canary). */
    unhealthy?: boolean;
}

export class MemoryCluster implements ClusterBackend {
    readonly routers = new Map<string, KubeObject>();
    readonly deployments = new Map<string, KubeObject>();
    readonly unhealthy = new Set<string>();
    readonly services = new Map<string, string>();
    /** Every write, in order: `router <ns>/<name>` or `scale <ns>/<name> <replicas>`. */
    readonly writes: { kind: "router" | "scale"; key: string; object: KubeObject }[] = [];

    addDeployment(namespace: string, name: string, options: MemoryDeploymentOptions): void {
        const key = `${namespace}/${name}`;
        if (options.unhealthy) {
            this.unhealthy.add(key);
        }
        this.deployments.set(key, this.settle(key, {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name, namespace, generation: 1, resourceVersion: "1", uid: `uid-${name}` },
            spec: { replicas: options.replicas, selector: { matchLabels: { app: name } }, template: options.template ?? { metadata: { labels: { app: name } }, spec: { containers: [] } } },
        }));
    }

    addService(namespace: string, name: string, port: number | string, url: string): void {
        this.services.set(`${namespace}/${name}:${port}`, url);
    }

    /** Status the Deployment controller would report once it has acted on the current spec. */
    private settle(key: string, deployment: KubeObject): KubeObject {
        const replicas = deployment.spec.replicas;
        const available = this.unhealthy.has(key) ? 0 : replicas;
        const minimumMet = available >= replicas;
        const now = new Date().toISOString();
        deployment.status = {
            observedGeneration: deployment.metadata.generation,
            replicas,
            updatedReplicas: replicas,
            readyReplicas: available,
            availableReplicas: available,
            conditions: [
                { type: "Available", status: minimumMet ? "True" : "False", reason: minimumMet ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable", lastUpdateTime: now },
                { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable", lastUpdateTime: now },
            ],
        };
        return deployment;
    }

    weightsOf(namespace: string, name: string): { primary: number; canary: number } | undefined {
        const targets = this.routers.get(`${namespace}/${name}`)?.spec?.routes?.[0]?.httpRoute?.action?.weightedTargets;
        if (!targets) {
            return undefined;
        }
        const weight = (suffix: string) => targets.find((t: KubeObject) => t.virtualNodeRef.name.endsWith(suffix))?.weight ?? 0;
        return { primary: weight("-primary"), canary: weight("-canary") };
    }

    replicasOf(namespace: string, name: string): number | undefined {
        return this.deployments.get(`${namespace}/${name}`)?.spec?.replicas;
    }

    getVirtualRouter(namespace: string, name: string): KubeObject | undefined {
        const found = this.routers.get(`${namespace}/${name}`);
        return found && structuredClone(found);
    }

    async putVirtualRouter(namespace: string, name: string, object: KubeObject): Promise<KubeObject> {
        this.routers.set(`${namespace}/${name}`, structuredClone(object));
        this.writes.push({ kind: "router", key: `${namespace}/${name}`, object: structuredClone(object) });
        return structuredClone(object);
    }

    getDeployment(namespace: string, name: string): KubeObject | undefined {
        const found = this.deployments.get(`${namespace}/${name}`);
        return found && structuredClone(found);
    }

    async scaleDeployment(namespace: string, name: string, replicas: number): Promise<KubeObject> {
        const key = `${namespace}/${name}`;
        const deployment = this.deployments.get(key);
        if (!deployment) {
            throw new Error(`deployment ${key} not found`);
        }
        if (deployment.spec.replicas !== replicas) {
            deployment.spec.replicas = replicas;
            deployment.metadata.generation += 1;
            deployment.metadata.resourceVersion = String(Number(deployment.metadata.resourceVersion) + 1);
        }
        this.settle(key, deployment);
        this.writes.push({ kind: "scale", key, object: structuredClone(deployment) });
        return structuredClone(deployment);
    }

    serviceUrl(namespace: string, name: string, port: number | string): string | undefined {
        return this.services.get(`${namespace}/${name}:${port}`);
    }
}
