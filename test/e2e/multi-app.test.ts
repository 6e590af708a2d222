/**
 * Two apps in one stack (`apps` config) rolled out together by the real `pulumi up` on the local control
 * plane: one promoted and one rolled back in the same update, with and without `--continue-on-error`; the
 * next run finishes an app the failure stopped mid-promotion and holds the failed revision; a new revision of
 * the failed app runs a fresh analysis; two failures name both apps; a tracked ConfigMap's data change is a
 * rollout of its app alone; a Secret set with `--secret` stays out of the state. Needs `npm run toolchain`.
 */
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readWeights } from "../../analysis/routers/appmesh/routes";
import { primaryName, routerNodes } from "../../analysis/spec/names";
import { PROJECT } from "../../config/stack";
import { startLocalCluster, type LocalCluster } from "../../playground/local-cluster";
import { PODINFO_IMAGE } from "../../playground/playground";
import { faultSwitches } from "../../playground/podinfo-app";
import { createPulumiWorkspace, findPulumiToolchain, NO_PULUMI_HINT, readStackConfig, type PulumiWorkspace } from "../../playground/pulumi-cli";
import { tearDownStack } from "./teardown";
import { PLAYGROUND_STACK_FILE } from "../../playground/pulumi-driver";

type KubeObject = Record<string, any>;

const NAMESPACE = "test";
const APPS = ["cart", "catalog"] as const;
type App = (typeof APPS)[number];
const image = (version: string) => `${PODINFO_IMAGE}:${version}`;
const TOKEN = "e2e-catalog-token-7f3a";

/** The playground stack with two apps instead of the tutorial's one: podinfo containers, the playground's canary spec retargeted. */
function twoAppStack(): Record<string, unknown> {
    const { [`${PROJECT}:image`]: _image, [`${PROJECT}:canary`]: canary, ...rest } = readStackConfig(PLAYGROUND_STACK_FILE) as Record<string, any>;
    const app = (name: App) => {
        const spec = structuredClone(canary);
        spec.targetRef.name = name;
        delete spec.autoscalerRef;
        for (const webhook of spec.analysis.webhooks) {
            webhook.metadata.cmd = webhook.metadata.cmd.replace(/podinfo-canary\.test/g, `${name}-canary.test`);
        }
        // cart reads a tracked ConfigMap, catalog a tracked Secret (its data is set with --secret below).
        const reads = name === "cart" ? { configMapRef: { name: "cart-settings" } } : { secretRef: { name: "catalog-token" } };
        return {
            workload: { replicas: 1, containers: [{ name: "app", image: image("6.0.0"), ports: [{ name: "http", containerPort: 9898 }], envFrom: [reads] }] },
            ...(name === "cart" ? { configMaps: { "cart-settings": { data: { COLOR: "blue" } } } } : {}),
            canary: spec,
        };
    };
    return {
        ...rest,
        [`${PROJECT}:gateway`]: { ...rest[`${PROJECT}:gateway`], app: "cart" },
        [`${PROJECT}:apps`]: Object.fromEntries(APPS.map((name) => [name, app(name)])),
    };
}

describe("several apps in one pulumi up, with the real CLI on the local control plane", function () {
    this.timeout(600_000);

    let cluster: LocalCluster;
    let workspace: PulumiWorkspace;
    let read: (apiVersion: string, kind: string, name: string) => Promise<KubeObject | undefined>;
    const fault = faultSwitches();

    const weights = async (app: App) => readWeights((await read("appmesh.k8s.aws/v1beta2", "VirtualRouter", app))?.spec, app, routerNodes(app));
    const replicas = async (name: string) => (await read("apps/v1", "Deployment", name))?.spec?.replicas;
    const primaryImage = async (app: App) => (await read("apps/v1", "Deployment", primaryName(app)))?.spec?.template?.spec?.containers?.[0]?.image;
    const failedRevision = async (app: App) => (await read("apps/v1", "Deployment", app))?.metadata?.annotations?.["appmesh-canary.io/failed-revision"];
    const up = (args: string[] = []) => workspace.run(["up", "--yes", "--skip-preview", ...args], { allowFailure: true });
    const setImage = (app: App, version: string) => workspace.setConfig(`${PROJECT}:apps.${app}.workload.containers[0].image`, image(version), { path: true });
    const failedIn = (output: string, app: App) => new RegExp(`canary analysis of ${app}\\.${NAMESPACE} failed: .*Traffic is back on ${app}-primary`).test(output);
    const atRest = async (app: App, version: string) => {
        assert.deepStrictEqual(await weights(app), { primary: 100, canary: 0 }, `${app} at rest`);
        assert.strictEqual(await replicas(app), 0, `${app}'s canary at zero`);
        assert.strictEqual(await primaryImage(app), image(version), `${app}'s primary runs ${version}`);
    };

    before(async function () {
        const toolchain = findPulumiToolchain();
        if (!toolchain) {
            throw new Error(`the e2e tier needs the Pulumi CLI: ${NO_PULUMI_HINT}`);
        }
        cluster = await startLocalCluster({ podinfo: { faults: fault } });
        const k8s = await import("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        kc.loadFromString(cluster.kubeconfig);
        const api = k8s.KubernetesObjectApi.makeApiClient(kc);
        read = (apiVersion, kind, name) =>
            api.read({ apiVersion, kind, metadata: { name, namespace: NAMESPACE } }).then(
                (o) => o as KubeObject,
                (error: { code?: number }) => (error.code === 404 ? undefined : Promise.reject(error)),
            );
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "appmesh-canary-apps-"));
        workspace = await createPulumiWorkspace({ dir, stack: "apps", config: twoAppStack(), toolchain });
        await workspace.setConfig("kubernetes:kubeconfig", cluster.kubeconfig, { secret: true });
        await workspace.setConfig(`${PROJECT}:apps.catalog.secrets.catalog-token.data.token`, TOKEN, { path: true, secret: true });
        await workspace.setConfig(`${PROJECT}:reportDirectory`, path.join(workspace.dir, "rollouts"));
    });

    after(() => tearDownStack(workspace, cluster));

    it("1. pulumi up creates both apps at rest, and the next preview shows no changes", async () => {
        const result = await up();
        assert.strictEqual(result.code, 0, result.output);
        for (const app of APPS) {
            assert.match(result.output, new RegExp(`Initialization done! ${app}\\.${NAMESPACE}`));
            await atRest(app, "6.0.0");
        }
        const preview = await workspace.run(["preview", "--expect-no-changes"], { allowFailure: true });
        assert.strictEqual(preview.code, 0, preview.output);
    });

    it("2. one app fails while the other's analysis passes: the update fails naming the failed app; the next pulumi up finishes the other's promotion and holds the failed revision", async () => {
        fault("6.0.2").errorRate = 1;
        // Two failed checks roll catalog back well before cart's ten steps end, so cart is still analysing then.
        await workspace.setConfig(`${PROJECT}:apps.catalog.canary.analysis.threshold`, "2", { path: true });
        await setImage("cart", "6.0.1");
        await setImage("catalog", "6.0.2");
        const result = await up();
        assert.notStrictEqual(result.code, 0, result.output);
        assert.ok(failedIn(result.output, "catalog"), result.output);
        assert.ok(!failedIn(result.output, "cart"), "cart's analysis did not fail");
        await atRest("catalog", "6.0.0");
        assert.ok(await failedRevision("catalog"), "catalog's failed revision is recorded");
        // The failure stops Pulumi from starting cart's primary roll and Finalize: cart waits at its maximum
        // weight on the revision its analysis passed.
        assert.match(result.output, /Copying cart\.test template spec to cart-primary\.test/);
        assert.deepStrictEqual(await weights("cart"), { primary: 50, canary: 50 });
        assert.strictEqual(await primaryImage("cart"), image("6.0.0"));

        const next = await up();
        assert.strictEqual(next.code, 0, next.output);
        assert.match(next.output, /Promotion completed! Scaling down cart\.test/);
        assert.doesNotMatch(next.output, /New revision detected/, "neither app is analysed again");
        assert.match(next.output, /Revision \S+ of catalog\.test failed at \S+ .*held: traffic stays on catalog-primary/);
        await atRest("cart", "6.0.1");
        await atRest("catalog", "6.0.0");
    });

    it("3. with --continue-on-error the passing app is promoted in the same update as the other rolls back", async () => {
        fault("6.0.4").errorRate = 1;
        await setImage("cart", "6.0.3");
        await setImage("catalog", "6.0.4");
        const result = await up(["--continue-on-error"]);
        assert.notStrictEqual(result.code, 0, result.output);
        assert.ok(failedIn(result.output, "catalog"), result.output);
        assert.match(result.output, /Promotion completed! Scaling down cart\.test/);
        await atRest("cart", "6.0.3");
        await atRest("catalog", "6.0.0");
    });

    it("4. a new revision of the failed app runs a fresh analysis and is promoted", async () => {
        await setImage("catalog", "6.0.5");
        const result = await up();
        assert.strictEqual(result.code, 0, result.output);
        assert.match(result.output, /New revision detected! Scaling up catalog\.test/);
        assert.match(result.output, /Promotion completed! Scaling down catalog\.test/);
        assert.doesNotMatch(result.output, /Scaling up cart\.test/);
        await atRest("catalog", "6.0.5");
        assert.strictEqual(await failedRevision("catalog"), undefined, "the promotion cleared the failure record");
        await atRest("cart", "6.0.3");
    });

    it("5. two apps failing in one update are both named in its error, and both end on their primaries", async () => {
        fault("6.0.6").errorRate = 1;
        fault("6.0.7").errorRate = 1;
        await setImage("cart", "6.0.6");
        await setImage("catalog", "6.0.7");
        const result = await up();
        assert.notStrictEqual(result.code, 0, result.output);
        assert.ok(failedIn(result.output, "cart") && failedIn(result.output, "catalog"), result.output);
        await atRest("cart", "6.0.3");
        await atRest("catalog", "6.0.5");
    });

    it("6. a tracked ConfigMap's data change is a rollout of its app alone, and the primary then reads the new data", async () => {
        // Both apps back on their promoted images (case 5 failed them), and new settings for cart: only its data
        // differs from its primary, and no held revision stays pending.
        await setImage("cart", "6.0.3");
        await setImage("catalog", "6.0.5");
        await workspace.setConfig(`${PROJECT}:apps.cart.configMaps.cart-settings.data.COLOR`, "red", { path: true });
        const result = await up();
        assert.strictEqual(result.code, 0, result.output);
        assert.match(result.output, /New revision detected! Scaling up cart\.test/);
        assert.match(result.output, /Promotion completed! Scaling down cart\.test/);
        assert.doesNotMatch(result.output, /Scaling up catalog\.test/);
        assert.deepStrictEqual((await read("v1", "ConfigMap", "cart-settings-primary"))?.data, { COLOR: "red" });
        assert.deepStrictEqual(await weights("cart"), { primary: 100, canary: 0 });
        // The Analysis update left its report where the stack config says, charting the values it checked.
        const file = /Rollout report: (\S+\.html)/.exec(result.output)?.[1] ?? "";
        assert.ok(file.startsWith(path.join(workspace.dir, "rollouts", "cart-")), `the report's line: ${file}`);
        const report = JSON.parse(fs.readFileSync(file.replace(/\.html$/, ".json"), "utf8"));
        const printed = new Set([...result.output.matchAll(/metric request-success-rate = ([\d.]+)%/g)].map((m) => Number(m[1])));
        const charted = report.metrics.filter((m: { name: string }) => m.name === "request-success-rate").map((m: { value: number }) => m.value);
        assert.ok(charted.length > 0 && charted.every((v: number) => printed.has(v)), `charted ${charted}, printed ${[...printed]}`);
        assert.strictEqual(report.result, "promoted");
        const preview = await workspace.run(["preview", "--expect-no-changes"], { allowFailure: true });
        assert.strictEqual(preview.code, 0, `no drift after the rollout:\n${preview.output}`);
    });

    it("7. the Secret set with --secret reaches the cluster and its -primary copy, and never the state in plain text", async () => {
        const primary = await read("v1", "Secret", "catalog-token-primary");
        assert.strictEqual(Buffer.from(primary?.data?.token ?? "", "base64").toString(), TOKEN);
        const state = (await workspace.run(["stack", "export"])).output;
        assert.ok(state.includes("catalog-token"), "the Secret is in the state");
        assert.ok(!state.includes(TOKEN) && !state.includes(Buffer.from(TOKEN).toString("base64")), "its data is not, in plain or base64 text");
    });
});
