#!/usr/bin/env node
/** The package's command: `appmesh-canary status [--watch]` (more commands may follow). */
import { parseStatusArguments, runStatus, STATUS_USAGE } from "./status";

async function main(argv: string[]): Promise<void> {
    const [command, ...rest] = argv;
    if (command !== "status") {
        throw new Error(command === undefined ? STATUS_USAGE : `unknown command ${command}; ${STATUS_USAGE}`);
    }
    const controller = new AbortController();
    process.once("SIGINT", () => controller.abort());
    process.once("SIGTERM", () => controller.abort());
    await runStatus(parseStatusArguments(rest), (line) => process.stdout.write(`${line}\n`), controller.signal);
}

main(process.argv.slice(2)).then(
    () => process.exit(0),
    (error: Error) => {
        process.stderr.write(`appmesh-canary: ${error.message}\n`);
        process.exit(1);
    },
);
