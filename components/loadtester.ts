/**
 * flagger-loadtester, as its chart installs it: Deployment and Service (80 → 8080), and on App Mesh a VirtualNode
 * whose backends let it call the apex and `-canary` services. It speaks Flagger's webhook protocol.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { APPMESH_API_VERSION } from "../analysis/routers/appmesh/api";
import { buildBackends } from "../analysis/routers/appmesh/specs";
import { SELECTOR_LABEL, serviceHostname } from "../analysis/spec/names";

const LOADTESTER_PORT = 8080;
/** Envoy listener port of the node; the chart declares 444 so Envoy does not intercept the webhook port 8080. */
const MESH_LISTENER_PORT = 444;

const HEALTH_PROBE = {
    exec: { command: ["wget", "--quiet", "--tries=1", "--timeout=4", "--spider", `http://localhost:${LOADTESTER_PORT}/healthz`] },
    timeoutSeconds: 5,
};

export interface LoadTesterArgs {
    /** Namespace (the Mesh component's `namespaceName`). */
    readonly namespace: pulumi.Input<string>;
    /** Load tester image, e.g. ghcr.io/fluxcd/flagger-loadtester:0.34.0. */
    readonly image: pulumi.Input<string>;
    /** Load tester replicas. */
    readonly replicas: pulumi.Input<number>;
    /** App Mesh virtual services the load tests call (the apex and `-canary` services); leave out in a stack without App Mesh, and no VirtualNode is made. */
    readonly backends?: string[];
    /** Resources the backends need first (the Canary's routing, which declares those virtual services). */
    readonly backendsAfter?: pulumi.Resource[];
}

/** Pod labels of the load tester, as its chart sets them (`app: loadtester`). */
export function loadTesterPodLabels(): Record<string, string> {
    return { [SELECTOR_LABEL]: "loadtester" };
}

/** The load tester's VirtualNode: Envoy on the chart's port 444, access log, and the services it may call. */
export function buildLoadTesterNodeSpec(name: string, namespace: string, backends: string[]) {
    return {
        podSelector: { matchLabels: loadTesterPodLabels() },
        listeners: [{ portMapping: { port: MESH_LISTENER_PORT, protocol: "http" as const } }],
        serviceDiscovery: { dns: { hostname: serviceHostname(name, namespace) } },
        backends: buildBackends(backends),
        logging: { accessLog: { file: { path: "/dev/stdout" } } },
    };
}

export class LoadTester extends pulumi.ComponentResource {
    /** The mesh node, when the stack has App Mesh backends. */
    public readonly virtualNode?: k8s.apiextensions.CustomResource;
    public readonly deployment: k8s.apps.v1.Deployment;
    public readonly service: k8s.core.v1.Service;
    /** In-cluster URL webhooks use, e.g. http://flagger-loadtester.test/. */
    public readonly url: pulumi.Output<string>;

    constructor(name: string, args: LoadTesterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("appmesh-canary:index:LoadTester", name, {}, opts);
        const labels = loadTesterPodLabels();
        const backends = args.backends;
        this.virtualNode = backends && new k8s.apiextensions.CustomResource(`${name}-node`, {
            apiVersion: APPMESH_API_VERSION,
            kind: "VirtualNode",
            metadata: { name, namespace: args.namespace },
            spec: pulumi.output(args.namespace).apply((ns) => buildLoadTesterNodeSpec(name, ns, backends)),
        // The App Mesh controller resolves backend references when it reconciles the node.
        }, { parent: this, dependsOn: args.backendsAfter ?? [] });
        this.deployment = new k8s.apps.v1.Deployment(`${name}-deployment`, {
            metadata: { name, namespace: args.namespace, labels },
            spec: {
                replicas: args.replicas,
                selector: { matchLabels: labels },
                template: {
                    metadata: { labels, ...(this.virtualNode ? { annotations: { "appmesh.k8s.aws/ports": String(MESH_LISTENER_PORT) } } : {}) },
                    spec: {
                        containers: [{
                            name: "loadtester",
                            image: args.image,
                            command: ["./loadtester", `-port=${LOADTESTER_PORT}`, "-log-level=info", "-timeout=1h"],
                            ports: [{ name: "http", containerPort: LOADTESTER_PORT, protocol: "TCP" }],
                            livenessProbe: HEALTH_PROBE,
                            readinessProbe: HEALTH_PROBE,
                            resources: { requests: { cpu: "10m", memory: "64Mi" } },
                        }],
                    },
                },
            },
        // Injection needs the node selecting these pods to exist first.
        }, { parent: this, dependsOn: this.virtualNode ? [this.virtualNode] : [] });
        this.service = new k8s.core.v1.Service(`${name}-service`, {
            metadata: { name, namespace: args.namespace, labels },
            spec: { type: "ClusterIP", selector: labels, ports: [{ name: "http", port: 80, targetPort: LOADTESTER_PORT, protocol: "TCP" }] },
        }, { parent: this });
        this.url = pulumi.interpolate`http://${name}.${args.namespace}/`;
        this.registerOutputs({ url: this.url });
    }
}
