/**
 * The GetMetricData request the CloudWatch adapter sends, as the real AWS SDK client puts it on the wire
 * (AWS JSON 1.0, timestamps in epoch seconds) to a local server standing in for CloudWatch: Flagger's lookback
 * of 10 × the metric interval, at most 20 points, newest first, and the metric data queries exactly as given.
 */
import * as assert from "node:assert/strict";
import * as http from "node:http";
import { CloudWatchMetrics } from "../../analysis/adapters/cloudwatch";
import { closeServer, listenOnFreePort, readBody } from "../../playground/http-util";

const NOW = new Date("2026-12-03T07:08:00Z");
const NOW_SECONDS = NOW.getTime() / 1000;

interface Received {
    target: string | undefined;
    authorization: string | undefined;
    body: Record<string, any>;
}

describe("CloudWatch GetMetricData request", () => {
    let server: http.Server;
    const received: Received[] = [];
    const savedEnv = { ...process.env };

    before(async () => {
        server = http.createServer(async (req, res) => {
            received.push({ target: req.headers["x-amz-target"] as string, authorization: req.headers.authorization, body: JSON.parse((await readBody(req)).toString("utf8")) });
            // Newest first, as ScanBy asks; the queries with ReturnData false are not returned.
            const answer = { MetricDataResults: [{ Id: "success", Label: "success rate", StatusCode: "Complete", Timestamps: [NOW_SECONDS - 60, NOW_SECONDS - 120], Values: [98.5, 97] }], Messages: [] };
            res.writeHead(200, { "content-type": "application/x-amz-json-1.0" }).end(JSON.stringify(answer));
        });
        const port = await listenOnFreePort(server);
        // Fixed keys so the default credential chain ends in the environment, not in a profile or instance metadata.
        Object.assign(process.env, { AWS_ENDPOINT_URL_CLOUDWATCH: `http://127.0.0.1:${port}`, AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "secret", AWS_EC2_METADATA_DISABLED: "true" });
        delete process.env.AWS_SESSION_TOKEN;
        delete process.env.AWS_PROFILE;
    });

    after(async () => {
        process.env = savedEnv;
        await closeServer(server);
    });

    const targetGroup = [{ Name: "TargetGroup", Value: "k8s-test-podinfo-canary-0a1b2c3d4e" }];
    const metricMath = [
        { Id: "errors", MetricStat: { Metric: { Namespace: "AWS/VpcLattice", MetricName: "HTTPCode_5XX_Count", Dimensions: targetGroup }, Period: 60, Stat: "Sum" }, ReturnData: false },
        { Id: "total", MetricStat: { Metric: { Namespace: "AWS/VpcLattice", MetricName: "TotalRequestCount", Dimensions: targetGroup }, Period: 60, Stat: "Sum" }, ReturnData: false },
        { Id: "success", Expression: "100 - 100 * errors / total", Label: "success rate" },
    ];

    for (const [interval, intervalMs] of [["1m", 60_000], ["15s", 15_000]] as const) {
        it(`asks for 10 × the metric interval (${interval}) up to now, at most 20 points, newest first, with the metric-math queries as given`, async () => {
            const metrics = new CloudWatchMetrics({ timeoutMs: 5_000, now: () => NOW });
            received.length = 0;
            const reading = await metrics.read("eu-west-1", JSON.stringify(metricMath), intervalMs);
            assert.deepEqual(reading, { kind: "value", value: 98.5 });
            assert.equal(received.length, 1);
            const [{ target, authorization, body }] = received;
            assert.equal(target, "GraniteServiceVersion20100801.GetMetricData");
            assert.match(authorization!, /Credential=AKIDEXAMPLE\/20261203\/eu-west-1\/monitoring\/aws4_request/);
            assert.deepEqual(body, {
                MetricDataQueries: metricMath,
                StartTime: NOW_SECONDS - (10 * intervalMs) / 1000,
                EndTime: NOW_SECONDS,
                MaxDatapoints: 20,
                ScanBy: "TimestampDescending",
            });
        });
    }
});
