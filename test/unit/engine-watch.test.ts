import assert from "node:assert/strict";
import { hostEngineAddress, watchEngine } from "../../analysis/adapters/driver/engine-watch";

const HOST = "/work/app/node_modules/@pulumi/pulumi/cmd/dynamic-provider/index.js";

describe("engine watch: which process is a dynamic-provider host, and its engine's address", () => {
    it("reads the engine address a host is started with", () => {
        assert.deepEqual(hostEngineAddress(["/usr/bin/node", HOST, "127.0.0.1:41234"]), { host: "127.0.0.1", port: 41234 });
        assert.deepEqual(hostEngineAddress(["node", "C:\\app\\node_modules\\@pulumi\\pulumi\\cmd\\dynamic-provider", "localhost:5000"]), { host: "localhost", port: 5000 });
        assert.deepEqual(hostEngineAddress(["node", HOST, "[::1]:5000"]), { host: "::1", port: 5000 });
    });

    it("finds it after the logging and tracing flags `pulumi --logflow` and `--tracing` put first", () => {
        assert.deepEqual(hostEngineAddress(["node", HOST, "--logtostderr", "-v=9", "--tracing", "http://127.0.0.1:9411/api/v1/spans", "127.0.0.1:41234"]), { host: "127.0.0.1", port: 41234 });
    });

    it("is nothing in any other process, or without an address", () => {
        assert.equal(hostEngineAddress(["node", "/work/app/node_modules/.bin/mocha", "127.0.0.1:41234"]), undefined);
        assert.equal(hostEngineAddress(["node", HOST]), undefined);
        assert.equal(hostEngineAddress(["node", HOST, "--logtostderr"]), undefined);
        assert.equal(hostEngineAddress(["node", HOST, "127.0.0.1:99999"]), undefined);
    });

    it("watches nothing outside a host: the engine run in-process has no driver to lose", () => {
        assert.equal(watchEngine(), undefined);
    });
});
