/** The flags of the playground's commands (`npm run demo`, `npm run soak`): `--name value` or `--name=value`. */

/** The flags in order; `--help`, an unknown argument or a flag without a value is refused with the usage. */
export function commandFlags(argv: string[], known: readonly string[], usage: string): [name: string, value: string][] {
    const flags: [string, string][] = [];
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const [name, inline] = arg.startsWith("--") && arg.includes("=") ? arg.split(/=(.*)/s, 2) : [arg, undefined];
        if (!known.includes(name)) {
            throw new Error(`${name === "--help" || name === "-h" ? "" : `unknown argument ${arg}\n`}${usage}`);
        }
        const value = inline ?? argv[++i];
        if (value === undefined) {
            throw new Error(`${name} needs a value\n${usage}`);
        }
        flags.push([name, value]);
    }
    return flags;
}
