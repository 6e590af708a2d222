/** Small HTTP helpers shared by the playground's servers. */
import * as http from "http";
import type { AddressInfo } from "net";

/** Start listening on a free port of 127.0.0.1 and return that port. */
export function listenOnFreePort(server: http.Server): Promise<number> {
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            server.off("error", reject);
            resolve((server.address() as AddressInfo).port);
        });
    });
}

/** Close a server, ending idle keep-alive connections so the close does not wait for clients. */
export function closeServer(server: http.Server): Promise<void> {
    return new Promise((resolve) => {
        if (!server.listening) {
            resolve();
            return;
        }
        server.close(() => resolve());
        server.closeAllConnections();
    });
}

/** The whole request body. */
export function readBody(req: http.IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        req.on("data", (chunk: Buffer) => chunks.push(chunk));
        req.on("end", () => resolve(Buffer.concat(chunks)));
        req.on("error", reject);
    });
}
