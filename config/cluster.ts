/**
 * The stack config `cluster`: an existing cluster (the default) or a new EKS cluster with its VPC, validated
 * with one failure per field.
 */
import { FailureCollector, ValidationFailure, formatFailures } from "../analysis/spec/failures";
import { CONFIG_ERROR_TITLE } from "./stack";
import { parseIpv4Cidr } from "./cidr";

/** Where an existing cluster is reached: the ambient kubeconfig or the `kubernetes:` provider config. */
export interface ExistingClusterConfig {
    create: false;
}

/** A cluster this stack creates, with every default applied. */
export interface NewClusterConfig {
    create: true;
    region: string;
    version: string;
    instanceType: string;
    desiredCapacity: number;
    minSize: number;
    maxSize: number;
    /** Existing network: both set, or neither (then `vpcCidr` describes a new VPC). */
    vpcId?: string;
    subnetIds?: string[];
    vpcCidr?: string;
}

export type ClusterConfig = ExistingClusterConfig | NewClusterConfig;

export const CLUSTER_CONFIG_FIELDS = [
    "create",
    "region",
    "version",
    "instanceType",
    "desiredCapacity",
    "minSize",
    "maxSize",
    "vpcId",
    "subnetIds",
    "vpcCidr",
] as const;

export const CLUSTER_DEFAULTS = {
    instanceType: "t3.medium",
    desiredCapacity: 2,
    minSize: 2,
    maxSize: 3,
    vpcCidr: "10.0.0.0/16",
} as const;

const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const VERSION_PATTERN = /^1\.\d{2}$/;
const INSTANCE_TYPE_PATTERN = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
const VPC_ID_PATTERN = /^vpc-([0-9a-f]{8}|[0-9a-f]{17})$/;
const SUBNET_ID_PATTERN = /^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/;
/** EKS needs subnets in at least two Availability Zones. */
const MIN_SUBNETS = 2;
/** New VPCs get this many public subnets, one per Availability Zone. */
export const NEW_VPC_SUBNET_COUNT = 2;

function checkPattern(c: FailureCollector, path: string, value: unknown, pattern: RegExp, example: string): void {
    if (value !== undefined && !(typeof value === "string" && pattern.test(value))) {
        c.fail(path, `must be a string like ${example}, got ${JSON.stringify(value)}`);
    }
}

function checkSizes(c: FailureCollector, raw: Record<string, unknown>, path: string): void {
    const sizesValid = [
        raw.minSize === undefined || c.integer(`${path}.minSize`, raw.minSize, 0),
        raw.desiredCapacity === undefined || c.integer(`${path}.desiredCapacity`, raw.desiredCapacity, 1),
        raw.maxSize === undefined || c.integer(`${path}.maxSize`, raw.maxSize, 1),
    ].every(Boolean);
    if (!sizesValid) {
        return;
    }
    const min = (raw.minSize as number | undefined) ?? CLUSTER_DEFAULTS.minSize;
    const desired = (raw.desiredCapacity as number | undefined) ?? CLUSTER_DEFAULTS.desiredCapacity;
    const max = (raw.maxSize as number | undefined) ?? CLUSTER_DEFAULTS.maxSize;
    if (min > max) {
        c.fail(`${path}.minSize`, `must be <= maxSize (${max}), got ${min}`);
    } else if (desired < min || desired > max) {
        c.fail(`${path}.desiredCapacity`, `must be between minSize (${min}) and maxSize (${max}), got ${desired}`);
    }
}

function checkNetwork(c: FailureCollector, raw: Record<string, unknown>, path: string): void {
    const { vpcId, subnetIds, vpcCidr } = raw;
    checkPattern(c, `${path}.vpcId`, vpcId, VPC_ID_PATTERN, "vpc-0a1b2c3d4e5f60718");
    if (subnetIds !== undefined) {
        const valid =
            Array.isArray(subnetIds) &&
            subnetIds.length >= MIN_SUBNETS &&
            subnetIds.every((s) => typeof s === "string" && SUBNET_ID_PATTERN.test(s)) &&
            new Set(subnetIds).size === subnetIds.length;
        if (!valid) {
            c.fail(
                `${path}.subnetIds`,
                `must be a list of at least ${MIN_SUBNETS} distinct subnet IDs like subnet-0a1b2c3d4e5f60718 in different Availability Zones, got ${JSON.stringify(subnetIds)}`,
            );
        }
    }
    if ((vpcId === undefined) !== (subnetIds === undefined)) {
        c.fail(
            `${path}.${vpcId === undefined ? "vpcId" : "subnetIds"}`,
            "is required when using an existing VPC: set both vpcId and subnetIds, or neither to create a new VPC",
        );
    }
    if (vpcCidr === undefined) {
        return;
    }
    if (vpcId !== undefined || subnetIds !== undefined) {
        c.fail(`${path}.vpcCidr`, "describes a new VPC; leave it out when vpcId and subnetIds name an existing one");
        return;
    }
    const parsed = typeof vpcCidr === "string" ? parseIpv4Cidr(vpcCidr) : "must be a string";
    if (typeof parsed === "string") {
        c.fail(`${path}.vpcCidr`, `${parsed}, got ${JSON.stringify(vpcCidr)}`);
    } else if (parsed.prefix < 16 || parsed.prefix > 24) {
        c.fail(`${path}.vpcCidr`, `prefix must be between /16 and /24 (AWS VPC limits, room for two subnets), got ${JSON.stringify(vpcCidr)}`);
    }
}

/** Every problem with the stack config `cluster`, each naming the field and what it accepts. */
export function validateClusterConfig(raw: unknown, path = "cluster"): ValidationFailure[] {
    const c = new FailureCollector();
    if (raw === undefined || raw === null || !c.object(path, raw)) {
        return c.failures;
    }
    c.keys(path, raw, CLUSTER_CONFIG_FIELDS);
    if (raw.create !== undefined && !c.boolean(`${path}.create`, raw.create)) {
        return c.failures;
    }
    const settings = CLUSTER_CONFIG_FIELDS.filter((field) => field !== "create" && raw[field] !== undefined);
    if (raw.create !== true) {
        settings.forEach((field) => c.fail(`${path}.${field}`, `is used only with ${path}.create: true`));
        return c.failures;
    }
    for (const field of ["region", "version"]) {
        if (raw[field] === undefined) {
            c.fail(`${path}.${field}`, `is required when ${path}.create is true`);
        }
    }
    checkPattern(c, `${path}.region`, raw.region, REGION_PATTERN, "us-west-2");
    checkPattern(c, `${path}.version`, raw.version, VERSION_PATTERN, '"1.33" (an EKS Kubernetes version, quoted)');
    checkPattern(c, `${path}.instanceType`, raw.instanceType, INSTANCE_TYPE_PATTERN, "t3.medium");
    checkSizes(c, raw, path);
    checkNetwork(c, raw, path);
    return c.failures;
}

/** The validated `cluster` config with defaults applied; throws one Error listing every failure. */
export function parseClusterConfig(raw: unknown, path = "cluster"): ClusterConfig {
    const failures = validateClusterConfig(raw, path);
    if (failures.length > 0) {
        throw new Error(formatFailures(CONFIG_ERROR_TITLE, failures));
    }
    const obj = (raw ?? {}) as Record<string, unknown>;
    if (obj.create !== true) {
        return { create: false };
    }
    const settings = obj as Omit<NewClusterConfig, "create">;
    const network =
        settings.vpcId !== undefined
            ? { vpcId: settings.vpcId, subnetIds: settings.subnetIds }
            : { vpcCidr: settings.vpcCidr ?? CLUSTER_DEFAULTS.vpcCidr };
    return {
        create: true,
        region: settings.region,
        version: settings.version,
        instanceType: settings.instanceType ?? CLUSTER_DEFAULTS.instanceType,
        desiredCapacity: settings.desiredCapacity ?? CLUSTER_DEFAULTS.desiredCapacity,
        minSize: settings.minSize ?? CLUSTER_DEFAULTS.minSize,
        maxSize: settings.maxSize ?? CLUSTER_DEFAULTS.maxSize,
        ...network,
    };
}
