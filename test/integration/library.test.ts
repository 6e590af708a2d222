/**
 * The package as a library (README, "Using it as a library"): `npm run build` emits the entry point with its
 * declarations; installed into a project of its own as npm installs it, it type-checks and runs the example
 * program under Pulumi's mocks, and its dynamic providers, serialized from there, run in a fresh process of
 * that project.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as ts from "typescript";
import { parse } from "yaml";
import { serializeProvider } from "../../playground/provider-host";
import { REPO_ROOT, RecordingMocks, manifests, settle } from "../../scripts/render";
import { TARGET, restingRouter, tutorialCanary } from "./rollout-fixtures";

const PACKAGE = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { name: string; version: string; main: string; types: string; files: string[] };
const EXAMPLE_DIR = path.join(REPO_ROOT, "examples", "two-canaries");
const COMPONENTS = ["Mesh", "Canary", "Gateway", "LoadTester", "AppMeshCluster"];

/**
 * The package in `<project>/node_modules` as npm installs it: package.json and its `files`, copied, so the
 * closure serializer sees a module under node_modules. Its dependencies sit beside it, hoisted, as links to
 * this repository's node_modules: one @pulumi/pulumi, whose mocks and serializer the test drives.
 */
function installPackage(project: string): string {
    const pkg = path.join(project, "node_modules", PACKAGE.name);
    for (const entry of ["package.json", ...PACKAGE.files]) {
        fs.cpSync(path.join(REPO_ROOT, entry), path.join(pkg, entry), { recursive: true });
    }
    for (const dependency of fs.readdirSync(path.join(REPO_ROOT, "node_modules"))) {
        fs.symlinkSync(path.join(REPO_ROOT, "node_modules", dependency), path.join(project, "node_modules", dependency));
    }
    return pkg;
}

/** What the dynamic-provider host does with a serialized provider, then `check` and `diff` on the inputs given on stdin. */
const RUN_PROVIDER = `
const { text, inputs, bad } = JSON.parse(require("fs").readFileSync(0, "utf8"));
const provider = require("require-from-string")(text).handler();
(async () => process.stdout.write(JSON.stringify({
    packageAt: require.resolve(${JSON.stringify(`${PACKAGE.name}/package.json`)}),
    good: (await provider.check({}, inputs)).failures,
    bad: (await provider.check({}, bad)).failures,
    unchanged: (await provider.diff("test/podinfo", inputs, inputs)).changes,
    newRevision: (await provider.diff("test/podinfo", inputs, { ...inputs, revision: "def" })).changes,
})))();
`;

describe("the package as a library", function () {
    this.timeout(180_000);
    let project: string;
    let pkg: string;
    let mocks: RecordingMocks;

    before(async () => {
        execFileSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, stdio: "pipe", env: { ...process.env, npm_config_update_notifier: "false" } });
        project = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "appmesh-canary-library-")));
        pkg = installPackage(project);
        for (const file of ["index.ts", "tsconfig.json"]) {
            fs.copyFileSync(path.join(EXAMPLE_DIR, file), path.join(project, file));
        }
        // The example's own project name, so its `pulumi.Config` reads `two-canaries:<key>`.
        const { name } = parse(fs.readFileSync(path.join(EXAMPLE_DIR, "Pulumi.yaml"), "utf8")) as { name: string };
        mocks = new RecordingMocks();
        await pulumi.runtime.setMocks(mocks, name, "dev", false);
        pulumi.runtime.setAllConfig({ [`${name}:checkoutImage`]: "checkout:1.5.0" });
    });

    after(() => {
        fs.rmSync(project, { recursive: true, force: true });
    });

    it("npm run build emits the entry point and its declarations: the components, their args and the spec's validation", () => {
        const types = path.join(pkg, PACKAGE.types);
        const program = ts.createProgram([types], { skipLibCheck: true, types: [] });
        const checker = program.getTypeChecker();
        const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(types)!)!).map((s) => s.name);
        for (const name of [...COMPONENTS, ...COMPONENTS.map((c) => `${c}Args`), "CanarySpec", "DeploymentSettings", "AutoscalerSettings", "TrackedConfigMap", "TrackedSecret", "parseCanarySpec", "validateCanarySpec"]) {
            assert.ok(exported.includes(name), `${PACKAGE.types} does not export ${name}; it exports ${exported.join(", ")}`);
        }
        const library = require(path.join(pkg, PACKAGE.main));
        for (const name of COMPONENTS) {
            // The same @pulumi/pulumi as the program's: its components register with the program's runtime.
            assert.ok(library[name].prototype instanceof pulumi.ComponentResource, `${name} is not a ComponentResource`);
        }
        assert.throws(() => library.parseCanarySpec({ service: { port: 0 } }), /invalid canary spec[\s\S]*canary\.service\.port/);
        assert.ok(!fs.existsSync(path.join(pkg, "dist", "playground")) && !fs.existsSync(path.join(pkg, "dist", "test")), "the build holds only the library");
    });

    it("the example type-checks against the installed package's declarations, not this repository's sources", () => {
        const tsc = require.resolve("typescript/bin/tsc");
        const files = execFileSync(process.execPath, [tsc, "-p", path.join(project, "tsconfig.json"), "--listFiles"], { encoding: "utf8" }).split("\n");
        assert.ok(files.includes(path.join(pkg, PACKAGE.types)), "the example's import resolved elsewhere");
        assert.deepEqual(files.filter((f) => f.startsWith(REPO_ROOT) && !f.startsWith(path.join(REPO_ROOT, "node_modules"))), []);
        assert.ok(fs.existsSync(path.join(project, "bin", "index.js")));
    });

    it("the README shows the example program as tested, installed from the tarball `npm pack` makes of this version", () => {
        const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
        const section = readme.slice(readme.indexOf("\n## Using it as a library\n"));
        assert.equal(/```ts\n([\s\S]*?)```/.exec(section)?.[1], fs.readFileSync(path.join(EXAMPLE_DIR, "index.ts"), "utf8"));
        const example = JSON.parse(fs.readFileSync(path.join(EXAMPLE_DIR, "package.json"), "utf8"));
        assert.equal(example.dependencies[PACKAGE.name], `file:../../${PACKAGE.name}-${PACKAGE.version}.tgz`);
    });

    describe("the example under mocks", () => {
        let objects: Record<string, any>[];
        let outputs: Record<string, any>;
        const named = (kind: string) => objects.filter((o) => o.kind === kind).map((o) => o.metadata.name).sort();
        const one = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);

        before(async () => {
            mocks.clear();
            outputs = require(path.join(project, "bin", "index.js"));
            await settle();
            objects = manifests(mocks.resources);
        });

        it("creates both apps' canary and primary Deployments, with the load tester's and the gateway's, all in the mesh's namespace", () => {
            assert.deepEqual(named("Mesh"), ["shop"]);
            assert.deepEqual(named("Namespace"), ["shop"]);
            assert.deepEqual(named("Deployment"), ["catalog", "catalog-primary", "checkout", "checkout-primary", "flagger-loadtester", "shop-gateway"]);
            assert.deepEqual(named("HorizontalPodAutoscaler"), ["checkout", "checkout-primary"]);
            assert.deepEqual(objects.filter((o) => o.metadata.namespace !== "shop").map((o) => `${o.kind} ${o.metadata.name}`).sort(), ["Mesh shop", "Namespace shop"]);
            assert.equal(one("Deployment", "checkout")?.spec.template.spec.containers[0].image, "checkout:1.5.0");
            assert.equal(one("Deployment", "catalog-primary")?.spec.replicas, 2);
        });

        it("gives each app its VirtualNodes, routers and VirtualServices", () => {
            assert.deepEqual(named("VirtualNode"), ["catalog-canary", "catalog-primary", "checkout-canary", "checkout-primary", "flagger-loadtester"]);
            assert.deepEqual(named("VirtualRouter"), ["catalog", "catalog-canary", "checkout", "checkout-canary"]);
            assert.deepEqual(named("VirtualService"), ["catalog", "catalog-canary", "checkout", "checkout-canary"]);
            assert.deepEqual(one("VirtualRouter", "catalog")?.spec.listeners[0].portMapping, { port: 9090, protocol: "http" });
        });

        it("tracks checkout's ConfigMap: the primary reads its -primary copy", () => {
            assert.deepEqual(named("ConfigMap"), ["checkout-config", "checkout-config-primary"]);
            for (const name of named("ConfigMap")) {
                assert.deepEqual(one("ConfigMap", name)?.data, { PAYMENT_TIMEOUT: "5s" });
            }
            assert.equal(one("Deployment", "checkout-primary")?.spec.template.spec.containers[0].envFrom[0].configMapRef.name, "checkout-config-primary");
        });

        it("registers one Analysis and one Finalize per app, their provider required from the installed package", () => {
            const dynamic = mocks.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic"));
            assert.deepEqual(dynamic.map((r) => `${r.type} ${r.name}`).sort(), [
                "pulumi-nodejs:dynamic/appmesh-canary:Analysis catalog-analysis",
                "pulumi-nodejs:dynamic/appmesh-canary:Analysis checkout-analysis",
                "pulumi-nodejs:dynamic/appmesh-canary:Finalize catalog-finalize",
                "pulumi-nodejs:dynamic/appmesh-canary:Finalize checkout-finalize",
            ]);
            for (const resource of dynamic) {
                assert.match(resource.inputs.__provider, new RegExp(`require\\("${PACKAGE.name}/dist/analysis/provider/providers\\.js"\\)`), resource.name);
            }
            const checkout = dynamic.find((r) => r.name === "checkout-analysis")!;
            // parseCanarySpec dropped the pasted targetRef/autoscalerRef.
            assert.deepEqual(Object.keys(checkout.inputs.canary).sort(), ["analysis", "service"]);
            assert.deepEqual(checkout.inputs.target, { name: "checkout", namespace: "shop", service: "checkout" });
        });

        it("serves both apps from one load tester and puts the gateway in front of checkout", () => {
            const backends = one("VirtualNode", "flagger-loadtester")?.spec.backends.map((b: any) => b.virtualService.virtualServiceRef.name);
            assert.deepEqual(backends, ["checkout", "checkout-canary", "catalog", "catalog-canary"]);
            assert.deepEqual(named("VirtualGateway"), ["shop-gateway"]);
            assert.deepEqual(named("GatewayRoute").map((name) => one("GatewayRoute", name)?.spec.httpRoute.action.target.virtualService.virtualServiceRef.name), ["checkout"]);
        });

        it("exports the namespace, both canaries and the load tester's URL", async () => {
            const values = await new Promise((resolve) => pulumi.all([outputs.namespace, outputs.targets, outputs.loadtesterUrl]).apply(resolve));
            assert.deepEqual(values, [
                "shop",
                [{ name: "checkout", namespace: "shop", service: "checkout" }, { name: "catalog", namespace: "shop", service: "catalog" }],
                "http://flagger-loadtester.shop/",
            ]);
        });
    });

    it("the Analysis provider serialized from the installed package requires its modules by package path and runs in a fresh process of the project", async () => {
        const { analysisProvider } = require(require.resolve(`${PACKAGE.name}/dist/analysis/provider/providers`, { paths: [project] }));
        const text = await serializeProvider(analysisProvider);
        // Modules under node_modules are captured as require(...) of the package, not by value nor by a path of this machine.
        assert.match(text, new RegExp(`require\\("${PACKAGE.name}/dist/analysis/spec/validation\\.js"\\)`));
        assert.ok(!text.includes(project) && !text.includes(REPO_ROOT), "the serialized provider names a path of this machine");
        const inputs = { target: TARGET, canary: tutorialCanary(), router: restingRouter(), revision: "abc", template: {}, configData: {}, secretData: {}, plan: "" };
        const bad = { ...inputs, canary: { ...inputs.canary, analysis: { ...inputs.canary.analysis, maxWeight: 150 } } };
        const result = JSON.parse(execFileSync(process.execPath, ["-e", RUN_PROVIDER], { cwd: project, input: JSON.stringify({ text, inputs, bad }), encoding: "utf8", timeout: 60_000 }));
        assert.equal(result.packageAt, path.join(pkg, "package.json"));
        assert.deepEqual(result.good, []);
        assert.deepEqual(result.bad, [{ property: "canary.analysis.maxWeight", reason: "must be an integer from 1 to 100, got 150" }]);
        assert.equal(result.unchanged, false);
        assert.equal(result.newRevision, true);
    });
});
