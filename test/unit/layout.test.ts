/**
 * The layering of `analysis/` (docs/design.md, "Layers"), read from the import statements of every module: the
 * engine and the spec import no router, adapter, Pulumi or I/O library; no router reaches into another; and no
 * file of the project needs the team's shared folder beside the repository, which users' clones lack.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");

interface Import {
    file: string;
    /** Repository path of a relative import (without `.ts`), else the package name. */
    target: string;
    relative: boolean;
}

function trackedFiles(): string[] {
    return execFileSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8" }).split("\n").filter(Boolean);
}

const IMPORT = /(?:\bfrom|\bimport|\brequire)\s*\(?\s*["']([^"']+)["']/g;

function importsOf(file: string): Import[] {
    const text = fs.readFileSync(path.join(ROOT, file), "utf8");
    return [...text.matchAll(IMPORT)].map(([, spec]) => {
        const relative = spec.startsWith(".");
        const target = relative ? path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)) : spec;
        return { file, target, relative };
    });
}

const analysisModules = () => trackedFiles().filter((f) => f.startsWith("analysis/") && f.endsWith(".ts"));
const importsUnder = (folder: string) => analysisModules().filter((f) => f.startsWith(folder)).flatMap(importsOf);
const describeImport = (i: Import) => `${i.file} imports ${i.target}`;

describe("layout: dependencies point one way", () => {
    it("finds the layers' modules and their imports", () => {
        for (const folder of ["analysis/spec/", "analysis/engine/", "analysis/adapters/", "analysis/routers/", "analysis/provider/", "analysis/report/"]) {
            assert.ok(importsUnder(folder).length > 0, `no imports read under ${folder}`);
        }
    });

    it("the engine imports only itself and the spec: no router, adapter, Pulumi or I/O library", () => {
        const outside = importsUnder("analysis/engine/").filter((i) => !i.relative || !/^analysis\/(engine|spec)\//.test(i.target));
        assert.deepEqual(outside.map(describeImport), []);
    });

    it("the spec imports only itself and the routers' API constants", () => {
        const outside = importsUnder("analysis/spec/").filter((i) => !i.relative || !/^analysis\/(spec\/|routers\/[^/]+\/api$)/.test(i.target));
        assert.deepEqual(outside.map(describeImport), []);
    });

    it("adapters and the report never import a router or the providers", () => {
        const wrong = [...importsUnder("analysis/adapters/"), ...importsUnder("analysis/report/")].filter((i) => i.relative && /^analysis\/(routers|provider)\//.test(i.target));
        assert.deepEqual(wrong.map(describeImport), []);
    });

    it("no router folder reaches into another router's folder or into the providers", () => {
        const wrong = importsUnder("analysis/routers/").filter((i) => {
            const own = /^analysis\/routers\/([^/]+)\//.exec(i.file)?.[1];
            const other = /^analysis\/routers\/([^/]+)\//.exec(i.target)?.[1];
            return i.relative && ((own && other && own !== other) || i.target.startsWith("analysis/provider/"));
        });
        assert.deepEqual(wrong.map(describeImport), []);
    });

    it("analysis/ never imports the components, the stack config, the playground or the scripts", () => {
        const wrong = importsUnder("analysis/").filter((i) => i.relative && /^(components|config|playground|scripts|index)\b/.test(i.target));
        assert.deepEqual(wrong.map(describeImport), []);
    });

    it("no file needs the shared folder beside the repository, which only this team's machines have (the toolchain may use its tools)", () => {
        const sibling = ["..", "shared"].join("/");
        const needing = trackedFiles()
            .filter((f) => !f.startsWith(".ci/") && f !== "scripts/toolchain.sh")
            .filter((f) => fs.readFileSync(path.join(ROOT, f), "utf8").includes(sibling));
        assert.deepEqual(needing, []);
    });
});
