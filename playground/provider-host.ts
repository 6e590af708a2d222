/**
 * Drives a dynamic provider through Pulumi's own host process, as `pulumi up` does: spawns
 * `@pulumi/pulumi/cmd/dynamic-provider` (what the `pulumi-resource-pulumi-nodejs` plugin runs), reads the gRPC
 * port it prints, and calls configure / check / diff / create / update / read / delete with the provider's
 * serialized text as the `__provider` property. The host module is never loaded in this process (it starts a
 * server on load); its stdout lines (the rollout's events) go to a callback. The engine address the host is
 * given is a TCP server here, which the host probes to know its `pulumi up` is still there; closing it is
 * the CLI dying.
 */
import { ChildProcess, spawn } from "child_process";
import * as net from "net";
import * as path from "path";
import * as readline from "readline";

const PROVIDER_KEY = "__provider";

type Props = Record<string, unknown>;

export interface CheckResult {
    inputs: Props;
    failures: { property: string; reason: string }[];
}

export interface DiffResult {
    changes: "none" | "some" | "unknown";
    replaces: string[];
    deleteBeforeReplace: boolean;
}

export interface ProviderHost {
    /** The host's pid (for tests that check it is gone). */
    pid: number;
    /** Resolves with the host's exit code (null after a signal) once it has exited. */
    exited: Promise<number | null>;
    configure(config?: Record<string, string>): Promise<void>;
    check(urn: string, olds: Props, news: Props): Promise<CheckResult>;
    diff(id: string, urn: string, olds: Props, news: Props): Promise<DiffResult>;
    create(urn: string, properties: Props): Promise<{ id: string; properties: Props }>;
    update(id: string, urn: string, olds: Props, news: Props): Promise<{ properties: Props }>;
    read(id: string, urn: string, properties: Props): Promise<{ id: string; properties: Props }>;
    delete(id: string, urn: string, properties: Props): Promise<void>;
    /** Ends the host gracefully. */
    stop(): Promise<void>;
    /** SIGKILL, as a second Ctrl-C does 5 s after SIGINT: no cleanup runs. */
    kill(): void;
    /**
     * Close the engine address and its connections, as the `pulumi` CLI being killed does; the host lives on.
     * With `closeOutput`, also close the host's stdout and stderr pipes, as the killed CLI's end of them closes.
     */
    dropEngine(options?: { closeOutput?: boolean }): Promise<void>;
}

export interface ProviderHostOptions {
    /** Every line the host writes; the dynamic provider's progress arrives here. */
    onLine?: (line: string, stream: "stdout" | "stderr") => void;
    /** Where the host runs; serialized providers resolve `node_modules` from here. The project root by default. */
    cwd?: string;
    env?: NodeJS.ProcessEnv;
}

/** `URN` of a dynamic resource as the engine builds it. */
export function dynamicUrn(type: string, name: string, stack = "dev", project = "appmesh-canary"): string {
    return `urn:pulumi:${stack}::${project}::pulumi-nodejs:dynamic/${type}::${name}`;
}

/** The provider as Pulumi stores it in `__provider`: `serializeFunction(() => provider, {allowSecrets: true})`. */
export async function serializeProvider(provider: object): Promise<string> {
    const pulumi = await import("@pulumi/pulumi");
    const serialized = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
    return serialized.text;
}

/** Props with the provider text added under `__provider`. */
export function withProvider(providerText: string, props: Props): Props {
    return { ...props, [PROVIDER_KEY]: providerText };
}

/** The same props without `__provider`, for assertions. */
export function withoutProvider(props: Props): Props {
    const { [PROVIDER_KEY]: _provider, ...rest } = props;
    return rest;
}

const PROJECT_ROOT = path.resolve(__dirname, "..");

/** A TCP server standing in for the Pulumi engine's gRPC address: the host only connects to see it is there. */
async function startEngineAddress(): Promise<{ address: string; close(): Promise<void> }> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
        sockets.add(socket);
        socket.on("error", () => undefined);
        socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    return {
        address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
        close: () =>
            new Promise((resolve) => {
                if (!server.listening) {
                    return resolve();
                }
                server.close(() => resolve());
                sockets.forEach((socket) => socket.destroy());
            }),
    };
}

export async function startProviderHost(options: ProviderHostOptions = {}): Promise<ProviderHost> {
    const pulumiRoot = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
    // The stubs and grpc-js must be the instances @pulumi/pulumi itself loads, so messages and credentials match.
    const grpc: typeof import("@grpc/grpc-js") = require(require.resolve("@grpc/grpc-js", { paths: [pulumiRoot] }));
    const services = require(path.join(pulumiRoot, "proto", "provider_grpc_pb"));
    const messages = require(path.join(pulumiRoot, "proto", "provider_pb"));
    const { Struct } = require(require.resolve("google-protobuf/google/protobuf/struct_pb", { paths: [pulumiRoot] }));

    const engine = await startEngineAddress();
    const child: ChildProcess = spawn(process.execPath, [path.join(pulumiRoot, "cmd", "dynamic-provider", "index.js"), engine.address], {
        cwd: options.cwd ?? PROJECT_ROOT,
        env: options.env ?? process.env,
        stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    // Whatever ends the host, the engine address goes with it.
    void exited.then(() => engine.close());
    const port = await new Promise<number>((resolve, reject) => {
        let first = true;
        readline.createInterface({ input: child.stdout! }).on("line", (line) => {
            if (first) {
                first = false;
                const parsed = Number(line.trim());
                return Number.isInteger(parsed) && parsed > 0 ? resolve(parsed) : reject(new Error(`dynamic-provider host printed "${line}" instead of its port`));
            }
            options.onLine?.(line, "stdout");
        });
        readline.createInterface({ input: child.stderr! }).on("line", (line) => options.onLine?.(line, "stderr"));
        child.once("exit", (code, signal) => reject(new Error(`dynamic-provider host exited (${code ?? signal}) before printing its port`)));
        child.once("error", reject);
    });
    const client = new services.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());

    const struct = (props: Props) => Struct.fromJavaScript(JSON.parse(JSON.stringify(props)));
    const call = <T>(method: string, request: unknown): Promise<T> =>
        new Promise((resolve, reject) => {
            client[method](request, (error: Error | null, response: T) => (error ? reject(new Error(error.message.replace(/^\d+ [A-Z_]+: /, ""))) : resolve(response)));
        });
    const request = (type: string, fields: Record<string, unknown>) => {
        const message = new messages[type]();
        for (const [key, value] of Object.entries(fields)) {
            message[`set${key[0].toUpperCase()}${key.slice(1)}`](value);
        }
        return message;
    };

    return {
        pid: child.pid!,
        exited,
        async configure(config = {}) {
            await call("configure", request("ConfigureRequest", { args: struct(config), acceptsecrets: false }));
        },
        async check(urn, olds, news) {
            const response: any = await call("check", request("CheckRequest", { urn, olds: struct(olds), news: struct(news) }));
            return {
                inputs: response.getInputs()?.toJavaScript() ?? {},
                failures: response.getFailuresList().map((f: any) => ({ property: f.getProperty(), reason: f.getReason() })),
            };
        },
        async diff(id, urn, olds, news) {
            const response: any = await call("diff", request("DiffRequest", { id, urn, olds: struct(olds), news: struct(news) }));
            const changes = response.getChanges();
            const kinds = messages.DiffResponse.DiffChanges;
            return {
                changes: changes === kinds.DIFF_SOME ? "some" : changes === kinds.DIFF_NONE ? "none" : "unknown",
                replaces: response.getReplacesList(),
                deleteBeforeReplace: response.getDeletebeforereplace(),
            };
        },
        async create(urn, properties) {
            const response: any = await call("create", request("CreateRequest", { urn, properties: struct(properties) }));
            return { id: response.getId(), properties: response.getProperties().toJavaScript() };
        },
        async update(id, urn, olds, news) {
            const response: any = await call("update", request("UpdateRequest", { id, urn, olds: struct(olds), news: struct(news) }));
            return { properties: response.getProperties().toJavaScript() };
        },
        async read(id, urn, properties) {
            const response: any = await call("read", request("ReadRequest", { id, urn, properties: struct(properties) }));
            return { id: response.getId(), properties: response.getProperties().toJavaScript() };
        },
        async delete(id, urn, properties) {
            await call("delete", request("DeleteRequest", { id, urn, properties: struct(properties) }));
        },
        async stop() {
            client.close();
            if (child.exitCode === null && child.signalCode === null) {
                child.kill("SIGTERM");
            }
            await exited;
        },
        kill() {
            client.close();
            child.kill("SIGKILL");
        },
        async dropEngine(options = {}) {
            if (options.closeOutput) {
                child.stdout!.destroy();
                child.stderr!.destroy();
            }
            await engine.close();
        },
    };
}
