/**
 * The rules of a metric template (stack config `metricTemplates.<name>`, the Canary's `metricTemplates`
 * input): a Prometheus provider with its credentials or SigV4 settings, or CloudWatch with its query checked
 * field by field. Pure.
 */
import { METRIC_PROVIDER_TYPES, SIGV4_SERVICES } from "./canary";
import { parseMetricDataQueries, withPlaceholders } from "./cloudwatch-query";
import { FailureCollector, isObject, optional, show, withoutUnknowns, type ValidationFailure } from "./failures";

/** Every failure of a map of templates by name, at `<base>.<name>...`; parts not known yet (preview) pass. */
export function validateMetricTemplates(templates: unknown, base = "metricTemplates"): ValidationFailure[] {
    if (templates === undefined) {
        return [];
    }
    const c = new FailureCollector();
    c.namedMap(base, templates, (path, template) => checkMetricTemplate(c, path, template));
    return withoutUnknowns(c.failures, templates, base);
}

export function checkMetricTemplate(c: FailureCollector, path: string, template: unknown): void {
    if (!c.object(path, template)) {
        return;
    }
    c.keys(path, template, ["provider", "query"]);
    const provider = template.provider;
    if (!c.object(`${path}.provider`, provider)) {
        c.string(`${path}.query`, template.query);
        return;
    }
    const at = `${path}.provider`;
    if (provider.type === "cloudwatch") {
        c.keys(at, provider, ["type", "region"]);
        checkRegion(c, `${at}.region`, provider.region);
        if (c.string(`${path}.query`, template.query)) {
            for (const problem of parseMetricDataQueries(withPlaceholders(template.query)).problems) {
                c.fail(`${path}.query${problem.path}`, problem.message);
            }
        }
        return;
    }
    c.string(`${path}.query`, template.query);
    c.keys(at, provider, ["type", "address", "token", "username", "password", "headers", "sigv4"]);
    optional(provider.type, (v) => c.oneOf(`${at}.type`, v, METRIC_PROVIDER_TYPES));
    c.url(`${at}.address`, provider.address);
    for (const key of ["token", "username", "password"] as const) {
        optional(provider[key], (v) => c.string(`${at}.${key}`, v));
    }
    if ((provider.username === undefined) !== (provider.password === undefined)) {
        c.fail(at, "basic auth needs both username and password");
    }
    if (provider.token !== undefined && provider.username !== undefined) {
        c.fail(at, "set either token (Bearer) or username/password (basic auth), not both");
    }
    optional(provider.headers, (v) => c.stringMap(`${at}.headers`, v));
    if (provider.sigv4 !== undefined && c.object(`${at}.sigv4`, provider.sigv4)) {
        const sigv4 = provider.sigv4;
        c.keys(`${at}.sigv4`, sigv4, ["region", "service"]);
        checkRegion(c, `${at}.sigv4.region`, sigv4.region);
        optional(sigv4.service, (v) => c.oneOf(`${at}.sigv4.service`, v, SIGV4_SERVICES));
        if (provider.token !== undefined || provider.username !== undefined || Object.keys(isObject(provider.headers) ? provider.headers : {}).some((h) => h.toLowerCase() === "authorization")) {
            c.fail(at, "sigv4 signs the Authorization header itself: remove token, username/password and an Authorization header");
        }
    }
}

/** An AWS region name: `eu-west-1`, `us-gov-west-1`, `ap-southeast-2`, `cn-north-1`, ... */
function checkRegion(c: FailureCollector, path: string, value: unknown): void {
    if (typeof value !== "string" || !/^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/.test(value)) {
        c.fail(path, `must be an AWS region such as eu-west-1 or us-east-1, got ${show(value)}`);
    }
}
