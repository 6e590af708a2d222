/**
 * Keeps Prometheus's scrape targets equal to the running pods. Prometheus's `setTargets` waits until it
 * scrapes exactly the given set, so two overlapping updates would each wait for a set that is no longer
 * the file's. Updates therefore run one at a time, each with the newest set, and every caller is released
 * once a set at least as new as its own has been applied.
 */
import type { ScrapeTarget } from "./prometheus";

export class TargetSync {
    private pending?: ScrapeTarget[];
    private requested = 0;
    private running = false;
    private waiters: { version: number; resolve: () => void }[] = [];

    constructor(
        private readonly apply: (targets: ScrapeTarget[]) => Promise<void>,
        private readonly onError: (error: Error) => void,
    ) {}

    /** Ask for these targets; resolves once they (or a newer set) are scraped, or the update failed. */
    update(targets: ScrapeTarget[]): Promise<void> {
        const version = ++this.requested;
        this.pending = targets;
        const done = new Promise<void>((resolve) => this.waiters.push({ version, resolve }));
        void this.drain();
        return done;
    }

    private async drain(): Promise<void> {
        if (this.running) {
            return;
        }
        this.running = true;
        try {
            while (this.pending) {
                const targets = this.pending;
                const version = this.requested;
                this.pending = undefined;
                try {
                    await this.apply(targets);
                } catch (error) {
                    this.onError(error as Error);
                }
                const released = this.waiters.filter((w) => w.version <= version);
                this.waiters = this.waiters.filter((w) => w.version > version);
                released.forEach((w) => w.resolve());
            }
        } finally {
            this.running = false;
        }
    }
}
