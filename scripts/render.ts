/**
 * `npm run render -- [--stack dev]`: prints the Kubernetes manifests a stack would apply, as multi-document
 * YAML in dependency order, by running the program under Pulumi's mocks with the stack file's config. No
 * cluster, no Pulumi CLI. The mock harness is exported for the tests.
 */
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { PROJECT } from "../config/stack";

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

/** Installs fresh recording mocks for this process (replacing any mocks set before). */
export async function installMocks(stack = "dev"): Promise<RecordingMocks> {
    const mocks = new RecordingMocks();
    await pulumi.runtime.setMocks(mocks, PROJECT, stack, false);
    return mocks;
}

/** Waits until every registration the program started has been answered. */
export async function settle(): Promise<void> {
    await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
}

/** `Pulumi.<stack>.yaml` in the project directory. */
export function stackFile(stack: string): string {
    return path.join(REPO_ROOT, `Pulumi.${stack}.yaml`);
}

function readStackFile(file: string): Record<string, unknown> {
    if (!fs.existsSync(file)) {
        const stacks = fs.readdirSync(REPO_ROOT).filter((f) => /^Pulumi\..+\.yaml$/.test(f));
        throw new Error(`no stack file ${file}; stack files in the project: ${stacks.join(", ")}`);
    }
    return (parse(fs.readFileSync(file, "utf8"))?.config ?? {}) as Record<string, unknown>;
}

/** A stack's config keyed `appmesh-canary:<key>`, values as Pulumi stores them (objects as JSON text). */
export function stackFileConfig(stack: string, file = stackFile(stack)): Record<string, string> {
    const config = readStackFile(file);
    return Object.fromEntries(Object.entries(config).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]));
}

/** The same config as plain values (what `parseStackConfig` takes), keyed without the project prefix. */
export function stackFileValues(stack: string, file = stackFile(stack)): Record<string, unknown> {
    const prefix = `${PROJECT}:`;
    return Object.fromEntries(Object.entries(readStackFile(file)).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
}

/** How Pulumi marks a secret value on the wire (`specialSigKey` / `specialSecretSig` of the SDK's rpc module). */
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** Secret values replaced by `[secret]` (a secret map keeps its keys), everything else as is. */
export function redactSecrets(value: unknown): unknown {
    if (Array.isArray(value)) {
        return value.map(redactSecrets);
    }
    if (typeof value !== "object" || value === null) {
        return value;
    }
    const object = value as Record<string, unknown>;
    if (object[SECRET_SIG_KEY] === SECRET_SIG) {
        const inner = object.value;
        return typeof inner === "object" && inner !== null && !Array.isArray(inner)
            ? Object.fromEntries(Object.keys(inner).map((k) => [k, "[secret]"]))
            : "[secret]";
    }
    return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, redactSecrets(v)]));
}

/** Kubernetes objects among the registrations, in registration order; secret values are redacted. */
export function manifests(resources: RegisteredResource[]): Record<string, any>[] {
    return resources
        .filter((r) => r.custom && r.type.startsWith("kubernetes:"))
        .map((r) => {
            const { apiVersion, kind, metadata, ...rest } = redactSecrets(r.inputs) as Record<string, any>;
            return { apiVersion, kind, metadata, ...rest };
        });
}

export function toYaml(objects: Record<string, any>[]): string {
    return objects.map((o) => `---\n# ${o.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata?.name}\n${stringify(o)}`).join("");
}

/**
 * Runs the program for a stack under mocks (config from its stack file, or `file`) and returns its manifests.
 * A cluster the stack would create (`cluster.create`) is validated but not built: its AWS resources and Helm
 * releases are no manifests; what is rendered is everything the program applies into the cluster.
 */
export async function renderStack(stack: string, file = stackFile(stack), note: (line: string) => void = () => undefined): Promise<Record<string, any>[]> {
    const mocks = await installMocks(stack);
    const config = stackFileConfig(stack, file);
    pulumi.runtime.setAllConfig(config);
    mocks.clear();
    // Loaded only now: the program reads config when it runs, and validates all of it, `cluster` included.
    const program: (config?: undefined, opts?: undefined, cluster?: { create: false }) => unknown = require("../index");
    program(undefined, undefined, { create: false });
    await settle();
    if ((stackFileValues(stack, file).cluster as { create?: unknown } | undefined)?.create === true) {
        note(`cluster.create: the EKS cluster, the App Mesh controller and Prometheus are not rendered, only the objects applied into the cluster`);
    }
    return manifests(mocks.resources);
}

/** `--stack <name>` (default dev) and `--stack-file <path>` (config from another file). */
export function renderArguments(argv: string[]): { stack: string; file?: string } {
    const option = (name: string): string | undefined => {
        const at = argv.indexOf(name);
        if (at >= 0) {
            if (!argv[at + 1] || argv[at + 1].startsWith("--")) {
                throw new Error(`${name} needs a value, e.g. ${name === "--stack" ? "--stack dev" : "--stack-file ./Pulumi.dev.yaml"}`);
            }
            return argv[at + 1];
        }
        return argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
    };
    const unknown = argv.filter((a, i) => a.startsWith("-") && !/^--(stack|stack-file)(=|$)/.test(a) && !(i > 0 && /^--(stack|stack-file)$/.test(argv[i - 1])));
    if (unknown.length > 0) {
        throw new Error(`unknown option ${unknown.join(" ")}; usage: npm run render -- [--stack dev] [--stack-file path]`);
    }
    const file = option("--stack-file");
    return { stack: option("--stack") ?? "dev", file: file === undefined ? undefined : path.resolve(file) };
}

if (require.main === module) {
    Promise.resolve()
        .then(() => renderArguments(process.argv.slice(2)))
        .then(({ stack, file }) => renderStack(stack, file, (line) => process.stderr.write(`${line}\n`)))
        .then(
            (objects) => process.stdout.write(toYaml(objects)),
            (err: Error) => {
                process.stderr.write(`${err.message}\n`);
                process.exit(1);
            },
        );
}
