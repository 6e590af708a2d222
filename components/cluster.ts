/**
 * Optional cluster provisioning: an EKS cluster with an OIDC provider, the App Mesh controller (IRSA, CRDs,
 * admission webhook) and the appmesh-prometheus server the canary analysis queries. With `cluster.create`
 * false (the default) nothing here is built and the program uses the ambient kubeconfig.
 */
import * as aws from "@pulumi/aws";
import * as eks from "@pulumi/eks";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_ERROR_TITLE } from "../analysis/stack-config";
import { FailureCollector, ValidationFailure, formatFailures } from "../analysis/validation";

/** Where the App Mesh charts are published. */
export const EKS_CHARTS_REPO = "https://aws.github.io/eks-charts";
export const APPMESH_CONTROLLER_CHART_VERSION = "1.13.3";
export const APPMESH_PROMETHEUS_CHART_VERSION = "1.0.3";
export const APPMESH_NAMESPACE = "appmesh-system";
export const APPMESH_CONTROLLER_SERVICE_ACCOUNT = "appmesh-controller";
/** Charts, installed as releases of the same name: the chart's object names derive from the release name. */
export const APPMESH_CONTROLLER_RELEASE = "appmesh-controller";
export const APPMESH_PROMETHEUS_RELEASE = "appmesh-prometheus";
/** Where the appmesh-prometheus Service answers: the chart's port on `<release>.<namespace>`. */
const APPMESH_PROMETHEUS_ADDRESS = `http://${APPMESH_PROMETHEUS_RELEASE}.${APPMESH_NAMESPACE}:9090`;

/** Shown at every preview and update that creates a cluster: the controller installs, but cannot work. */
export const APPMESH_END_OF_SUPPORT_WARNING =
    "AWS App Mesh ended on 2026-09-30 (no new accounts since 2024-09-24): the App Mesh controller installs, but its " +
    "calls to the App Mesh API fail and mesh objects never become active. See README, Provisioning a cluster.";

// ---------------------------------------------------------------------------------------------------------
// Stack config `cluster`
// ---------------------------------------------------------------------------------------------------------

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

/** An IPv4 CIDR as a 32-bit base address and prefix length, or a reason it is not one. */
export function parseIpv4Cidr(cidr: string): { base: number; prefix: number } | string {
    const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
    if (!match) {
        return "must be an IPv4 CIDR block such as 10.0.0.0/16";
    }
    const octets = match.slice(1, 5).map(Number);
    const prefix = Number(match[5]);
    if (octets.some((o) => o > 255) || prefix > 32) {
        return "must be an IPv4 CIDR block such as 10.0.0.0/16 (octets 0-255, prefix 0-32)";
    }
    const base = octets.reduce((acc, o) => acc * 256 + o, 0);
    const size = 2 ** (32 - prefix);
    if (base % size !== 0) {
        return `has host bits set; the network address is ${formatIpv4(base - (base % size))}/${prefix}`;
    }
    return { base, prefix };
}

function formatIpv4(address: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256).join(".");
}

/**
 * The first `count` subnets of a VPC block, each a quarter of it: a /16 gives /18s, room for the VPC CNI's
 * one address per pod.
 */
export function subnetCidrs(vpcCidr: string, count: number): string[] {
    const parsed = parseIpv4Cidr(vpcCidr);
    if (typeof parsed === "string") {
        throw new Error(`VPC CIDR ${vpcCidr} ${parsed}`);
    }
    const prefix = parsed.prefix + 2;
    if (count > 4 || prefix > 28) {
        throw new Error(`VPC CIDR ${vpcCidr} cannot hold ${count} subnets of /${prefix}`);
    }
    const size = 2 ** (32 - prefix);
    return Array.from({ length: count }, (_, i) => `${formatIpv4(parsed.base + i * size)}/${prefix}`);
}

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

// ---------------------------------------------------------------------------------------------------------
// IAM documents
// ---------------------------------------------------------------------------------------------------------

/** The AWS partition a region belongs to; ARNs of AWS managed policies and service roles depend on it. */
export function awsPartition(region: string): string {
    if (region.startsWith("cn-")) {
        return "aws-cn";
    }
    if (region.startsWith("us-gov-")) {
        return "aws-us-gov";
    }
    return "aws";
}

/** The `sub` claim EKS puts in a service account's projected token. */
export function serviceAccountSubject(namespace: string, serviceAccount: string): string {
    return `system:serviceaccount:${namespace}:${serviceAccount}`;
}

/**
 * IRSA trust: only the given service account's tokens, issued by this cluster's OIDC provider for STS, may
 * assume the role.
 */
export function irsaTrustPolicy(
    oidcProviderArn: string,
    oidcIssuer: string,
    namespace: string,
    serviceAccount: string,
): aws.iam.PolicyDocument {
    const issuer = oidcIssuer.replace(/^https:\/\//, "");
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Effect: "Allow",
                Principal: { Federated: oidcProviderArn },
                Action: "sts:AssumeRoleWithWebIdentity",
                Condition: {
                    StringEquals: {
                        [`${issuer}:sub`]: serviceAccountSubject(namespace, serviceAccount),
                        [`${issuer}:aud`]: "sts.amazonaws.com",
                    },
                },
            },
        ],
    };
}

/** App Mesh object types as they appear in API action names (singular, plural for List). */
const APPMESH_OBJECT_TYPES: [string, string][] = [
    ["Mesh", "Meshes"],
    ["VirtualNode", "VirtualNodes"],
    ["VirtualRouter", "VirtualRouters"],
    ["Route", "Routes"],
    ["VirtualService", "VirtualServices"],
    ["VirtualGateway", "VirtualGateways"],
    ["GatewayRoute", "GatewayRoutes"],
];

/**
 * What the App Mesh controller calls, per its documented IAM policy (config/iam/controller-iam-policy.json):
 * App Mesh objects, Cloud Map registration with Route 53 health checks, ACM / ACM PCA reads for TLS, and the
 * App Mesh service-linked role.
 */
export function appMeshControllerPolicy(partition: string): aws.iam.PolicyDocument {
    const appMeshActions = APPMESH_OBJECT_TYPES.flatMap(([type, plural]) => [
        `appmesh:List${plural}`,
        ...["Describe", "Create", "Update", "Delete"].map((verb) => `appmesh:${verb}${type}`),
    ]);
    const serviceDiscovery = [
        "CreateService",
        "DeleteService",
        "GetService",
        "GetInstance",
        "RegisterInstance",
        "DeregisterInstance",
        "ListInstances",
        "ListNamespaces",
        "ListServices",
        "GetInstancesHealthStatus",
        "UpdateInstanceCustomHealthStatus",
        "GetOperation",
    ].map((action) => `servicediscovery:${action}`);
    const route53 = ["GetHealthCheck", "CreateHealthCheck", "UpdateHealthCheck", "DeleteHealthCheck", "ChangeResourceRecordSets"].map(
        (action) => `route53:${action}`,
    );
    return {
        Version: "2012-10-17",
        Statement: [
            { Sid: "AppMeshObjects", Effect: "Allow", Action: appMeshActions, Resource: "*" },
            { Sid: "CloudMap", Effect: "Allow", Action: [...serviceDiscovery, ...route53], Resource: "*" },
            {
                Sid: "TlsCertificates",
                Effect: "Allow",
                Action: ["acm:ListCertificates", "acm:DescribeCertificate", "acm-pca:DescribeCertificateAuthority", "acm-pca:ListCertificateAuthorities"],
                Resource: "*",
            },
            {
                Sid: "AppMeshServiceLinkedRole",
                Effect: "Allow",
                Action: "iam:CreateServiceLinkedRole",
                Resource: `arn:${partition}:iam::*:role/aws-service-role/appmesh.amazonaws.com/AWSServiceRoleForAppMesh`,
                Condition: { StringLike: { "iam:AWSServiceName": ["appmesh.amazonaws.com"] } },
            },
        ],
    };
}

/**
 * Envoy sidecars fetch their configuration from App Mesh's control plane with the credentials of the pod, here
 * the node role. Scoped to all meshes like AWS's managed AWSAppMeshEnvoyAccess policy: the node does not know
 * which virtual nodes it will run.
 */
export function envoyNodePolicy(): aws.iam.PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [{ Sid: "EnvoyXds", Effect: "Allow", Action: "appmesh:StreamAggregatedResources", Resource: "*" }],
    };
}

/** EC2 instances (the worker nodes) may assume the node role. */
export function nodeAssumeRolePolicy(): aws.iam.PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
    };
}

/** The AWS managed policies every EKS worker node needs: join the cluster, run the VPC CNI, pull from ECR. */
export const NODE_MANAGED_POLICIES = ["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"];

export function managedPolicyArn(partition: string, policy: string): string {
    return `arn:${partition}:iam::aws:policy/${policy}`;
}

// ---------------------------------------------------------------------------------------------------------
// Chart values
// ---------------------------------------------------------------------------------------------------------

/** appmesh-controller values: the region's App Mesh API, and the IRSA service account created beforehand. */
export function appMeshControllerValues(region: string, serviceAccount: string): Record<string, unknown> {
    return { region, serviceAccount: { create: false, name: serviceAccount } };
}

// ---------------------------------------------------------------------------------------------------------
// Component
// ---------------------------------------------------------------------------------------------------------

export interface AppMeshClusterArgs {
    /** AWS region for the cluster and for the App Mesh API the controller calls. */
    readonly region: pulumi.Input<string>;
    /** EKS Kubernetes version, e.g. "1.33". */
    readonly version: pulumi.Input<string>;
    /** EC2 instance type of the worker nodes; default t3.medium. */
    readonly instanceType?: pulumi.Input<string>;
    /** Number of worker nodes to start with; default 2. */
    readonly desiredCapacity?: pulumi.Input<number>;
    /** Fewest worker nodes the node group scales to; default 2. */
    readonly minSize?: pulumi.Input<number>;
    /** Most worker nodes the node group scales to; default 3. */
    readonly maxSize?: pulumi.Input<number>;
    /** Existing VPC to run in; with `subnetIds`. Leave both unset to create a VPC. */
    readonly vpcId?: pulumi.Input<string>;
    /** Existing subnets (at least two Availability Zones) for the control plane and the nodes. */
    readonly subnetIds?: pulumi.Input<pulumi.Input<string>[]>;
    /** CIDR block of the VPC to create when no `vpcId` is given; default 10.0.0.0/16. */
    readonly vpcCidr?: pulumi.Input<string>;
    /** Tags for every AWS resource created here. */
    readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * An EKS cluster ready for Flagger-style canaries on App Mesh: OIDC provider, App Mesh controller with its own
 * IAM role (IRSA), the App Mesh CRDs, appmesh-prometheus, and a node role Envoy can fetch its config with.
 *
 * Everything Kubernetes that the stack creates must use `provider`, and every App Mesh object or meshed
 * workload must depend on `readyResources`: the controller's CRDs and admission webhook have to exist
 * before them, and on destroy they go first, while the controller can still remove the App Mesh finalizers.
 */
export class AppMeshCluster extends pulumi.ComponentResource {
    /** The EKS cluster. */
    public readonly eksCluster: eks.Cluster;
    /** The Kubernetes provider for this cluster; pass it to every component. */
    public readonly provider: k8s.Provider;
    /** The cluster's kubeconfig (JSON), a secret, for the analysis resources that talk to the cluster. */
    public readonly kubeconfig: pulumi.Output<string>;
    /** IAM role the App Mesh controller's service account assumes. */
    public readonly controllerRole: aws.iam.Role;
    /** IAM role of the worker nodes (and so of the Envoy sidecars). */
    public readonly nodeRole: aws.iam.Role;
    /** The appmesh-controller release (CRDs, controller, sidecar-injecting webhook). */
    public readonly controller: k8s.helm.v3.Release;
    /** The appmesh-prometheus release scraping the Envoy sidecars. */
    public readonly prometheus: k8s.helm.v3.Release;
    /** What App Mesh objects, meshed workloads and the analysis depend on. */
    public readonly readyResources: pulumi.Resource[];
    /** In-cluster address of the Prometheus server for the canary spec's `metricsServer`. */
    public readonly prometheusAddress: string = APPMESH_PROMETHEUS_ADDRESS;

    constructor(name: string, args: AppMeshClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("appmesh-canary:cluster:AppMeshCluster", name, {}, opts);
        pulumi.log.warn(APPMESH_END_OF_SUPPORT_WARNING, this);

        const awsProvider = new aws.Provider(`${name}-aws`, { region: args.region as pulumi.Input<aws.Region> }, { parent: this });
        const awsOpts: pulumi.CustomResourceOptions = { parent: this, provider: awsProvider };
        const partition = pulumi.output(args.region).apply(awsPartition);

        this.nodeRole = new aws.iam.Role(
            `${name}-node`,
            { assumeRolePolicy: JSON.stringify(nodeAssumeRolePolicy()), tags: args.tags },
            awsOpts,
        );
        const nodeAttachments = NODE_MANAGED_POLICIES.map(
            (policy) =>
                new aws.iam.RolePolicyAttachment(
                    `${name}-node-${policy}`,
                    { role: this.nodeRole.name, policyArn: partition.apply((p) => managedPolicyArn(p, policy)) },
                    awsOpts,
                ),
        );
        const envoyPolicy = new aws.iam.RolePolicy(
            `${name}-node-envoy`,
            { role: this.nodeRole.name, policy: JSON.stringify(envoyNodePolicy()) },
            awsOpts,
        );

        const network = args.vpcId !== undefined ? { vpcId: args.vpcId, subnetIds: args.subnetIds } : this.createVpc(name, args, awsOpts);

        this.eksCluster = new eks.Cluster(
            `${name}-eks`,
            {
                ...network,
                version: args.version,
                instanceType: args.instanceType ?? CLUSTER_DEFAULTS.instanceType,
                desiredCapacity: args.desiredCapacity ?? CLUSTER_DEFAULTS.desiredCapacity,
                minSize: args.minSize ?? CLUSTER_DEFAULTS.minSize,
                maxSize: args.maxSize ?? CLUSTER_DEFAULTS.maxSize,
                instanceRole: this.nodeRole,
                createOidcProvider: true,
                tags: args.tags,
            },
            // Nodes join with the role's policies already attached.
            { parent: this, providers: { aws: awsProvider }, dependsOn: [...nodeAttachments, envoyPolicy] },
        );

        this.kubeconfig = pulumi.secret(this.eksCluster.kubeconfigJson);
        this.provider = new k8s.Provider(`${name}-k8s`, { kubeconfig: this.kubeconfig }, { parent: this });
        const k8sOpts: pulumi.CustomResourceOptions = { parent: this, provider: this.provider };

        this.controllerRole = new aws.iam.Role(
            `${name}-appmesh-controller`,
            {
                assumeRolePolicy: pulumi
                    .all([this.eksCluster.oidcProviderArn, this.eksCluster.oidcIssuer])
                    .apply(([arn, issuer]) =>
                        JSON.stringify(irsaTrustPolicy(arn, issuer, APPMESH_NAMESPACE, APPMESH_CONTROLLER_SERVICE_ACCOUNT)),
                    ),
                tags: args.tags,
            },
            awsOpts,
        );
        const controllerPolicy = new aws.iam.RolePolicy(
            `${name}-appmesh-controller`,
            { role: this.controllerRole.name, policy: partition.apply((p) => JSON.stringify(appMeshControllerPolicy(p))) },
            awsOpts,
        );

        const namespace = new k8s.core.v1.Namespace(
            `${name}-${APPMESH_NAMESPACE}`,
            { metadata: { name: APPMESH_NAMESPACE } },
            k8sOpts,
        );
        const serviceAccount = new k8s.core.v1.ServiceAccount(
            `${name}-${APPMESH_CONTROLLER_SERVICE_ACCOUNT}`,
            {
                metadata: {
                    name: APPMESH_CONTROLLER_SERVICE_ACCOUNT,
                    namespace: namespace.metadata.name,
                    annotations: { "eks.amazonaws.com/role-arn": this.controllerRole.arn },
                },
            },
            k8sOpts,
        );

        const controllerValues = pulumi
            .all([args.region, serviceAccount.metadata.name])
            .apply(([region, account]) => appMeshControllerValues(region, account));
        // The controller must be able to call App Mesh as soon as it starts.
        this.controller = this.eksChartRelease(name, APPMESH_CONTROLLER_RELEASE, APPMESH_CONTROLLER_CHART_VERSION, namespace, {
            skipCrds: false,
            values: controllerValues,
        }, { ...k8sOpts, dependsOn: [controllerPolicy] });
        this.prometheus = this.eksChartRelease(name, APPMESH_PROMETHEUS_RELEASE, APPMESH_PROMETHEUS_CHART_VERSION, namespace, {}, k8sOpts);

        this.readyResources = [this.controller, this.prometheus];

        this.registerOutputs({
            eksCluster: this.eksCluster,
            provider: this.provider,
            kubeconfig: this.kubeconfig,
            controllerRoleArn: this.controllerRole.arn,
            nodeRoleArn: this.nodeRole.arn,
            prometheusAddress: this.prometheusAddress,
        });
    }

    /**
     * A chart from the eks-charts repository, installed in `namespace` as a release named after the chart (the
     * chart's object names, such as the Prometheus Service, derive from it). The release waits until its
     * workloads are ready, so whatever depends on it finds the controller's webhook serving and Prometheus up.
     *
     * helm.v3.Release, not helm.v4.Chart: appmesh-controller generates its webhook CA and certificate while it
     * renders, so a client-side render would differ on every preview and re-roll the webhook each run. Helm
     * installs a chart's crds/ (for appmesh-controller, the App Mesh v1beta2 CRDs) before its templates; it
     * never upgrades or deletes them, so bumping the chart version means applying its CRDs first.
     */
    private eksChartRelease(
        name: string,
        chart: string,
        version: string,
        namespace: k8s.core.v1.Namespace,
        settings: Pick<k8s.helm.v3.ReleaseArgs, "skipCrds" | "values">,
        opts: pulumi.CustomResourceOptions,
    ): k8s.helm.v3.Release {
        return new k8s.helm.v3.Release(
            `${name}-${chart}`,
            {
                name: chart,
                chart,
                version,
                repositoryOpts: { repo: EKS_CHARTS_REPO },
                namespace: namespace.metadata.name,
                skipAwait: false,
                timeout: 600,
                ...settings,
            },
            opts,
        );
    }

    /** A VPC with public subnets in two Availability Zones; nodes get public IPs (no NAT gateway to pay for). */
    private createVpc(
        name: string,
        args: AppMeshClusterArgs,
        opts: pulumi.CustomResourceOptions,
    ): { vpcId: pulumi.Output<string>; publicSubnetIds: pulumi.Output<string>[] } {
        const cidr = pulumi.output(args.vpcCidr ?? CLUSTER_DEFAULTS.vpcCidr);
        const vpc = new aws.ec2.Vpc(
            `${name}-vpc`,
            { cidrBlock: cidr, enableDnsHostnames: true, enableDnsSupport: true, tags: args.tags },
            opts,
        );
        const gateway = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags: args.tags }, opts);
        const routeTable = new aws.ec2.RouteTable(
            `${name}-public`,
            { vpcId: vpc.id, routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: gateway.id }], tags: args.tags },
            opts,
        );
        const zones = aws.getAvailabilityZonesOutput({ state: "available" }, { parent: this, provider: opts.provider });
        const publicSubnetIds = Array.from({ length: NEW_VPC_SUBNET_COUNT }, (_, i) => {
            const subnet = new aws.ec2.Subnet(
                `${name}-public-${i}`,
                {
                    vpcId: vpc.id,
                    cidrBlock: cidr.apply((c) => subnetCidrs(c, NEW_VPC_SUBNET_COUNT)[i]),
                    availabilityZone: zones.names.apply((names) => {
                        if (names.length < NEW_VPC_SUBNET_COUNT) {
                            throw new Error(`the region has ${names.length} available Availability Zones; EKS needs ${NEW_VPC_SUBNET_COUNT}`);
                        }
                        return names[i];
                    }),
                    mapPublicIpOnLaunch: true,
                    // Lets the AWS load balancer integration place internet-facing NLBs (the gateway) here.
                    tags: pulumi.output(args.tags).apply((tags) => ({ ...tags, "kubernetes.io/role/elb": "1" })),
                },
                opts,
            );
            new aws.ec2.RouteTableAssociation(`${name}-public-${i}`, { subnetId: subnet.id, routeTableId: routeTable.id }, opts);
            return subnet.id;
        });
        return { vpcId: vpc.id, publicSubnetIds };
    }
}
