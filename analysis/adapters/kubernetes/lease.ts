/**
 * The canary's analysis lease as a coordination.k8s.io/v1 Lease, `<target>-canary-analysis` in the target's
 * namespace: taken, renewed and released with optimistic concurrency (each write carries the resourceVersion
 * it read; a 409 means another run wrote in between, so `withRetries` reads again and decides again).
 */
import type { LeaseClaim, LeaseLostError, LeasePort } from "../../engine/ports";
import { ANALYSIS_FIELD_MANAGER, connect, unlessNotFound, withRetries, type KubeAccess, type KubeClient, type RetryOptions } from "./client";
import { claimOf, heldBy, leaseName, released } from "./lease-record";

type CoordinationV1Api = import("@kubernetes/client-node").CoordinationV1Api;
type V1Lease = import("@kubernetes/client-node").V1Lease;
type V1LeaseSpec = import("@kubernetes/client-node").V1LeaseSpec;

/** The label every object the analysis creates carries, so that `kubectl get leases -l` finds them. */
const MANAGED_BY = { "app.kubernetes.io/managed-by": ANALYSIS_FIELD_MANAGER };

/** A renewal that fails is tried again at the next wait: two attempts, not the default six. */
const RENEW_RETRY: RetryOptions = { attempts: 2 };

export interface KubeLeaseOptions {
    access: KubeAccess;
    namespace: string;
    /** The canary (target) Deployment the lease guards, e.g. `podinfo`. */
    target: string;
    durationSeconds: number;
    /** `<hostname>/<pid>/<6 random hex digits>` by default: unique per run, readable in `kubectl get lease`. */
    holder?: string;
    retry?: RetryOptions;
    now?: () => number;
}

/** A decision over the Lease as read: the spec to write (none: leave it) and what to answer. */
type Decision<T> = { write?: V1LeaseSpec; answer: T };

export class KubeLease implements LeasePort {
    private client?: Promise<KubeClient<CoordinationV1Api>>;
    private identity?: Promise<string>;
    /** When this adapter last wrote itself as the holder; renewals in between are skipped. */
    private renewedAt?: number;

    constructor(private readonly options: KubeLeaseOptions) {}

    private get name(): string {
        return leaseName(this.options.target);
    }

    private get description(): string {
        return `Lease ${this.options.namespace}/${this.name}`;
    }

    private now(): number {
        return (this.options.now ?? Date.now)();
    }

    private api() {
        this.client ??= connect(this.options.access, (k8s) => k8s.CoordinationV1Api);
        return this.client;
    }

    /** Who this adapter is in the Lease's `holderIdentity`. */
    private holder(): Promise<string> {
        this.identity ??= this.options.holder ? Promise.resolve(this.options.holder) : newIdentity();
        return this.identity;
    }

    async tryAcquire(): Promise<LeaseClaim> {
        const me = await this.holder();
        const claim = await this.decide(`take ${this.description}`, this.options.retry, (spec, now) => {
            const answer = claimOf(spec, me, now.getTime());
            return { answer, write: answer.acquired ? heldBy(spec, me, now, this.options.durationSeconds) : undefined };
        });
        if (claim.acquired) {
            this.renewedAt = this.now();
        }
        return claim;
    }

    /**
     * Nobody can take a live lease, so one written less than a third of its duration ago needs no write yet.
     * A Lease deleted meanwhile is created again: nobody else holds it.
     */
    async renew(): Promise<void> {
        if (this.renewedAt !== undefined && this.now() - this.renewedAt < (this.options.durationSeconds * 1000) / 3) {
            return;
        }
        const me = await this.holder();
        const other = await this.decide(`renew ${this.description}`, RENEW_RETRY, (spec, now): Decision<string | undefined> => {
            const holder = spec?.holderIdentity;
            return holder && holder !== me ? { answer: holder } : { answer: undefined, write: heldBy(spec, me, now, this.options.durationSeconds) };
        });
        if (other !== undefined) {
            this.renewedAt = undefined;
            const lost: LeaseLostError = Object.assign(new Error(`${this.description} is held by ${other} now`), { leaseTakenBy: other });
            throw lost;
        }
        this.renewedAt = this.now();
    }

    async release(): Promise<void> {
        const me = await this.holder();
        this.renewedAt = undefined;
        await this.decide(`release ${this.description}`, RENEW_RETRY, (spec): Decision<void> => ({
            answer: undefined,
            write: spec?.holderIdentity === me ? released(spec) : undefined,
        }));
    }

    /** Delete the Lease whoever holds it (when the Analysis resource is deleted); a missing one is fine. */
    async remove(): Promise<void> {
        const { api } = await this.api();
        const { namespace } = this.options;
        await withRetries(
            `delete ${this.description}`,
            () => unlessNotFound(() => api.deleteNamespacedLease({ name: this.name, namespace })),
            this.options.retry,
        );
    }

    /** Read the Lease, let `decision` say what to write, and write it over exactly the version read. */
    private async decide<T>(what: string, retry: RetryOptions | undefined, decision: (spec: V1LeaseSpec | undefined, now: Date) => Decision<T>): Promise<T> {
        const { k8s, api } = await this.api();
        const { namespace } = this.options;
        return withRetries(
            what,
            async () => {
                const live = await this.read(api);
                // A MicroTime the API server accepts: microseconds, which a plain Date's ISO form lacks.
                const { write, answer } = decision(live?.spec, new k8s.V1MicroTime(this.now()));
                if (write && live) {
                    const metadata = { ...live.metadata, labels: { ...live.metadata?.labels, ...MANAGED_BY } };
                    await api.replaceNamespacedLease({ name: this.name, namespace, body: { ...live, metadata, spec: write } });
                } else if (write) {
                    await api.createNamespacedLease({ namespace, body: { metadata: { name: this.name, namespace, labels: MANAGED_BY }, spec: write } });
                }
                return answer;
            },
            retry,
        );
    }

    private async read(api: CoordinationV1Api): Promise<V1Lease | undefined> {
        return unlessNotFound(() => api.readNamespacedLease({ name: this.name, namespace: this.options.namespace }));
    }
}

async function newIdentity(): Promise<string> {
    const [os, crypto] = await Promise.all([import("os"), import("crypto")]);
    return `${os.hostname()}/${process.pid}/${crypto.randomBytes(3).toString("hex")}`;
}
