/**
 * Assembles every activity group from injected clients (the activities-dependency-injection pattern):
 * one Kubernetes client set, one Prometheus client, one InfluxDB writer and one ONNX session per worker.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { createMetricsActivities } from '../activities/metrics';
import { createPolicyActivities } from '../activities/policy';
import { createRemediationActivities } from '../activities/remediation';
import { createTargetActivities } from '../activities/target';
import { guardConfig, type GuardConfigInput } from '../src/domain/guards';
import { KubeActuator } from '../src/kube/actions';
import { LeaseWriteBudget } from '../src/kube/budget';
import { ClusterCapabilities } from '../src/kube/capabilities';
import { createKubeClients } from '../src/kube/client';
import { InfluxStore } from '../src/metrics/influx';
import { PrometheusClient } from '../src/metrics/prometheus';
import { loadPolicyModel } from '../src/policy/model';
import type { PolicyModel } from '../src/policy/breaker';

export interface ActivityDeps {
  readonly kubeConfig: KubeConfig;
  readonly prometheusUrl: string;
  readonly influx?: { readonly url: string; readonly token: string; readonly org: string; readonly bucket: string };
  /** Path of the ONNX policy model; without a loadable model the rule policy answers (and says why). */
  readonly modelPath?: string;
  readonly guards?: GuardConfigInput;
  /** Step of the 10-step metrics window, in seconds. */
  readonly windowStepSeconds?: number;
  readonly log?: (line: string) => void;
}

export interface AssembledActivities {
  readonly activities: Record<string, (...args: never[]) => Promise<unknown>>;
  /** Flushes buffered InfluxDB writes and releases the model; call on shutdown. */
  close(): Promise<void>;
}

/** Stands in for a model that failed to load, so the breaker opens with the real reason in every decision. */
function unusableModel(reason: string): PolicyModel & { close(): Promise<void> } {
  return {
    version: 'unusable',
    decide: () => {
      throw new Error(reason);
    },
    close: async () => undefined,
  };
}

export async function createActivities(deps: ActivityDeps): Promise<AssembledActivities> {
  const log = deps.log ?? (() => undefined);
  const clients = createKubeClients(deps.kubeConfig);
  const guards = guardConfig(deps.guards ?? {});
  const talonNamespace = deps.guards?.talonNamespace ?? 'talon-system';
  const actuator = new KubeActuator(clients, {
    guards,
    budget: new LeaseWriteBudget(clients, { namespace: talonNamespace }),
    capabilities: new ClusterCapabilities(clients),
  });
  const prometheus = new PrometheusClient({ url: deps.prometheusUrl });
  const influx = deps.influx ? new InfluxStore(deps.influx) : undefined;
  let model: (PolicyModel & { close(): Promise<void> }) | undefined;
  if (deps.modelPath) {
    try {
      model = await loadPolicyModel(deps.modelPath);
      log(`policy model ${deps.modelPath} loaded`);
    } catch (err) {
      // The rules answer while the model is unusable; every decision carries the reason (via the breaker).
      const reason = `policy model ${deps.modelPath} unusable: ${err instanceof Error ? err.message : String(err)}`;
      log(`${reason}; the rule policy will answer`);
      model = unusableModel(reason);
    }
  }
  const metrics = createMetricsActivities({
    prometheus,
    ...(influx ? { influx } : {}),
    ...(deps.windowStepSeconds ? { gather: { stepSeconds: deps.windowStepSeconds } } : {}),
  });
  const policy = createPolicyActivities(model ? { model } : {});
  const remediation = createRemediationActivities({
    actuator,
    clients,
    nodeUsage: () => metrics.rankNodes({}),
  });
  return {
    activities: {
      ...createTargetActivities({ core: clients.core }),
      ...metrics,
      ...policy,
      ...remediation,
    },
    async close() {
      await influx?.close();
      await model?.close();
    },
  };
}
