/**
 * The analysis Lease adapter against a real kube-apiserver (`playground/control-plane.ts`, built by `npm run
 * toolchain`): the Lease it creates, renewal, a live holder refused, an expired one taken over, two runs racing
 * for it (the API server's 409 decides, seen at the recording proxy in between), release and removal.
 */
import assert from "node:assert/strict";
import { KubeLease } from "../../analysis/adapters/kubernetes/lease";
import { isLeaseLostError } from "../../analysis/engine/stops";
import { startApiProxy, type ApiProxy } from "../../playground/api-proxy";
import { startControlPlane, type ControlPlane } from "../../playground/control-plane";

const NS = "test";
const NAME = "podinfo-canary-analysis";
const FAST_RETRY = { attempts: 4, initialDelayMs: 50 };
const DURATION_SECONDS = 15;

describe("the analysis Lease against a real kube-apiserver", function () {
    this.timeout(180_000);
    let cp: ControlPlane;
    let proxy: ApiProxy;
    let api: import("@kubernetes/client-node").CoordinationV1Api;

    /** An adapter for one run, whose clock is `skewMs` ahead (to reach a lease's expiry without waiting for it). */
    const run = (holder: string, skewMs = 0) =>
        new KubeLease({ access: { kubeconfig: proxy.kubeconfig(cp.token) }, namespace: NS, target: "podinfo", durationSeconds: DURATION_SECONDS, holder, retry: FAST_RETRY, now: () => Date.now() + skewMs });
    const live = () => api.readNamespacedLease({ name: NAME, namespace: NS });
    const renewedAt = async () => new Date((await live()).spec!.renewTime!).getTime();

    before(async () => {
        cp = await startControlPlane();
        const k8s = await import("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        kc.loadFromString(cp.kubeconfig);
        await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
        api = kc.makeApiClient(k8s.CoordinationV1Api);
        proxy = await startApiProxy(cp.server, cp.ca);
    });

    after(async () => {
        await proxy?.stop();
        await cp?.stop();
    });

    it("creates the Lease on the first take: the holder, the duration, a microsecond renewTime, the analysis's label", async () => {
        const before = Date.now();
        assert.deepEqual(await run("host-a/101/aaaaaa").tryAcquire(), { acquired: true });
        const lease = await live();
        assert.equal(lease.spec?.holderIdentity, "host-a/101/aaaaaa");
        assert.equal(lease.spec?.leaseDurationSeconds, DURATION_SECONDS);
        assert.equal(lease.metadata?.labels?.["app.kubernetes.io/managed-by"], "appmesh-canary-analysis");
        assert.match(String(lease.spec?.renewTime), /\.\d{6}Z$/);
        assert.ok(Math.abs((await renewedAt()) - before) < 5_000);
    });

    it("the holder's own take again succeeds; another run is refused, told who holds it and until when", async () => {
        assert.deepEqual(await run("host-a/101/aaaaaa").tryAcquire(), { acquired: true });
        const claim = await run("host-b/202/bbbbbb").tryAcquire();
        assert.deepEqual(claim, { acquired: false, holder: "host-a/101/aaaaaa", expiresAt: (await renewedAt()) + DURATION_SECONDS * 1000 });
    });

    it("renews by moving renewTime on, and skips the write while the last one is recent", async () => {
        let skew = 0;
        const holder = new KubeLease({ access: { kubeconfig: proxy.kubeconfig(cp.token) }, namespace: NS, target: "podinfo", durationSeconds: DURATION_SECONDS, holder: "host-a/101/aaaaaa", retry: FAST_RETRY, now: () => Date.now() + skew });
        await holder.tryAcquire();
        const version = (await live()).metadata?.resourceVersion;
        await holder.renew();
        assert.equal((await live()).metadata?.resourceVersion, version, "a renewal right after the take writes nothing");
        skew = 6_000;
        const renewed = await renewedAt();
        await holder.renew();
        assert.ok((await renewedAt()) - renewed >= 5_000);
    });

    it("an expired lease is taken over; the old holder's next renewal reports the lease lost to the new one", async () => {
        // The new run's clock is past the holder's renewTime + duration.
        assert.deepEqual(await run("host-b/202/bbbbbb", 60_000).tryAcquire(), { acquired: true });
        const lease = await live();
        assert.equal(lease.spec?.holderIdentity, "host-b/202/bbbbbb");
        assert.equal(lease.spec?.leaseTransitions, 1);
        const lost = await run("host-a/101/aaaaaa").renew().then(() => undefined, (error: unknown) => error);
        assert.ok(isLeaseLostError(lost), String(lost));
        assert.equal(lost.leaseTakenBy, "host-b/202/bbbbbb");
        assert.match(lost.message, /Lease test\/podinfo-canary-analysis is held by host-b\/202\/bbbbbb now/);
    });

    it("release clears the holder, and only the holder's does", async () => {
        await run("host-a/101/aaaaaa").release();
        assert.equal((await live()).spec?.holderIdentity, "host-b/202/bbbbbb");
        await run("host-b/202/bbbbbb", 60_000).release();
        const lease = await live();
        assert.equal(lease.spec?.holderIdentity, undefined);
        assert.deepEqual(await run("host-c/303/cccccc").tryAcquire(), { acquired: true });
    });

    it("two runs racing for a free lease: the API server's 409 leaves exactly one holder, and the other is told who", async () => {
        let conflicts = 0;
        for (let round = 0; round < 10 && conflicts === 0; round++) {
            // A missing Lease (both create) on even rounds, a released one (both replace) on odd ones.
            if (round % 2 === 0) {
                await api.deleteNamespacedLease({ name: NAME, namespace: NS });
            } else {
                await run((await live()).spec!.holderIdentity!).release();
            }
            const seen = proxy.requests.length;
            const [first, second] = [run(`racer-${round}/1/111111`), run(`racer-${round}/2/222222`)];
            const claims = await Promise.all([first.tryAcquire(), second.tryAcquire()]);
            const winners = claims.filter((c) => c.acquired);
            assert.equal(winners.length, 1, JSON.stringify(claims));
            const holder = (await live()).spec?.holderIdentity;
            const loser = claims.find((c) => !c.acquired);
            assert.equal(loser?.acquired === false && loser.holder, holder);
            assert.equal(holder, claims[0].acquired ? `racer-${round}/1/111111` : `racer-${round}/2/222222`);
            conflicts += proxy.requests.slice(seen).filter((r) => r.status === 409).length;
        }
        assert.ok(conflicts > 0, "no round raced into a 409");
    });

    it("remove deletes the Lease whoever holds it; a missing one is fine", async () => {
        await run("someone-else/9/999999").remove();
        await assert.rejects(live(), (error: any) => error.code === 404);
        await run("someone-else/9/999999").remove();
    });
});
