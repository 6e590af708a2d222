/**
 * The Kubernetes objects a stack with the given canaries applies: the program itself, run under Pulumi's mocks
 * with an `apps` stack config of podinfo apps (the first behind the ingress gateway), as `npm run render` runs a
 * stack. It runs in a child process (`renderApps`), which keeps the Pulumi runtime's process-wide state out of
 * the demo and the tests.
 */
import { execFile } from "child_process";
import * as path from "path";
import { routerKindOfSpec } from "../analysis/routers/factory";
import type { CanarySpec } from "../analysis/spec/canary";
import { PLAYGROUND_GATEWAY_CLASSES } from "./gateway-api";
import { PODINFO_AUTOSCALER, PODINFO_DEPLOYMENT, podinfoPodTemplate } from "../components/podinfo";

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

/** The `apps` config of one podinfo app: the tutorial's pod, Deployment settings and HPA, or fixed replicas. */
function podinfoApp(app: PlaygroundApp): Record<string, unknown> {
    const autoscaled = app.replicas === undefined;
    const { minReplicas, maxReplicas, metrics } = PODINFO_AUTOSCALER;
    return {
        workload: { ...PODINFO_DEPLOYMENT, ...(autoscaled ? {} : { replicas: app.replicas }), podTemplate: podinfoPodTemplate(app.image) },
        ...(autoscaled ? { autoscaler: { minReplicas, maxReplicas, metrics } } : {}),
        canary: {
            ...app.spec,
            ...(autoscaled ? { autoscalerRef: { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", name: app.target } } : {}),
        },
    };
}

/**
 * The stack config of a request: its apps, every tool at the tutorial's defaults. With App Mesh apps, the mesh
 * and the App Mesh gateway in front of the first of them; with none, a Gateway API Gateway of the playground's
 * class (`eg`) for the apps' routes.
 */
export function playgroundStackConfig(request: RenderRequest): Record<string, unknown> {
    const meshApps = request.apps.filter((app) => routerKindOfSpec(app.spec) === "appmesh");
    return {
        namespace: request.namespace,
        ...(meshApps.length > 0 ? { mesh: request.mesh, gateway: { app: meshApps[0].target } } : { gateway: { className: PLAYGROUND_GATEWAY_CLASSES[0] } }),
        apps: Object.fromEntries(request.apps.map((app) => [app.target, podinfoApp(app)])),
    };
}

/** Runs in the child: the program under mocks; returns the manifests, in dependency order. */
async function renderInThisProcess(request: RenderRequest): Promise<KubeObject[]> {
    const { installMocks, manifests, settle } = await import("../scripts/render");
    const { parseStackConfig } = await import("../config/stack");
    const mocks = await installMocks("playground");
    // Loaded after the mocks, as `npm run render` loads it; with a config in hand it reads none of Pulumi's.
    const program: (config: ReturnType<typeof parseStackConfig>, opts?: undefined, cluster?: { create: false }) => unknown = require("../index");
    program(parseStackConfig(playgroundStackConfig(request)), undefined, { create: false });
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
