/**
 * A whole rollout on the real control plane: the dev stack as `npm run render` prints it, applied the way
 * Pulumi's Kubernetes provider applies it; the Analysis and Finalize run through their serialized code in
 * Pulumi's dynamic-provider host, reaching appmesh-prometheus and the load tester (pods run by the playground
 * node) through the API server's service proxy, and moving traffic in the mesh through the real VirtualRouter.
 * The provider tests (`provider-host`, `recovery`, `provider-faults`) run on the same kind of cluster, through
 * the fault-injecting proxy; here the API server process itself is stopped and started again.
 */
import assert from "node:assert/strict";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { describePlan } from "../../analysis/engine/plan";
import { computeRevision } from "../../analysis/provider/revision";
import type { AnalysisInputs, FinalizeInputs } from "../../analysis/provider/providers";
import { analysisProvider, finalizeProvider } from "../../analysis/provider/providers";
import { appMeshRouterInput } from "../../analysis/routers/appmesh/input";
import { canaryNames } from "../../analysis/spec/names";
import { loadCanary, withInterval } from "../../playground/canary-spec";
import { requestThroughProxy } from "../../playground/http-util";
import { startLocalCluster, type LocalCluster } from "../../playground/local-cluster";
import { withVersion } from "../../playground/playground";
import { dynamicUrn, serializeProvider, startProviderHost, withProvider, type ProviderHost } from "../../playground/provider-host";
import { renderStackObjects, waitFor } from "./rollout-fixtures";


/** The analysis's rules by namespace, exactly as the README's RBAC table lists them. */
const ANALYSIS_RBAC: Record<string, { apiGroups: string[]; resources: string[]; verbs: string[] }[]> = {
    test: [
        { apiGroups: ["appmesh.k8s.aws"], resources: ["virtualrouters"], verbs: ["get", "patch"] },
        { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "patch"] },
        { apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["patch"] },
        { apiGroups: [""], resources: ["services/proxy"], verbs: ["get", "create"] },
        { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update", "delete"] },
        { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "create", "patch", "delete"] },
    ],
    "appmesh-system": [{ apiGroups: [""], resources: ["services/proxy"], verbs: ["get"] }],
};
const ANALYSIS_URN = dynamicUrn("appmesh-canary:Analysis", "podinfo");
const FINALIZE_URN = dynamicUrn("appmesh-canary:Finalize", "podinfo");


/** The version the apex service answers with through the mesh, once the mesh has endpoints for it. */
/** The podinfo version that answers `<base>/version` sent through `proxy`. */
async function servedVersion(proxy: string, base: string): Promise<string> {
    const deadline = Date.now() + 20_000;
    for (;;) {
        const answer = await requestThroughProxy(proxy, `${base}/version`);
        if (answer.status === 200) {
            return JSON.parse(answer.body).version;
        }
        assert.ok(Date.now() < deadline, `${base}: ${answer.status} ${answer.body}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
}

describe("rollouts on the real control plane, through Pulumi's provider host", function () {
    this.timeout(300_000);
    let cluster: LocalCluster;
    let host: ProviderHost;
    const lines: string[] = [];
    const dev = loadCanary();
    const spec = withInterval(dev.spec, 1000);
    const names = canaryNames(dev.target, spec);
    let objects: Record<string, any>[];
    let analysisText: string;
    let finalizeText: string;
    /** What Pulumi's state holds for the Analysis and Finalize. */
    let promoted: Record<string, unknown>;
    let finalized: Record<string, unknown>;

    const startHost = async () => {
        host = await startProviderHost({ onLine: (line) => lines.push(line) });
        await host.configure();
    };

    before(async () => {
        [cluster, objects, analysisText, finalizeText] = await Promise.all([
            startLocalCluster(),
            renderStackObjects(),
            serializeProvider(analysisProvider),
            serializeProvider(finalizeProvider),
        ]);
        await startHost();
    });

    after(async () => {
        await host?.stop();
        await cluster?.stop();
    });

    const deployment = (name: string) => objects.find((o) => o.kind === "Deployment" && o.metadata.name === name)!;

    const finalizeOf = (a: AnalysisInputs, status: FinalizeInputs["status"]) =>
        withProvider(finalizeText, { target: a.target, canary: a.canary, router: a.router, kubeconfig: a.kubeconfig, targetUid: a.targetUid, revision: a.revision, status });

    async function apexWeights(): Promise<Record<string, number>> {
        const k8s = await import("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        kc.loadFromString(cluster.kubeconfig);
        const live: any = await kc.makeApiClient(k8s.CustomObjectsApi).getNamespacedCustomObject({ group: "appmesh.k8s.aws", version: "v1beta2", namespace: dev.namespace, plural: "virtualrouters", name: names.apex });
        return Object.fromEntries(live.spec.routes[0].httpRoute.action.weightedTargets.map((t: any) => [t.virtualNodeRef.name.endsWith("-primary") ? "primary" : "canary", t.weight]));
    }

    async function canaryReplicas(): Promise<number> {
        const k8s = await import("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        kc.loadFromString(cluster.kubeconfig);
        return (await kc.makeApiClient(k8s.AppsV1Api).readNamespacedDeployment({ name: names.target, namespace: dev.namespace })).spec?.replicas ?? 0;
    }

    /** `pulumi up` with a new image: the canary Deployment's template changes; the Analysis inputs that follow. */
    async function newRevision(version: string): Promise<Record<string, unknown>> {
        const canary = withVersion(deployment(names.target), version);
        await cluster.apply([canary]);
        return withProvider(analysisText, { ...(await inputs(canary.spec.template)) });
    }

    /** The kubeconfig the analysis runs with: a ServiceAccount bound to exactly the README's rules. */
    let analysisKubeconfig: string;

    /** A ServiceAccount in the app's namespace with the README's least-privilege rules, and its kubeconfig. */
    async function leastPrivilegeKubeconfig(): Promise<string> {
        const k8s = await import("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        kc.loadFromString(cluster.kubeconfig);
        const core = kc.makeApiClient(k8s.CoreV1Api);
        const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
        const name = "canary-analysis";
        await core.createNamespacedServiceAccount({ namespace: dev.namespace, body: { metadata: { name } } });
        for (const [namespace, rules] of Object.entries(ANALYSIS_RBAC)) {
            await rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules } });
            await rbac.createNamespacedRoleBinding({
                namespace,
                body: { metadata: { name }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name }, subjects: [{ kind: "ServiceAccount", name, namespace: dev.namespace }] },
            });
        }
        const token = await core.createNamespacedServiceAccountToken({ name, namespace: dev.namespace, body: { spec: { audiences: ["https://kubernetes.default.svc"], expirationSeconds: 3600 } } });
        const config = parseYaml(cluster.kubeconfig);
        config.users = [{ name, user: { token: token.status!.token } }];
        config.contexts[0].context.user = name;
        return stringifyYaml(config);
    }

    async function inputs(template: Record<string, unknown>) {
        const k8s = await import("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        kc.loadFromString(cluster.kubeconfig);
        const live = await kc.makeApiClient(k8s.AppsV1Api).readNamespacedDeployment({ name: names.target, namespace: dev.namespace });
        const analysis: AnalysisInputs = {
            target: { name: names.target, namespace: dev.namespace, service: names.apex },
            canary: spec,
            router: appMeshRouterInput(spec, names),
            kubeconfig: analysisKubeconfig,
            targetUid: live.metadata!.uid,
            template,
            configData: {},
            secretData: {},
            revision: computeRevision(template),
            plan: describePlan(spec),
        };
        return analysis;
    }

    it("applies the rendered dev stack as Pulumi does: the primary serves through the mesh and through the ingress gateway", async () => {
        await cluster.apply(objects);
        await cluster.waitForRollout(dev.namespace, names.primary);
        await cluster.waitForRollout(dev.namespace, "flagger-loadtester");
        await cluster.waitForRollout(dev.namespace, "appmesh-gateway");
        assert.equal(await servedVersion(cluster.mesh.proxyUrl, `http://${names.apex}.${dev.namespace}:9898`), "6.0.0");
        // The tutorial's users come in through the NLB: the gateway pod, by its GatewayRoute, into the apex service.
        const k8s = await import("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        kc.loadFromString(cluster.kubeconfig);
        const service = await kc.makeApiClient(k8s.CoreV1Api).readNamespacedService({ name: "appmesh-gateway", namespace: dev.namespace });
        const loadBalancer = service.status?.loadBalancer?.ingress?.[0]?.ip;
        assert.match(loadBalancer ?? "", /^10\.245\.1\.\d+$/, "the LoadBalancer Service got an ingress address");
        const gateway = cluster.node.pods().find((p) => p.labels["app.kubernetes.io/name"] === "appmesh-gateway")!;
        const before = cluster.mesh.accessLog.length;
        assert.equal(await servedVersion(`http://${gateway.ports.get(8088)}`, `http://${loadBalancer}`), "6.0.0");
        assert.ok(cluster.mesh.accessLog.slice(before).some((e) => e.host === `${names.apex}.${dev.namespace}:9898` && e.status === 200), "the request went through the mesh to the apex service");
    });

    it("the real HPA controller manages the primary: minReplicas holds it at 2, and it reports the missing metrics API", async () => {
        const k8s = await import("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        kc.loadFromString(cluster.kubeconfig);
        const autoscaling = kc.makeApiClient(k8s.AutoscalingV2Api);
        const deadline = Date.now() + 60_000;
        for (;;) {
            const hpa = await autoscaling.readNamespacedHorizontalPodAutoscaler({ name: names.primary, namespace: dev.namespace });
            const active = hpa.status?.conditions?.find((c) => c.type === "ScalingActive");
            if (hpa.status?.desiredReplicas === 2 && active?.status === "False") {
                // No metrics server runs here (none is needed): the controller says so instead of scaling on made-up numbers.
                assert.match(`${active.reason}: ${active.message}`, /FailedGetResourceMetric|metrics API/);
                break;
            }
            assert.ok(Date.now() < deadline, `HPA status: ${JSON.stringify(hpa.status)}`);
            await new Promise((resolve) => setTimeout(resolve, 500));
        }
        const primary = await kc.makeApiClient(k8s.AppsV1Api).readNamespacedDeployment({ name: names.primary, namespace: dev.namespace });
        assert.equal(primary.spec?.replicas, 2);
    });

    it("promotes a healthy new revision with least-privilege credentials: Analysis update, the primary's roll, then Finalize", async () => {
        analysisKubeconfig = await leastPrivilegeKubeconfig();
        const initial = await inputs(deployment(names.target).spec.template);
        promoted = (await host.create(ANALYSIS_URN, withProvider(analysisText, { ...initial }))).properties;
        finalized = finalizeOf(initial, "initialized");
        await host.create(FINALIZE_URN, finalized);

        const next = await newRevision("6.0.1");
        lines.length = 0;
        const updated = await host.update("test/podinfo", ANALYSIS_URN, promoted, next);
        assert.equal(updated.properties.status, "promoted", lines.join("\n"));
        promoted = updated.properties;
        const events = lines.join("\n");
        for (const line of ["New revision detected! Scaling up podinfo.test", "Starting canary analysis for podinfo.test", "Advance podinfo.test canary weight 50", "Copying podinfo.test template spec to podinfo-primary.test"]) {
            assert.ok(events.includes(line), `missing "${line}" in:\n${events}`);
        }
        assert.match(events, /metric request-success-rate = 100% over \S+ \(min 99%\): pass/);

        await cluster.apply([withVersion(deployment(names.primary), "6.0.1")]);
        await cluster.waitForRollout(dev.namespace, names.primary);
        const nextFinalize = finalizeOf(next as unknown as AnalysisInputs, "promoted");
        await host.update("test/podinfo", FINALIZE_URN, finalized, nextFinalize);
        finalized = nextFinalize;
        assert.ok(lines.includes("Normal  Promotion completed! Scaling down podinfo.test"), lines.join("\n"));
        assert.equal(await servedVersion(cluster.mesh.proxyUrl, `http://${names.apex}.${dev.namespace}:9898`), "6.0.1");
        assert.deepEqual(await apexWeights(), { primary: 100, canary: 0 });
        assert.equal(await canaryReplicas(), 0);
    });

    it("an API server stopped for 15s at canary weight 15: the run rolls back once it is back, naming the outage, with no TypeError", async () => {
        const next = await newRevision("6.0.4");
        lines.length = 0;
        const result = host.update("test/podinfo", ANALYSIS_URN, promoted, next).then(
            () => undefined,
            (e: Error) => e,
        );
        await waitFor("canary weight 15", () => lines.some((l) => /^Normal  Advance podinfo\.test canary weight 15( \[|$)/.test(l)));
        const outageStarted = Date.now();
        await cluster.controlPlane.restartApiServer(15_000);
        const back = Date.now();
        const error = await result;
        const settled = Date.now();
        assert.ok(error, "the analysis cannot go on through the outage: the update fails");
        assert.match(error.message, /canary analysis of podinfo\.test failed: .*the Kubernetes API server could not be reached: .*ECONNREFUSED/);
        assert.match(error.message, /Traffic is back on podinfo-primary, the canary is scaled to zero/);
        const output = [...lines, error.message].join("\n");
        assert.doesNotMatch(output, /TypeError|incompatible receiver/);
        assert.ok(lines.some((l) => l.startsWith("Warning Could not route all traffic to the primary for podinfo.test (attempt 1)")), output);
        assert.deepEqual(await apexWeights(), { primary: 100, canary: 0 });
        assert.equal(await canaryReplicas(), 0);
        assert.ok(settled - outageStarted < 120_000, `settled ${settled - outageStarted} ms after the outage began`);
        assert.ok(settled - back < 20_000, `settled ${settled - back} ms after the API server was back`);
    });
});
