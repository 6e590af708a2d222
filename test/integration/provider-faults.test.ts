/**
 * Every Kubernetes API error path of both providers, driven through their serialized `__provider` text in
 * Pulumi's dynamic-provider host (the code `pulumi up` runs), on the local cluster's real API server behind
 * the recording, fault-injecting proxy the analysis reaches it through:
 * transient ones are retried and the rollout completes; permanent ones fail the update naming the error, with
 * traffic back on the primary. A module-level value that serialization turned into something else (a captured
 * `Set` became a plain object once) shows up here as a TypeError. Mid-rollout, the API server unreachable for
 * longer than the retries, and the `pulumi` CLI killed (OOM kill, closed terminal, cancelled CI job): the
 * host outlives the CLI, and must roll the canary back and exit rather than shift traffic on and wait forever.
 * The CLI's death is the engine address the host was given closing.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as assert from "node:assert/strict";
import { RESTORE_BUDGET_MS } from "../../analysis/engine/engine";
import { ENGINE_GONE_DETECTION_MS } from "../../analysis/adapters/driver/engine-watch";
import type { Fault } from "../../playground/api-proxy";
import { ANALYSIS_URN, apexWeights, canaryReplicas, deployFirst, FINALIZE_URN, SERIALIZATION_BREAKAGE, startHostBench, waitFor, type HostBench } from "./rollout-fixtures";

const ROUTER_PATH = "/apis/appmesh.k8s.aws/v1beta2/namespaces/test/virtualrouters/podinfo";
const LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/test/leases/podinfo-canary-analysis";
const STATUS_PATH = "/api/v1/namespaces/test/configmaps/podinfo-canary-status";

/** Canary weights of the router writes the API server took, from request `since` on. */
function canaryWeightsWritten(bench: HostBench, since = 0): number[] {
    return bench.proxy.requests
        .slice(since)
        .filter((r) => r.method === "PATCH" && r.path === ROUTER_PATH && r.status === 200)
        .map((r) => (r.body as any).spec.routes[0].httpRoute.action.weightedTargets.find((t: any) => !t.virtualNodeRef.name.endsWith("-primary")).weight);
}

async function assertAtRest(bench: HostBench): Promise<void> {
    assert.deepEqual(await apexWeights(bench), { primary: 100, canary: 0 });
    assert.equal(await canaryReplicas(bench), 0);
}

/** A fault (or an outage) injected right before a provider call, so the call's first matching request meets it. */
interface FaultCase {
    name: string;
    inject(bench: HostBench): void;
}

const fault = (name: string, spec: Fault): FaultCase => ({ name, inject: (bench) => bench.proxy.injectFault(spec) });

const TRANSIENT: FaultCase[] = [
    { name: "connection refused (nothing listening for 0.5s)", inject: (bench) => void bench.proxy.outage(500) },
    fault("connection reset", { path: ROUTER_PATH, method: "PATCH", status: "reset" }),
    fault("no answer (request deadline)", { path: ROUTER_PATH, method: "PATCH", status: "hang" }),
    fault("409 Conflict", { path: ROUTER_PATH, method: "PATCH", status: 409 }),
    fault("429 TooManyRequests", { path: ROUTER_PATH, method: "PATCH", status: 429 }),
    fault("500 InternalError", { path: ROUTER_PATH, method: "PATCH", status: 500 }),
    fault("503 ServiceUnavailable", { path: ROUTER_PATH, method: "PATCH", status: 503 }),
];

/** `analysisTimes`: how many requests the fault must meet during an Analysis update (1 unless said). */
const PERMANENT: { name: string; fault: Fault; analysisTimes?: number; message: RegExp }[] = [
    { name: "401 Unauthorized", fault: { path: ROUTER_PATH, method: "PATCH", status: 401 }, message: /apply VirtualRouter test\/podinfo .*failed: 401 Unauthorized/ },
    // A rollout's first read (recovery) treats an unreadable router as one to re-apply at rest; the second fails it.
    { name: "404 NotFound", fault: { path: ROUTER_PATH, method: "GET", status: 404 }, analysisTimes: 2, message: /get VirtualRouter test\/podinfo failed: 404 NotFound/ },
    { name: "422 Invalid", fault: { path: ROUTER_PATH, method: "PATCH", status: 422 }, message: /apply VirtualRouter test\/podinfo .*failed: 422 Invalid/ },
];

describe("the serialized providers on every Kubernetes API error path, in Pulumi's provider host", function () {
    this.timeout(600_000);
    let bench: HostBench;
    let promoted: Record<string, unknown>;
    let finalized: Record<string, unknown>;
    let release = 0;

    before(async () => {
        // One weight step: each case is about the requests, not the analysis.
        bench = await startHostBench({ stepWeight: 30, maxWeight: 30 });
        ({ promoted, finalized } = await deployFirst(bench));
    });

    after(async () => {
        await bench?.stop();
    });

    afterEach(() => {
        assert.doesNotMatch(bench.lines.join("\n"), SERIALIZATION_BREAKAGE);
        bench.lines.length = 0;
    });

    /** `pulumi up` with a new image: the canary Deployment's template changes and the Analysis update runs. */
    async function newRevision(): Promise<{ version: string; news: Record<string, unknown> }> {
        const version = `6.1.${++release}`;
        await bench.updateCanaryTemplate(version);
        return { version, news: bench.analysisInputs() };
    }

    for (const transient of TRANSIENT) {
        it(`${transient.name}: retried; the Analysis promotes and Finalize completes`, async () => {
            const { version, news } = await newRevision();
            transient.inject(bench);
            const updated = await bench.host.update("test/podinfo", ANALYSIS_URN, promoted, news);
            assert.equal(updated.properties.status, "promoted");
            promoted = updated.properties;

            await bench.rollPrimary(version);
            transient.inject(bench);
            const next = bench.finalizeInputs(String(promoted.revision), "promoted");
            await bench.host.update("test/podinfo", FINALIZE_URN, finalized, next);
            finalized = next;
            assert.ok(bench.lines.includes("Normal  Promotion completed! Scaling down podinfo.test"), bench.lines.join("\n"));
            await assertAtRest(bench);
        });
    }

    for (const permanent of PERMANENT) {
        const { name, message } = permanent;
        it(`${name}: the Analysis fails at once naming it, with traffic back on the primary`, async () => {
            const { news } = await newRevision();
            bench.proxy.injectFault({ ...permanent.fault, times: permanent.analysisTimes ?? 1 });
            const error: Error = await bench.host.update("test/podinfo", ANALYSIS_URN, promoted, news).then(
                () => assert.fail("the update should fail"),
                (e) => e,
            );
            assert.match(error.message, /canary analysis of podinfo\.test failed: /);
            assert.match(error.message, message);
            assert.match(error.message, /Traffic is back on podinfo-primary, the canary is scaled to zero/);
            assert.doesNotMatch(error.message, SERIALIZATION_BREAKAGE);
            assert.ok(!error.message.includes(bench.token));
            await assertAtRest(bench);
        });

        it(`${name}: Finalize fails naming it, after putting traffic back on the primary`, async () => {
            bench.proxy.injectFault(permanent.fault);
            // A promotion Finalize has not seen yet, so it runs (and routes back, the request the fault meets).
            const next = bench.finalizeInputs(`${promoted.revision}-${name}`, "promoted");
            const error: Error = await bench.host.update("test/podinfo", FINALIZE_URN, finalized, next).then(
                () => assert.fail("Finalize should fail"),
                (e) => e,
            );
            assert.match(error.message, /finalizing podinfo\.test failed: /);
            assert.match(error.message, message);
            assert.doesNotMatch(error.message, SERIALIZATION_BREAKAGE);
            await assertAtRest(bench);
        });
    }

    it("a failed run whose status cannot be written: the status warning comes before the report's line, the update's last", async () => {
        const { news } = await newRevision();
        const reports = fs.mkdtempSync(path.join(os.tmpdir(), "appmesh-canary-reports-"));
        bench.proxy.injectFault({ path: ROUTER_PATH, method: "PATCH", status: 401 });
        bench.proxy.injectFault({ path: STATUS_PATH, method: "PATCH", status: 403, times: 1000 });
        try {
            await assert.rejects(bench.host.update("test/podinfo", ANALYSIS_URN, promoted, { ...news, reportDirectory: reports }), /canary analysis of podinfo\.test failed: /);
        } finally {
            bench.proxy.clearFaults();
        }
        const events = bench.lines.join("\n");
        assert.match(events, /^Warning Could not write the canary status ConfigMap, so `npm run status` shows an older state: .*403/m);
        assert.match(bench.lines.at(-1) ?? "", /^Normal  Rollout report: \S+\/podinfo-[0-9a-f]{16}-\d{8}T\d{6}Z\.html$/, events);
        assert.ok(bench.lines.at(-1)!.includes(reports), events);
        await assertAtRest(bench);
    });
});

describe("mid-rollout, the API server unreachable or the `pulumi` CLI killed, through Pulumi's provider host", function () {
    this.timeout(300_000);
    let bench: HostBench;
    /** Both runs fail, so the state keeps the first deployment's revision. */
    let promoted: Record<string, unknown>;

    before(async () => {
        bench = await startHostBench({ stepWeight: 5, maxWeight: 50 });
        await bench.host.configure();
        promoted = (await bench.host.create(ANALYSIS_URN, bench.analysisInputs())).properties;
    });

    after(async () => {
        await bench?.stop();
    });

    it("unreachable for 15s at canary weight 15: the run rolls back, and traffic is on the primary once it is back", async () => {
        await bench.updateCanaryTemplate("6.0.1");
        const news = bench.analysisInputs();
        const result = bench.host.update("test/podinfo", ANALYSIS_URN, promoted, news).then(
            () => undefined,
            (error: Error) => error,
        );
        await waitFor("canary weight 15", () => bench.lines.some((l) => /^Normal  Advance podinfo\.test canary weight 15( \[|$)/.test(l)));
        assert.deepEqual(await apexWeights(bench), { primary: 85, canary: 15 });
        const outageStart = Date.now();
        await bench.proxy.outage(15_000);
        const back = Date.now();

        const error = await result;
        const restored = Date.now();
        assert.ok(error, "the update should fail: the analysis could not run through the outage");
        assert.match(error.message, /canary analysis of podinfo\.test failed: .*the Kubernetes API server could not be reached: .*ECONNREFUSED/);
        assert.match(error.message, /Traffic is back on podinfo-primary, the canary is scaled to zero and revision \w+ was not promoted/);
        await assertAtRest(bench);
        const output = [...bench.lines, error.message].join("\n");
        assert.doesNotMatch(output, SERIALIZATION_BREAKAGE);
        assert.ok(!output.includes(bench.token));
        // The restore kept trying through the outage, an event per attempt, and finished once the server was back.
        assert.ok(bench.lines.some((l) => l.startsWith("Warning Could not route all traffic to the primary for podinfo.test (attempt 1), retrying in 1s")), bench.lines.join("\n"));
        assert.ok(restored - outageStart < RESTORE_BUDGET_MS, `restored ${restored - outageStart} ms after the outage began`);
        assert.ok(restored - back < 20_000, `restored ${restored - back} ms after the server came back`);
        // Nothing moved traffic towards the canary after the outage.
        assert.equal(canaryWeightsWritten(bench).at(-1), 0);
    });

    it("the CLI killed at canary weight 15: the orphaned host rolls back, releases the lease and exits", async () => {
        await bench.updateCanaryTemplate("6.0.2");
        bench.lines.length = 0;
        const update = bench.host.update("test/podinfo", ANALYSIS_URN, promoted, bench.analysisInputs()).then(
            () => "promoted",
            (error: Error) => error.message,
        );
        await waitFor("canary weight 15", () => bench.lines.some((l) => /^Normal  Advance podinfo\.test canary weight 15( \[|$)/.test(l)));
        const requestsBefore = bench.proxy.requests.length;
        const dropped = Date.now();
        await bench.host.dropEngine();

        assert.equal(await bench.host.exited, 0);
        const exitedAfter = Date.now() - dropped;
        assert.ok(exitedAfter < 10_000, `the host exited ${exitedAfter} ms after its engine went away`);
        // Nobody is left to answer: the call ends with the host, whatever it says.
        assert.notEqual(await update, "promoted");
        const events = bench.lines.join("\n");
        assert.match(events, /^Warning Rolling back podinfo\.test: the `pulumi up` that started this analysis is gone \(the Pulumi engine at 127\.0\.0\.1:\d+ refuses connections\)$/m);
        assert.match(events, /^Warning Canary failed! Scaling down podinfo\.test$/m);
        assert.doesNotMatch(events, SERIALIZATION_BREAKAGE);
        await assertAtRest(bench);
        // Until the watch tells (two refused probes a second apart), the 1 s steps go on: at most one per
        // interval of the detection window plus the one in flight, each a step up; the last write put it all back.
        const writes = canaryWeightsWritten(bench, requestsBefore);
        const stepsWhileDetecting = Math.ceil(ENGINE_GONE_DETECTION_MS / 1000) + 1;
        assert.ok(writes.length <= stepsWhileDetecting + 1, JSON.stringify(writes));
        assert.ok(writes.slice(0, -1).every((w, i) => w === 20 + 5 * i), JSON.stringify(writes));
        assert.equal(writes.at(-1), 0);
        const lease = bench.proxy.requests.filter((r) => r.method === "PUT" && r.path === LEASE_PATH).at(-1)?.body as any;
        assert.equal(lease?.spec?.holderIdentity, undefined, "the lease was released before the exit");
    });

    it("the CLI killed with the pipes the host prints to: the orphan rolls back and exits without an error, though nobody reads it", async () => {
        await bench.restartHost();
        await bench.host.configure();
        await bench.updateCanaryTemplate("6.0.3");
        bench.lines.length = 0;
        void bench.host.update("test/podinfo", ANALYSIS_URN, promoted, { ...bench.analysisInputs(), reportDirectory: fs.mkdtempSync(path.join(os.tmpdir(), "appmesh-canary-reports-")) }).catch(() => undefined);
        await waitFor("canary weight 15", () => bench.lines.some((l) => /^Normal  Advance podinfo\.test canary weight 15( \[|$)/.test(l)));
        const dropped = Date.now();
        await bench.host.dropEngine({ closeOutput: true });
        // Exit code 0: Pulumi's host exits 1 after any uncaught error, and loops on one it cannot print.
        assert.equal(await bench.host.exited, 0);
        assert.ok(Date.now() - dropped < 10_000, `the host exited ${Date.now() - dropped} ms after its engine and its pipes went away`);
        await assertAtRest(bench);
    });

    it("an idle host exits by itself once its engine goes away", async () => {
        await bench.restartHost();
        // Any call starts the watch: here `check`, the first call of every `pulumi up`.
        await bench.host.check(ANALYSIS_URN, {}, bench.analysisInputs());
        const dropped = Date.now();
        await bench.host.dropEngine();
        assert.equal(await bench.host.exited, 0);
        assert.ok(Date.now() - dropped < 5_000);
    });
});
