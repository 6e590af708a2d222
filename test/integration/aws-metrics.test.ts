import * as assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import * as readline from "readline";
import { CloudWatchClient, PutMetricDataCommand, type MetricDatum } from "@aws-sdk/client-cloudwatch";
import { APPMESH_QUERIES } from "../../analysis/routers/appmesh/queries";
import { PrometheusMetrics } from "../../analysis/adapters/metrics";
import { canonicalQueryUrl, sigV4Signer } from "../../analysis/adapters/sigv4";
import { queryUrl } from "../../analysis/adapters/metrics";
import type { QueryContext } from "../../analysis/engine/ports";
import type { MetricSpec, MetricTemplateSpec } from "../../analysis/spec/canary";
import { toolchainPaths } from "../../playground/control-plane";
import { closeServer, freePort, listenOnFreePort, readBody } from "../../playground/http-util";
import { stopChild, trackChild } from "../../playground/processes";
import { PrometheusServer, startPrometheus } from "../../playground/prometheus";
import { prometheusAddress } from "../../playground/local-cluster";
import { ANALYSIS_URN, apexWeights, canaryReplicas, deployFirst, FINALIZE_URN, startHostBench, type HostBench } from "./rollout-fixtures";

/**
 * The AWS metric providers against independent AWS peers, run here: botocore's SigV4 signer (the signatures,
 * and a proxy in front of a real Prometheus that admits only requests botocore verifies, as Amazon Managed
 * Service for Prometheus does) and moto's CloudWatch server (GetMetricData over data put through the SDK).
 * Both come from `npm run toolchain -- aws`.
 */
const context: QueryContext = { namespace: "test", name: "podinfo", target: "podinfo", service: "podinfo" };
const FIXED = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
const SESSION = { ...FIXED, sessionToken: "IQoJb3JpZ2luX2VjEXAMPLE//session+token/=" };
/** SESSION as the environment's credentials, where the SDK's default chain finds them first. */
const SESSION_ENV = { AWS_ACCESS_KEY_ID: SESSION.accessKeyId, AWS_SECRET_ACCESS_KEY: SESSION.secretAccessKey, AWS_SESSION_TOKEN: SESSION.sessionToken };
/** The AMP workspace path of the proxied Prometheus (the proxy's upstream strips it, as the service maps it). */
const AMP_WORKSPACE = "/workspaces/ws-1a2b3c4d-5e6f";

function awsPython(): string {
    const python = toolchainPaths().AWS_PYTHON;
    assert.ok(python && fs.existsSync(python), `botocore and moto are not installed: run \`npm run toolchain -- aws\` (wanted ${python})`);
    return python;
}

const script = (name: string) => path.join(__dirname, "..", "aws", name);

function botocoreHeaders(url: string, region: string, service: string, credentials: typeof FIXED & { sessionToken?: string }, date: string): Record<string, string> {
    const run = spawnSync(awsPython(), [script("sigv4_sign.py")], { input: JSON.stringify({ url, region, service, date, ...credentials }), encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    return JSON.parse(run.stdout);
}

interface Peer {
    child: ChildProcess;
    port: number;
    lines: string[];
}

/** A child that prints "listening <port>" (or nothing, for moto) when ready; its other lines are collected. */
async function startPeer(args: string[], env: NodeJS.ProcessEnv, ready: (line: string) => number | undefined): Promise<Peer> {
    const child = spawn(awsPython(), args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    trackChild(child);
    const lines: string[] = [];
    let stderr = "";
    child.stderr!.on("data", (chunk) => (stderr += chunk));
    const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${args.join(" ")} did not start in 30s: ${stderr}`)), 30_000);
        child.on("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}: ${stderr}`)));
        readline.createInterface({ input: child.stdout! }).on("line", (line) => {
            const found = ready(line);
            if (found !== undefined) {
                clearTimeout(timer);
                resolve(found);
            } else {
                lines.push(line);
            }
        });
    });
    return { child, port, lines };
}

/** moto's server on a free port; `refuseUnknownCredentials` makes it check credentials against its IAM, as AWS does. */
async function startMoto(refuseUnknownCredentials = false): Promise<{ child: ChildProcess; url: string }> {
    const port = await freePort();
    const env = { ...process.env, ...(refuseUnknownCredentials ? { INITIAL_NO_AUTH_ACTION_COUNT: "0" } : {}) };
    const moto = spawn(awsPython(), ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], { env, stdio: "ignore", detached: true });
    trackChild(moto);
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
        const up = await fetch(`${url}/moto-api/`).then((r) => r.ok, () => false);
        if (up) {
            return { child: moto, url };
        }
        assert.ok(Date.now() < deadline, "moto's server did not answer within 30s");
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
}

/**
 * botocore's verifying proxy for SESSION's credentials (service `aps`, eu-west-1) in front of the Prometheus
 * `prometheusUrl` gives at each request, reached as an AMP workspace at `address`.
 */
async function startAmpFront(prometheusUrl: () => string): Promise<{ address: string; proxy: Peer; stop(): Promise<void> }> {
    const upstream = http.createServer((req, res) => {
        const forwarded = http.get(`${prometheusUrl()}${req.url!.replace(AMP_WORKSPACE, "")}`, (answer) => {
            res.writeHead(answer.statusCode!, answer.headers);
            answer.pipe(res);
        });
        forwarded.on("error", () => res.destroy());
    });
    const upstreamPort = await listenOnFreePort(upstream);
    try {
        const proxy = await startPeer(
            [script("sigv4_verify_proxy.py"), `http://127.0.0.1:${upstreamPort}`, "eu-west-1", "aps", SESSION.accessKeyId, SESSION.secretAccessKey, SESSION.sessionToken],
            process.env,
            (line) => (line.startsWith("listening ") ? Number(line.split(" ")[1]) : undefined),
        );
        return {
            address: `http://127.0.0.1:${proxy.port}${AMP_WORKSPACE}`,
            proxy,
            async stop() {
                await stopChild(proxy.child);
                await closeServer(upstream);
            },
        };
    } catch (error) {
        await closeServer(upstream);
        throw error;
    }
}

/** A VPC Lattice target group's dimensions, as `AWS/VpcLattice` metrics carry them. */
const targetGroup = (name: string) => [{ Name: "TargetGroup", Value: `targetgroup/k8s-test-${name}/0123456789abcdef` }];

/** A `cloudwatch` template's query: one metric-stat query of an `AWS/VpcLattice` metric of a target group. */
const statQuery = (metricName: string, name: string, stat: string) =>
    JSON.stringify([{ Id: "m1", MetricStat: { Metric: { Namespace: "AWS/VpcLattice", MetricName: metricName, Dimensions: targetGroup(name) }, Period: 60, Stat: stat } }]);

/** Puts `AWS/VpcLattice` data into moto's CloudWatch through the SDK. */
async function putLatticeData(motoUrl: string, region: string, metricData: MetricDatum[]): Promise<void> {
    const client = new CloudWatchClient({ region, endpoint: motoUrl, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
    try {
        await client.send(new PutMetricDataCommand({ Namespace: "AWS/VpcLattice", MetricData: metricData }));
    } finally {
        client.destroy();
    }
}

describe("AWS metric providers against botocore and moto", function () {
    this.timeout(120_000);
    const children: ChildProcess[] = [];
    const savedEnv = { ...process.env };

    afterEach(() => {
        for (const key of Object.keys(process.env)) {
            if (!(key in savedEnv)) {
                delete process.env[key];
            }
        }
        Object.assign(process.env, savedEnv);
    });

    after(async () => {
        await Promise.all(children.map((child) => stopChild(child)));
    });

    describe("SigV4 (Amazon Managed Service for Prometheus)", () => {
        const ampUrl = "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1a2b3c4d-5e6f/api/v1/query";

        for (const [title, credentials] of [["long-term credentials", FIXED], ["session credentials", SESSION]] as const) {
            it(`signs a PromQL query as botocore does, for a fixed clock and ${title}`, async () => {
                const url = canonicalQueryUrl(queryUrl(ampUrl.replace("/api/v1/query", ""), 'sum(rate(http_requests_total{status!~"5.*", pod=~"podinfo-[a-z0-9]+"}[1m])) / 100 + 1'));
                const signed = await sigV4Signer({ region: "eu-west-1" }, { credentials, now: () => new Date("2026-12-03T07:08:09Z") })(url, {});
                const expected = botocoreHeaders(url, "eu-west-1", "aps", credentials, "20261203T070809Z");
                assert.equal(signed["x-amz-date"], "20261203T070809Z");
                assert.equal(signed.authorization, expected.Authorization);
                assert.match(signed.authorization, /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20261203\/eu-west-1\/aps\/aws4_request, SignedHeaders=host;x-amz-date(;x-amz-security-token)?, Signature=[0-9a-f]{64}$/);
                assert.equal(signed["x-amz-security-token"], expected["X-Amz-Security-Token"]);
            });
        }

        describe("a query to a real Prometheus behind a proxy that verifies the signature", () => {
            let prometheus: PrometheusServer;
            let front: Awaited<ReturnType<typeof startAmpFront>>;
            let proxy: Peer;
            const template = (region: string): MetricTemplateSpec => ({
                provider: { address: front.address, sigv4: { region } },
                query: 'vector({{ variables.answer }}) * 2 + 0',
            });
            const read = (metrics: PrometheusMetrics) =>
                metrics.read({ name: "amp-check", templateRef: { name: "amp" }, templateVariables: { answer: "21" } }, context);
            /** The proxy's record of the next request (its lines arrive after the answer). */
            const nextRecord = () => {
                const seen = proxy.lines.length;
                return async () => {
                    const deadline = Date.now() + 5000;
                    while (proxy.lines.length === seen) {
                        assert.ok(Date.now() < deadline, "the proxy recorded no request");
                        await new Promise((resolve) => setTimeout(resolve, 20));
                    }
                    return JSON.parse(proxy.lines[seen]);
                };
            };

            before(async () => {
                prometheus = await startPrometheus({ scrapeIntervalMs: 1000, targets: [] });
                front = await startAmpFront(() => prometheus.url);
                proxy = front.proxy;
            });

            after(async () => {
                await front?.stop();
                await prometheus?.stop();
            });

            it("signs with the default credential chain (here the environment's session credentials) and reads the value", async () => {
                Object.assign(process.env, SESSION_ENV);
                const metrics = new PrometheusMetrics({ builtinQueries: APPMESH_QUERIES, address: prometheus.url, templates: { amp: template("eu-west-1") } });
                const record = nextRecord();
                assert.deepEqual(await read(metrics), { kind: "value", value: 42 });
                const seen = await record();
                assert.equal(seen.verdict, "admitted");
                assert.match(seen.authorization, /Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/aps\/aws4_request/);
                assert.match(seen.amzDate, /^\d{8}T\d{6}Z$/);
                assert.equal(seen.securityToken, SESSION.sessionToken);
                assert.match(seen.path, /^\/workspaces\/ws-1a2b3c4d-5e6f\/api\/v1\/query\?query=vector%2821%29%20%2A%202%20%2B%200$/);
            });

            it("is refused when signed for another region, and says so without any credential", async () => {
                Object.assign(process.env, SESSION_ENV);
                const metrics = new PrometheusMetrics({ builtinQueries: APPMESH_QUERIES, address: prometheus.url, templates: { amp: template("us-east-1") } });
                const record = nextRecord();
                const reading = await read(metrics);
                assert.equal(reading.kind, "error");
                assert.match((reading as { message: string }).message, /^error response: Status 403 Forbidden: .*signature we calculated does not match/);
                const seen = await record();
                assert.equal(seen.verdict, "refused");
                assert.match(seen.authorization, /\/us-east-1\/aps\/aws4_request/);
                for (const secret of [SESSION.secretAccessKey, SESSION.sessionToken]) {
                    assert.ok(!JSON.stringify(reading).includes(secret));
                }
            });

            it("reports missing credentials as a failed reading naming the cause", async () => {
                for (const key of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"]) {
                    delete process.env[key];
                }
                // No shared config or instance metadata either: the chain ends without credentials.
                Object.assign(process.env, { AWS_SHARED_CREDENTIALS_FILE: "/nonexistent", AWS_CONFIG_FILE: "/nonexistent", AWS_EC2_METADATA_DISABLED: "true" });
                const metrics = new PrometheusMetrics({ builtinQueries: APPMESH_QUERIES, address: prometheus.url, templates: { amp: template("eu-west-1") } });
                const reading = await read(metrics);
                assert.equal(reading.kind, "error");
                assert.match((reading as { message: string }).message, /^sigv4 signing failed: .*credentials/i);
            });
        });
    });

    describe("CloudWatch (GetMetricData)", () => {
        let moto: { child: ChildProcess; url: string };
        const region = "eu-west-1";
        const metricsWith = (templates: Record<string, MetricTemplateSpec>) => new PrometheusMetrics({ builtinQueries: APPMESH_QUERIES, address: "http://127.0.0.1:1", templates });

        before(async () => {
            moto = await startMoto();
            children.push(moto.child);
            const now = Date.now();
            // Two minutes of data for the canary's target group: 100 requests a minute, 4 of them 5xx; latency 20 then 30 ms.
            await putLatticeData(moto.url, region, [
                { MetricName: "TotalRequestCount", Dimensions: targetGroup("podinfo-canary"), Value: 100, Timestamp: new Date(now - 120_000) },
                { MetricName: "TotalRequestCount", Dimensions: targetGroup("podinfo-canary"), Value: 100, Timestamp: new Date(now - 30_000) },
                { MetricName: "HTTPCode_5XX_Count", Dimensions: targetGroup("podinfo-canary"), Value: 4, Timestamp: new Date(now - 30_000) },
                { MetricName: "RequestTime", Dimensions: targetGroup("podinfo-canary"), Value: 20, Timestamp: new Date(now - 120_000) },
                { MetricName: "RequestTime", Dimensions: targetGroup("podinfo-canary"), Value: 30, Timestamp: new Date(now - 30_000) },
            ]);
        });

        beforeEach(() => {
            Object.assign(process.env, { AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing", AWS_ENDPOINT_URL_CLOUDWATCH: moto.url });
            delete process.env.AWS_SESSION_TOKEN;
        });

        it("reads the newest point of a metric-stat query over 10 × the metric interval", async () => {
            const metrics = metricsWith({
                requests: { provider: { type: "cloudwatch", region }, query: statQuery("TotalRequestCount", "{{ target }}-canary", "Sum") },
                latency: { provider: { type: "cloudwatch", region }, query: statQuery("RequestTime", "{{ target }}-canary", "Average") },
            });
            assert.deepEqual(await metrics.read({ name: "requests", templateRef: { name: "requests" }, interval: "1m" }, context), { kind: "value", value: 100 });
            assert.deepEqual(await metrics.read({ name: "latency", templateRef: { name: "latency" }, interval: "1m" }, context), { kind: "value", value: 30 });
        });

        it("reports no data for a target group without points, and for points older than the lookback", async () => {
            const metrics = metricsWith({
                other: { provider: { type: "cloudwatch", region }, query: statQuery("TotalRequestCount", "{{ target }}-primary", "Sum") },
                requests: { provider: { type: "cloudwatch", region }, query: statQuery("TotalRequestCount", "{{ target }}-canary", "Sum") },
            });
            assert.deepEqual(await metrics.read({ name: "other", templateRef: { name: "other" }, interval: "1m" }, context), { kind: "no-data", message: "no values found" });
            // 10 × 1s looks back 10 s: the newest point is 30 s old.
            assert.deepEqual(await metrics.read({ name: "requests", templateRef: { name: "requests" }, interval: "1s" }, context), { kind: "no-data", message: "no values found" });
        });

        it("sends a metric-math query as given (moto does not evaluate metric math), reading the query that returns data", async () => {
            const bodies: Buffer[] = [];
            const recorder = http.createServer(async (req, res) => {
                const body = await readBody(req);
                bodies.push(body);
                const forwarded = http.request(`${moto.url}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
                    res.writeHead(answer.statusCode!, answer.headers);
                    answer.pipe(res);
                });
                forwarded.end(body);
            });
            const port = await listenOnFreePort(recorder);
            try {
                process.env.AWS_ENDPOINT_URL_CLOUDWATCH = `http://127.0.0.1:${port}`;
                const query = JSON.stringify([
                    { Id: "errors", MetricStat: { Metric: { Namespace: "AWS/VpcLattice", MetricName: "HTTPCode_5XX_Count", Dimensions: targetGroup("podinfo-canary") }, Period: 60, Stat: "Sum" }, ReturnData: false },
                    { Id: "total", MetricStat: { Metric: { Namespace: "AWS/VpcLattice", MetricName: "TotalRequestCount", Dimensions: targetGroup("podinfo-canary") }, Period: 60, Stat: "Sum" }, ReturnData: false },
                    { Id: "success", Expression: "100 - 100 * errors / total", Label: "success rate" },
                ]);
                const metrics = metricsWith({ success: { provider: { type: "cloudwatch", region }, query } });
                const reading = await metrics.read({ name: "success", templateRef: { name: "success" }, interval: "1m" }, context);
                assert.notEqual(reading.kind, "error", JSON.stringify(reading));
                const sent = Buffer.concat(bodies).toString("latin1");
                for (const text of ["100 - 100 * errors / total", "HTTPCode_5XX_Count", "TotalRequestCount", "TimestampDescending"]) {
                    assert.ok(sent.includes(text) || decodeURIComponent(sent.replace(/\+/g, " ")).includes(text), `the request carries ${text}`);
                }
            } finally {
                await closeServer(recorder);
            }
        });

        it("reports an access error with the service's code and no credential", async () => {
            const guarded = await startMoto(true);
            children.push(guarded.child);
            Object.assign(process.env, { AWS_ACCESS_KEY_ID: "AKIAUNKNOWNKEY000000", AWS_SECRET_ACCESS_KEY: "unknown-secret-value", AWS_ENDPOINT_URL_CLOUDWATCH: guarded.url });
            const metrics = metricsWith({ requests: { provider: { type: "cloudwatch", region }, query: statQuery("TotalRequestCount", "{{ target }}-canary", "Sum") } });
            const reading = await metrics.read({ name: "requests", templateRef: { name: "requests" }, interval: "1m" }, context);
            assert.equal(reading.kind, "error");
            const message = (reading as { message: string }).message;
            assert.match(message, /^CloudWatch GetMetricData in eu-west-1 failed: \w+/);
            assert.ok(!message.includes("unknown-secret-value"), message);
        });

        it("refuses a rendered query that is not a valid list of metric data queries, naming the field", async () => {
            const metrics = metricsWith({ bad: { provider: { type: "cloudwatch", region }, query: '[{"Id": "m1", "MetricStat": {"Metric": {"Namespace": "AWS/VpcLattice", "MetricName": "{{ variables.metric }}"}, "Period": 45, "Stat": "Sum"}}]' } });
            const reading = await metrics.read({ name: "bad", templateRef: { name: "bad" }, templateVariables: { metric: "TotalRequestCount" } }, context);
            assert.deepEqual(reading, { kind: "error", message: "invalid CloudWatch query: [0].MetricStat.Period must be a period in seconds: 1, 5, 10, 20, 30 or a multiple of 60, got 45" });
        });
    });

    describe("through the serialized provider in Pulumi's host, on the local cluster", () => {
        let bench: HostBench;
        /** The Analysis as Pulumi's state holds it: what the next update starts from. */
        let promoted: Record<string, any>;
        const LATTICE_TEMPLATE = "lattice-request-time";
        const AMP_TEMPLATE = "amp-canary-targets-up";

        /**
         * The bench after its first `pulumi up`, its host (re)started now: the host inherits the test's environment
         * (credential chain, CloudWatch endpoint), as each `pulumi up` does from where it runs.
         */
        async function deployedBench(): Promise<HostBench> {
            if (bench) {
                await bench.host.stop();
                await bench.restartHost();
                await bench.host.configure();
            } else {
                bench = await startHostBench();
                promoted = (await deployFirst(bench)).promoted;
            }
            return bench;
        }

        /** The bench's Analysis inputs with `metrics` added to the analysis and `metricTemplates` as the stack's. */
        function withTemplateMetrics(metrics: MetricSpec[], metricTemplates: Record<string, MetricTemplateSpec>): Record<string, any> {
            const inputs = bench.analysisInputs() as Record<string, any>;
            const analysis = { ...inputs.canary.analysis, metrics: [...inputs.canary.analysis.metrics, ...metrics] };
            return { ...inputs, canary: { ...inputs.canary, analysis }, metricTemplates };
        }

        /** All traffic on the primary, the canary scaled to zero. */
        async function assertAtRest(): Promise<void> {
            assert.deepEqual(await apexWeights(bench), { primary: 100, canary: 0 });
            assert.equal(await canaryReplicas(bench), 0);
        }

        after(async () => {
            await bench?.stop();
        });

        it("rolls the canary back when CloudWatch refuses the credentials, with the service's error in the event", async function () {
            this.timeout(300_000);
            const guarded = await startMoto(true);
            children.push(guarded.child);
            // The host inherits where `pulumi up` runs: the credential chain and endpoint come from there.
            Object.assign(process.env, { AWS_ACCESS_KEY_ID: "AKIAUNKNOWNKEY000000", AWS_SECRET_ACCESS_KEY: "unknown-secret-value", AWS_ENDPOINT_URL_CLOUDWATCH: guarded.url });
            await deployedBench();
            await bench.updateCanaryTemplate("6.0.1");
            const news = withTemplateMetrics([{ name: "lattice-success-rate", templateRef: { name: "lattice-success-rate" }, thresholdRange: { min: 99 }, interval: "1m" }], {
                "lattice-success-rate": { provider: { type: "cloudwatch", region: "eu-west-1" }, query: statQuery("TotalRequestCount", "{{ target }}-canary", "Sum") },
            });
            bench.lines.length = 0;
            await assert.rejects(bench.host.update("test/podinfo", ANALYSIS_URN, promoted, news), (error: Error) => {
                assert.match(error.message, /canary analysis of podinfo\.test failed: Metric query failed for lattice-success-rate: CloudWatch GetMetricData in eu-west-1 failed: \w+/);
                assert.match(error.message, /Traffic is back on podinfo-primary/);
                return true;
            });
            const events = bench.lines.join("\n");
            assert.match(events, /Metric query failed for lattice-success-rate: CloudWatch GetMetricData in eu-west-1 failed/);
            assert.match(events, /Rolling back podinfo\.test failed checks threshold reached/);
            assert.ok(!events.includes("unknown-secret-value"));
            await assertAtRest();
        });

        it("promotes the canary while its analysis reads CloudWatch and a SigV4-signed Prometheus beside the built-in metrics, with no credential in the events", async function () {
            this.timeout(300_000);
            const moto = await startMoto();
            children.push(moto.child);
            // The canary's target group answered in 25 ms half a minute ago: within the 10 × 1m the check looks back.
            await putLatticeData(moto.url, "eu-west-1", [{ MetricName: "RequestTime", Dimensions: targetGroup("podinfo-canary"), Value: 25, Timestamp: new Date(Date.now() - 30_000) }]);
            // One credential chain for both: session credentials in the environment, CloudWatch's endpoint moto.
            Object.assign(process.env, SESSION_ENV, { AWS_ENDPOINT_URL_CLOUDWATCH: moto.url });
            await deployedBench();
            // AMP in front of the bench's appmesh-prometheus, which scrapes the canary's pods.
            const front = await startAmpFront(() => `http://${prometheusAddress(bench.cluster.node.pods())}`);
            try {
                await bench.updateCanaryTemplate("6.0.2");
                const news = withTemplateMetrics(
                    [
                        { name: LATTICE_TEMPLATE, templateRef: { name: LATTICE_TEMPLATE }, thresholdRange: { max: 100 }, interval: "1m" },
                        { name: AMP_TEMPLATE, templateRef: { name: AMP_TEMPLATE }, thresholdRange: { min: 1 }, interval: "1m" },
                    ],
                    {
                        [LATTICE_TEMPLATE]: { provider: { type: "cloudwatch", region: "eu-west-1" }, query: statQuery("RequestTime", "{{ target }}-canary", "Average") },
                        [AMP_TEMPLATE]: {
                            provider: { address: front.address, sigv4: { region: "eu-west-1" } },
                            query: 'count(up{kubernetes_namespace="{{ namespace }}", kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"} == 1)',
                        },
                    },
                );
                bench.lines.length = 0;
                const { properties: updated } = await bench.host.update("test/podinfo", ANALYSIS_URN, promoted, news);
                // The outputs of a promoted revision, as Pulumi's state keeps them.
                const { revision, status, template } = updated;
                assert.deepEqual({ revision, status, template }, { revision: news.revision, status: "promoted", template: news.template });
                const events = bench.lines.join("\n");
                for (const line of ["Starting canary analysis for podinfo.test", "Advance podinfo.test canary weight 30", "Copying podinfo.test template spec to podinfo-primary.test"]) {
                    assert.ok(events.includes(line), `missing "${line}" in:\n${events}`);
                }
                // Each check passed, every time, beside the built-in ones.
                assert.match(events, new RegExp(`metric ${LATTICE_TEMPLATE} = 25 over 1m \\(max 100\\): pass`), events);
                assert.match(events, new RegExp(`metric ${AMP_TEMPLATE} = [1-9]\\d* over 1m \\(min 1\\): pass`), events);
                assert.match(events, /metric request-success-rate = [\d.]+% over \S+ \(min 99%\): pass/, events);
                assert.doesNotMatch(events, new RegExp(`metric (${LATTICE_TEMPLATE}|${AMP_TEMPLATE})[^;\\]]*: (fail|no-data|error)`), events);
                const signed = front.proxy.lines.map((line) => JSON.parse(line));
                assert.ok(signed.length > 0, "the proxy received no query");
                for (const record of signed) {
                    assert.equal(record.verdict, "admitted", JSON.stringify(record));
                    assert.match(record.authorization, /Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/aps\/aws4_request/);
                    assert.equal(record.securityToken, SESSION.sessionToken);
                }
                for (const secret of [SESSION.secretAccessKey, SESSION.sessionToken]) {
                    assert.ok(!events.includes(secret), "a credential in the events");
                }
                assert.deepEqual(await apexWeights(bench), { primary: 70, canary: 30 });
                await bench.rollPrimary("6.0.2");
                await bench.host.update("test/podinfo", FINALIZE_URN, bench.finalizeInputs(String(promoted.revision), "initialized"), bench.finalizeInputs(String(news.revision), "promoted"));
                assert.ok(bench.lines.includes("Normal  Promotion completed! Scaling down podinfo.test"), bench.lines.join("\n"));
                await assertAtRest();
                promoted = updated;
            } finally {
                await front.stop();
            }
        });
    });
});
