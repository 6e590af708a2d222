/**
 * The canary spec a playground rollout uses: the dev stack's `appmesh-canary:canary` (or a file holding a
 * Flagger Canary manifest or a bare spec), turned into the A/B variant for the `ab` scenario, and sped up
 * for a short demo: a shorter analysis interval, with the metric windows and the load tests' `hey -z`
 * durations scaled by the same factor.
 */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { formatDuration, parseDuration, type AnalysisSpec, type CanarySpec } from "../analysis/spec/canary";
import { PROJECT } from "../config/stack";
import { parseCanarySpec } from "../analysis/spec/validation";

export const DEV_STACK_FILE = path.resolve(__dirname, "..", "Pulumi.dev.yaml");
/** The tutorial on the Gateway API. */
export const GATEWAYAPI_STACK_FILE = path.resolve(__dirname, "..", "Pulumi.gatewayapi.yaml");

/** Prometheus needs a few scrapes in a `rate()` window; shorter windows would read "no values". */
export const MIN_METRIC_WINDOW_MS = 4000;

export interface LoadedCanary {
    /** Target Deployment / Canary name (`metadata.name` of a manifest, else `podinfo`). */
    target: string;
    namespace: string;
    spec: CanarySpec;
    source: string;
}

/** Parse a YAML document that is a Canary manifest (`kind: Canary`) or a bare spec. */
export function canaryFromDocument(doc: unknown, source: string, defaults = { target: "podinfo", namespace: "test" }): LoadedCanary {
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
        throw new Error(`${source}: expected a Flagger Canary manifest or a canary spec (a YAML mapping)`);
    }
    const record = doc as Record<string, any>;
    const manifest = record.kind === "Canary";
    const raw = manifest ? record.spec : record;
    const target = (manifest ? raw?.targetRef?.name ?? record.metadata?.name : raw?.targetRef?.name) ?? defaults.target;
    const namespace = (manifest ? record.metadata?.namespace : undefined) ?? defaults.namespace;
    try {
        return { target, namespace, spec: parseCanarySpec(raw, { deployment: target, autoscaler: raw?.autoscalerRef?.name ?? target }), source };
    } catch (error) {
        throw new Error(`${source}: ${(error as Error).message}`);
    }
}

/** The canary from `--canary FILE`, or a stack file's `appmesh-canary:canary` (the dev stack's by default). */
export function loadCanary(file?: string, stackFile = DEV_STACK_FILE): LoadedCanary {
    if (file) {
        if (!fs.existsSync(file)) {
            throw new Error(`--canary ${file}: no such file`);
        }
        let document: unknown;
        try {
            document = parse(fs.readFileSync(file, "utf8"));
        } catch (error) {
            throw new Error(`--canary ${file}: not one valid YAML document: ${(error as Error).message}`);
        }
        return canaryFromDocument(document, file);
    }
    if (!fs.existsSync(stackFile)) {
        throw new Error(`${stackFile} not found: pass --canary FILE with a Canary manifest or spec`);
    }
    const stack = parse(fs.readFileSync(stackFile, "utf8")) as { config?: Record<string, unknown> };
    const key = `${PROJECT}:canary`;
    const raw = stack?.config?.[key];
    if (raw === undefined) {
        throw new Error(`${stackFile} has no ${key}: pass --canary FILE`);
    }
    const namespace = stack.config?.[`${PROJECT}:namespace`];
    return canaryFromDocument(raw, `${stackFile} ${key}`, { target: "podinfo", namespace: typeof namespace === "string" ? namespace : "test" });
}

/** The tutorial's A/B analysis (header `x-canary: insider`, 10 iterations), as it is written there. */
const TUTORIAL_AB_ANALYSIS = `
interval: 1m
threshold: 10
iterations: 10
match:
  - headers:
      x-canary:
        exact: "insider"
webhooks:
  - name: load-test
    url: http://flagger-loadtester.test/
    metadata:
      cmd: "hey -z 1m -q 10 -c 2 -H 'X-Canary: insider' http://podinfo.test:9898/"
`;
const TUTORIAL_AB_URL = "http://podinfo.test:9898/";

/**
 * The A/B variant: the tutorial's A/B analysis, keeping the spec's metrics and pre-rollout hooks. Its load test
 * calls `loadTestUrl`: the apex service in the mesh (App Mesh), or the Gateway that holds the A/B rule (the
 * Gateway API tutorial calls its Gateway's Service).
 */
export function abVariant(spec: CanarySpec, loadTestUrl = TUTORIAL_AB_URL): CanarySpec {
    const ab = parse(TUTORIAL_AB_ANALYSIS.replace(TUTORIAL_AB_URL, loadTestUrl)) as AnalysisSpec;
    const preRollout = (spec.analysis?.webhooks ?? []).filter((w) => w.type === "pre-rollout");
    return {
        ...spec,
        analysis: { ...ab, metrics: spec.analysis?.metrics, webhooks: [...preRollout, ...(ab.webhooks ?? [])] },
    };
}

function wholeSeconds(ms: number): string {
    return formatDuration(Math.max(1000, Math.round(ms / 1000) * 1000));
}

/**
 * The spec with `analysis.interval` set to `intervalMs`, every metric window and every `hey -z` duration
 * in webhook commands scaled by the same factor (whole seconds; windows at least MIN_METRIC_WINDOW_MS).
 */
export function withInterval(spec: CanarySpec, intervalMs: number): CanarySpec {
    const analysis = spec.analysis ?? {};
    const original = parseDuration(analysis.interval ?? "60s") ?? 60_000;
    const factor = intervalMs / original;
    const scale = (duration: string | undefined, fallback: string) => (parseDuration(duration ?? fallback) ?? 60_000) * factor;
    return {
        ...spec,
        analysis: {
            ...analysis,
            interval: formatDuration(intervalMs),
            metrics: analysis.metrics?.map((m) => ({ ...m, interval: wholeSeconds(Math.max(MIN_METRIC_WINDOW_MS, scale(m.interval, "1m"))) })),
            webhooks: analysis.webhooks?.map((w) =>
                w.metadata?.cmd
                    ? { ...w, metadata: { ...w.metadata, cmd: w.metadata.cmd.replace(/(-z\s+)(\S+)/, (whole, flag: string, d: string) => (parseDuration(d) ? flag + wholeSeconds(scale(d, d)) : whole)) } }
                    : w,
            ),
        },
    };
}
