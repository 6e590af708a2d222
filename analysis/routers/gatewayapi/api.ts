/** The Gateway API the router targets: `HTTPRoute` of `gateway.networking.k8s.io/v1` (standard channel, v1.5.1 CRDs). */
export const GATEWAY_API_GROUP = "gateway.networking.k8s.io";
export const GATEWAY_API_VERSION = "v1";
export const GATEWAY_API_API_VERSION = `${GATEWAY_API_GROUP}/${GATEWAY_API_VERSION}`;
/** The Canary `provider` value that selects this router (Flagger's name for it). */
export const GATEWAYAPI_PROVIDER = `gatewayapi:${GATEWAY_API_VERSION}`;
/** The GatewayClass of the AWS Gateway API Controller, whose VPC Lattice rules have limits of their own. */
export const LATTICE_GATEWAY_CLASS = "amazon-vpc-lattice";
/** VPC Lattice takes target group weights of 0 to 999, and the controller does not clamp them. */
export const LATTICE_MAX_WEIGHT = 999;
/** VPC Lattice matches at most 5 headers per rule. */
export const LATTICE_MAX_HEADER_MATCHES = 5;
