/**
 * What each router makes of the Flagger fields whose meaning depends on the router: the ones it honours, the
 * ones it ignores as Flagger does (so a Canary written for another router still pastes in, with no effect), and
 * the ones it refuses, with the reason. Pure data, keyed by the Canary `provider`.
 */
import { APPMESH_PROVIDER } from "../routers/appmesh/api";
import { GATEWAYAPI_PROVIDER } from "../routers/gatewayapi/api";

export interface RouterFieldRules {
    /** The router as messages name it. */
    label: string;
    service: FieldRules;
    analysis: FieldRules;
    /** Most header conditions one route match may hold (the router's CRD limit). */
    maxHeaderMatches: number;
}

interface FieldRules {
    /** Fields of this router beyond the ones every router has. */
    known: readonly string[];
    ignored: readonly string[];
    unsupported: Record<string, string>;
}

/** Service fields every router honours. */
export const COMMON_SERVICE_FIELDS = ["name", "port", "targetPort", "portName", "timeout", "match", "hosts", "apex"] as const;

/** Service fields with an effect that no router here implements: refused, with the reason. */
export const UNSUPPORTED_SERVICE_FIELDS: Record<string, string> = {
    portDiscovery: "declare extra ports on the Deployment",
    appProtocol: "the generated Services declare plain TCP ports",
    headless: "the generated Services are ClusterIP Services",
    trafficDistribution: "the generated Services use the cluster's default distribution",
    unmanagedMetadata: "Pulumi owns all metadata of the generated Services",
    primary: "only `apex` metadata is implemented",
    canary: "only `apex` metadata is implemented",
};

const GATEWAY_NOT_YET = "Flagger maps it for gatewayapi:v1, this program does not yet; remove it";

export const ROUTER_FIELD_RULES: Record<string, RouterFieldRules> = {
    [APPMESH_PROVIDER]: {
        label: "App Mesh",
        service: {
            known: ["retries", "backends"],
            ignored: ["rewrite", "meshName", "gateways", "gatewayRefs", "trafficPolicy", "corsPolicy", "headers", "delegation", "mirror"],
            unsupported: {},
        },
        analysis: { known: [], ignored: ["mirror", "mirrorWeight", "sessionAffinity"], unsupported: {} },
        maxHeaderMatches: 10,
    },
    [GATEWAYAPI_PROVIDER]: {
        label: "Gateway API",
        service: {
            known: ["gatewayRefs", "rewrite", "headers"],
            ignored: ["backends", "meshName", "gateways", "trafficPolicy", "delegation"],
            unsupported: {
                retries: "Flagger's gatewayapi:v1 router does not map retries, and HTTPRoute `retry` is in the Gateway API standard " +
                    "channel only from v1.7.0; set retries on the Gateway's data plane and remove the field",
                corsPolicy: GATEWAY_NOT_YET,
                mirror: GATEWAY_NOT_YET,
            },
        },
        analysis: {
            known: [],
            ignored: [],
            unsupported: { mirror: GATEWAY_NOT_YET, mirrorWeight: GATEWAY_NOT_YET, sessionAffinity: GATEWAY_NOT_YET },
        },
        maxHeaderMatches: 16,
    },
};

/** The Canary `provider` values this program routes, in the order messages list them. */
export const CANARY_PROVIDERS = Object.keys(ROUTER_FIELD_RULES);
