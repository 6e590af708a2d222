/**
 * The tutorial's app: podinfo's pod template, Deployment settings and HPA, with the image from stack config.
 */
import { AutoscalerSettings, DeploymentSettings, PodTemplate } from "./workload";

export const PODINFO = "podinfo";

/** The ports podinfod listens on, as the tutorial declares them. */
export const PODINFO_PORTS = [
    { name: "http", containerPort: 9898 },
    { name: "http-metrics", containerPort: 9797 },
    { name: "grpc", containerPort: 9999 },
] as const;

const probe = (path: string) => ({
    exec: { command: ["podcli", "check", "http", `localhost:9898${path}`] },
    initialDelaySeconds: 5,
    timeoutSeconds: 5,
});

export function podinfoPodTemplate(image: string): PodTemplate {
    return {
        metadata: { annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": "9797" } },
        spec: {
            containers: [{
                name: "podinfod",
                image,
                imagePullPolicy: "IfNotPresent",
                command: [
                    "./podinfo", "--port=9898", "--port-metrics=9797", "--grpc-port=9999", "--grpc-service-name=podinfo",
                    "--level=info", "--random-delay=false", "--random-error=false",
                ],
                env: [{ name: "PODINFO_UI_COLOR", value: "#34577c" }],
                ports: PODINFO_PORTS.map((port) => ({ ...port, protocol: "TCP" })),
                livenessProbe: probe("/healthz"),
                readinessProbe: probe("/readyz"),
                resources: { limits: { cpu: "2000m", memory: "512Mi" }, requests: { cpu: "100m", memory: "64Mi" } },
            }],
        },
    };
}

export const PODINFO_DEPLOYMENT: DeploymentSettings = {
    minReadySeconds: 3,
    revisionHistoryLimit: 5,
    progressDeadlineSeconds: 60,
    strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0 } },
};

export const PODINFO_AUTOSCALER: AutoscalerSettings = {
    minReplicas: 2,
    maxReplicas: 4,
    metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 99 } } }],
};
