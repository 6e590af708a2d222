/**
 * AWS SigV4 signing of Prometheus queries (Amazon Managed Service for Prometheus needs every query signed, which
 * Flagger cannot do: fluxcd/flagger#962). The AWS SDK's signer and default credential chain (environment,
 * profile, SSO, web identity / IRSA, instance role) where `pulumi up` runs: credentials never pass through
 * the program's inputs, state or messages. The SDK is loaded when a signed template is first queried.
 */
import type { SigV4Spec } from "../spec/canary";

export const DEFAULT_SIGV4_SERVICE = "aps";

/** The headers to send for a GET of `url`: `headers` plus `X-Amz-Date`, `Authorization` and, with session credentials, `X-Amz-Security-Token`. */
export type RequestSigner = (url: string, headers: Record<string, string>) => Promise<Record<string, string>>;

type AwsCredentialIdentity = import("@smithy/types").AwsCredentialIdentity;
type AwsCredentialIdentityProvider = import("@smithy/types").AwsCredentialIdentityProvider;

export interface SignerOptions {
    /** Credentials instead of the default chain (tests). */
    credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
    /** The signing time instead of the clock (tests). */
    now?: () => Date;
}

export function sigV4Signer(spec: SigV4Spec, options: SignerOptions = {}): RequestSigner {
    let signer: Promise<import("@smithy/signature-v4").SignatureV4> | undefined;
    const build = async () => {
        const [{ SignatureV4 }, { Hash }, credentials] = await Promise.all([
            import("@smithy/signature-v4"),
            import("@smithy/hash-node"),
            options.credentials ?? import("@aws-sdk/credential-providers").then((m) => m.fromNodeProviderChain()),
        ]);
        // No x-amz-content-sha256: services other than S3 do not ask for it, and a GET has no body.
        return new SignatureV4({ credentials, region: spec.region, service: spec.service ?? DEFAULT_SIGV4_SERVICE, sha256: Hash.bind(null, "sha256"), applyChecksum: false });
    };
    return async (url, headers) => {
        if (!signer) {
            // A failed build (no credentials yet) is tried again on the next query.
            signer = build();
            signer.catch(() => (signer = undefined));
        }
        const parsed = new URL(url);
        const query: Record<string, string[]> = {};
        for (const [key, value] of parsed.searchParams) {
            (query[key] ??= []).push(value);
        }
        const signed = await (await signer).sign(
            {
                method: "GET",
                protocol: parsed.protocol,
                hostname: parsed.hostname,
                port: parsed.port === "" ? undefined : Number(parsed.port),
                path: parsed.pathname,
                query,
                headers: { ...headers, host: parsed.host },
            },
            { signingDate: options.now?.() },
        );
        return signed.headers;
    };
}

/**
 * The URL with its query string escaped as SigV4's canonical form escapes it (RFC 3986, `%20` for a space):
 * the signature covers the query as the server decodes it, so the request does not use the form encoding
 * (`+` for a space) that a service may decode differently from the signer.
 */
export function canonicalQueryUrl(url: string): string {
    const parsed = new URL(url);
    const pairs = [...parsed.searchParams].map(([key, value]) => `${escapeUri(key)}=${escapeUri(value)}`);
    parsed.search = "";
    return pairs.length === 0 ? parsed.toString() : `${parsed.toString()}?${pairs.join("&")}`;
}

function escapeUri(text: string): string {
    return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
