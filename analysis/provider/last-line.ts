/**
 * An Analysis update's last event line names its rollout report (README, "Rollout reports"), yet lines may come
 * after the report is written: the failed revision's record warns when it cannot be written, the status flush
 * when the status could not. The line is held back until those are done.
 */

/**
 * Run `work`, then `settle`, then print the line `work` announced (if any) last, whether `work` returned or
 * threw; `settle` must not throw (the status flush reports its failure as a warning).
 */
export async function announcedLast<T>(work: (announce: (line: string) => void) => Promise<T>, settle: () => Promise<void>, print: (line: string) => void): Promise<T> {
    let last: string | undefined;
    try {
        return await work((line) => {
            last = line;
        });
    } finally {
        await settle();
        if (last !== undefined) {
            print(last);
        }
    }
}
