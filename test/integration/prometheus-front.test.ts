/**
 * The soak's failing Prometheus: the appmesh-prometheus pod's port in front of the real `prometheus` binary
 * answers queries with HTTP 503 and Prometheus's error body while switched on, and the analysis's metrics
 * adapter reads that as Flagger reads an error response.
 */
import assert from "node:assert/strict";
import axios from "axios";
import { PrometheusMetrics } from "../../analysis/adapters/metrics";
import { startPrometheus, type PrometheusServer } from "../../playground/prometheus";
import { startPrometheusFront, type PrometheusFront } from "../../playground/prometheus-front";

describe("Prometheus answering errors, in front of the real Prometheus", function () {
    this.timeout(60_000);
    let prometheus: PrometheusServer;
    let front: PrometheusFront;
    let failing: string | undefined;

    before(async () => {
        prometheus = await startPrometheus({ targets: [] });
        front = await startPrometheusFront(prometheus.url, () => failing);
    });

    after(async () => {
        await front?.stop();
        await prometheus?.stop();
    });

    it("passes queries on while healthy, answers them 503 while failing, and passes everything else on either way", async () => {
        const query = () => axios.get(`${front.url}/api/v1/query`, { params: { query: "vector(42)" }, proxy: false, validateStatus: () => true });
        failing = undefined;
        const healthy = await query();
        assert.equal(healthy.status, 200);
        assert.equal(healthy.data.data.result[0].value[1], "42");
        failing = "query processing would load too many samples into memory";
        const failed = await query();
        assert.deepEqual([failed.status, failed.data], [503, { status: "error", errorType: "unavailable", error: failing }]);
        const range = await axios.get(`${front.url}/api/v1/query_range`, { params: { query: "vector(1)", start: 0, end: 1, step: 1 }, proxy: false, validateStatus: () => true });
        assert.equal(range.status, 503);
        assert.equal((await axios.get(`${front.url}/-/ready`, { proxy: false })).status, 200, "not a query: passed on");
        const metrics = new PrometheusMetrics({ address: front.url, builtinQueries: {} as never });
        const reading = await metrics.read({ name: "custom", query: "vector(42)", thresholdRange: { min: 1 } }, { namespace: "test", name: "podinfo", target: "podinfo", service: "podinfo" });
        assert.deepEqual(reading, { kind: "error", message: `error response: Status 503 Service Unavailable: ${JSON.stringify(failed.data)}` });
        failing = undefined;
        assert.deepEqual(await metrics.read({ name: "custom", query: "vector(42)", thresholdRange: { min: 1 } }, { namespace: "test", name: "podinfo", target: "podinfo", service: "podinfo" }), { kind: "value", value: 42 });
    });
});
