/**
 * Validates objects against the CustomResourceDefinitions the repository carries in `crds/` (App Mesh v1beta2
 * from appmesh-controller chart 1.13.3, Gateway API v1.5.1 standard), the way a strict API server would: schema
 * types, enums, bounds, patterns and required fields, plus unknown fields rejected (Kubernetes' strict field
 * validation) so a typo cannot pass. CEL rules are the API server's own: the tests that apply objects to the
 * local cluster cover them.
 */
import Ajv, { ValidateFunction } from "ajv";
import * as fs from "fs";
import { isIPv4, isIPv6 } from "net";
import * as path from "path";
import { parseAllDocuments } from "yaml";
import { APPMESH_VERSION } from "../analysis/routers/appmesh/api";
import { GATEWAY_API_VERSION } from "../analysis/routers/gatewayapi/api";

export const APPMESH_CRDS_FILE = path.resolve(__dirname, "..", "crds", "appmesh-v1beta2.yaml");
export const GATEWAY_API_CRDS_FILE = path.resolve(__dirname, "..", "crds", "gateway-api-v1.5.1-standard.yaml");

export type AppMeshKind = "Mesh" | "VirtualNode" | "VirtualRouter" | "VirtualService" | "VirtualGateway" | "GatewayRoute" | "BackendGroup";

type Schema = Record<string, any>;

/** Objects with declared properties reject unknown ones, unless the CRD preserves unknown fields there. */
function closeObjects(schema: Schema): Schema {
    const out: Schema = { ...schema };
    if (out.properties && out["x-kubernetes-preserve-unknown-fields"] !== true && out.additionalProperties === undefined) {
        out.additionalProperties = false;
    }
    for (const key of ["properties", "patternProperties"]) {
        if (out[key]) {
            out[key] = Object.fromEntries(Object.entries(out[key] as Schema).map(([k, v]) => [k, closeObjects(v)]));
        }
    }
    if (out.items && typeof out.items === "object") {
        out.items = closeObjects(out.items);
    }
    if (out.additionalProperties && typeof out.additionalProperties === "object") {
        out.additionalProperties = closeObjects(out.additionalProperties);
    }
    return out;
}

/** The schemas of one file of CRDs at one version. */
export class CrdSchemas<Kind extends string = string> {
    private readonly validators = new Map<string, ValidateFunction>();

    constructor(crdsFile: string, servedVersion: string) {
        const ajv = new Ajv({ allErrors: true, strict: false });
        // The formats Kubernetes' OpenAPI schemas use.
        ajv.addFormat("int64", { type: "number", validate: Number.isSafeInteger });
        ajv.addFormat("int32", { type: "number", validate: (n: number) => Number.isInteger(n) && Math.abs(n) <= 2 ** 31 });
        ajv.addFormat("date-time", { type: "string", validate: (s: string) => !Number.isNaN(Date.parse(s)) });
        ajv.addFormat("ipv4", { type: "string", validate: (s: string) => isIPv4(s) });
        ajv.addFormat("ipv6", { type: "string", validate: (s: string) => isIPv6(s) });
        for (const doc of parseAllDocuments(fs.readFileSync(crdsFile, "utf8"))) {
            const crd = doc.toJS();
            const version = crd.spec.versions.find((v: Schema) => v.name === servedVersion);
            if (!version) {
                continue;
            }
            const schema: Schema = closeObjects(version.schema.openAPIV3Schema);
            // metadata is validated by the API server itself, not the CRD schema.
            schema.properties.metadata = { type: "object" };
            this.validators.set(crd.spec.names.kind, ajv.compile(schema));
        }
    }

    kinds(): string[] {
        return [...this.validators.keys()];
    }

    /** Problems with an object of the given kind, as `<path> <message>` lines; empty when it is valid. */
    problems(kind: Kind, object: unknown): string[] {
        const validate = this.validators.get(kind);
        if (!validate) {
            throw new Error(`no CRD for kind ${kind}; known: ${this.kinds().join(", ")}`);
        }
        if (validate(object)) {
            return [];
        }
        return (validate.errors ?? []).map((e) => {
            const extra = e.keyword === "additionalProperties" ? ` (${(e.params as { additionalProperty: string }).additionalProperty})` : "";
            return `${e.instancePath || "/"} ${e.message}${extra}`;
        });
    }
}

export class AppMeshSchemas extends CrdSchemas<AppMeshKind> {
    constructor(crdsFile: string = APPMESH_CRDS_FILE) {
        super(crdsFile, APPMESH_VERSION);
    }
}

export type GatewayApiKind = "GatewayClass" | "Gateway" | "HTTPRoute";

export class GatewayApiSchemas extends CrdSchemas<GatewayApiKind> {
    constructor(crdsFile: string = GATEWAY_API_CRDS_FILE) {
        super(crdsFile, GATEWAY_API_VERSION);
    }
}
