/**
 * The alert port: Flagger's notifiers for `analysis.alerts`. Each alert whose severity admits the message is
 * posted to its provider (Slack, Discord, Rocket.Chat, MS Teams, Google Chat) in Flagger's payload format.
 * Delivery problems are logged and never fail the rollout; webhook addresses (secrets) never reach the log.
 */
import axios, { AxiosProxyConfig } from "axios";
import { describeRequestError, directEndpoint, EndpointResolver, requestDeadline, resolveRequest, truncateBody } from "./endpoints";
import type { AlertMessage, AlertPort } from "../engine/ports";
import { SEVERITIES, type AlertProviderSpec, type AlertSpec, type Severity } from "../spec/canary";

export const ALERT_TIMEOUT_MS = 5000;
export const DEFAULT_ALERT_CHANNEL = "general";
export const DEFAULT_ALERT_USERNAME = "flagger";

export interface AlertNotifierOptions {
    alerts: AlertSpec[];
    /** Alert providers by name (`providerRef.name`). */
    providers: Record<string, AlertProviderSpec>;
    /** Where delivery problems are reported; defaults to stderr. */
    log?: (line: string) => void;
    resolve?: EndpointResolver;
    timeoutMs?: number;
}

export class AlertNotifier implements AlertPort {
    private readonly log: (line: string) => void;
    private readonly resolve: EndpointResolver;
    private readonly timeoutMs: number;

    constructor(private readonly opts: AlertNotifierOptions) {
        this.log = opts.log ?? ((line) => console.error(line));
        this.resolve = opts.resolve ?? directEndpoint;
        this.timeoutMs = opts.timeoutMs ?? ALERT_TIMEOUT_MS;
    }

    async send(alert: AlertMessage): Promise<void> {
        const due = this.opts.alerts.filter((entry) => severityAdmits(entry.severity, alert.severity));
        await Promise.all(due.map((entry) => this.deliver(entry, alert)));
    }

    private async deliver(entry: AlertSpec, alert: AlertMessage): Promise<void> {
        const namespace = entry.providerRef.namespace ?? alert.canary.slice(alert.canary.lastIndexOf(".") + 1);
        const label = `${entry.providerRef.name}.${namespace}`;
        const provider = this.opts.providers[entry.providerRef.name];
        if (!provider) {
            this.log(`alert provider ${label} send error: provider "${entry.providerRef.name}" of alert ${entry.name} is not defined`);
            return;
        }
        const urls = provider.proxy ? [provider.address, provider.proxy] : [provider.address];
        try {
            const address = alertAddress(provider);
            urls.push(address);
            const headers: Record<string, string> = { "Content-Type": "application/json" };
            if (provider.token) {
                headers.Authorization = `Bearer ${provider.token}`;
            }
            const request = await resolveRequest(this.resolve, address, headers);
            urls.push(request.url);
            const response = await axios.request<string>({
                ...request,
                method: "POST",
                data: JSON.stringify(alertPayload(provider, alert)),
                proxy: provider.proxy ? proxyConfig(provider.proxy) : undefined,
                ...requestDeadline(this.timeoutMs),
                responseType: "text",
                transformResponse: (data) => data,
                validateStatus: () => true,
            });
            if (response.status < 200 || response.status > 299) {
                const body = truncateBody(String(response.data ?? ""));
                this.log(`alert provider ${label} send error: sending notification failed: status ${response.status}${body ? `: ${body}` : ""}`);
            }
        } catch (error) {
            this.log(`alert provider ${label} send error: ${describeRequestError(error, this.timeoutMs, urls)}`);
        }
    }
}


/**
 * `info` admits every alert, `warn` warn and error, `error` only error. No severity means info: Flagger's docs
 * and CRD say so, although its code then drops such alerts.
 */
export function severityAdmits(configured: Severity | undefined, severity: Severity): boolean {
    return SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(configured ?? "info");
}

/** Discord takes Slack-formatted messages at `<webhook>/slack`. */
export function alertAddress(provider: Pick<AlertProviderSpec, "type" | "address">): string {
    let url: URL;
    try {
        url = new URL(provider.address);
    } catch {
        throw new Error(`invalid ${provider.type} webhook address (not a URL)`);
    }
    if (provider.type === "discord" && !url.pathname.endsWith("/slack")) {
        url.pathname = `${url.pathname.replace(/\/+$/, "")}/slack`;
    }
    return url.toString();
}

export function alertPayload(provider: Pick<AlertProviderSpec, "type" | "channel" | "username">, alert: AlertMessage): object {
    switch (provider.type) {
        case "slack":
        case "discord":
            return slackPayload(provider, alert, alert.severity === "error" ? "danger" : "good");
        case "rocket":
            return slackPayload(provider, alert, alert.severity === "error" ? "#FF0000" : "#0076D7");
        case "msteams":
            return msTeamsPayload(alert);
        case "gchat":
            return googleChatPayload(alert);
        default:
            throw new Error(`alert provider type "${provider.type as string}" is not supported: use slack, msteams, discord, rocket or gchat`);
    }
}

export function slackPayload(provider: Pick<AlertProviderSpec, "channel" | "username">, alert: AlertMessage, color: string): object {
    return {
        channel: provider.channel || DEFAULT_ALERT_CHANNEL,
        username: provider.username || DEFAULT_ALERT_USERNAME,
        icon_url: "",
        icon_emoji: ":rocket:",
        attachments: [
            {
                color,
                author_name: alert.canary,
                text: alert.message,
                mrkdwn_in: ["text"],
                fields: alert.fields.map((field) => ({ title: field.name, value: field.value, short: false })),
            },
        ],
    };
}

export function msTeamsPayload(alert: AlertMessage): object {
    return {
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        themeColor: alert.severity === "error" ? "FF0000" : "0076D7",
        summary: alert.canary,
        sections: [
            {
                activityTitle: alert.message,
                activitySubtitle: alert.canary,
                facts: alert.fields.map((field) => ({ name: field.name, value: field.value })),
            },
        ],
    };
}

export function googleChatPayload(alert: AlertMessage): object {
    const paragraph = (text: string) => ({ widgets: [{ textParagraph: { text } }] });
    const strong = (text: string) => `<font color=#848484><strong>${text}</strong></font>`;
    return {
        cards: [
            {
                header: { title: "Flagger", subtitle: alert.canary, imageUrl: "https://flagger.app/favicon.png" },
                sections: [paragraph(strong(alert.message)), ...alert.fields.map((field) => paragraph(`${field.name}<br>${strong(field.value)}`))],
            },
        ],
    };
}

/** axios' proxy settings from a proxy URL (`http://user:pass@proxy:3128`). */
function proxyConfig(proxy: string): AxiosProxyConfig {
    let url: URL;
    try {
        url = new URL(proxy);
    } catch {
        throw new Error("invalid proxy address (not a URL)");
    }
    const config: AxiosProxyConfig = {
        protocol: url.protocol.replace(":", ""),
        host: url.hostname,
        port: Number(url.port) || (url.protocol === "https:" ? 443 : 80),
    };
    if (url.username) {
        config.auth = { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
    }
    return config;
}
