/**
 * A stand-in Kubernetes API server for the few paths the analysis uses, served over a `ClusterBackend`:
 * VirtualRouter GET and server-side apply, Deployment GET and scale, and the service proxy. It behaves like
 * a real API server where the analysis can tell the difference: bearer-token auth, `Status` objects for
 * errors, VirtualRouters checked against the App Mesh CRD schema (422 on a bad body), and server-side apply
 * field ownership (managers, `force`, atomic lists, 409 on a conflict), so the ownership rules the analysis
 * relies on are exercised here too. Faults can be injected per path for retry tests.
 */
import { randomBytes, randomUUID } from "crypto";
import * as http from "http";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { stableStringify } from "../analysis/provider/revision";
import type { ClusterBackend, KubeObject } from "./cluster-backend";
import { APPMESH_API_VERSION, APPMESH_GROUP } from "../analysis/routers/appmesh/api";
import { faultMatches, type Fault, type RecordedRequest } from "./api-proxy";
import { AppMeshSchemas } from "./crd-schemas";
import { closeServer, listenOnFreePort, listenOnPort, readBody } from "./http-util";

const VIRTUAL_ROUTER_PATH = /^\/apis\/appmesh\.k8s\.aws\/v1beta2\/namespaces\/([^/]+)\/virtualrouters\/([^/]+)$/;
const DEPLOYMENT_PATH = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/]+)(\/scale)?$/;
const SERVICE_PROXY_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/services\/([^/]+)\/proxy(\/.*)?$/;

export interface KubeApiServerOptions {
    /** Bearer token clients must send; a random one by default. */
    token?: string;
    /** Namespace written as the kubeconfig context's default. */
    namespace?: string;
}

export interface KubeApiServer {
    url: string;
    token: string;
    /** A kubeconfig YAML for `@kubernetes/client-node` (or kubectl) pointing at this server. */
    kubeconfig: string;
    /** Every request answered so far, in order (proxy requests included). */
    requests: RecordedRequest[];
    injectFault(fault: Fault): void;
    /**
     * Stop listening and drop every connection for `ms`, then serve again on the same address, as an API
     * server that restarts does. Resolves once it serves again.
     */
    outage(ms: number): Promise<void>;
    stop(): Promise<void>;
}

/** A Kubernetes `Status` failure object, as the API server returns it. */
export function kubeStatus(code: number, reason: string, message: string, details?: Record<string, unknown>): KubeObject {
    return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details ? { details } : {}), code };
}

class HttpError extends Error {
    constructor(readonly status: KubeObject) {
        super(status.message);
    }
}

const notFound = (resource: string, group: string, name: string) =>
    new HttpError(kubeStatus(404, "NotFound", `${resource}${group ? "." + group : ""} "${name}" not found`, { name, group, kind: resource }));

// ---- server-side apply field ownership -------------------------------------------------------------------

/** A field path; lists are atomic (the App Mesh CRDs declare no list types), so they are leaves. */
type FieldPath = string[];

/** Leaf fields of an applied configuration that ownership is tracked for: `spec` and metadata labels/annotations. */
function ownedLeaves(config: KubeObject): FieldPath[] {
    const out: FieldPath[] = [];
    const walk = (value: unknown, at: FieldPath) => {
        if (value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0) {
            for (const [k, v] of Object.entries(value)) {
                walk(v, [...at, k]);
            }
        } else {
            out.push(at);
        }
    };
    if (config.spec !== undefined) {
        walk(config.spec, ["spec"]);
    }
    for (const key of ["labels", "annotations"]) {
        if (config.metadata?.[key] !== undefined) {
            walk(config.metadata[key], ["metadata", key]);
        }
    }
    return out;
}

function getAt(obj: any, path: FieldPath): unknown {
    return path.reduce((o, k) => (o !== null && typeof o === "object" ? o[k] : undefined), obj);
}

function setAt(obj: any, path: FieldPath, value: unknown): void {
    let o = obj;
    for (const k of path.slice(0, -1)) {
        if (o[k] === null || typeof o[k] !== "object" || Array.isArray(o[k])) {
            o[k] = {};
        }
        o = o[k];
    }
    o[path[path.length - 1]] = structuredClone(value);
}

function deleteAt(obj: any, path: FieldPath): void {
    const parents: any[] = [];
    let o = obj;
    for (const k of path.slice(0, -1)) {
        if (o === null || typeof o !== "object") {
            return;
        }
        parents.push(o);
        o = o[k];
    }
    if (o !== null && typeof o === "object") {
        delete o[path[path.length - 1]];
    }
    // Drop objects the removal left empty, as the API server prunes them.
    for (let i = parents.length - 1; i >= 0; i--) {
        const child = parents[i][path[i]];
        if (child && typeof child === "object" && !Array.isArray(child) && Object.keys(child).length === 0) {
            delete parents[i][path[i]];
        }
    }
}

const overlaps = (a: FieldPath, b: FieldPath) => a.slice(0, Math.min(a.length, b.length)).every((k, i) => k === b[i]);
const sameValue = (a: unknown, b: unknown) => stableStringify(a) === stableStringify(b);

/** Kubernetes' FieldsV1 form of a set of leaf paths (`{"f:spec": {"f:routes": {}}}`). */
function toFieldsV1(paths: FieldPath[]): Record<string, unknown> {
    const root: Record<string, any> = {};
    for (const path of paths) {
        let node = root;
        for (const k of path) {
            node = node[`f:${k}`] ??= {};
        }
    }
    return root;
}

function fromFieldsV1(fields: Record<string, any>, at: FieldPath = []): FieldPath[] {
    const children = Object.keys(fields).filter((k) => k.startsWith("f:"));
    if (children.length === 0) {
        return at.length > 0 ? [at] : [];
    }
    return children.flatMap((k) => fromFieldsV1(fields[k], [...at, k.slice(2)]));
}

interface ManagerEntry {
    manager: string;
    paths: FieldPath[];
}

function readManagers(object: KubeObject | undefined): ManagerEntry[] {
    return (object?.metadata?.managedFields ?? []).map((m: any) => ({ manager: m.manager, paths: fromFieldsV1(m.fieldsV1 ?? {}) }));
}

/**
 * Server-side apply of `config` by `manager` onto `live`: conflicts on fields another manager owns with a
 * different value (unless `force`, which takes them over), removal of fields this manager applied before
 * and no longer does (when nobody else owns them), then the merge.
 */
function serverSideApply(live: KubeObject | undefined, config: KubeObject, manager: string, force: boolean, groupVersion: string): KubeObject {
    const result: KubeObject = structuredClone(live ?? { apiVersion: config.apiVersion, kind: config.kind, metadata: { name: config.metadata.name, namespace: config.metadata.namespace } });
    const managers = readManagers(live);
    const applied = ownedLeaves(config);
    for (const p of applied) {
        setAt(result, p, getAt(config, p));
    }
    // A conflict is a field another manager owns whose value this apply changes.
    const conflicts = managers
        .filter((m) => m.manager !== manager)
        .flatMap((m) => m.paths.filter((owned) => !sameValue(getAt(result, owned), getAt(live, owned))).map((path) => ({ manager: m.manager, path })));
    if (conflicts.length > 0 && !force) {
        const lines = conflicts.map((c) => `conflict with "${c.manager}" using ${groupVersion}: .${c.path.join(".")}`);
        throw new HttpError(
            kubeStatus(409, "Conflict", `Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? "s" : ""}: ${lines.join("\n")}`, {
                name: config.metadata.name,
                kind: config.kind,
                causes: conflicts.map((c, i) => ({ reason: "FieldManagerConflict", message: lines[i], field: `.${c.path.join(".")}` })),
            }),
        );
    }
    // Forced conflicts move to this manager; fields applied with the same value become shared.
    for (const other of managers.filter((m) => m.manager !== manager)) {
        other.paths = other.paths.filter((owned) => !conflicts.some((c) => c.manager === other.manager && c.path === owned));
    }
    const previous = managers.find((m) => m.manager === manager)?.paths ?? [];
    for (const dropped of previous.filter((p) => !applied.some((a) => overlaps(a, p)))) {
        if (!managers.some((m) => m.manager !== manager && m.paths.some((o) => overlaps(o, dropped)))) {
            deleteAt(result, dropped);
        }
    }
    const entries = [...managers.filter((m) => m.manager !== manager), { manager, paths: applied }].filter((m) => m.paths.length > 0);
    result.metadata.managedFields = entries.map((m) => ({
        manager: m.manager,
        operation: "Apply",
        apiVersion: groupVersion,
        time: new Date().toISOString(),
        fieldsType: "FieldsV1",
        fieldsV1: toFieldsV1(m.paths),
    }));
    return result;
}

// ---- HTTP ------------------------------------------------------------------------------------------------

function parseObjectBody(raw: Buffer, contentType: string | undefined): any {
    try {
        // apply-patch+yaml bodies may be YAML or JSON (JSON is YAML).
        return contentType?.includes("yaml") ? parseYaml(raw.toString("utf8")) : JSON.parse(raw.toString("utf8"));
    } catch (e) {
        throw new HttpError(kubeStatus(400, "BadRequest", `the body of the request was in an unknown format: ${(e as Error).message}`));
    }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
}


/** Kubernetes' `Status.reason` for the codes a fault may inject. */
const STATUS_REASONS: Record<number, string> = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
};

const bumpVersion = (object: KubeObject) => String(Number(object.metadata?.resourceVersion ?? "0") + 1);

export async function startKubeApiServer(backend: ClusterBackend, opts: KubeApiServerOptions = {}): Promise<KubeApiServer> {
    const token = opts.token ?? randomBytes(24).toString("hex");
    const schemas = new AppMeshSchemas();
    const faults: (Fault & { remaining: number })[] = [];
    const requests: RecordedRequest[] = [];

    async function virtualRouter(method: string, namespace: string, name: string, req: http.IncomingMessage, query: URLSearchParams, raw: Buffer): Promise<[number, unknown]> {
        const live = backend.getVirtualRouter(namespace, name);
        if (method === "GET") {
            if (!live) {
                throw notFound("virtualrouters", APPMESH_GROUP, name);
            }
            return [200, live];
        }
        if (method !== "PATCH") {
            throw new HttpError(kubeStatus(405, "MethodNotAllowed", `the server does not allow this method on the requested resource`));
        }
        const contentType = req.headers["content-type"];
        if (contentType !== "application/apply-patch+yaml") {
            throw new HttpError(kubeStatus(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml`));
        }
        const manager = query.get("fieldManager");
        if (!manager) {
            throw new HttpError(kubeStatus(400, "BadRequest", "PATCH /apply requires a non-empty fieldManager"));
        }
        const config = parseObjectBody(raw, contentType);
        if (config?.apiVersion !== APPMESH_API_VERSION || config?.kind !== "VirtualRouter") {
            throw new HttpError(kubeStatus(400, "BadRequest", `apply body must be a ${APPMESH_API_VERSION} VirtualRouter, got ${config?.apiVersion} ${config?.kind}`));
        }
        if (config.metadata?.name !== name || (config.metadata.namespace !== undefined && config.metadata.namespace !== namespace)) {
            throw new HttpError(kubeStatus(400, "BadRequest", `the name of the object (${config.metadata?.name}) does not match the name on the URL (${name})`));
        }
        const merged = serverSideApply(live, { ...config, metadata: { ...config.metadata, namespace } }, manager, query.get("force") === "true", APPMESH_API_VERSION);
        // Validate what would be stored, as the API server does, but without server-owned metadata.
        const problems = schemas.problems("VirtualRouter", { ...merged, metadata: {} });
        if (problems.length > 0) {
            const causes = problems.map((p) => ({ reason: "FieldValueInvalid", message: p, field: p.split(" ")[0] }));
            throw new HttpError(
                kubeStatus(422, "Invalid", `VirtualRouter.${APPMESH_GROUP} "${name}" is invalid: ${problems.join(", ")}`, { name, group: APPMESH_GROUP, kind: "VirtualRouter", causes }),
            );
        }
        const specChanged = !sameValue(live?.spec, merged.spec);
        merged.metadata.resourceVersion = bumpVersion(merged);
        merged.metadata.uid ??= randomUUID();
        merged.metadata.creationTimestamp ??= new Date().toISOString();
        merged.metadata.generation = (live?.metadata?.generation ?? 0) + (specChanged || !live ? 1 : 0);
        if (query.get("dryRun") === "All") {
            return [200, merged];
        }
        return [live ? 200 : 201, await backend.putVirtualRouter(namespace, name, merged)];
    }

    async function deployment(method: string, namespace: string, name: string, scale: boolean, req: http.IncomingMessage, raw: Buffer): Promise<[number, unknown]> {
        const live = backend.getDeployment(namespace, name);
        if (!live) {
            throw notFound("deployments", "apps", name);
        }
        const asScale = (d: KubeObject) => ({
            kind: "Scale",
            apiVersion: "autoscaling/v1",
            metadata: { name, namespace, uid: d.metadata?.uid, resourceVersion: d.metadata?.resourceVersion, creationTimestamp: d.metadata?.creationTimestamp },
            spec: { replicas: d.spec?.replicas ?? 0 },
            status: { replicas: d.status?.replicas ?? 0, selector: Object.entries(d.spec?.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(",") },
        });
        if (method === "GET") {
            return [200, scale ? asScale(live) : live];
        }
        if (method !== "PATCH" && !(method === "PUT" && scale)) {
            throw new HttpError(kubeStatus(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"));
        }
        const contentType = req.headers["content-type"] ?? "";
        if (method === "PATCH" && !["application/merge-patch+json", "application/strategic-merge-patch+json"].includes(contentType)) {
            throw new HttpError(kubeStatus(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json`));
        }
        const body = parseObjectBody(raw, contentType);
        const extraKeys = Object.keys(body?.spec ?? {}).filter((k) => k !== "replicas");
        if (!scale && (extraKeys.length > 0 || Object.keys(body ?? {}).some((k) => k !== "spec"))) {
            throw new HttpError(kubeStatus(422, "Invalid", `this stand-in API server only patches spec.replicas of a Deployment`));
        }
        const replicas = body?.spec?.replicas;
        if (!Number.isInteger(replicas) || replicas < 0) {
            throw new HttpError(
                kubeStatus(422, "Invalid", `Scale.autoscaling "${name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`, {
                    name,
                    group: "autoscaling",
                    kind: "Scale",
                    causes: [{ reason: "FieldValueInvalid", message: "must be greater than or equal to 0", field: "spec.replicas" }],
                }),
            );
        }
        const updated = await backend.scaleDeployment(namespace, name, replicas);
        return [200, scale ? asScale(updated) : updated];
    }

    function proxy(namespace: string, service: string, rest: string, search: string, req: http.IncomingMessage, raw: Buffer, res: http.ServerResponse): Promise<number> {
        // `name`, `name:port` or `scheme:name:port`, as the API server accepts them.
        const parts = decodeURIComponent(service).split(":");
        const [name, port] = parts.length === 3 ? [parts[1], parts[2]] : [parts[0], parts[1] ?? ""];
        const base = backend.serviceUrl(namespace, name, /^\d+$/.test(port) ? Number(port) : port);
        if (!base) {
            throw notFound("services", "", name);
        }
        const target = new URL(base.replace(/\/$/, "") + (rest || "/") + search);
        const headers = { ...req.headers };
        delete headers.authorization;
        delete headers.host;
        headers["content-length"] = String(raw.length);
        return new Promise((resolve) => {
            const upstream = http.request(target, { method: req.method, headers }, (answer) => {
                res.writeHead(answer.statusCode ?? 502, answer.headers);
                answer.pipe(res);
                answer.on("end", () => resolve(answer.statusCode ?? 502));
            });
            upstream.on("error", (e) => {
                send(res, 503, kubeStatus(503, "ServiceUnavailable", `error trying to reach service: ${e.message}`));
                resolve(503);
            });
            upstream.end(raw);
        });
    }

    const server = http.createServer(async (req, res) => {
        const method = req.method ?? "GET";
        const url = new URL(req.url ?? "/", "http://api");
        const record: RecordedRequest = { method, path: url.pathname, query: url.searchParams, contentType: req.headers["content-type"], status: 0 };
        requests.push(record);
        try {
            const raw = await readBody(req);
            if (raw.length > 0 && !SERVICE_PROXY_PATH.test(url.pathname)) {
                record.body = (() => {
                    try {
                        return parseObjectBody(raw, req.headers["content-type"]);
                    } catch {
                        return raw.toString("utf8");
                    }
                })();
            }
            if (req.headers.authorization !== `Bearer ${token}`) {
                throw new HttpError(kubeStatus(401, "Unauthorized", "Unauthorized"));
            }
            const fault = faults.find((f) => f.remaining > 0 && faultMatches(f, method, url.pathname));
            if (fault) {
                fault.remaining--;
                if (fault.status === "reset") {
                    record.status = -1;
                    req.socket.destroy();
                    return;
                }
                if (fault.status === "hang") {
                    // The connection stays open until the client gives up (or the server stops).
                    record.status = -1;
                    return;
                }
                throw new HttpError(
                    fault.status === 409
                        ? kubeStatus(409, "Conflict", `Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again`)
                        : kubeStatus(fault.status, STATUS_REASONS[fault.status] ?? (fault.status >= 500 ? "InternalError" : "BadRequest"), `injected fault: HTTP ${fault.status}`),
                );
            }
            let m: RegExpExecArray | null;
            if ((m = VIRTUAL_ROUTER_PATH.exec(url.pathname))) {
                const [status, body] = await virtualRouter(method, m[1], m[2], req, url.searchParams, raw);
                record.status = status;
                send(res, status, body);
            } else if ((m = DEPLOYMENT_PATH.exec(url.pathname))) {
                const [status, body] = await deployment(method, m[1], m[2], m[3] !== undefined, req, raw);
                record.status = status;
                send(res, status, body);
            } else if ((m = SERVICE_PROXY_PATH.exec(url.pathname))) {
                record.status = await proxy(m[1], m[2], m[3] ?? "", url.search, req, raw, res);
            } else {
                throw new HttpError(kubeStatus(404, "NotFound", "the server could not find the requested resource"));
            }
        } catch (e) {
            const status = e instanceof HttpError ? e.status : kubeStatus(500, "InternalError", `Internal error occurred: ${(e as Error).message}`);
            record.status = status.code;
            if (!res.headersSent) {
                send(res, status.code, status);
            } else {
                res.destroy();
            }
        }
    });
    const port = await listenOnFreePort(server);
    const url = `http://127.0.0.1:${port}`;
    const kubeconfig = stringifyYaml({
        apiVersion: "v1",
        kind: "Config",
        // Plain HTTP on loopback; client-node only accepts an http server with TLS verification switched off.
        clusters: [{ name: "playground", cluster: { server: url, "insecure-skip-tls-verify": true } }],
        users: [{ name: "playground", user: { token } }],
        contexts: [{ name: "playground", context: { cluster: "playground", user: "playground", namespace: opts.namespace ?? "default" } }],
        "current-context": "playground",
    });
    return {
        url,
        token,
        kubeconfig,
        requests,
        injectFault: (fault) => faults.push({ ...fault, remaining: fault.times ?? 1 }),
        async outage(ms) {
            await closeServer(server);
            await new Promise((resolve) => setTimeout(resolve, ms));
            await listenOnPort(server, port);
        },
        stop: () => closeServer(server),
    };
}
