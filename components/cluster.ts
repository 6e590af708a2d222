/**
 * Optional cluster provisioning: an EKS cluster with an OIDC provider, the App Mesh controller (IRSA, CRDs,
 * admission webhook) and the appmesh-prometheus server the canary analysis queries. With `cluster.create`
 * false (the default) nothing here is built and the program uses the ambient kubeconfig.
 */
import * as aws from "@pulumi/aws";
import * as eks from "@pulumi/eks";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { subnetCidrs } from "../config/cidr";
import { CLUSTER_DEFAULTS, NEW_VPC_SUBNET_COUNT } from "../config/cluster";
import { appMeshControllerPolicy, awsPartition, envoyNodePolicy, irsaTrustPolicy, managedPolicyArn, NODE_MANAGED_POLICIES, nodeAssumeRolePolicy } from "./cluster-iam";

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
