/**
 * The webhook port: Flagger's `callWebhook` over HTTP. POST of the `CanaryWebhookPayload` as JSON, a
 * per-attempt timeout (`timeout`, default 10s), `retries` extra attempts with go-retryablehttp's default policy
 * and backoff, and Flagger's success rule (status <= 202; 203-299 fail too).
 */
import axios, { AxiosResponse } from "axios";
import { describeRequestError, directEndpoint, EndpointResolver, requestDeadline, resolveRequest, truncateBody } from "./endpoints";
import type { WebhookPayload, WebhookPort, WebhookResult } from "../engine/ports";
import { parseDuration, WebhookSpec } from "../spec/canary";

export const DEFAULT_WEBHOOK_TIMEOUT = "10s";

/** go-retryablehttp's `RetryWaitMin` / `RetryWaitMax`. */
export const DEFAULT_RETRY_WAIT_MIN_MS = 1000;
export const DEFAULT_RETRY_WAIT_MAX_MS = 30_000;

export interface HttpWebhooksOptions {
    resolve?: EndpointResolver;
    /** First backoff wait; it doubles per attempt up to `retryWaitMaxMs`. */
    retryWaitMinMs?: number;
    retryWaitMaxMs?: number;
}

export class HttpWebhooks implements WebhookPort {
    private readonly resolve: EndpointResolver;
    private readonly waitMinMs: number;
    private readonly waitMaxMs: number;

    constructor(opts: HttpWebhooksOptions = {}) {
        this.resolve = opts.resolve ?? directEndpoint;
        this.waitMinMs = opts.retryWaitMinMs ?? DEFAULT_RETRY_WAIT_MIN_MS;
        this.waitMaxMs = opts.retryWaitMaxMs ?? DEFAULT_RETRY_WAIT_MAX_MS;
    }

    async call(hook: WebhookSpec, payload: WebhookPayload): Promise<WebhookResult> {
        const timeoutMs = webhookTimeoutMs(hook);
        if (timeoutMs === undefined) {
            return { ok: false, message: `invalid timeout "${hook.timeout}" of webhook ${hook.name}: use a duration such as 30s or 1m` };
        }
        const attempts = Math.max(0, Math.floor(hook.retries ?? 0)) + 1;
        const body = webhookBody(hook, payload);
        const urls = [hook.url];
        for (let attempt = 0; ; attempt++) {
            let response: AxiosResponse<string> | undefined;
            let failure: string | undefined;
            let retryable: boolean;
            try {
                const request = await resolveRequest(this.resolve, hook.url, { "Content-Type": "application/json" });
                urls.push(request.url);
                response = await axios.request<string>({
                    ...request,
                    method: "POST",
                    data: body,
                    ...requestDeadline(timeoutMs),
                    responseType: "text",
                    transformResponse: (data) => data,
                    validateStatus: () => true,
                });
                retryable = isRetryableStatus(response.status);
            } catch (error) {
                failure = describeRequestError(error, timeoutMs, urls);
                retryable = isRetryableError(error);
            }
            if (retryable && attempt + 1 < attempts) {
                await sleep(retryWaitMs(attempt, this.waitMinMs, this.waitMaxMs, response));
                continue;
            }
            const text = response ? truncateBody(String(response.data ?? "")) : "";
            if (!response) {
                return { ok: false, message: retryable ? `giving up after ${attempt + 1} attempt(s): ${failure}` : failure! };
            }
            if (!retryable) {
                return outcome(response.status, text);
            }
            // go-retryablehttp drops the response here ("giving up after N attempt(s)"); we keep its status and
            // body so the event says why the hook failed.
            const last = `status ${response.status}${text ? `: ${text}` : ""}`;
            return { ok: false, status: response.status, message: `giving up after ${attempt + 1} attempt(s): ${last}` };
        }
    }
}

function outcome(status: number, body: string): WebhookResult {
    if (status <= 202) {
        return { ok: true, status, message: body };
    }
    return { ok: false, status, message: body || `status ${status}` };
}

/** The hook's timeout in ms; Flagger uses 10s when it is unset or shorter than two characters. */
export function webhookTimeoutMs(hook: Pick<WebhookSpec, "timeout">): number | undefined {
    const text = hook.timeout && hook.timeout.length >= 2 ? hook.timeout : DEFAULT_WEBHOOK_TIMEOUT;
    const ms = parseDuration(text);
    return ms !== undefined && ms > 0 ? ms : undefined;
}

/**
 * Flagger's JSON payload, fields in its order. The hook's `metadata` is sent, with the payload's own keys
 * (an event hook's `eventMessage`, `eventType`, `timestamp`) taking precedence.
 */
export function webhookBody(hook: Pick<WebhookSpec, "metadata">, payload: WebhookPayload): string {
    const metadata = { ...hook.metadata, ...payload.metadata };
    return JSON.stringify({
        name: payload.name,
        namespace: payload.namespace,
        phase: payload.phase,
        checksum: payload.checksum,
        metadata: Object.keys(metadata).length > 0 ? metadata : undefined,
    });
}

/** go-retryablehttp's default policy: 429 and 5xx except 501 are retried. */
export function isRetryableStatus(status: number): boolean {
    return status === 429 || status === 0 || (status >= 500 && status !== 501);
}

/** Transport errors are retried except those a retry cannot fix (bad URL, too many redirects, untrusted TLS). */
export function isRetryableError(error: unknown): boolean {
    const code = (error as { code?: string } | undefined)?.code ?? "";
    const message = (error as Error | undefined)?.message ?? "";
    if (code === "ERR_FR_TOO_MANY_REDIRECTS" || code === "ERR_INVALID_URL" || code === "ERR_BAD_OPTION_VALUE") {
        return false;
    }
    if (/unsupported protocol|invalid url/i.test(message)) {
        return false;
    }
    return !/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT_ALTNAME_INVALID/.test(code);
}

/**
 * go-retryablehttp's `DefaultBackoff`: `Retry-After` seconds on 429/503, otherwise min * 2^attempt, capped at
 * max (the cap also bounds Retry-After here).
 */
export function retryWaitMs(attempt: number, minMs: number, maxMs: number, response?: Pick<AxiosResponse, "status" | "headers">): number {
    if (response && (response.status === 429 || response.status === 503)) {
        const seconds = Number(response.headers?.["retry-after"]);
        if (Number.isFinite(seconds) && seconds >= 0) {
            return Math.min(seconds * 1000, maxMs);
        }
    }
    return Math.min(minMs * 2 ** attempt, maxMs);
}

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}
