/**
 * The product as its users run it: the real `pulumi` CLI (with its Node.js language host, the Kubernetes
 * provider plugin and Pulumi's dynamic-provider host) against the local control plane, on one stack whose
 * life the cases follow in order: preview, the first up, a healthy rollout, a failing one, an unrelated
 * change, two interrupted runs, refresh, the state's secrets and destroy. Needs `npm run toolchain`.
 */
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { readWeights } from "../../analysis/routers/appmesh/routes";
import { canaryNames, routerNodes } from "../../analysis/spec/names";
import { PROJECT } from "../../config/stack";
import { startLocalCluster, type LocalCluster } from "../../playground/local-cluster";
import { PODINFO_IMAGE } from "../../playground/playground";
import { faultSwitches } from "../../playground/podinfo-app";
import { isRunning } from "../../playground/processes";
import {
    createPulumiWorkspace,
    findPulumiToolchain,
    killWorkspaceProcesses,
    NO_PULUMI_HINT,
    readStackConfig,
    workspaceProcesses,
    type PulumiWorkspace,
} from "../../playground/pulumi-cli";
import { tearDownStack } from "./teardown";
import { PLAYGROUND_STACK_FILE, upWithEvents } from "../../playground/pulumi-driver";
import { objectReader, renderStackObjects, waitFor } from "../integration/rollout-fixtures";

type KubeObject = Record<string, any>;

const NAMESPACE = "test";
const NAMES = canaryNames("podinfo", { service: { port: 9898 } });
const ALERT_ADDRESS = "https://hooks.example.invalid/services/T000/B000/e2e-alert-secret";
const TEMPLATE_TOKEN = "e2e-template-token-4b1d";

describe("pulumi preview / up / refresh / destroy with the real CLI on the local control plane", function () {
    this.timeout(600_000);

    let cluster: LocalCluster;
    let workspace: PulumiWorkspace;
    let objects: KubeObject[];
    const fault = faultSwitches();
    let read: (apiVersion: string, kind: string, name: string, namespace?: string) => Promise<KubeObject | undefined>;
    let list: (apiVersion: string, kind: string, namespace?: string) => Promise<KubeObject[]>;

    const image = (version: string) => `${PODINFO_IMAGE}:${version}`;
    const weights = async () => readWeights((await read("appmesh.k8s.aws/v1beta2", "VirtualRouter", NAMES.apex))?.spec, NAMES.apex, routerNodes(NAMES.apex));
    const replicas = async (name: string) => (await read("apps/v1", "Deployment", name))?.spec?.replicas;
    const primaryImage = async () => (await read("apps/v1", "Deployment", NAMES.primary))?.spec?.template?.spec?.containers?.[0]?.image;
    const exported = async () => JSON.parse((await workspace.run(["stack", "export"])).output);
    const analysisOutputs = async () => (await exported()).deployment.resources.find((r: KubeObject) => r.urn.endsWith("::podinfo-analysis"))?.outputs;
    const up = (args: string[] = []) => workspace.run(["up", "--yes", "--skip-preview", ...args], { allowFailure: true });
    const expectNoChanges = async () => {
        const preview = await workspace.run(["preview", "--expect-no-changes", "--diff"], { allowFailure: true });
        assert.strictEqual(preview.code, 0, `pulumi preview shows changes:\n${preview.output}`);
    };
    /** Weight changes the mesh took up since `since` (ms), as `canary` weights. */
    const canaryWeightsSince = (since: number) =>
        cluster.mesh.routeChanges.filter((c) => c.namespace === NAMESPACE && c.name === NAMES.apex && c.time >= since).map((c) => readWeights(c.spec, NAMES.apex, routerNodes(NAMES.apex)).canary);

    before(async function () {
        const toolchain = findPulumiToolchain();
        if (!toolchain) {
            throw new Error(`the e2e tier needs the Pulumi CLI: ${NO_PULUMI_HINT}`);
        }
        objects = await renderStackObjects("playground");
        cluster = await startLocalCluster({ podinfo: { faults: fault } });
        const k8s = await import("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        kc.loadFromString(cluster.kubeconfig);
        const api = k8s.KubernetesObjectApi.makeApiClient(kc);
        read = await objectReader(cluster.kubeconfig, NAMESPACE);
        list = async (apiVersion, kind, namespace) => ((await api.list(apiVersion, kind, namespace)).items as KubeObject[]) ?? [];
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "appmesh-canary-e2e-"));
        workspace = await createPulumiWorkspace({ dir, stack: "e2e", config: readStackConfig(PLAYGROUND_STACK_FILE), toolchain });
        await workspace.setConfig("kubernetes:kubeconfig", cluster.kubeconfig, { secret: true });
        // Credentials the state must never hold in plain text (case 8): an alert address and a template token.
        await workspace.setConfig(`${PROJECT}:alertProviders.ops.type`, "slack", { path: true });
        await workspace.setConfig(`${PROJECT}:alertProviders.ops.address`, ALERT_ADDRESS, { path: true, secret: true });
        await workspace.setConfig(`${PROJECT}:metricTemplates.errors.query`, "sum(rate(envoy_cluster_upstream_rq{response_code_class=\"5xx\"}[1m]))", { path: true });
        await workspace.setConfig(`${PROJECT}:metricTemplates.errors.provider.type`, "prometheus", { path: true });
        await workspace.setConfig(`${PROJECT}:metricTemplates.errors.provider.address`, "http://appmesh-prometheus.appmesh-system:9090", { path: true });
        await workspace.setConfig(`${PROJECT}:metricTemplates.errors.provider.token`, TEMPLATE_TOKEN, { path: true, secret: true });
    });

    after(() => tearDownStack(workspace, cluster));

    it("1. pulumi preview of a new stack lists every object npm run render prints, plus the Analysis with its plan and Finalize, and changes nothing", async () => {
        const namespacesBefore = (await list("v1", "Namespace")).map((n) => n.metadata.name).sort();
        const preview = await workspace.run(["preview", "--json"]);
        const steps: { op: string; urn: string; newState?: { type: string; inputs: KubeObject } }[] = JSON.parse(preview.output).steps;
        const planned = new Set(
            steps.filter((s) => s.op === "create" && s.newState?.type.startsWith("kubernetes:")).map((s) => {
                const inputs = s.newState!.inputs;
                return `${inputs.kind} ${inputs.metadata?.namespace ?? ""}/${inputs.metadata?.name}`;
            }),
        );
        const rendered = objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`);
        assert.ok(rendered.length > 20, `npm run render printed ${rendered.length} objects`);
        assert.deepStrictEqual(rendered.filter((o) => !planned.has(o)), [], "every rendered object is in the preview");
        assert.strictEqual(planned.size, rendered.length, `the preview plans no Kubernetes object that render does not print: ${[...planned].filter((p) => !rendered.includes(p))}`);
        const analysis = steps.find((s) => s.urn.endsWith("::podinfo-analysis"));
        assert.strictEqual(analysis?.op, "create");
        assert.match(analysis?.newState?.inputs.plan, /^weights 5→50 step 5 every 2s/);
        assert.ok(steps.some((s) => s.urn.endsWith("::podinfo-finalize") && s.op === "create"), "Finalize is planned");
        assert.deepStrictEqual((await list("v1", "Namespace")).map((n) => n.metadata.name).sort(), namespacesBefore, "preview created nothing");
        assert.deepStrictEqual(await list("apps/v1", "Deployment", NAMESPACE), []);
    });

    it("2. pulumi up creates everything and ends at rest (primary ready, canary at 0, Initialization done!); the next preview shows no changes", async () => {
        const result = await up();
        assert.strictEqual(result.code, 0, result.output);
        assert.match(result.output, /Initialization done! podinfo\.test/);
        assert.deepStrictEqual(await weights(), { primary: 100, canary: 0 });
        const primary = await read("apps/v1", "Deployment", NAMES.primary);
        assert.ok((primary?.status?.readyReplicas ?? 0) >= 2, `primary ready: ${JSON.stringify(primary?.status)}`);
        assert.strictEqual(await replicas(NAMES.target), 0);
        const gateway = await read("v1", "Service", "appmesh-gateway");
        assert.ok(gateway?.status?.loadBalancer?.ingress?.[0]?.ip, "the gateway's LoadBalancer Service got an address: no 10-minute wait");
        const managers = new Set<string>((primary?.metadata?.managedFields ?? []).map((f: { manager: string }) => f.manager));
        assert.ok([...managers].some((m) => /^pulumi-kubernetes-[0-9a-f]+$/.test(m)), `applied by Pulumi's Kubernetes provider: ${[...managers]}`);
        await expectNoChanges();
    });

    it("3. a new image promotes inside pulumi up: the primary runs it, and the next preview shows no changes", async () => {
        await workspace.setConfig(`${PROJECT}:image`, image("6.0.1"));
        const events: string[] = [];
        const result = await upWithEvents(workspace, () => undefined, (event) => events.push(event.message)).done;
        assert.strictEqual(result.code, 0, result.output);
        assert.ok(events.includes("New revision detected! Scaling up podinfo.test"), events.join("\n"));
        assert.ok(events.some((e) => /^Advance podinfo\.test canary weight 50$/.test(e)), events.join("\n"));
        assert.ok(events.includes("Promotion completed! Scaling down podinfo.test"), events.join("\n"));
        assert.strictEqual(await primaryImage(), image("6.0.1"));
        assert.deepStrictEqual(await weights(), { primary: 100, canary: 0 });
        assert.strictEqual(await replicas(NAMES.target), 0);
        const { status, revision } = await analysisOutputs();
        assert.strictEqual(status, "promoted");
        // No reportDirectory in the stack: the report goes to .rollouts/<stack> beside the program, the folder of
        // the workspace project's `main` (a link to this repository), where Pulumi runs it.
        const { main } = parse(fs.readFileSync(path.join(workspace.dir, "Pulumi.yaml"), "utf8")) as { main: string };
        const reports = path.join(fs.realpathSync(path.dirname(path.join(workspace.dir, main))), ".rollouts", workspace.stack);
        const html = /Rollout report: (\S+\.html)/.exec(result.output)?.[1] ?? "";
        assert.strictEqual(path.dirname(html), reports, `the report's line: ${html}`);
        assert.match(path.basename(html), new RegExp(`^podinfo-${revision}-\\d{8}T\\d{6}Z\\.html$`));
        assert.ok(fs.existsSync(html) && fs.existsSync(html.replace(/\.html$/, ".json")), `the HTML and JSON reports exist: ${html}`);
        await expectNoChanges();
    });

    it("4. a failing image fails pulumi up with the rollback message (traffic on the primary, canary at 0, the state on the old revision), and the next pulumi up holds it", async () => {
        const before = (await analysisOutputs()).revision;
        fault("6.0.2").errorRate = 1;
        await workspace.setConfig(`${PROJECT}:image`, image("6.0.2"));
        const result = await up();
        assert.notStrictEqual(result.code, 0, result.output);
        assert.match(result.output, /canary analysis of podinfo\.test failed: .*Traffic is back on podinfo-primary, the canary is scaled to zero and revision \S+ was not promoted/);
        assert.deepStrictEqual(await weights(), { primary: 100, canary: 0 });
        assert.strictEqual(await replicas(NAMES.target), 0);
        assert.strictEqual(await primaryImage(), image("6.0.1"), "the primary is untouched");
        assert.strictEqual((await analysisOutputs()).revision, before, "the state keeps the promoted revision");
        const failed = /revision (\S+) was not promoted/.exec(result.output)![1];
        const canary = await read("apps/v1", "Deployment", NAMES.target);
        assert.strictEqual(canary?.metadata?.annotations?.["appmesh-canary.io/failed-revision"], failed, "the failure is recorded on the canary Deployment");

        // The failed revision is held: another `pulumi up` moves no traffic and does not fail.
        const heldAt = Date.now();
        const held = await up();
        assert.strictEqual(held.code, 0, held.output);
        assert.match(held.output, new RegExp(`Revision ${failed} of podinfo\\.test failed at \\S+ \\(.*\\); held: traffic stays on podinfo-primary and the canary at zero`));
        assert.doesNotMatch(held.output, /New revision detected/);
        assert.deepStrictEqual(canaryWeightsSince(heldAt), [], "no traffic moved");
        assert.strictEqual(await primaryImage(), image("6.0.1"));
        const preview = await workspace.run(["preview", "--expect-no-changes"], { allowFailure: true });
        assert.notStrictEqual(preview.code, 0, "the held Analysis update stays pending");
        assert.match(preview.output, new RegExp(`Revision ${failed} of podinfo\\.test failed at .*pulumi up\` will hold it`));

        // Back to the promoted image: the same revision, no rollout.
        await workspace.setConfig(`${PROJECT}:image`, image("6.0.1"));
        const back = await up();
        assert.strictEqual(back.code, 0, back.output);
        assert.doesNotMatch(back.output, /New revision detected/);
        await expectNoChanges();
    });

    it("6. a change outside the pod template (load tester replicas, the analysis threshold) updates the stack without a rollout", async () => {
        const since = Date.now();
        await workspace.setConfig(`${PROJECT}:loadtester.replicas`, "2", { path: true });
        await workspace.setConfig(`${PROJECT}:canary.analysis.threshold`, "6", { path: true });
        const result = await up();
        assert.strictEqual(result.code, 0, result.output);
        assert.doesNotMatch(result.output, /New revision detected|Advance podinfo/);
        assert.deepStrictEqual(canaryWeightsSince(since), [], "no traffic moved");
        assert.strictEqual(await replicas("flagger-loadtester"), 2);
        await expectNoChanges();
    });

    it("5a. SIGKILL of the pulumi CLI mid-analysis: the orphaned provider host rolls back and exits; pulumi cancel + up completes", async () => {
        await workspace.setConfig(`${PROJECT}:canary.analysis.maxWeight`, "50", { path: true });
        await workspace.setConfig(`${PROJECT}:image`, image("6.0.3"));
        const command = upWithEvents(workspace, () => undefined, () => undefined);
        const started = Date.now();
        await waitFor("the canary at 15% or more", () => canaryWeightsSince(started).some((w) => w >= 15), 180_000);
        const host = workspaceProcesses(workspace).find((p) => /dynamic-provider/.test(p.command));
        assert.ok(host, `the dynamic-provider host runs: ${JSON.stringify(workspaceProcesses(workspace))}`);
        process.kill(command.process.pid!, "SIGKILL");
        const killedAt = Date.now();
        await command.done;
        await waitFor("the orphaned provider host to exit by itself", () => !isRunning(host.pid), 60_000);
        const afterKill = canaryWeightsSince(killedAt);
        assert.ok(afterKill.every((w, i) => i === afterKill.length - 1 ? w === 0 : w >= 15), `after the kill the only move is back to the primary: ${afterKill}`);
        assert.deepStrictEqual(await weights(), { primary: 100, canary: 0 });
        assert.strictEqual(await replicas(NAMES.target), 0);
        // Pulumi's own plugins survive the kill; they are the harness's to clean up.
        killWorkspaceProcesses(workspace);

        const locked = await up();
        assert.notStrictEqual(locked.code, 0);
        assert.match(locked.output, /the stack is currently locked/);
        await workspace.run(["cancel", "--yes"]);
        const resumed = await up();
        assert.strictEqual(resumed.code, 0, resumed.output);
        assert.match(resumed.output, /Promotion completed! Scaling down podinfo\.test/);
        assert.strictEqual(await primaryImage(), image("6.0.3"));
        await expectNoChanges();
    });

    it("5b. SIGKILL of the CLI and its provider host: the next run waits out the lease, recovers the routes first, and completes", async () => {
        // An 8 s interval makes the lease 24 s (3 × interval), longer than the next `pulumi up` takes to reach
        // the Analysis; the windows scale with it. The load test ends 3 s before the next tick: the load tester
        // skips a command still running, so a `hey -z 8s` would leave every other window without traffic.
        for (const [key, value] of [["interval", "8s"], ["metrics[0].interval", "8s"], ["metrics[1].interval", "8s"], ["webhooks[1].metadata.cmd", "hey -z 5s -q 10 -c 2 http://podinfo-canary.test:9898/"]]) {
            await workspace.setConfig(`${PROJECT}:canary.analysis.${key}`, value, { path: true });
        }
        await workspace.setConfig(`${PROJECT}:image`, image("6.0.4"));
        const command = upWithEvents(workspace, () => undefined, () => undefined);
        const started = Date.now();
        await waitFor("the canary at 15% or more", () => canaryWeightsSince(started).some((w) => w >= 15), 180_000);
        const host = workspaceProcesses(workspace).find((p) => /dynamic-provider/.test(p.command));
        assert.ok(host);
        process.kill(host.pid, "SIGKILL");
        process.kill(command.process.pid!, "SIGKILL");
        await command.done;
        killWorkspaceProcesses(workspace);
        const left = await weights();
        assert.ok(left.canary >= 15, `traffic left split: ${JSON.stringify(left)}`);
        const lease = await read("coordination.k8s.io/v1", "Lease", `${NAMES.target}-canary-analysis`);
        assert.ok(lease?.spec?.holderIdentity, "the killed run's lease is still held");

        await workspace.run(["cancel", "--yes"]);
        const resumedAt = Date.now();
        const events: string[] = [];
        const resumed = await upWithEvents(workspace, () => undefined, (event) => events.push(event.message)).done;
        assert.strictEqual(resumed.code, 0, resumed.output);
        const waiting = events.findIndex((e) => /lease held by/.test(e) && e.includes(lease.spec.holderIdentity));
        const recovering = events.indexOf("Recovering interrupted rollout of podinfo.test");
        const newRevision = events.indexOf("New revision detected! Scaling up podinfo.test");
        assert.ok(waiting >= 0 && recovering > waiting && newRevision > recovering, events.join("\n"));
        assert.strictEqual(canaryWeightsSince(resumedAt)[0], 0, "the first route change of the new run puts traffic back on the primary");
        assert.strictEqual(await primaryImage(), image("6.0.4"));
        assert.deepStrictEqual(await weights(), { primary: 100, canary: 0 });
        await expectNoChanges();
    });

    it("7. pulumi refresh records the live state on the Analysis", async () => {
        const result = await workspace.run(["refresh", "--yes", "--skip-preview"]);
        assert.strictEqual(result.code, 0, result.output);
        const { canaryStatus, ...live } = (await analysisOutputs()).live;
        assert.deepStrictEqual(live, { primaryWeight: 100, canaryWeight: 0, canaryReplicas: 0, state: "resting" });
        assert.strictEqual(canaryStatus.phase, "Succeeded", "the last rollout's status");
    });

    it("8. pulumi stack export holds no kubeconfig token, alert address or template credential in plain text", async () => {
        const text = (await workspace.run(["stack", "export"])).output;
        const token = /token:\s*(\S+)/.exec(cluster.kubeconfig)?.[1];
        assert.ok(token && token.length > 10, "the local cluster's kubeconfig has a bearer token");
        for (const secret of [token, ALERT_ADDRESS, TEMPLATE_TOKEN]) {
            assert.ok(!text.includes(secret), `the state holds ${secret.slice(0, 12)}... in plain text`);
        }
        assert.match(text, /"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"/, "secrets are stored as Pulumi secrets");
    });

    it("9. pulumi destroy removes everything it created", async () => {
        const result = await workspace.run(["destroy", "--yes", "--skip-preview"]);
        assert.strictEqual(result.code, 0, result.output);
        assert.strictEqual(await read("v1", "Namespace", NAMESPACE), undefined);
        assert.deepStrictEqual((await exported()).deployment.resources ?? [], []);
        assert.deepStrictEqual(workspaceProcesses(workspace).filter((p) => /dynamic-provider/.test(p.command)), [], "no provider host left running");
    });
});
