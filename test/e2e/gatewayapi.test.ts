/**
 * A stack moving from App Mesh to the Gateway API with the real `pulumi` CLI on the local control plane (with
 * the Gateway API CRDs and the playground's Gateway controller): the App Mesh tutorial's first `pulumi up`, then
 * the same app's canary switched to `provider: gatewayapi:v1` with the stack creating its Gateway. The preview
 * keeps the namespace (the StackNamespace takes over the Mesh's), deletes the mesh objects and creates the
 * Gateway and the HTTPRoute; `pulumi up` waits for the Gateway's address; a new image then promotes through the
 * HTTPRoute's weights inside `pulumi up`.
 */
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readWeights } from "../../analysis/routers/gatewayapi/routes";
import { canaryNames, routerNodes } from "../../analysis/spec/names";
import { GATEWAY_API_NAME, PROJECT } from "../../config/stack";
import { startLocalCluster, type LocalCluster } from "../../playground/local-cluster";
import { PODINFO_IMAGE } from "../../playground/playground";
import { faultSwitches } from "../../playground/podinfo-app";
import { createPulumiWorkspace, findPulumiToolchain, NO_PULUMI_HINT, readStackConfig, type PulumiWorkspace } from "../../playground/pulumi-cli";
import { PLAYGROUND_STACK_FILE, upWithEvents } from "../../playground/pulumi-driver";
import { objectReader } from "../integration/rollout-fixtures";
import { tearDownStack } from "./teardown";

type KubeObject = Record<string, any>;

const NAMESPACE = "test";
const NAMES = canaryNames("podinfo", { service: { port: 9898 } });

describe("a stack moving from App Mesh to the Gateway API, with the real CLI on the local control plane", function () {
    this.timeout(600_000);

    let cluster: LocalCluster;
    let workspace: PulumiWorkspace;
    let read: (apiVersion: string, kind: string, name: string, namespace?: string) => Promise<KubeObject | undefined>;
    const up = (args: string[] = []) => workspace.run(["up", "--yes", "--skip-preview", ...args], { allowFailure: true });
    const routeWeights = async () => readWeights((await read("gateway.networking.k8s.io/v1", "HTTPRoute", NAMES.apex))?.spec, NAMES.apex, routerNodes(NAMES.apex));

    before(async function () {
        const toolchain = findPulumiToolchain();
        if (!toolchain) {
            throw new Error(`the e2e tier needs the Pulumi CLI: ${NO_PULUMI_HINT}`);
        }
        cluster = await startLocalCluster({ podinfo: { faults: faultSwitches() }, gatewayApi: true });
        read = await objectReader(cluster.kubeconfig, NAMESPACE);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "appmesh-canary-e2e-gw-"));
        workspace = await createPulumiWorkspace({ dir, stack: "e2e-gatewayapi", config: readStackConfig(PLAYGROUND_STACK_FILE), toolchain });
        await workspace.setConfig("kubernetes:kubeconfig", cluster.kubeconfig, { secret: true });
    });

    after(() => tearDownStack(workspace, cluster));

    let namespaceUid: string;

    it("1. the App Mesh tutorial's pulumi up creates the mesh's namespace and the VirtualRouters", async () => {
        const result = await up();
        assert.strictEqual(result.code, 0, result.output);
        namespaceUid = (await read("v1", "Namespace", NAMESPACE))!.metadata.uid;
        assert.ok(await read("appmesh.k8s.aws/v1beta2", "VirtualRouter", NAMES.apex));
    });

    it("2. switched to gatewayapi:v1, preview keeps the namespace and swaps the mesh objects for a Gateway and an HTTPRoute; up publishes the Gateway's address", async () => {
        const playground = readStackConfig(PLAYGROUND_STACK_FILE);
        const { retries: _retries, ...service } = (playground[`${PROJECT}:canary`] as KubeObject).service;
        const canary = { ...(playground[`${PROJECT}:canary`] as KubeObject), provider: "gatewayapi:v1", service: { ...service, gatewayRefs: [{ name: GATEWAY_API_NAME }] } };
        await workspace.run(["config", "rm", `${PROJECT}:mesh`]);
        await workspace.setConfig(`${PROJECT}:gateway`, JSON.stringify({ enabled: true, className: "eg" }));
        await workspace.setConfig(`${PROJECT}:canary`, JSON.stringify(canary));
        const preview = await workspace.run(["preview", "--json"]);
        const steps: { op: string; urn: string; newState?: { type: string; inputs: KubeObject }; oldState?: { type: string; inputs: KubeObject } }[] = JSON.parse(preview.output).steps;
        const kindOf = (s: (typeof steps)[number]) => (s.newState ?? s.oldState)?.inputs?.kind;
        const namespaceStep = steps.find((s) => kindOf(s) === "Namespace");
        assert.ok(namespaceStep && ["same", "update"].includes(namespaceStep.op), `the namespace is kept, not replaced: ${namespaceStep?.op}`);
        const kubernetes = (s: (typeof steps)[number]) => ((s.newState ?? s.oldState)?.type ?? "").startsWith("kubernetes:");
        // The App Mesh objects, and the App Mesh gateway's Envoy Deployment and Service.
        assert.deepStrictEqual([...new Set(steps.filter((s) => s.op === "delete" && kubernetes(s)).map(kindOf))].sort(),
            ["Deployment", "GatewayRoute", "Mesh", "Service", "VirtualGateway", "VirtualNode", "VirtualRouter", "VirtualService"]);
        assert.deepStrictEqual(steps.filter((s) => s.op === "create" && kubernetes(s)).map(kindOf).sort(), ["Gateway", "HTTPRoute"]);
        const result = await up();
        assert.strictEqual(result.code, 0, result.output);
        assert.strictEqual((await read("v1", "Namespace", NAMESPACE))!.metadata.uid, namespaceUid, "the same namespace: nothing in it was deleted with it");
        assert.equal(await read("appmesh.k8s.aws/v1beta2", "VirtualRouter", NAMES.apex), undefined);
        assert.deepStrictEqual(await routeWeights(), { primary: 100, canary: 0 });
        const outputs = JSON.parse((await workspace.run(["stack", "output", "--json"])).output);
        assert.strictEqual(outputs.gatewayUrl, `http://${cluster.gateways!.address(NAMESPACE, GATEWAY_API_NAME)}`, "the Gateway's address, once the controller programmed it");
    });

    it("3. a new image promotes through the HTTPRoute's weights inside pulumi up; the next preview shows no changes", async () => {
        await workspace.setConfig(`${PROJECT}:image`, `${PODINFO_IMAGE}:6.0.1`);
        const events: string[] = [];
        const result = await upWithEvents(workspace, () => undefined, (event) => events.push(event.message)).done;
        assert.strictEqual(result.code, 0, result.output);
        assert.ok(events.some((e) => /^Advance podinfo\.test canary weight 50$/.test(e)), events.join("\n"));
        assert.ok(events.includes("Promotion completed! Scaling down podinfo.test"), events.join("\n"));
        const fifty = cluster.gateways!.routeChanges.find((c) => c.name === NAMES.apex && readWeights(c.spec, NAMES.apex, routerNodes(NAMES.apex)).canary === 50);
        assert.ok(fifty, "the Gateway's data plane routed by weight 50");
        assert.deepStrictEqual(await routeWeights(), { primary: 100, canary: 0 });
        assert.strictEqual((await read("apps/v1", "Deployment", NAMES.primary))?.spec.template.spec.containers[0].image, `${PODINFO_IMAGE}:6.0.1`);
        const preview = await workspace.run(["preview", "--expect-no-changes", "--diff"], { allowFailure: true });
        assert.strictEqual(preview.code, 0, `pulumi preview shows changes:\n${preview.output}`);
    });

    it("4. pulumi destroy removes everything, the Gateway and the HTTPRoute included", async () => {
        const result = await workspace.run(["destroy", "--yes", "--skip-preview"], { allowFailure: true });
        assert.strictEqual(result.code, 0, result.output);
        assert.equal(await read("gateway.networking.k8s.io/v1", "HTTPRoute", NAMES.apex), undefined);
        assert.equal(await read("gateway.networking.k8s.io/v1", "Gateway", GATEWAY_API_NAME), undefined);
    });
});
