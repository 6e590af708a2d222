/** Cluster-internal URLs reached through the API server's service proxy with the kubeconfig's credentials. */
import * as https from "https";
import type { Endpoint, EndpointResolver } from "../endpoints";
import { sharedCluster, type KubeAccess, type SharedCluster } from "./client";

export interface ServiceProxyOptions {
    access: KubeAccess;
    /**
     * Namespaces whose `<service>.<namespace>` hosts are cluster-internal (e.g. `test`, `appmesh-system`).
     * `*.svc` and `*.svc.<clusterDomain>` hosts always are; single-label hosts resolve in `defaultNamespace`.
     */
    namespaces: string[];
    defaultNamespace?: string;
    clusterDomain?: string;
}

/** Service, namespace and port of a cluster-internal URL, or undefined for a URL to call directly. */
export function clusterService(url: URL, namespaces: string[], defaultNamespace?: string, clusterDomain = "cluster.local"): { name: string; namespace: string } | undefined {
    const host = url.hostname.replace(/\.$/, "");
    if (host === "localhost" || /^[\d.]+$/.test(host) || host.includes(":") || host.startsWith("[")) {
        return undefined;
    }
    const labels = host.split(".");
    if (labels.length === 1) {
        return defaultNamespace ? { name: labels[0], namespace: defaultNamespace } : undefined;
    }
    const suffixes = ["svc", `svc.${clusterDomain}`];
    for (const suffix of suffixes) {
        if (host.endsWith(`.${suffix}`) && labels.length === 2 + suffix.split(".").length) {
            return { name: labels[0], namespace: labels[1] };
        }
    }
    if (labels.length === 2 && namespaces.includes(labels[1])) {
        return { name: labels[0], namespace: labels[1] };
    }
    return undefined;
}

/**
 * Reaches cluster-internal URLs (`http://appmesh-prometheus.appmesh-system:9090`, `http://flagger-loadtester.test/`)
 * through the API server's service proxy with the kubeconfig's credentials, over the cluster's shared
 * keep-alive agent; other URLs are called directly.
 */
export function serviceProxyResolver(options: ServiceProxyOptions): EndpointResolver {
    let cluster: SharedCluster | undefined;
    return async (address: string): Promise<Endpoint> => {
        const url = new URL(address);
        const service = clusterService(url, options.namespaces, options.defaultNamespace, options.clusterDomain);
        if (!service) {
            return { url: address };
        }
        cluster ??= sharedCluster(options.access);
        const kc = await cluster.config;
        const server = kc.getCurrentCluster()!.server.replace(/\/$/, "");
        const scheme = url.protocol.replace(":", "");
        const port = url.port || (scheme === "https" ? "443" : "80");
        const proxied = `${server}/api/v1/namespaces/${service.namespace}/services/${scheme}:${service.name}:${port}/proxy${url.pathname}${url.search}`;
        const request: https.RequestOptions = {};
        await kc.applyToHTTPSOptions(request);
        const headers: Record<string, string> = {};
        for (const [key, value] of Object.entries(request.headers ?? {})) {
            if (typeof value === "string" || typeof value === "number") {
                headers[key] = String(value);
            }
        }
        if (request.auth) {
            headers.Authorization = `Basic ${Buffer.from(request.auth).toString("base64")}`;
        }
        if (!server.startsWith("https:")) {
            return { url: proxied, headers };
        }
        const httpsAgent = cluster.agents.proxy(https.Agent, { ca: request.ca, cert: request.cert, key: request.key, rejectUnauthorized: request.rejectUnauthorized });
        return { url: proxied, headers, httpsAgent };
    };
}
