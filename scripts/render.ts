/**
 * `npm run render -- [--stack dev]`: prints the Kubernetes manifests a stack would apply, as multi-document
 * YAML in dependency order, by running the program under Pulumi's mocks with the stack file's config. No
 * cluster, no Pulumi CLI. The mock harness is exported for the tests.
 */
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { PROJECT } from "../analysis/stack-config";

export const REPO_ROOT = path.resolve(__dirname, "..");

/** One resource as the program registered it. */
export interface RegisteredResource {
    type: string;
    name: string;
    inputs: Record<string, any>;
    /** Provider reference (`<urn>::<id>`) the resource was registered with, if any. */
    provider?: string;
    custom: boolean;
}

/** Records every registration, in order; a registration waits for its dependencies, so the order is a topological one. */
export class RecordingMocks implements pulumi.runtime.Mocks {
    readonly resources: RegisteredResource[] = [];

    newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, any> } {
        this.resources.push({ type: args.type, name: args.name, inputs: args.inputs, provider: args.provider, custom: args.custom ?? true });
        return { id: `${args.name}-id`, state: args.inputs };
    }

    call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
        return args.inputs;
    }

    /** Forget what was recorded (to build another configuration in the same process). */
    clear(): void {
        this.resources.length = 0;
    }
}

/** Installs recording mocks for this process (once; later calls return the same recorder). */
let installed: RecordingMocks | undefined;
export async function installMocks(stack = "dev"): Promise<RecordingMocks> {
    if (!installed) {
        installed = new RecordingMocks();
        await pulumi.runtime.setMocks(installed, PROJECT, stack, false);
    }
    return installed;
}

/** Waits until every registration the program started has been answered. */
export async function settle(): Promise<void> {
    await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
}

/** `Pulumi.<stack>.yaml`'s config, keyed `appmesh-canary:<key>`, values as Pulumi stores them (objects as JSON text). */
export function stackFileConfig(stack: string, root = REPO_ROOT): Record<string, string> {
    const file = path.join(root, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) {
        throw new Error(`no stack file ${file}; stacks here: ${fs.readdirSync(root).filter((f) => /^Pulumi\..+\.yaml$/.test(f)).join(", ")}`);
    }
    const config = (parse(fs.readFileSync(file, "utf8"))?.config ?? {}) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(config).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]));
}

/** The same config as plain values (what `parseStackConfig` takes), keyed without the project prefix. */
export function stackFileValues(stack: string, root = REPO_ROOT): Record<string, unknown> {
    const config = (parse(fs.readFileSync(path.join(root, `Pulumi.${stack}.yaml`), "utf8"))?.config ?? {}) as Record<string, unknown>;
    const prefix = `${PROJECT}:`;
    return Object.fromEntries(Object.entries(config).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
}

/** Kubernetes objects among the registrations, in registration order; Secret values are redacted. */
export function manifests(resources: RegisteredResource[]): Record<string, any>[] {
    return resources
        .filter((r) => r.custom && r.type.startsWith("kubernetes:") && !r.type.startsWith("pulumi:providers:"))
        .map((r) => {
            const { apiVersion, kind, metadata, ...rest } = r.inputs;
            const object: Record<string, any> = { apiVersion, kind, metadata, ...rest };
            if (kind === "Secret") {
                for (const field of ["data", "stringData"]) {
                    if (object[field]) {
                        object[field] = Object.fromEntries(Object.keys(object[field]).map((k) => [k, "[secret]"]));
                    }
                }
            }
            return object;
        });
}

export function toYaml(objects: Record<string, any>[]): string {
    return objects.map((o) => `---\n# ${o.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata?.name}\n${stringify(o)}`).join("");
}

/** Runs the program for a stack file under mocks and returns its manifests. */
export async function renderStack(stack: string): Promise<Record<string, any>[]> {
    const mocks = await installMocks(stack);
    pulumi.runtime.setAllConfig(stackFileConfig(stack));
    mocks.clear();
    // Loaded only now: the program reads config when it runs.
    const program: () => unknown = require("../index");
    program();
    await settle();
    return manifests(mocks.resources);
}

function stackArgument(argv: string[]): string {
    const at = argv.findIndex((a) => a === "--stack" || a === "-s");
    if (at >= 0) {
        if (!argv[at + 1]) {
            throw new Error("--stack needs a stack name, e.g. --stack dev");
        }
        return argv[at + 1];
    }
    const inline = argv.find((a) => a.startsWith("--stack="));
    return inline ? inline.slice("--stack=".length) : "dev";
}

if (require.main === module) {
    renderStack(stackArgument(process.argv.slice(2))).then(
        (objects) => process.stdout.write(toYaml(objects)),
        (err: Error) => {
            process.stderr.write(`${err.message}\n`);
            process.exit(1);
        },
    );
}
