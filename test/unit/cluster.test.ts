import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_METRICS_SERVER } from "../../analysis/spec/canary";
import { parseStackConfig } from "../../config/stack";
import { settle, stackFileValues } from "../../scripts/render";
import { APPMESH_END_OF_SUPPORT_WARNING } from "../../components/cluster";
import { appMeshControllerPolicy, awsPartition, envoyNodePolicy, irsaTrustPolicy } from "../../components/cluster-iam";
import { parseIpv4Cidr, subnetCidrs } from "../../config/cidr";
import { CLUSTER_CONFIG_FIELDS, CLUSTER_DEFAULTS, parseClusterConfig, validateClusterConfig } from "../../config/cluster";

const VALID = { create: true, region: "us-west-2", version: "1.33" };

/** The failing properties, for compact assertions; each reason is checked where it matters. */
function properties(raw: unknown): string[] {
    return validateClusterConfig(raw).map((f) => f.property);
}

function reasonFor(raw: unknown, property: string): string {
    const failure = validateClusterConfig(raw).find((f) => f.property === property);
    assert.ok(failure, `expected a failure on ${property}, got ${JSON.stringify(validateClusterConfig(raw))}`);
    return failure.reason;
}

describe("cluster config validation", () => {
    it("accepts no config, create false, and a minimal create true", () => {
        assert.deepEqual(validateClusterConfig(undefined), []);
        assert.deepEqual(validateClusterConfig({ create: false }), []);
        assert.deepEqual(validateClusterConfig({}), []);
        assert.deepEqual(validateClusterConfig(VALID), []);
    });

    it("accepts every field with an existing VPC", () => {
        const raw = {
            ...VALID,
            instanceType: "m6i.large",
            desiredCapacity: 3,
            minSize: 1,
            maxSize: 5,
            vpcId: "vpc-0a1b2c3d4e5f60718",
            subnetIds: ["subnet-0a1b2c3d4e5f60718", "subnet-1a2b3c4d"],
        };
        assert.deepEqual(validateClusterConfig(raw), []);
    });

    it("rejects a non-object", () => {
        assert.deepEqual(validateClusterConfig("yes"), [{ property: "cluster", reason: 'must be an object, got "yes"' }]);
        assert.deepEqual(properties([VALID]), ["cluster"]);
    });

    it("rejects unknown fields and lists the allowed ones", () => {
        assert.equal(reasonFor({ ...VALID, nodeCount: 3 }, "cluster.nodeCount"), `is not a known field; allowed: ${CLUSTER_CONFIG_FIELDS.join(", ")}`);
    });

    it("rejects a create that is not a boolean", () => {
        assert.equal(reasonFor({ create: "true" }, "cluster.create"), 'must be true or false, got "true"');
    });

    it("rejects settings without create: true instead of ignoring them", () => {
        assert.deepEqual(validateClusterConfig({ region: "us-west-2", create: false }), [
            { property: "cluster.region", reason: "is used only with cluster.create: true" },
        ]);
        assert.deepEqual(properties({ version: "1.33" }), ["cluster.version"]);
    });

    it("requires region and version when creating", () => {
        assert.deepEqual(validateClusterConfig({ create: true }), [
            { property: "cluster.region", reason: "is required when cluster.create is true" },
            { property: "cluster.version", reason: "is required when cluster.create is true" },
        ]);
    });

    it("checks region, version and instance type formats with an example of each", () => {
        assert.equal(reasonFor({ ...VALID, region: "Oregon" }, "cluster.region"), 'must be a string like us-west-2, got "Oregon"');
        assert.equal(
            reasonFor({ ...VALID, version: 1.3 }, "cluster.version"),
            'must be a string like "1.33" (an EKS Kubernetes version, quoted), got 1.3',
        );
        assert.equal(reasonFor({ ...VALID, instanceType: "large" }, "cluster.instanceType"), 'must be a string like t3.medium, got "large"');
        assert.deepEqual(validateClusterConfig({ ...VALID, region: "us-gov-west-1" }), []);
    });

    it("checks node counts: integers, min <= desired <= max", () => {
        assert.equal(reasonFor({ ...VALID, desiredCapacity: 0 }, "cluster.desiredCapacity"), "must be an integer >= 1, got 0");
        assert.equal(reasonFor({ ...VALID, maxSize: "3" }, "cluster.maxSize"), 'must be an integer >= 1, got "3"');
        assert.equal(reasonFor({ ...VALID, minSize: 1.5 }, "cluster.minSize"), "must be an integer >= 0, got 1.5");
        assert.equal(reasonFor({ ...VALID, minSize: 4, maxSize: 3 }, "cluster.minSize"), "must be <= maxSize (3), got 4");
        assert.equal(
            reasonFor({ ...VALID, desiredCapacity: 5 }, "cluster.desiredCapacity"),
            "must be between minSize (2) and maxSize (3), got 5",
        );
        assert.equal(
            reasonFor({ ...VALID, desiredCapacity: 1 }, "cluster.desiredCapacity"),
            "must be between minSize (2) and maxSize (3), got 1",
        );
    });

    it("requires vpcId and subnetIds together", () => {
        const reason = "is required when using an existing VPC: set both vpcId and subnetIds, or neither to create a new VPC";
        assert.equal(reasonFor({ ...VALID, vpcId: "vpc-0a1b2c3d" }, "cluster.subnetIds"), reason);
        assert.equal(reasonFor({ ...VALID, subnetIds: ["subnet-0a1b2c3d", "subnet-1a1b2c3d"] }, "cluster.vpcId"), reason);
    });

    it("checks VPC and subnet IDs", () => {
        const net = { vpcId: "vpc-0a1b2c3d", subnetIds: ["subnet-0a1b2c3d", "subnet-1a1b2c3d"] };
        assert.equal(reasonFor({ ...VALID, ...net, vpcId: "default" }, "cluster.vpcId"), 'must be a string like vpc-0a1b2c3d4e5f60718, got "default"');
        const subnetReason = (subnetIds: unknown) => reasonFor({ ...VALID, ...net, subnetIds }, "cluster.subnetIds");
        assert.match(subnetReason(["subnet-0a1b2c3d"]), /^must be a list of at least 2 distinct subnet IDs like subnet-0a1b2c3d4e5f60718 in different Availability Zones, got \["subnet-0a1b2c3d"\]$/);
        assert.match(subnetReason(["subnet-0a1b2c3d", "subnet-0a1b2c3d"]), /at least 2 distinct/);
        assert.match(subnetReason("subnet-0a1b2c3d,subnet-1a1b2c3d"), /must be a list/);
        assert.match(subnetReason(["subnet-0a1b2c3d", "sn-1"]), /got \["subnet-0a1b2c3d","sn-1"\]/);
    });

    it("checks the new VPC's CIDR and refuses it beside an existing VPC", () => {
        assert.deepEqual(validateClusterConfig({ ...VALID, vpcCidr: "10.20.0.0/16" }), []);
        assert.equal(
            reasonFor({ ...VALID, vpcCidr: "10.20.0.1/16" }, "cluster.vpcCidr"),
            'has host bits set; the network address is 10.20.0.0/16, got "10.20.0.1/16"',
        );
        assert.equal(
            reasonFor({ ...VALID, vpcCidr: "10.0.0.0/8" }, "cluster.vpcCidr"),
            'prefix must be between /16 and /24 (AWS VPC limits, room for two subnets), got "10.0.0.0/8"',
        );
        assert.equal(reasonFor({ ...VALID, vpcCidr: "10.0.0.0" }, "cluster.vpcCidr"), 'must be an IPv4 CIDR block such as 10.0.0.0/16, got "10.0.0.0"');
        assert.equal(reasonFor({ ...VALID, vpcCidr: 16 }, "cluster.vpcCidr"), "must be a string, got 16");
        assert.equal(
            reasonFor({ ...VALID, vpcId: "vpc-0a1b2c3d", subnetIds: ["subnet-0a1b2c3d", "subnet-1a1b2c3d"], vpcCidr: "10.0.0.0/16" }, "cluster.vpcCidr"),
            "describes a new VPC; leave it out when vpcId and subnetIds name an existing one",
        );
    });

    it("reports every failure at once", () => {
        assert.deepEqual(properties({ create: true, region: "x", desiredCapacity: -1, vpcId: "vpc-0a1b2c3d", extra: 1 }), [
            "cluster.extra",
            "cluster.version",
            "cluster.region",
            "cluster.desiredCapacity",
            "cluster.subnetIds",
        ]);
    });

    it("uses the given path in property names", () => {
        assert.deepEqual(validateClusterConfig({ create: 1 }, "appmesh-canary:cluster").map((f) => f.property), ["appmesh-canary:cluster.create"]);
    });
});

describe("parseClusterConfig", () => {
    it("defaults to using an existing cluster", () => {
        assert.deepEqual(parseClusterConfig(undefined), { create: false });
        assert.deepEqual(parseClusterConfig({ create: false }), { create: false });
    });

    it("applies the documented defaults and a new VPC", () => {
        assert.deepEqual(parseClusterConfig(VALID), {
            create: true,
            region: "us-west-2",
            version: "1.33",
            instanceType: "t3.medium",
            desiredCapacity: 2,
            minSize: 2,
            maxSize: 3,
            vpcCidr: "10.0.0.0/16",
        });
    });

    it("keeps an existing VPC and no vpcCidr", () => {
        const parsed = parseClusterConfig({ ...VALID, vpcId: "vpc-0a1b2c3d", subnetIds: ["subnet-0a1b2c3d", "subnet-1a1b2c3d"], minSize: 1, desiredCapacity: 1 });
        assert.deepEqual(parsed, {
            create: true,
            region: "us-west-2",
            version: "1.33",
            instanceType: "t3.medium",
            desiredCapacity: 1,
            minSize: 1,
            maxSize: 3,
            vpcId: "vpc-0a1b2c3d",
            subnetIds: ["subnet-0a1b2c3d", "subnet-1a1b2c3d"],
        });
    });

    it("throws one error listing every failure", () => {
        assert.throws(
            () => parseClusterConfig({ create: true, region: "us-west-2", maxSize: 0 }),
            (err: Error) =>
                err.message ===
                "invalid stack config (keys appmesh-canary:<path>) (2 problems):\n" +
                    "  - cluster.version: is required when cluster.create is true\n" +
                    "  - cluster.maxSize: must be an integer >= 1, got 0",
        );
    });
});

describe("Pulumi.eks.yaml", () => {
    it("creates a cluster in a new VPC, spelling out the defaults", () => {
        assert.deepEqual(parseClusterConfig(stackFileValues("eks").cluster), parseClusterConfig(VALID));
    });
});

describe("network helpers", () => {
    it("parses CIDR blocks", () => {
        assert.deepEqual(parseIpv4Cidr("10.0.0.0/16"), { base: 10 * 2 ** 24, prefix: 16 });
        assert.equal(parseIpv4Cidr("10.0.300.0/16"), "must be an IPv4 CIDR block such as 10.0.0.0/16 (octets 0-255, prefix 0-32)");
        assert.equal(parseIpv4Cidr("10.0.0.0/33"), "must be an IPv4 CIDR block such as 10.0.0.0/16 (octets 0-255, prefix 0-32)");
    });

    it("splits a VPC into quarter-size subnets", () => {
        assert.deepEqual(subnetCidrs("10.0.0.0/16", 2), ["10.0.0.0/18", "10.0.64.0/18"]);
        assert.deepEqual(subnetCidrs("172.16.0.0/20", 4), ["172.16.0.0/22", "172.16.4.0/22", "172.16.8.0/22", "172.16.12.0/22"]);
        assert.deepEqual(subnetCidrs("192.168.255.0/24", 2), ["192.168.255.0/26", "192.168.255.64/26"]);
        assert.throws(() => subnetCidrs("10.0.0.0/16", 5), /cannot hold 5 subnets of \/18/);
        assert.throws(() => subnetCidrs("10.0.0.1/16", 2), /has host bits set/);
    });
});

describe("IAM documents", () => {
    it("trusts only the controller's service account, for STS, from the cluster's OIDC provider", () => {
        const arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC";
        const expected = {
            Version: "2012-10-17",
            Statement: [
                {
                    Effect: "Allow",
                    Principal: { Federated: arn },
                    Action: "sts:AssumeRoleWithWebIdentity",
                    Condition: {
                        StringEquals: {
                            "oidc.eks.us-west-2.amazonaws.com/id/ABC:sub": "system:serviceaccount:appmesh-system:appmesh-controller",
                            "oidc.eks.us-west-2.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
                        },
                    },
                },
            ],
        };
        assert.deepEqual(irsaTrustPolicy(arn, "oidc.eks.us-west-2.amazonaws.com/id/ABC", "appmesh-system", "appmesh-controller"), expected);
        // An issuer URL with its scheme gives the same condition keys.
        assert.deepEqual(irsaTrustPolicy(arn, "https://oidc.eks.us-west-2.amazonaws.com/id/ABC", "appmesh-system", "appmesh-controller"), expected);
    });

    it("grants the controller exactly the actions of its documented policy", () => {
        const doc = appMeshControllerPolicy("aws") as any;
        const actions = (doc.Statement as any[]).flatMap((s) => [s.Action].flat()).sort();
        const appmesh = [
            "ListVirtualRouters", "ListVirtualServices", "ListRoutes", "ListGatewayRoutes", "ListMeshes", "ListVirtualNodes",
            "ListVirtualGateways", "DescribeMesh", "DescribeVirtualRouter", "DescribeRoute", "DescribeVirtualNode",
            "DescribeVirtualGateway", "DescribeGatewayRoute", "DescribeVirtualService", "CreateMesh", "CreateVirtualRouter",
            "CreateVirtualGateway", "CreateVirtualService", "CreateGatewayRoute", "CreateRoute", "CreateVirtualNode",
            "UpdateMesh", "UpdateRoute", "UpdateVirtualGateway", "UpdateVirtualRouter", "UpdateGatewayRoute",
            "UpdateVirtualService", "UpdateVirtualNode", "DeleteMesh", "DeleteRoute", "DeleteVirtualRouter",
            "DeleteGatewayRoute", "DeleteVirtualService", "DeleteVirtualNode", "DeleteVirtualGateway",
        ].map((a) => `appmesh:${a}`);
        const cloudMap = [
            "servicediscovery:CreateService", "servicediscovery:DeleteService", "servicediscovery:GetService",
            "servicediscovery:GetInstance", "servicediscovery:RegisterInstance", "servicediscovery:DeregisterInstance",
            "servicediscovery:ListInstances", "servicediscovery:ListNamespaces", "servicediscovery:ListServices",
            "servicediscovery:GetInstancesHealthStatus", "servicediscovery:UpdateInstanceCustomHealthStatus",
            "servicediscovery:GetOperation", "route53:GetHealthCheck", "route53:CreateHealthCheck",
            "route53:UpdateHealthCheck", "route53:ChangeResourceRecordSets", "route53:DeleteHealthCheck",
        ];
        const tls = ["acm:ListCertificates", "acm:DescribeCertificate", "acm-pca:DescribeCertificateAuthority", "acm-pca:ListCertificateAuthorities"];
        assert.deepEqual(actions, [...appmesh, ...cloudMap, ...tls, "iam:CreateServiceLinkedRole"].sort());
        const linkedRole = (doc.Statement as any[]).find((s) => s.Action === "iam:CreateServiceLinkedRole");
        assert.equal(linkedRole.Resource, "arn:aws:iam::*:role/aws-service-role/appmesh.amazonaws.com/AWSServiceRoleForAppMesh");
        assert.deepEqual(linkedRole.Condition, { StringLike: { "iam:AWSServiceName": ["appmesh.amazonaws.com"] } });
        assert.equal((appMeshControllerPolicy("aws-cn") as any).Statement[3].Resource.split(":")[1], "aws-cn");
    });

    it("lets Envoy stream its configuration", () => {
        assert.deepEqual(envoyNodePolicy(), {
            Version: "2012-10-17",
            Statement: [{ Sid: "EnvoyXds", Effect: "Allow", Action: "appmesh:StreamAggregatedResources", Resource: "*" }],
        });
    });

    it("derives the partition from the region", () => {
        assert.equal(awsPartition("us-west-2"), "aws");
        assert.equal(awsPartition("cn-north-1"), "aws-cn");
        assert.equal(awsPartition("us-gov-west-1"), "aws-us-gov");
    });
});

// ---------------------------------------------------------------------------------------------------------
// The component under Pulumi's mocks
// ---------------------------------------------------------------------------------------------------------

interface Registration {
    type: string;
    name: string;
    urn: string;
    parent: string;
    custom: boolean;
    provider: string;
    providers: Record<string, string>;
    dependencies: string[];
    inputs: Record<string, any>;
}

const OIDC_ISSUER = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
const OIDC_ARN = `arn:aws:iam::123456789012:oidc-provider/${OIDC_ISSUER}`;
const KUBECONFIG = JSON.stringify({ apiVersion: "v1", kind: "Config", clusters: [{ name: "demo", cluster: { server: "https://example.eks" } }] });

const registrations: Registration[] = [];

function outputsFor(type: string, name: string): Record<string, unknown> {
    switch (type) {
        case "eks:index:Cluster":
            return { kubeconfigJson: KUBECONFIG, oidcProviderArn: OIDC_ARN, oidcIssuer: OIDC_ISSUER };
        case "aws:iam/role:Role":
            return { name: `${name}-7f3a`, arn: `arn:aws:iam::123456789012:role/${name}-7f3a` };
        default:
            return {};
    }
}

/** Records every registration with what `newResource` does not show: parent, custom and dependencies. */
async function installMocks(): Promise<void> {
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => ({ id: `${args.name}-id`, state: { ...args.inputs, ...outputsFor(args.type, args.name) } }),
            call: (args) => {
                assert.equal(args.token, "aws:index/getAvailabilityZones:getAvailabilityZones");
                return { names: ["us-west-2a", "us-west-2b", "us-west-2c"], zoneIds: ["usw2-az1", "usw2-az2", "usw2-az3"] };
            },
        },
        "appmesh-canary",
        "test",
        false,
    );
    const monitor = pulumi.runtime.getMonitor() as any;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: (err: any, resp: any) => void) =>
        register(req, (err: any, resp: any) => {
            if (!err) {
                registrations.push({
                    type: req.getType(),
                    name: req.getName(),
                    urn: resp.getUrn(),
                    parent: req.getParent(),
                    custom: req.getCustom(),
                    provider: req.getProvider(),
                    providers: Object.fromEntries(req.getProvidersMap().toObject()),
                    dependencies: req.getDependenciesList(),
                    inputs: req.getObject().toJavaScript(),
                });
            }
            callback(err, resp);
        });
}

function outputValue<T>(output: pulumi.Output<T>): Promise<{ value: T; secret: boolean }> {
    return new Promise((resolve) => {
        pulumi.all([output, pulumi.isSecret(output)]).apply(([value, secret]) => resolve({ value: value as T, secret }));
    });
}

/** Warnings logged while `build` runs: without an engine, pulumi.log writes them to the console. */
function captureWarnings(build: () => void): string[] {
    const lines: string[] = [];
    const warn = console.warn;
    console.warn = (line: string) => lines.push(line);
    try {
        build();
    } finally {
        console.warn = warn;
    }
    return lines;
}

function only(type: string, name?: string): Registration {
    const found = registrations.filter((r) => r.type === type && (name === undefined || r.name === name));
    assert.equal(found.length, 1, `expected one ${type} ${name ?? ""}, got ${found.map((r) => r.name).join(", ") || "none"}`);
    return found[0];
}

function byUrn(urn: string): Registration {
    const found = registrations.find((r) => r.urn === urn);
    assert.ok(found, `no registration for ${urn}`);
    return found;
}

/** A resource's own dependencies and those of its ancestors (a component's dependsOn orders its children). */
function effectiveDependencies(reg: Registration): string[] {
    const deps = [...reg.dependencies];
    for (let parent = reg.parent; parent && registrations.some((r) => r.urn === parent); parent = byUrn(parent).parent) {
        deps.push(...byUrn(parent).dependencies);
    }
    return deps;
}

describe("AppMeshCluster under mocks", function () {
    let cluster: import("../../components/cluster").AppMeshCluster;
    const warnings: string[] = [];

    before(async () => {
        await installMocks();
        const { AppMeshCluster } = await import("../../components/cluster");
        const { parseClusterConfig: parse } = await import("../../config/cluster");
        const k8s = await import("@pulumi/kubernetes");
        const config = parse({ ...VALID, instanceType: "m6i.large" });
        assert.equal(config.create, true);
        const { create: _create, ...args } = config as Extract<typeof config, { create: true }>;
        warnings.push(...captureWarnings(() => {
            cluster = new AppMeshCluster("demo", { ...args, tags: { project: "appmesh-canary" } });
        }));
        new k8s.apiextensions.CustomResource(
            "global",
            { apiVersion: "appmesh.k8s.aws/v1beta2", kind: "Mesh", metadata: { name: "global" }, spec: { namespaceSelector: { matchLabels: {} } } },
            { provider: cluster.provider, dependsOn: cluster.readyResources },
        );
        await settle();
    });

    it("warns that App Mesh has ended", () => {
        assert.deepEqual(warnings, [`warning: [runtime] ${APPMESH_END_OF_SUPPORT_WARNING}`]);
        assert.match(APPMESH_END_OF_SUPPORT_WARNING, /^AWS App Mesh ended on 2026-09-30 \(no new accounts since 2024-09-24\)/);
    });

    it("creates the EKS cluster with an OIDC provider and the configured nodes", () => {
        const eks = only("eks:index:Cluster");
        assert.equal(eks.name, "demo-eks");
        assert.equal(eks.custom, false);
        assert.equal(eks.inputs.createOidcProvider, true);
        assert.equal(eks.inputs.version, "1.33");
        assert.equal(eks.inputs.instanceType, "m6i.large");
        assert.deepEqual([eks.inputs.desiredCapacity, eks.inputs.minSize, eks.inputs.maxSize], [2, 2, 3]);
        assert.deepEqual(eks.inputs.tags, { project: "appmesh-canary" });
        // The node role is ours, with its policies attached before the nodes join.
        const nodeRole = only("aws:iam/role:Role", "demo-node");
        assert.equal(eks.inputs.instanceRole.urn, nodeRole.urn);
        // The remote component gets the region's AWS provider.
        assert.equal(eks.providers.aws.split("::demo-aws")[0] + "::demo-aws", only("pulumi:providers:aws").urn);
        const attachments = registrations.filter((r) => r.type === "aws:iam/rolePolicyAttachment:RolePolicyAttachment");
        assert.deepEqual(attachments.map((a) => a.inputs.policyArn).sort(), [
            "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
            "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
            "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
        ]);
        for (const dep of [...attachments, only("aws:iam/rolePolicy:RolePolicy", "demo-node-envoy")]) {
            assert.ok(eks.dependencies.includes(dep.urn), `${dep.name} before the cluster`);
        }
    });

    it("uses an AWS provider for the configured region for every AWS resource", () => {
        const aws = only("pulumi:providers:aws");
        assert.equal(aws.inputs.region, "us-west-2");
        const awsResources = registrations.filter((r) => r.type.startsWith("aws:"));
        assert.ok(awsResources.length >= 12);
        for (const r of awsResources) {
            assert.equal(r.provider, `${aws.urn}::demo-aws-id`, `${r.type} ${r.name}`);
        }
    });

    it("creates a VPC with public subnets in two zones when none is given", () => {
        const vpc = only("aws:ec2/vpc:Vpc");
        assert.equal(vpc.inputs.cidrBlock, "10.0.0.0/16");
        const subnets = registrations.filter((r) => r.type === "aws:ec2/subnet:Subnet");
        assert.deepEqual(
            subnets.map((s) => [s.inputs.cidrBlock, s.inputs.availabilityZone, s.inputs.mapPublicIpOnLaunch, s.inputs.tags["kubernetes.io/role/elb"]]),
            [
                ["10.0.0.0/18", "us-west-2a", true, "1"],
                ["10.0.64.0/18", "us-west-2b", true, "1"],
            ],
        );
        assert.equal(registrations.filter((r) => r.type === "aws:ec2/routeTableAssociation:RouteTableAssociation").length, 2);
        const routes = only("aws:ec2/routeTable:RouteTable").inputs.routes;
        assert.deepEqual(routes, [{ cidrBlock: "0.0.0.0/0", gatewayId: `${only("aws:ec2/internetGateway:InternetGateway").name}-id` }]);
        const eks = only("eks:index:Cluster");
        assert.equal(eks.inputs.vpcId, "demo-vpc-id");
        assert.deepEqual(eks.inputs.publicSubnetIds, ["demo-public-0-id", "demo-public-1-id"]);
    });

    it("gives the controller an IRSA role trusting only its service account", () => {
        const role = only("aws:iam/role:Role", "demo-appmesh-controller");
        assert.deepEqual(JSON.parse(role.inputs.assumeRolePolicy), {
            Version: "2012-10-17",
            Statement: [
                {
                    Effect: "Allow",
                    Principal: { Federated: OIDC_ARN },
                    Action: "sts:AssumeRoleWithWebIdentity",
                    Condition: {
                        StringEquals: {
                            [`${OIDC_ISSUER}:sub`]: "system:serviceaccount:appmesh-system:appmesh-controller",
                            [`${OIDC_ISSUER}:aud`]: "sts.amazonaws.com",
                        },
                    },
                },
            ],
        });
        const policy = only("aws:iam/rolePolicy:RolePolicy", "demo-appmesh-controller");
        assert.equal(policy.inputs.role, "demo-appmesh-controller-7f3a");
        assert.deepEqual(JSON.parse(policy.inputs.policy), appMeshControllerPolicy("aws"));
    });

    it("lets the nodes' Envoy sidecars stream from App Mesh", () => {
        const envoy = only("aws:iam/rolePolicy:RolePolicy", "demo-node-envoy");
        assert.equal(envoy.inputs.role, "demo-node-7f3a");
        assert.deepEqual(JSON.parse(envoy.inputs.policy).Statement[0].Action, "appmesh:StreamAggregatedResources");
    });

    it("annotates the controller's service account with the role", () => {
        const ns = only("kubernetes:core/v1:Namespace");
        assert.equal(ns.inputs.metadata.name, "appmesh-system");
        const sa = only("kubernetes:core/v1:ServiceAccount");
        assert.deepEqual(sa.inputs.metadata, {
            name: "appmesh-controller",
            namespace: "appmesh-system",
            annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/demo-appmesh-controller-7f3a" },
        });
        assert.ok(sa.dependencies.includes(ns.urn));
    });

    it("installs the App Mesh controller chart 1.13.3 with its CRDs, as a Helm release", () => {
        const release = only("kubernetes:helm.sh/v3:Release", "demo-appmesh-controller");
        assert.equal(release.custom, true);
        assert.equal(release.inputs.name, "appmesh-controller");
        assert.equal(release.inputs.chart, "appmesh-controller");
        assert.equal(release.inputs.version, "1.13.3");
        assert.deepEqual(release.inputs.repositoryOpts, { repo: "https://aws.github.io/eks-charts" });
        assert.equal(release.inputs.namespace, "appmesh-system");
        assert.equal(release.inputs.skipCrds, false);
        assert.equal(release.inputs.skipAwait, false);
        assert.deepEqual(release.inputs.values, { region: "us-west-2", serviceAccount: { create: false, name: "appmesh-controller" } });
        // IAM permissions and the annotated service account exist before the controller starts.
        assert.ok(release.dependencies.includes(only("aws:iam/rolePolicy:RolePolicy", "demo-appmesh-controller").urn));
        assert.ok(release.dependencies.includes(only("kubernetes:core/v1:ServiceAccount").urn));
    });

    it("installs appmesh-prometheus where the canary spec's default address points", () => {
        const release = only("kubernetes:helm.sh/v3:Release", "demo-appmesh-prometheus");
        assert.equal(release.inputs.name, "appmesh-prometheus");
        assert.equal(release.inputs.chart, "appmesh-prometheus");
        assert.equal(release.inputs.version, "1.0.3");
        assert.deepEqual(release.inputs.repositoryOpts, { repo: "https://aws.github.io/eks-charts" });
        assert.equal(release.inputs.namespace, "appmesh-system");
        assert.equal(release.inputs.values, undefined);
        assert.equal(cluster.prometheusAddress, DEFAULT_METRICS_SERVER);
    });

    it("binds every Kubernetes object to one provider built from the cluster's kubeconfig", () => {
        const provider = only("pulumi:providers:kubernetes");
        assert.equal(provider.name, "demo-k8s");
        // The provider's kubeconfig input is the secret output, passed as a secret.
        assert.equal(provider.inputs.kubeconfig[pulumi.runtime.specialSigKey], pulumi.runtime.specialSecretSig);
        assert.deepEqual(JSON.parse(provider.inputs.kubeconfig.value), JSON.parse(KUBECONFIG));
        const kubernetes = registrations.filter((r) => r.type.startsWith("kubernetes:"));
        assert.deepEqual(kubernetes.map((r) => r.type).sort(), [
            "kubernetes:appmesh.k8s.aws/v1beta2:Mesh",
            "kubernetes:core/v1:Namespace",
            "kubernetes:core/v1:ServiceAccount",
            "kubernetes:helm.sh/v3:Release",
            "kubernetes:helm.sh/v3:Release",
        ]);
        for (const r of kubernetes) {
            assert.equal(r.provider, `${provider.urn}::demo-k8s-id`, `${r.type} ${r.name}`);
        }
    });

    it("orders App Mesh objects after the controller and Prometheus", () => {
        const meshReg = only("kubernetes:appmesh.k8s.aws/v1beta2:Mesh");
        const controller = only("kubernetes:helm.sh/v3:Release", "demo-appmesh-controller");
        const prometheus = only("kubernetes:helm.sh/v3:Release", "demo-appmesh-prometheus");
        assert.ok(effectiveDependencies(meshReg).includes(controller.urn));
        assert.ok(effectiveDependencies(meshReg).includes(prometheus.urn));
        assert.deepEqual(cluster.readyResources, [cluster.controller, cluster.prometheus]);
    });

    it("keeps the kubeconfig secret", async () => {
        const { value, secret } = await outputValue(cluster.kubeconfig);
        assert.equal(secret, true);
        assert.equal(value, KUBECONFIG);
    });

    it("builds in an existing VPC without creating network resources, with default node settings", async () => {
        const { AppMeshCluster } = await import("../../components/cluster");
        const before = registrations.length;
        captureWarnings(() => new AppMeshCluster("existing", {
            region: "eu-west-1",
            version: "1.32",
            vpcId: "vpc-0a1b2c3d",
            subnetIds: ["subnet-0a1b2c3d", "subnet-1a1b2c3d"],
        }));
        await settle();
        const added = registrations.slice(before);
        assert.deepEqual(added.filter((r) => r.type.startsWith("aws:ec2/")), []);
        const eks = added.find((r) => r.type === "eks:index:Cluster")!;
        // Node settings left out take the documented defaults.
        assert.deepEqual(
            [eks.inputs.instanceType, eks.inputs.desiredCapacity, eks.inputs.minSize, eks.inputs.maxSize],
            [CLUSTER_DEFAULTS.instanceType, CLUSTER_DEFAULTS.desiredCapacity, CLUSTER_DEFAULTS.minSize, CLUSTER_DEFAULTS.maxSize],
        );
        assert.equal(eks.inputs.vpcId, "vpc-0a1b2c3d");
        assert.deepEqual(eks.inputs.subnetIds, ["subnet-0a1b2c3d", "subnet-1a1b2c3d"]);
        assert.equal(eks.inputs.publicSubnetIds, undefined);
        const controller = added.find((r) => r.type === "kubernetes:helm.sh/v3:Release" && r.inputs.name === "appmesh-controller")!;
        assert.equal(controller.inputs.values.region, "eu-west-1");
        assert.equal(added.find((r) => r.type === "pulumi:providers:aws")!.inputs.region, "eu-west-1");
    });
});

describe("index.ts wiring under mocks", function () {
    type Main = (config?: unknown, opts?: pulumi.ComponentResourceOptions, cluster?: unknown) => Record<string, any>;
    let main: Main;

    /** Builds the stack from a stack file's values and returns what it registered and output. */
    async function build(stack: string): Promise<{ added: Registration[]; outputs: Record<string, any> }> {
        const values = stackFileValues(stack);
        const start = registrations.length;
        let outputs: Record<string, any> = {};
        captureWarnings(() => {
            outputs = main(parseStackConfig(values), {}, parseClusterConfig(values.cluster));
        });
        await settle();
        return { added: registrations.slice(start), outputs };
    }

    before(async () => {
        // Mocks are installed by the component tests above; the program loads after them.
        main = require("../../index");
    });

    describe("with Pulumi.eks.yaml (cluster.create: true)", () => {
        let added: Registration[];
        let outputs: Record<string, any>;
        let providerRef: string;
        let controller: Registration;
        let prometheus: Registration;

        before(async () => {
            ({ added, outputs } = await build("eks"));
            const provider = added.filter((r) => r.type === "pulumi:providers:kubernetes");
            assert.equal(provider.length, 1, "one Kubernetes provider");
            providerRef = `${provider[0].urn}::${provider[0].name}-id`;
            controller = added.find((r) => r.type === "kubernetes:helm.sh/v3:Release" && r.inputs.name === "appmesh-controller")!;
            prometheus = added.find((r) => r.type === "kubernetes:helm.sh/v3:Release" && r.inputs.name === "appmesh-prometheus")!;
            assert.ok(controller && prometheus);
        });

        it("creates the cluster with OIDC in the configured region", () => {
            const eks = added.filter((r) => r.type === "eks:index:Cluster");
            assert.equal(eks.length, 1);
            assert.equal(eks[0].inputs.createOidcProvider, true);
            assert.equal(eks[0].inputs.version, "1.33");
            assert.equal(added.find((r) => r.type === "pulumi:providers:aws")!.inputs.region, "us-west-2");
        });

        it("binds every Kubernetes object of the stack to the cluster's provider", () => {
            const kubernetes = added.filter((r) => r.custom && r.type.startsWith("kubernetes:"));
            const kinds = new Set(kubernetes.map((r) => r.type));
            for (const kind of [
                "kubernetes:appmesh.k8s.aws/v1beta2:Mesh",
                "kubernetes:appmesh.k8s.aws/v1beta2:VirtualNode",
                "kubernetes:appmesh.k8s.aws/v1beta2:VirtualRouter",
                "kubernetes:appmesh.k8s.aws/v1beta2:VirtualService",
                "kubernetes:appmesh.k8s.aws/v1beta2:VirtualGateway",
                "kubernetes:appmesh.k8s.aws/v1beta2:GatewayRoute",
                "kubernetes:apps/v1:Deployment",
                "kubernetes:core/v1:Service",
                "kubernetes:core/v1:Namespace",
            ]) {
                assert.ok(kinds.has(kind), `the stack registers ${kind}`);
            }
            const unbound = kubernetes.filter((r) => r.provider !== providerRef).map((r) => `${r.type} ${r.name} -> ${r.provider || "default provider"}`);
            assert.deepEqual(unbound, []);
        });

        it("orders every topology object and the analysis after the App Mesh controller and Prometheus", () => {
            const topology = added.filter(
                (r) => r.custom && /^(kubernetes:|pulumi-nodejs:dynamic\/)/.test(r.type) && !r.type.startsWith("kubernetes:helm.sh/"),
            );
            const clusterOwned = new Set(["appmesh-system", "appmesh-controller"]);
            const unordered = topology
                .filter((r) => !clusterOwned.has(r.inputs.metadata?.name))
                .filter((r) => {
                    const deps = effectiveDependencies(r);
                    return !(deps.includes(controller.urn) && deps.includes(prometheus.urn));
                })
                .map((r) => `${r.type} ${r.name}`);
            assert.deepEqual(unordered, []);
            assert.ok(topology.filter((r) => r.type.startsWith("kubernetes:appmesh.k8s.aws/")).length >= 8);
            assert.equal(topology.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/")).length, 2);
        });

        it("hands the analysis resources the cluster's kubeconfig as a secret", () => {
            const dynamic = added.filter((r) => /^pulumi-nodejs:dynamic\/appmesh-canary:(Analysis|Finalize)$/.test(r.type));
            assert.deepEqual(dynamic.map((r) => r.type).sort(), [
                "pulumi-nodejs:dynamic/appmesh-canary:Analysis",
                "pulumi-nodejs:dynamic/appmesh-canary:Finalize",
            ]);
            for (const r of dynamic) {
                assert.equal(r.inputs.kubeconfig[pulumi.runtime.specialSigKey], pulumi.runtime.specialSecretSig, `${r.type} kubeconfig is secret`);
                assert.equal(r.inputs.kubeconfig.value, KUBECONFIG);
            }
        });

        it("outputs the cluster's kubeconfig as a secret", async () => {
            const { value, secret } = await outputValue(outputs.kubeconfig as pulumi.Output<string>);
            assert.equal(secret, true);
            assert.equal(value, KUBECONFIG);
        });
    });

    describe("with Pulumi.dev.yaml (no cluster config)", () => {
        it("registers nothing on AWS and no provider: the ambient kubeconfig is used", async () => {
            const { added, outputs } = await build("dev");
            assert.ok(added.filter((r) => r.type.startsWith("kubernetes:")).length > 20);
            const foreign = added.filter((r) => /^(aws:|eks:|pulumi:providers:)/.test(r.type) || r.type === "appmesh-canary:cluster:AppMeshCluster");
            assert.deepEqual(foreign.map((r) => r.type), []);
            assert.ok(added.every((r) => r.provider === ""), "every object uses the default provider");
            assert.equal(outputs.kubeconfig, undefined);
            // The analysis falls back to KUBECONFIG where `pulumi up` runs.
            const analysis = added.find((r) => r.type === "pulumi-nodejs:dynamic/appmesh-canary:Analysis");
            assert.ok(analysis);
            assert.equal(analysis.inputs.kubeconfig, undefined);
        });
    });
});
