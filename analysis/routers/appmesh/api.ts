/** The App Mesh API the router targets: the v1beta2 CRDs of the appmesh-controller (chart 1.13.3). */
export const APPMESH_GROUP = "appmesh.k8s.aws";
export const APPMESH_VERSION = "v1beta2";
export const APPMESH_API_VERSION = `${APPMESH_GROUP}/${APPMESH_VERSION}`;
/** The Canary `provider` value that selects this router. */
export const APPMESH_PROVIDER = `appmesh:${APPMESH_VERSION}`;
