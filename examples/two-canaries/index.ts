/**
 * Two apps released as canaries in one mesh: `checkout` (a tracked ConfigMap, an autoscaler, behind the
 * ingress gateway) and `catalog`, with one load tester generating the traffic both analyses measure. A new
 * image or ConfigMap value is a new revision: the next `pulumi up` analyses it, then promotes or rolls back.
 */
import * as pulumi from "@pulumi/pulumi";
import { Canary, GATEWAY_DEFAULTS, Gateway, LOADTESTER_DEFAULTS, LoadTester, Mesh, parseCanarySpec, providerKubeAccess } from "pulumi-appmesh-canary";

const NAMESPACE = "shop";
const LOADTESTER = "flagger-loadtester";
/** The load tester's Service, which the canary specs' webhooks call. */
const LOADTESTER_URL = `http://${LOADTESTER}.${NAMESPACE}/`;

const config = new pulumi.Config();
const mesh = new Mesh("shop", { meshName: "shop", namespace: NAMESPACE });
// The analysis reaches the cluster with the default Kubernetes provider's kubeconfig and context.
const kube = providerKubeAccess();
const shared = { namespace: mesh.namespaceName, kubeconfig: kube.kubeconfig, kubeContext: kube.context };

const CHECKOUT_PORTS = [{ name: "http", containerPort: 8080 }];
const checkout = new Canary("checkout", {
    ...shared,
    // As pasted from a Flagger Canary: the refs must name what the component creates (and are dropped), and
    // service.port must be a port the pod listens on.
    spec: parseCanarySpec({
        targetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "checkout" },
        autoscalerRef: { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", name: "checkout" },
        service: { port: 8080, timeout: "15s" },
        analysis: {
            // 10% more traffic on the canary every minute while the checks pass, up to 50%; rollback at 5 failed checks.
            interval: "1m", threshold: 5, maxWeight: 50, stepWeight: 10,
            metrics: [
                { name: "request-success-rate", thresholdRange: { min: 99 }, interval: "1m" },
                { name: "request-duration", thresholdRange: { max: 500 }, interval: "30s" },
            ],
            webhooks: [{ name: "load-test", url: LOADTESTER_URL, metadata: { cmd: "hey -z 1m -q 10 -c 2 http://checkout-canary.shop:8080/" } }],
        },
    }, { deployment: "checkout", autoscaler: "checkout", containerPorts: CHECKOUT_PORTS }),
    podTemplate: {
        spec: {
            containers: [{
                name: "checkout",
                image: config.get("checkoutImage") ?? "checkout:1.4.0",
                ports: CHECKOUT_PORTS,
                envFrom: [{ configMapRef: { name: "checkout-config" } }],
            }],
        },
    },
    // Tracked: the primary reads `checkout-config-primary`, which changes only when a revision is promoted.
    configMaps: [{ name: "checkout-config", data: { PAYMENT_TIMEOUT: config.get("paymentTimeout") ?? "5s" } }],
    deployment: { minReadySeconds: 5, progressDeadlineSeconds: 120, strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0 } } },
    autoscaler: {
        minReplicas: 2,
        maxReplicas: 6,
        metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } } }],
    },
});

const CATALOG_PORTS = [{ name: "http", containerPort: 9090 }];
const catalog = new Canary("catalog", {
    ...shared,
    spec: parseCanarySpec({
        service: { port: 9090, timeout: "10s" },
        analysis: {
            interval: "30s", threshold: 3, stepWeights: [10, 30, 60],
            metrics: [{ name: "request-success-rate", thresholdRange: { min: 99.5 }, interval: "1m" }],
            webhooks: [{ name: "load-test", url: LOADTESTER_URL, metadata: { cmd: "hey -z 1m -q 20 -c 2 http://catalog-canary.shop:9090/items" } }],
        },
    }, { deployment: "catalog", autoscaler: "catalog", containerPorts: CATALOG_PORTS }),
    podTemplate: {
        spec: { containers: [{ name: "catalog", image: config.get("catalogImage") ?? "catalog:2.1.0", ports: CATALOG_PORTS }] },
    },
    deployment: { replicas: 2, progressDeadlineSeconds: 120 },
});

const canaries = [checkout, catalog];
// One load tester for both: its VirtualNode may call each app's apex and `-canary` services.
const loadtester = new LoadTester(LOADTESTER, {
    namespace: mesh.namespaceName,
    image: LOADTESTER_DEFAULTS.image,
    replicas: 1,
    backends: canaries.flatMap((c) => [c.names.apex, c.names.canaryRouter]),
    backendsAfter: canaries.map((c) => c.routing),
});
const gateway = new Gateway("shop-gateway", {
    namespace: mesh.namespaceName,
    image: GATEWAY_DEFAULTS.image,
    replicas: 1,
    port: GATEWAY_DEFAULTS.port,
    virtualService: checkout.names.apex,
    routeAfter: [checkout.routing],
});

export const namespace = mesh.namespaceName;
export const targets = canaries.map((c) => c.target);
export const loadtesterUrl = loadtester.url;
export const gatewayUrl = gateway.url;
