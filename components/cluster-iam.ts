/** IAM documents of the optional EKS cluster: IRSA trust, the App Mesh controller's policy, node roles. */
import type * as aws from "@pulumi/aws";


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
