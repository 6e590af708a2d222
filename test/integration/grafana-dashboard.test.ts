/**
 * Integration: the Grafana dashboard's PromQL against the playground's Prometheus (the real binary scraping the
 * sidecars' Envoy stats, labelled as appmesh-prometheus labels them), while a rollout holds the canary at a
 * weight above zero with user traffic flowing: every panel query answers with finite values, and the dashboard's
 * variable queries offer the namespace, primary and canary of the app being rolled out.
 */
import * as assert from "node:assert/strict";
import axios from "axios";
import { PrometheusMetrics } from "../../analysis/adapters/metrics";
import type { MetricReading } from "../../analysis/engine/ports";
import { APPMESH_QUERIES } from "../../analysis/routers/appmesh/queries";
import { loadCanary } from "../../playground/canary-spec";
import { inProcessDriver } from "../../playground/engine-driver";
import type { InstalledCanary, Playground } from "../../playground/playground";
import { routerView } from "../../playground/router-view";
import { runScenario } from "../../playground/scenario-run";
import { SCENARIOS } from "../../playground/scenarios";
import { applyVariableRegex, interpolate, loadDashboard, parseLabelValues } from "../unit/dashboard-queries";

/** Grafana's `$__rate_interval` and `$__interval`, made concrete: a window many 1s scrapes wide. */
const WINDOW = "30s";
/** A weight reached after at least one analysis interval with the canary on the apex route. */
const PROBE_AT_WEIGHT = 10;
const POLL_MS = 250;

interface PanelReading {
    /** `<panel title> <refId>`. */
    name: string;
    query: string;
    reading: MetricReading;
}

interface Probe {
    /** The canary weight when the queries were sent, and once all had answered. */
    weightBefore: number;
    weightAfter: number;
    panels: PanelReading[];
    /** Each query variable's values, as Grafana offers them (after its regex). */
    variables: Record<string, string[]>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the Grafana dashboard's queries against the playground's Prometheus during a rollout (1s interval)", function () {
    this.timeout(180_000);

    const dashboard = loadDashboard();
    const selected = { datasource: "prometheus", namespace: "test", primary: "podinfo-primary", canary: "podinfo", __rate_interval: WINDOW, __interval: WINDOW };

    /** label_values(<selector>, <label>) as Grafana's Prometheus data source asks it: the label's values among the selector's series. */
    async function labelValues(prometheusUrl: string, query: string): Promise<string[]> {
        const { selector, label } = parseLabelValues(interpolate(query, selected));
        const answer = await axios.get(`${prometheusUrl}/api/v1/label/${label}/values`, { params: { "match[]": selector }, proxy: false, timeout: 5000 });
        return answer.data.data as string[];
    }

    /** Every panel query and variable, read once; the queries go through the analysis's own Prometheus adapter, as inline queries. */
    async function readDashboard(pg: Playground, canary: InstalledCanary): Promise<Omit<Probe, "weightBefore" | "weightAfter">> {
        const metrics = new PrometheusMetrics({ address: pg.prometheusUrl, builtinQueries: APPMESH_QUERIES });
        const context = { namespace: canary.namespace, name: canary.target, target: canary.target, service: canary.names.apex };
        const queries = dashboard.panels.flatMap((panel) => panel.targets.map((target) => ({ name: `${panel.title} ${target.refId}`, query: interpolate(target.expr, selected) })));
        const panels = await Promise.all(queries.map(async ({ name, query }) => ({ name, query, reading: await metrics.read({ name, query }, context) })));
        const queryVariables = dashboard.templating.list.filter((v) => v.type === "query");
        const values = await Promise.all(queryVariables.map(async (v) => applyVariableRegex(await labelValues(pg.prometheusUrl, v.query), v.regex)));
        return { panels, variables: Object.fromEntries(queryVariables.map((v, i) => [v.name, values[i]])) };
    }

    /**
     * Waits for the rollout to put the canary at PROBE_AT_WEIGHT, then reads the dashboard until every panel has a
     * finite value (a series can miss one 1s scrape), while the canary stays above weight 0.
     */
    async function probeDuringRollout(pg: Playground, rolloutOver: () => boolean): Promise<Probe> {
        const canary = pg.canaries[0];
        const weight = () => routerView(pg, canary).weightHistory(0).pop()?.canary ?? 0;
        while (weight() < PROBE_AT_WEIGHT) {
            assert.ok(!rolloutOver(), `the rollout ended without reaching canary weight ${PROBE_AT_WEIGHT}`);
            await sleep(POLL_MS);
        }
        const settleBy = Date.now() + 10_000;
        for (;;) {
            const weightBefore = weight();
            const read = await readDashboard(pg, canary);
            const probe = { weightBefore, weightAfter: weight(), ...read };
            const finite = read.panels.every((p) => p.reading.kind === "value" && Number.isFinite(p.reading.value));
            if ((finite && Object.values(read.variables).every((v) => v.length > 0)) || Date.now() > settleBy || probe.weightAfter === 0) {
                return probe;
            }
            await sleep(POLL_MS);
        }
    }

    it("at a canary weight above 0 with user traffic, every panel's PromQL returns finite values and the observed share is between 0 and 1", async () => {
        let probing: Promise<Probe> | undefined;
        let rolloutOver = false;
        const run = await runScenario({
            loaded: loadCanary(),
            scenario: SCENARIOS.healthy,
            intervalMs: 1000,
            driver: inProcessDriver(),
            userTrafficPerSecond: 20,
            onStarted: (pg) => {
                probing = probeDuringRollout(pg, () => rolloutOver);
                // Awaited in `inspect` and below; this keeps an early failure from being reported as unhandled.
                probing.catch(() => undefined);
            },
            // The playground stops after `inspect`: keep it up until the probe is done.
            inspect: async () => {
                rolloutOver = true;
                await probing?.catch(() => undefined);
            },
        }).finally(() => {
            rolloutOver = true;
        });
        assert.equal(run.record.result, "promoted", run.record.reason);
        const probe = await probing!;
        assert.ok(probe.weightBefore >= PROBE_AT_WEIGHT && probe.weightAfter > 0, `queried at canary weight ${probe.weightBefore} → ${probe.weightAfter}`);
        assert.ok(run.userTraffic.sent > 0, "user traffic flowed");

        for (const { name, query, reading } of probe.panels) {
            assert.ok(reading.kind === "value" && Number.isFinite(reading.value), `${name}: ${query} read ${JSON.stringify(reading)}`);
        }
        const value = (title: string, refId: string) => {
            const found = probe.panels.find((p) => p.name === `${title} ${refId}`)!.reading;
            return found.kind === "value" ? found.value : NaN;
        };
        const share = value("Canary's observed share of requests", "A");
        assert.ok(share > 0 && share < 1, `observed canary share ${share}`);
        for (const side of ["A", "B"]) {
            assert.ok(value("Request rate", side) > 0, `request rate ${side}`);
            const success = value("Success rate (non-5xx)", side);
            assert.ok(success >= 99 && success <= 100, `success rate ${side} ${success}%: both versions are healthy`);
        }

        assert.deepEqual(probe.variables.namespace, ["test"]);
        assert.deepEqual(probe.variables.primary, ["podinfo-primary"]);
        assert.deepEqual(probe.variables.canary, ["podinfo"]);
    });
});
