import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { REPO_ROOT, redactSecrets, renderArguments, stackFileValues } from "../../scripts/render";

/** Runs `npm run render -- <args>` as a user would. */
function render(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        execFile("npm", ["run", "--silent", "render", "--", ...args], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
            resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
        });
    });
}

function objectsOf(yamlText: string): Record<string, any>[] {
    return parseAllDocuments(yamlText).map((doc) => {
        assert.deepEqual(doc.errors, []);
        return doc.toJS();
    }).filter((o) => o !== null);
}

describe("npm run render", function () {
    this.timeout(120_000);

    it("prints the dev stack as multi-document YAML: every object, in dependency order", async () => {
        const { code, stdout, stderr } = await render(["--stack", "dev"]);
        assert.equal(code, 0, stderr);
        const objects = objectsOf(stdout);
        const ids = objects.map((o) => `${o.kind}/${o.metadata.name}`);
        assert.equal(new Set(ids).size, ids.length, "each object once");
        for (const id of [
            "Namespace/test", "Mesh/global", "Deployment/podinfo", "Deployment/podinfo-primary", "HorizontalPodAutoscaler/podinfo",
            "HorizontalPodAutoscaler/podinfo-primary", "Service/podinfo", "Service/podinfo-primary", "Service/podinfo-canary",
            "VirtualNode/podinfo-primary", "VirtualNode/podinfo-canary", "VirtualRouter/podinfo", "VirtualRouter/podinfo-canary",
            "VirtualService/podinfo", "VirtualService/podinfo-canary", "VirtualGateway/appmesh-gateway", "Deployment/appmesh-gateway",
            "Service/appmesh-gateway", "GatewayRoute/podinfo", "Deployment/flagger-loadtester", "Service/flagger-loadtester",
            "VirtualNode/flagger-loadtester",
        ]) {
            assert.ok(ids.includes(id), `${id} rendered`);
        }
        assert.equal(ids.length, 22);
        for (const o of objects) {
            assert.ok(typeof o.apiVersion === "string" && typeof o.kind === "string" && typeof o.metadata?.name === "string", JSON.stringify(o).slice(0, 80));
        }
        const at = (id: string) => ids.indexOf(id);
        assert.equal(at("Namespace/test") < at("Deployment/podinfo") && at("Mesh/global") < at("VirtualNode/podinfo-canary"), true);
        assert.ok(at("VirtualNode/podinfo-canary") < at("Deployment/podinfo"));
        assert.ok(at("VirtualNode/podinfo-primary") < at("Deployment/podinfo-primary"));
        assert.ok(at("VirtualRouter/podinfo") < at("VirtualService/podinfo"));
        assert.ok(at("VirtualService/podinfo") < at("GatewayRoute/podinfo"));
        assert.equal(objects[at("VirtualRouter/podinfo")].spec.routes[0].httpRoute.action.weightedTargets[1].weight, 100);
    });

    it("renders the prod stack from its stack file", async () => {
        const { code, stdout, stderr } = await render(["--stack=prod"]);
        assert.equal(code, 0, stderr);
        const objects = objectsOf(stdout);
        assert.equal(objects.find((o) => o.kind === "Namespace")?.metadata.name, "prod");
        // Two apps: frontend (HPA, a tracked ConfigMap and its copy) and backend, beside the shared objects.
        assert.equal(objects.length, 35);
        const deployments = objects.filter((o) => o.kind === "Deployment").map((o) => o.metadata.name).sort();
        assert.deepEqual(deployments, ["appmesh-gateway", "backend", "backend-primary", "flagger-loadtester", "frontend", "frontend-primary"]);
    });

    it("renders a stack that creates its cluster: the objects applied into it, with a note on stderr", async () => {
        const { code, stdout, stderr } = await render(["--stack", "eks"]);
        assert.equal(code, 0, stderr);
        assert.match(stderr, /cluster\.create: the EKS cluster, the App Mesh controller and Prometheus are not rendered/);
        assert.equal(objectsOf(stdout).length, 22);
    });

    it("fails with every bad field of the stack config named, and nothing on stdout", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "render-"));
        try {
            const values = stackFileValues("dev") as any;
            values.canary.analysis.maxWeight = 150;
            values.canary.service.port = 70000;
            // A misspelt key: left alone, the analysis would query the default Prometheus.
            values.metricServer = "http://prometheus.monitoring:9090";
            values.cluster = { create: "yes" };
            const file = path.join(dir, "Pulumi.bad.yaml");
            fs.writeFileSync(file, stringify({ config: Object.fromEntries(Object.entries(values).map(([k, v]) => [`appmesh-canary:${k}`, v])) }));
            const { code, stdout, stderr } = await render(["--stack", "bad", "--stack-file", file]);
            assert.equal(code, 1);
            assert.equal(stdout, "");
            assert.match(stderr, /invalid stack config .*\(4 problems\)/);
            assert.match(stderr, /cluster\.create: must be true or false, got "yes"/);
            assert.match(stderr, /metricServer: is not a config key of this program \(appmesh-canary:metricServer\); allowed: namespace, mesh, apps, image, metricsServer/);
            assert.match(stderr, /canary\.analysis\.maxWeight: must be an integer from 1 to 100, got 150/);
            assert.match(stderr, /canary\.service\.port: must be an integer from 1 to 65535, got 70000/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("names the stack files when the stack has none, and rejects unknown options", async () => {
        const missing = await render(["--stack", "staging"]);
        assert.equal(missing.code, 1);
        assert.match(missing.stderr, /no stack file .*Pulumi\.staging\.yaml; stack files in the project: .*Pulumi\.dev\.yaml/);
        assert.throws(() => renderArguments(["--stak", "dev"]), /unknown option --stak/);
        assert.throws(() => renderArguments(["--stack"]), /--stack needs a value/);
        assert.deepEqual(renderArguments([]), { stack: "dev", file: undefined });
    });

    it("redacts secret values and keeps their keys", () => {
        const secret = (value: unknown) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value });
        assert.deepEqual(redactSecrets({ kind: "Secret", stringData: secret({ TOKEN: "t0p" }), list: [secret("x"), "plain"] }),
            { kind: "Secret", stringData: { TOKEN: "[secret]" }, list: ["[secret]", "plain"] });
    });
});
