/**
 * `hey` (Go's net/http with its own Transport) ignores `http_proxy`, so webhook commands that call `hey`
 * would bypass the mesh proxy and fail to resolve `podinfo.test`. The load tester therefore puts this
 * directory first on its commands' PATH: a `hey` script that runs the real hey with `-x <proxy>`, so the
 * tutorial's commands run unchanged.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { requireExecutable } from "./processes";

export interface HeyWrapper {
    /** Directory to put first on PATH. */
    dir: string;
    remove(): void;
}

export function writeHeyWrapper(proxyUrl: string): HeyWrapper {
    const realHey = requireExecutable("hey");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "playground-bin-"));
    const script = ["#!/bin/sh", `# Sends hey's requests through the mesh proxy; see playground/hey-wrapper.ts.`, `exec '${realHey}' -x '${proxyUrl}' "$@"`, ""].join("\n");
    fs.writeFileSync(path.join(dir, "hey"), script, { mode: 0o755 });
    return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
