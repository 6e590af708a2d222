/**
 * The Kubernetes objects a stack with the given canaries applies, built by the product's own components
 * (Mesh, one Canary per app, the ingress Gateway to the first, LoadTester) under Pulumi's mocks, as `npm run render` builds the dev stack.
 * The program itself deploys only podinfo until it takes a map of apps; the playground needs any target and
 * any number of canaries, so it composes the components as a user's program would. It runs in a child process
 * (`renderApps`), which keeps the Pulumi runtime's process-wide state out of the demo and the tests.
 */
import { execFile } from "child_process";
import * as path from "path";
import type { CanarySpec } from "../analysis/spec/canary";
import { GATEWAY_DEFAULTS, LOADTESTER_DEFAULTS } from "../config/stack";

export interface PlaygroundApp {
    /** Target Deployment (and Canary) name. */
    target: string;
    spec: CanarySpec;
    /** The target's image, e.g. `ghcr.io/stefanprodan/podinfo:6.0.0`. */
    image: string;
    /** Primary replicas; with none, the tutorial's HPA (2 to 4) manages both Deployments. */
    replicas?: number;
}

export interface RenderRequest {
    /** The namespace every app and the load tester live in (the tutorial's `test`). */
    namespace: string;
    mesh: string;
    apps: PlaygroundApp[];
}

type KubeObject = Record<string, any>;

/** Runs in the child: register the components and return the manifests, in dependency order. */
async function renderInThisProcess(request: RenderRequest): Promise<KubeObject[]> {
    const { installMocks, manifests, settle } = await import("../scripts/render");
    const { Mesh } = await import("../components/mesh");
    const { Canary } = await import("../components/canary");
    const { LoadTester } = await import("../components/loadtester");
    const { Gateway } = await import("../components/gateway");
    const { PODINFO_AUTOSCALER, PODINFO_DEPLOYMENT, podinfoPodTemplate } = await import("../components/podinfo");
    const mocks = await installMocks("playground");
    // Logical names as the program gives them, so the objects are named as the dev stack's are.
    const mesh = new Mesh("appmesh", { meshName: request.mesh, namespace: request.namespace });
    const canaries = request.apps.map(
        (app) =>
            new Canary(app.target, {
                namespace: mesh.namespaceName,
                spec: app.spec,
                podTemplate: podinfoPodTemplate(app.image),
                deployment: { ...PODINFO_DEPLOYMENT, ...(app.replicas === undefined ? {} : { replicas: app.replicas }) },
                autoscaler: app.replicas === undefined ? PODINFO_AUTOSCALER : undefined,
            }),
    );
    // The tutorial's ingress: the NLB and the gateway's Envoy in front of the first app.
    new Gateway("appmesh-gateway", { namespace: mesh.namespaceName, ...GATEWAY_DEFAULTS, virtualService: canaries[0].names.apex, routeAfter: [canaries[0].routing] });
    new LoadTester("flagger-loadtester", {
        namespace: mesh.namespaceName,
        image: LOADTESTER_DEFAULTS.image,
        replicas: 1,
        backends: canaries.flatMap((c) => [c.names.apex, c.names.canaryRouter]),
        backendsAfter: canaries.map((c) => c.routing),
    });
    await settle();
    return manifests(mocks.resources);
}

/** The objects of `request`, rendered in a child process. */
export function renderApps(request: RenderRequest): Promise<KubeObject[]> {
    return new Promise((resolve, reject) => {
        const child = execFile(
            process.execPath,
            ["-r", "ts-node/register/transpile-only", __filename],
            { cwd: path.resolve(__dirname, ".."), maxBuffer: 64 * 1024 * 1024 },
            (error, stdout, stderr) => (error ? reject(new Error(`rendering the playground's objects failed: ${stderr || error.message}`)) : resolve(JSON.parse(stdout))),
        );
        child.stdin!.end(JSON.stringify(request));
    });
}

if (require.main === module) {
    let input = "";
    process.stdin.on("data", (chunk) => (input += chunk));
    process.stdin.on("end", () => {
        renderInThisProcess(JSON.parse(input) as RenderRequest).then(
            (objects) => process.stdout.write(JSON.stringify(objects)),
            (error: Error) => {
                process.stderr.write(`${error.stack ?? error.message}\n`);
                process.exit(1);
            },
        );
    });
}
