/**
 * Writes a rollout report (the HTML with its charts and the JSON beside it) where `pulumi up` runs, so every
 * Analysis update leaves a record of what decided it.
 */
import { renderReportHtml, reportJson, type RolloutRecord } from "../report/report";

/** Writes `<directory>/<baseName>.html` and `.json` (creating the directory); returns the HTML file's path. */
export async function writeRolloutReport(directory: string, baseName: string, record: RolloutRecord): Promise<string> {
    const fs = await import("fs/promises");
    const path = await import("path");
    await fs.mkdir(directory, { recursive: true });
    const html = path.join(directory, `${baseName}.html`);
    await fs.writeFile(html, renderReportHtml(record));
    await fs.writeFile(path.join(directory, `${baseName}.json`), reportJson(record));
    return html;
}
