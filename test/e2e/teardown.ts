import * as fs from "fs";
import type { LocalCluster } from "../../playground/local-cluster";
import { killWorkspaceProcesses, type PulumiWorkspace } from "../../playground/pulumi-cli";

/** Ends an e2e stack's life: every process of the workspace (the CLI's plugins outlive a killed CLI), the cluster, the files. */
export async function tearDownStack(workspace: PulumiWorkspace | undefined, cluster: LocalCluster | undefined): Promise<void> {
    if (workspace) {
        killWorkspaceProcesses(workspace);
    }
    await cluster?.stop();
    if (workspace) {
        fs.rmSync(workspace.dir, { recursive: true, force: true });
    }
}
