import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { installMocks, manifests, settle, stackFileConfig, stackFileValues, type RecordingMocks, type RegisteredResource } from "../../scripts/render";

const ANALYSIS_TYPE = "pulumi-nodejs:dynamic/appmesh-canary:Analysis";
const FINALIZE_TYPE = "pulumi-nodejs:dynamic/appmesh-canary:Finalize";
/** How a secret travels to the engine (the SDK's `specialSigKey` / `specialSecretSig`). */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

const isSecret = (value: unknown) => (value as Record<string, unknown>)?.[SECRET_SIG] === "1b47061264138c4ac30d75fd1eb44270";
const indexOf = (resources: RegisteredResource[], predicate: (r: RegisteredResource) => boolean, what: string) => {
    const i = resources.findIndex(predicate);
    assert.ok(i >= 0, `${what} was not registered`);
    return i;
};
const k8sObject = (kind: string, name: string) => (r: RegisteredResource) => r.type.endsWith(`:${kind}`) && r.inputs.metadata?.name === name;

describe("the Canary component wires Analysis and Finalize (mocks)", function () {
    let mocks: RecordingMocks;

    before(async () => {
        mocks = await installMocks("dev");
        pulumi.runtime.setAllConfig(stackFileConfig("dev"));
    });

    describe("dev stack", () => {
        let resources: RegisteredResource[];

        before(async () => {
            const main = require("../../index");
            const { parseStackConfig } = require("../../config/stack");
            mocks.clear();
            main(parseStackConfig(stackFileValues("dev")));
            await settle();
            resources = [...mocks.resources];
        });

        it("registers one Analysis with the canary's template, spec, resting router and plan", () => {
            const analysis = resources.filter((r) => r.type === ANALYSIS_TYPE);
            assert.equal(analysis.length, 1);
            const { inputs } = analysis[0];
            assert.equal(analysis[0].name, "podinfo-analysis");
            assert.equal(typeof inputs.__provider, "string");
            assert.deepEqual(inputs.target, { name: "podinfo", namespace: "test", service: "podinfo" });
            assert.equal(inputs.canary.analysis.maxWeight, 50);
            assert.equal(inputs.canary.metricsServer, "http://appmesh-prometheus.appmesh-system:9090");
            const target = manifests(resources).find((o) => o.kind === "Deployment" && o.metadata.name === "podinfo")!;
            assert.deepEqual(inputs.template, target.spec.template);
            assert.match(inputs.revision, /^[0-9a-f]{16}$/);
            assert.equal(inputs.plan, "weights 5→50 step 5 every 1m, ~10m, rollback after 5 failed checks");
            const router = manifests(resources).find((o) => o.kind === "VirtualRouter" && o.metadata.name === "podinfo")!;
            assert.deepEqual(inputs.router, { kind: "appmesh", virtualRouter: router.spec });
            assert.equal(inputs.autoscalerMinReplicas, 2);
        });

        it("orders the graph: canary and routers → Analysis → primary → Finalize", () => {
            const analysis = indexOf(resources, (r) => r.type === ANALYSIS_TYPE, "Analysis");
            const finalize = indexOf(resources, (r) => r.type === FINALIZE_TYPE, "Finalize");
            for (const before of [k8sObject("Deployment", "podinfo"), k8sObject("VirtualRouter", "podinfo"), k8sObject("VirtualRouter", "podinfo-canary")]) {
                assert.ok(indexOf(resources, before, "dependency") < analysis);
            }
            const primary = indexOf(resources, k8sObject("Deployment", "podinfo-primary"), "primary Deployment");
            assert.ok(analysis < primary && primary < finalize);
            assert.ok(indexOf(resources, k8sObject("HorizontalPodAutoscaler", "podinfo-primary"), "primary HPA") < finalize);
        });

        it("with the standard mock (outputs echo inputs) the primary runs the canary's template", () => {
            const objects = manifests(resources);
            const target = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "podinfo")!;
            const primary = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "podinfo-primary")!;
            assert.deepEqual(primary.spec.template.spec, target.spec.template.spec);
        });

        it("records the promoted revision (the Analysis output) on the primary Deployment, for create to tell a replace from a first deployment", () => {
            const analysis = resources.find((r) => r.type === ANALYSIS_TYPE)!;
            const primary = manifests(resources).find((o) => o.kind === "Deployment" && o.metadata.name === "podinfo-primary")!;
            assert.deepEqual(primary.metadata.annotations, { "appmesh-canary.io/revision": analysis.inputs.revision });
            assert.equal(analysis.inputs.retryRevision, undefined);
        });

        it("feeds Finalize the Analysis outputs", () => {
            const analysis = resources.find((r) => r.type === ANALYSIS_TYPE)!;
            const finalize = resources.find((r) => r.type === FINALIZE_TYPE)!;
            assert.equal(finalize.name, "podinfo-finalize");
            assert.equal(finalize.inputs.revision, analysis.inputs.revision);
            assert.deepEqual(finalize.inputs.target, analysis.inputs.target);
            assert.deepEqual(finalize.inputs.router, analysis.inputs.router);
        });
    });

    it("gives the analysis the default Kubernetes provider's kubeconfig (a path is read) and context, as a secret", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kubeconfig-"));
        const file = path.join(dir, "config");
        const kubeconfig = "apiVersion: v1\nkind: Config\nclusters: []\n";
        fs.writeFileSync(file, kubeconfig);
        try {
            pulumi.runtime.setAllConfig({ ...stackFileConfig("dev"), "kubernetes:kubeconfig": file, "kubernetes:context": "eks-dev" }, ["kubernetes:kubeconfig"]);
            const main = require("../../index");
            const { parseStackConfig } = require("../../config/stack");
            mocks.clear();
            main(parseStackConfig(stackFileValues("dev")));
            await settle();
            for (const type of [ANALYSIS_TYPE, FINALIZE_TYPE]) {
                const { inputs } = mocks.resources.find((r) => r.type === type)!;
                assert.ok(isSecret(inputs.kubeconfig), `${type} kubeconfig is secret`);
                assert.equal(inputs.kubeconfig.value, kubeconfig);
                assert.equal(inputs.kubeContext, "eks-dev");
            }
        } finally {
            pulumi.runtime.setAllConfig(stackFileConfig("dev"));
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("leaves the analysis on KUBECONFIG when the provider has no kubeconfig in config", async () => {
        const main = require("../../index");
        const { parseStackConfig } = require("../../config/stack");
        mocks.clear();
        main(parseStackConfig(stackFileValues("dev")));
        await settle();
        const { inputs } = mocks.resources.find((r) => r.type === ANALYSIS_TYPE)!;
        assert.equal(inputs.kubeconfig, undefined);
        assert.equal(inputs.kubeContext, undefined);
    });

    it("keeps the kubeconfig, alert providers and Secret data secret, and copies tracked configs from the Analysis", async () => {
        const { Canary } = require("../../components/canary");
        const { PODINFO_DEPLOYMENT, podinfoPodTemplate } = require("../../components/podinfo");
        const { parseStackConfig } = require("../../config/stack");
        const config = parseStackConfig(stackFileValues("dev"));
        mocks.clear();
        new Canary("podinfo", {
            namespace: "test",
            spec: config.apps[0].canary,
            podTemplate: podinfoPodTemplate("ghcr.io/stefanprodan/podinfo:6.0.0"),
            deployment: PODINFO_DEPLOYMENT,
            configMaps: [{ name: "podinfo-config", data: { color: "blue" } }],
            secrets: [{ name: "podinfo-token", stringData: { token: "s3cr3t" } }],
            kubeconfig: "apiVersion: v1\nkind: Config\n",
            alertProviders: { slack: { type: "slack", address: "https://hooks.slack.com/services/x" } },
        });
        await settle();
        const analysis = mocks.resources.find((r) => r.type === ANALYSIS_TYPE)!;
        assert.ok(isSecret(analysis.inputs.kubeconfig));
        assert.ok(isSecret(analysis.inputs.alertProviders));
        assert.ok(isSecret(analysis.inputs.secretData));
        assert.deepEqual(analysis.inputs.configData, { "podinfo-config": { color: "blue" } });
        assert.ok(!JSON.stringify(analysis.inputs.revision).includes(SECRET_SIG), "the revision digest stays plain");
        const copy = mocks.resources.find(k8sObject("ConfigMap", "podinfo-config-primary"));
        assert.deepEqual(copy?.inputs.data, { color: "blue" });
        const secretCopy = mocks.resources.find(k8sObject("Secret", "podinfo-token-primary"));
        assert.ok(secretCopy, "the -primary Secret copy is registered");
        assert.ok(isSecret(secretCopy!.inputs.stringData));
    });

    it("writes reports to .rollouts/<stack> beside the program when the stack names no reportDirectory, and resolves a named one there too", async () => {
        const main = require("../../index");
        const { parseStackConfig } = require("../../config/stack");
        const reportDirectory = async (values: Record<string, unknown>) => {
            mocks.clear();
            main(parseStackConfig(values));
            await settle();
            return mocks.resources.find((r) => r.type === ANALYSIS_TYPE)!.inputs.reportDirectory;
        };
        // Pulumi runs the program in the program's directory (the language host's --pwd), so that is where it resolves.
        const program = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "program-")));
        const cwd = process.cwd();
        process.chdir(program);
        try {
            assert.equal(stackFileValues("dev").reportDirectory, undefined, "the dev stack names none");
            assert.equal(await reportDirectory(stackFileValues("dev")), path.join(program, ".rollouts", "dev"));
            assert.equal(await reportDirectory({ ...stackFileValues("dev"), reportDirectory: "reports/canary" }), path.join(program, "reports", "canary"));
        } finally {
            process.chdir(cwd);
            fs.rmSync(program, { recursive: true, force: true });
        }
    });

    it("passes the stack's retryRevision through the Canary to the Analysis", async () => {
        const main = require("../../index");
        const { parseStackConfig } = require("../../config/stack");
        mocks.clear();
        main(parseStackConfig({ ...stackFileValues("dev"), retryRevision: "40a857abea41bb8f" }));
        await settle();
        assert.equal(mocks.resources.find((r) => r.type === ANALYSIS_TYPE)!.inputs.retryRevision, "40a857abea41bb8f");
    });
});

describe("kubeconfigContents (the provider's kubeconfig setting: contents or a path)", () => {
    const { kubeconfigContents } = require("../../components/kube-access");
    const reads: string[] = [];
    const readFile = (p: string) => {
        reads.push(p);
        return `read ${p}`;
    };

    it("keeps YAML and JSON contents as they are", () => {
        const yaml = "apiVersion: v1\nclusters:\n- name: eks\n";
        const json = '{"apiVersion":"v1","clusters":[]}';
        assert.equal(kubeconfigContents(yaml, readFile), yaml);
        assert.equal(kubeconfigContents(json, readFile), json);
        assert.deepEqual(reads, []);
    });

    it("reads a path, expanding ~ to HOME", () => {
        assert.equal(kubeconfigContents("/etc/kube/config", readFile), "read /etc/kube/config");
        assert.equal(kubeconfigContents("~/.kube/config", readFile), `read ${process.env.HOME}/.kube/config`);
    });
});
