import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { validateStackConfig } from "../../config/stack";
import { parseMetricDataQueries, withPlaceholders } from "../../analysis/spec/cloudwatch-query";
import { renderQuery } from "../../analysis/adapters/promql";
import { canonicalQueryUrl } from "../../analysis/adapters/sigv4";
import { stackFileValues } from "../../scripts/render";
import { itRejects, type RejectionRule } from "./config-failures";

const REPO_ROOT = path.resolve(__dirname, "..", "..");

const AMP = {
    provider: { address: "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1a2b", sigv4: { region: "eu-west-1", service: "aps" } },
    query: "sum(rate(http_requests_total[{{ interval }}]))",
};
const STAT = (extra: Record<string, unknown> = {}, stat: Record<string, unknown> = {}) => ({
    Id: "m1",
    MetricStat: { Metric: { Namespace: "AWS/VpcLattice", MetricName: "TotalRequestCount", Dimensions: [{ Name: "TargetGroup", Value: "tg" }] }, Period: 60, Stat: "Sum", ...stat },
    ...extra,
});
const CLOUDWATCH = { provider: { type: "cloudwatch", region: "eu-west-1" }, query: JSON.stringify([STAT()]) };

/** The stack config of the README's "Metrics on AWS" example (its first YAML block). */
function readmeAwsExample(): Record<string, any> {
    const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("### Metrics on AWS"));
    return parse(/```yaml\n([\s\S]*?)```/.exec(section)![1]).config;
}

describe("AWS metric templates in stack config", () => {
    const dev = (): any => {
        const raw = structuredClone(stackFileValues("dev"));
        raw.metricTemplates = { amp: structuredClone(AMP), lattice: structuredClone(CLOUDWATCH) };
        return raw;
    };

    it("accepts an AMP template with sigv4 and a CloudWatch template", () => {
        assert.deepEqual(validateStackConfig(dev()), []);
    });

    it("accepts the README's AMP and VPC Lattice templates and the metrics that use them", () => {
        const config = readmeAwsExample();
        const raw: any = structuredClone(stackFileValues("dev"));
        raw.metricTemplates = config["appmesh-canary:metricTemplates"];
        raw.canary.analysis.metrics.push(...config["appmesh-canary:canary"].analysis.metrics);
        assert.deepEqual(Object.keys(raw.metricTemplates), ["lattice-success-rate", "lattice-latency", "amp-success-rate"]);
        assert.deepEqual(validateStackConfig(raw), []);
        // The rendered queries are valid too, with the variables the metrics set.
        const rendered = raw.metricTemplates["lattice-success-rate"].query.replace("{{ variables.targetGroup }}", "k8s-test-podinfo-canary-0a1b2c3d4e");
        assert.deepEqual(parseMetricDataQueries(rendered).problems, []);
    });

    it("carries the README's VPC Lattice templates in Pulumi.gatewayapi.yaml, valid on a Lattice Gateway with the metrics that use them", () => {
        const readme = readmeAwsExample();
        const raw: any = structuredClone(stackFileValues("gatewayapi"));
        const lattice = ["lattice-success-rate", "lattice-latency"];
        assert.deepEqual(raw.metricTemplates, Object.fromEntries(lattice.map((name) => [name, readme["appmesh-canary:metricTemplates"][name]])));
        // The playground runs this stack without CloudWatch: its canary keeps Flagger's built-in metrics.
        assert.deepEqual(raw.canary.analysis.metrics.map((m: any) => [m.name, m.templateRef]), [["request-success-rate", undefined], ["request-duration", undefined]]);
        raw.gateway.className = "amazon-vpc-lattice";
        raw.canary.analysis.metrics.push(...readme["appmesh-canary:canary"].analysis.metrics);
        assert.deepEqual(validateStackConfig(raw), []);
        for (const metric of raw.canary.analysis.metrics.slice(2)) {
            const model = { namespace: "test", name: "podinfo", target: "podinfo", service: "podinfo", interval: metric.interval, variables: metric.templateVariables };
            const check = parseMetricDataQueries(renderQuery(raw.metricTemplates[metric.templateRef.name].query, model));
            assert.deepEqual(check.problems, [], metric.name);
            assert.ok(JSON.stringify(check.queries).includes(`"Value":"${metric.templateVariables.targetGroup}"`), metric.name);
        }
    });

    const RULES: RejectionRule<any>[] = [
        ["provider type unknown", (c) => { c.metricTemplates.amp.provider.type = "amp"; }, "metricTemplates.amp.provider.type", /one of prometheus, cloudwatch/],
        ["sigv4 region malformed", (c) => { c.metricTemplates.amp.provider.sigv4.region = "Ireland"; }, "metricTemplates.amp.provider.sigv4.region",
            /must be an AWS region such as eu-west-1 or us-east-1, got "Ireland"/],
        ["sigv4 region missing", (c) => { delete c.metricTemplates.amp.provider.sigv4.region; }, "metricTemplates.amp.provider.sigv4.region", /AWS region/],
        ["sigv4 service", (c) => { c.metricTemplates.amp.provider.sigv4.service = "execute-api"; }, "metricTemplates.amp.provider.sigv4.service", /one of aps/],
        ["sigv4 unknown field", (c) => { c.metricTemplates.amp.provider.sigv4.profile = "prod"; }, "metricTemplates.amp.provider.sigv4.profile", /allowed: region, service/],
        ["sigv4 not an object", (c) => { c.metricTemplates.amp.provider.sigv4 = true; }, "metricTemplates.amp.provider.sigv4", /must be an object/],
        ["sigv4 with a bearer token", (c) => { c.metricTemplates.amp.provider.token = "t"; }, "metricTemplates.amp.provider", /sigv4 signs the Authorization header itself/],
        ["sigv4 with an Authorization header", (c) => { c.metricTemplates.amp.provider.headers = { authorization: "x" }; }, "metricTemplates.amp.provider",
            /sigv4 signs the Authorization header itself/],
        ["cloudwatch region", (c) => { c.metricTemplates.lattice.provider.region = "eu-west"; }, "metricTemplates.lattice.provider.region", /AWS region/],
        ["cloudwatch with an address", (c) => { c.metricTemplates.lattice.provider.address = "https://monitoring.eu-west-1.amazonaws.com"; },
            "metricTemplates.lattice.provider.address", /allowed: type, region/],
        ["cloudwatch query not JSON", (c) => { c.metricTemplates.lattice.query = "sum(rate(x[1m]))"; }, "metricTemplates.lattice.query", /is not JSON/],
        ["cloudwatch query not a list", (c) => { c.metricTemplates.lattice.query = JSON.stringify(STAT()); }, "metricTemplates.lattice.query", /must be a JSON list .* got an object/],
        ["cloudwatch query entry without Id", (c) => { c.metricTemplates.lattice.query = JSON.stringify([{ ...STAT(), Id: undefined }]); },
            "metricTemplates.lattice.query[0].Id", /must start with a lower-case letter/],
        ["cloudwatch query without Stat", (c) => { c.metricTemplates.lattice.query = JSON.stringify([STAT({}, { Stat: undefined })]); },
            "metricTemplates.lattice.query[0].MetricStat.Stat", /must name a statistic/],
        ["cloudwatch query period", (c) => { c.metricTemplates.lattice.query = JSON.stringify([STAT({}, { Period: 45 })]); },
            "metricTemplates.lattice.query[0].MetricStat.Period", /1, 5, 10, 20, 30 or a multiple of 60, got 45/],
        ["cloudwatch query unit", (c) => { c.metricTemplates.lattice.query = JSON.stringify([STAT({}, { Unit: "ms" })]); },
            "metricTemplates.lattice.query[0].MetricStat.Unit", /must be one of Seconds, .*Milliseconds/],
        ["cloudwatch query misspelt field", (c) => { c.metricTemplates.lattice.query = JSON.stringify([STAT({ Returndata: false })]); },
            "metricTemplates.lattice.query[0].Returndata", /not a known field of MetricDataQuery; allowed: Id, Expression, MetricStat/],
        ["cloudwatch query with both Expression and MetricStat", (c) => { c.metricTemplates.lattice.query = JSON.stringify([STAT({ Expression: "m1 * 2" })]); },
            "metricTemplates.lattice.query[0]", /exactly one of Expression .* and MetricStat/],
        ["cloudwatch query Ids repeated", (c) => { c.metricTemplates.lattice.query = JSON.stringify([STAT({ ReturnData: false }), STAT()]); },
            "metricTemplates.lattice.query[1].Id", /repeats the Id "m1"/],
        ["cloudwatch query returning nothing", (c) => { c.metricTemplates.lattice.query = JSON.stringify([STAT({ ReturnData: false })]); },
            "metricTemplates.lattice.query", /returns no data: every query sets ReturnData to false/],
        ["cloudwatch dimension without value", (c) => {
            c.metricTemplates.lattice.query = JSON.stringify([STAT({}, { Metric: { Namespace: "AWS/VpcLattice", MetricName: "RequestTime", Dimensions: [{ Name: "TargetGroup" }] } })]);
        }, "metricTemplates.lattice.query[0].MetricStat.Metric.Dimensions[0].Value", /non-empty string/],
    ];
    itRejects(RULES, dev, validateStackConfig);

    it("reports every problem of a CloudWatch query at once, by path", () => {
        const raw = dev();
        raw.metricTemplates.lattice.query = JSON.stringify([STAT({}, { Period: 0, Stat: "" }), { Id: "Total", Expression: "" }]);
        assert.deepEqual(
            validateStackConfig(raw).map((f) => f.property),
            ["metricTemplates.lattice.query[0].MetricStat.Period", "metricTemplates.lattice.query[0].MetricStat.Stat", "metricTemplates.lattice.query[1].Id", "metricTemplates.lattice.query[1].Expression"],
        );
    });
});

describe("CloudWatch query placeholders and signing URLs", () => {
    it("stands in for template actions inside and outside strings, so the JSON around them can be checked", () => {
        const template = '[{"Id": "m1", "MetricStat": {"Metric": {"Namespace": "AWS/VpcLattice", "MetricName": "{{ variables.metric }}", "Dimensions": [{"Name": "TargetGroup", "Value": "k8s-{{ namespace }}-{{ target }}-canary"}]}, "Period": {{ variables.period }}, "Stat": "Sum"}}]';
        assert.equal(
            withPlaceholders(template),
            '[{"Id": "m1", "MetricStat": {"Metric": {"Namespace": "AWS/VpcLattice", "MetricName": "x", "Dimensions": [{"Name": "TargetGroup", "Value": "k8s-x-x-canary"}]}, "Period": 0, "Stat": "Sum"}}]',
        );
        assert.equal(withPlaceholders('["a\\"{{ x }}"]'), '["a\\"x"]', "an escaped quote does not end the string");
    });

    it("escapes the query as SigV4's canonical form does (%20, not +; RFC 3986 reserved characters)", () => {
        assert.equal(
            canonicalQueryUrl("https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/query?query=sum(rate(x{a=~\"b.*\"}[1m]))+%2B+1"),
            "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/query?query=sum%28rate%28x%7Ba%3D~%22b.%2A%22%7D%5B1m%5D%29%29%20%2B%201",
        );
    });
});
