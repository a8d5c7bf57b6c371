/**
 * Assembles every activity group from injected clients (the activities-dependency-injection pattern):
 * one Kubernetes client set, one Prometheus client, one InfluxDB writer and one ONNX session per worker.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { createContractActivities, type ContractActivities } from '../activities/contract';
import { createMetricsActivities, type MetricsActivities } from '../activities/metrics';
import { createPolicyActivities, type PolicyActivities } from '../activities/policy';
import { createPredictiveActivities } from '../activities/predictive';
import type { PredictiveActivities } from '../src/contracts/predictive-watch';
import type { OperatorPolicy } from '../src/domain/autonomy';
import {
  createRemediationActivities,
  type RemediationActivities,
  type RemediationActivityDeps,
} from '../activities/remediation';
import { createRollbackActivities, type RollbackActivities } from '../activities/rollback';
import { withActionLog } from '../activities/action-log';
import { createTargetActivities, type TargetActivities } from '../activities/target';
import { createTaskActivities, type TaskActivities } from '../activities/task';
import type { GuardConfigInput } from '../src/domain/guards';
import { createKubeClients } from '../src/kube/client';
import { cachedNamespaceLabels } from '../src/kube/namespace-labels';
import { NodeCache } from '../src/kube/node-cache';
import { DEFAULT_GATHER_OPTIONS, rangeSecondsOf } from '../src/metrics/gather';
import { InfluxStore } from '../src/metrics/influx';
import { cachedNodeUsage, prometheusPodUsage } from '../src/metrics/node-usage';
import { PrometheusClient } from '../src/metrics/prometheus';
import { PrometheusRateProbe } from '../src/metrics/effects';
import { DEFAULT_METRICS_CONFIG } from '../src/metrics/queries';
import { loadTaxonomy, type LoadTaxonomyOptions } from '../src/tasks/taxonomy-store';
import { pricingConfigFromEnv, type PricingConfig } from '../src/pricing/config';
import { kubePricingNodes } from '../src/pricing/nodes';
import { OfferService } from '../src/pricing/offer-service';
import type { NodePrices } from '../src/kube/task-job';
import type { TalonConfig } from '../src/config/talon-config';
import { DEFAULT_ACTION_SETTINGS, DEFAULT_TALON_NAMESPACE, type ActionSettings } from '../src/config/defaults';
import { ruleConfig, type RuleConfigOverrides } from '../src/policy/rules';
import { readWorkloadContext } from '../src/kube/workload-context';
import type { LearningConfig } from '../src/config/learning';
import { assembleLearning, type ModelStatus } from './learning';

export type { ModelStatus } from './learning';

export interface ActivityDeps {
  readonly kubeConfig: KubeConfig;
  readonly prometheusUrl: string;
  readonly influx?: { readonly url: string; readonly token: string; readonly org: string; readonly bucket: string };
  /** Path of the ONNX policy model; without a loadable model the rule policy answers (and says why). */
  readonly modelPath?: string;
  /** Model registry, shadow challenger, decision log, exploration (./learning.ts). */
  readonly learning?: LearningConfig;
  readonly guards?: GuardConfigInput;
  /** Step of the 10-step metrics window, in seconds. */
  readonly windowStepSeconds?: number;
  /**
   * Long-lived workers keep nodes in a watch-fed cache and node usage refreshed in the background, so an
   * offloading decision costs no LIST and no Prometheus round trip. One-shot callers (`alerts replay`) don't.
   */
  readonly longLived?: boolean;
  readonly log?: (line: string) => void;
  /** Task submissions: the taxonomy file and users' registration files (default: the bundled taxonomy). */
  readonly taxonomy?: LoadTaxonomyOptions;
  /** Smart Pricing: task placement's cost share uses the current offer (user-owned nodes at the incentive). */
  readonly pricing?: PricingConfig;
  /** Rule threshold overrides (TALON_RULES). */
  readonly rules?: RuleConfigOverrides;
  /** Network ceiling, effect deadlines, offload release (TALON_NETWORK_*, TALON_EFFECT_*, TALON_OFFLOAD_*). */
  readonly actions?: ActionSettings;
  /** Starts an offload's release workflow (the worker wires its Temporal client); absent: offloads stay. */
  readonly scheduleOffloadRelease?: RemediationActivityDeps['scheduleOffloadRelease'];
  /** Told the writes counted in a budget's window after each check (the worker's gauges). */
  readonly onBudget?: (scope: string, used: number, max: number) => void;
  /** The operator policy in force (its `predictive` section drives the predictive watch); absent: the watch is off. */
  readonly policy?: () => OperatorPolicy | undefined;
  /** Talon's own namespace, never watched (TALON_NAMESPACE). */
  readonly talonNamespace?: string;
}

export interface AssembledActivities {
  readonly activities: Record<string, (...args: never[]) => Promise<unknown>>;
  /** Flushes buffered InfluxDB writes and releases the model; call on shutdown. */
  close(): Promise<void>;
}

/** The dependencies a worker assembles from Talon's configuration; `talon alerts replay` uses the same ones. */
export function activityDepsFromConfig(
  config: TalonConfig,
  kubeConfig: KubeConfig,
  log?: (line: string) => void,
): ActivityDeps {
  return {
    kubeConfig,
    prometheusUrl: config.prometheusUrl,
    influx: config.influx,
    modelPath: config.modelPath,
    learning: config.learning,
    windowStepSeconds: config.windowStepSeconds,
    guards: config.guards,
    pricing: pricingConfigFromEnv(),
    rules: config.rules,
    actions: config.actions,
    talonNamespace: config.talonNamespace,
    ...(log ? { log } : {}),
  };
}

/** The activity groups, typed, for callers that run them directly rather than register them (`talon alerts replay`). */
export interface ActivityGroups {
  readonly target: TargetActivities;
  readonly metrics: MetricsActivities;
  readonly policy: PolicyActivities;
  readonly remediation: RemediationActivities;
  /** Undoing a change that failed or made things worse (remediateAlert). */
  readonly rollback: RollbackActivities;
  /** Task submissions (deployTask). */
  readonly task: TaskActivities;
  /** Bundles and pay-as-you-go contracts (pricingContract): estimate submissions, meter task Jobs. */
  readonly contract: ContractActivities;
  /** The predictive watch's forecast rounds (predictiveWatch). */
  readonly predictive: PredictiveActivities;
  /** Absent when no model path is configured (the rules answer). */
  readonly model?: ModelStatus;
  /** Flushes buffered InfluxDB writes and releases the model. */
  close(): Promise<void>;
}

/**
 * The offer's pay-as-you-go CPU prices for placement. The service caches its pricing context (demand
 * forecast, energy, nodes) for `refreshSeconds` and rebuilds it in the background when stale, so a
 * placement costs no Prometheus round trip after the first.
 */
function pricingForPlacement(
  config: PricingConfig,
  prometheus: PrometheusClient,
  clients: ReturnType<typeof createKubeClients>,
  log: (line: string) => void,
): () => Promise<NodePrices> {
  const service = new OfferService({
    config,
    prometheus,
    nodes: kubePricingNodes(clients, config.userOwnedLabel),
    log,
  });
  return async () => {
    const { offer } = await service.offer({ kind: 'payg', cpuTimeHours: 1, vcpus: 1, memoryGBs: 1 });
    return {
      commercialPerVcpuHour: offer.priceAfterDiscount.cpu,
      userOwnedPerVcpuHour: offer.userOwnedPrice.cpu,
      userOwnedLabel: config.userOwnedLabel,
    };
  };
}

export async function createActivityGroups(deps: ActivityDeps): Promise<ActivityGroups> {
  const log = deps.log ?? (() => undefined);
  const clients = createKubeClients(deps.kubeConfig);
  let nodeCache: NodeCache | undefined;
  if (deps.longLived) {
    nodeCache = new NodeCache(deps.kubeConfig, clients, {
      onError: (err) => log(`node watch broke, restarting: ${err instanceof Error ? err.message : String(err)}`),
    });
    // Until the first LIST succeeds the actuator asks the apiserver directly, so a slow start costs nothing.
    await nodeCache.start().catch((err: unknown) => {
      log(`node cache not synced yet: ${err instanceof Error ? err.message : String(err)}`);
    });
  }
  const prometheus = new PrometheusClient({ url: deps.prometheusUrl });
  const influx = deps.influx ? new InfluxStore(deps.influx) : undefined;
  const learning = await assembleLearning({
    ...(deps.modelPath ? { modelPath: deps.modelPath } : {}),
    ...(deps.learning ? { learning: deps.learning } : {}),
    ...(influx ? { influx } : {}),
    ...(deps.longLived ? { longLived: true } : {}),
    log,
  });
  const modelStatus = learning.status;
  const gatherOptions = {
    ...DEFAULT_GATHER_OPTIONS,
    ...(deps.windowStepSeconds ? { stepSeconds: deps.windowStepSeconds } : {}),
  };
  const metrics = createMetricsActivities({
    prometheus,
    ...(influx ? { influx } : {}),
    ...(deps.windowStepSeconds ? { gather: { stepSeconds: deps.windowStepSeconds } } : {}),
  });
  // Inconsistent thresholds (TALON_RULES) stop the worker here, before it polls.
  const rules = ruleConfig(deps.rules);
  const actions = deps.actions ?? DEFAULT_ACTION_SETTINGS;
  const policy = createPolicyActivities({
    ...(learning.model ? { model: learning.model } : {}),
    ...(learning.shadow ? { shadow: learning.shadow } : {}),
    ...(learning.decisionLog ? { decisionLog: learning.decisionLog } : {}),
    exploration: learning.exploration,
    namespaceLabels: cachedNamespaceLabels(clients.core),
    rules: deps.rules ?? {},
    workloadContext: (target) => readWorkloadContext(clients, target.namespace, target.pod),
    onContextError: (target, err) =>
      log(
        `workload context of ${target.namespace}/${target.pod} unavailable: ${err instanceof Error ? err.message : String(err)}`,
      ),
  });
  const rankNodes = () => metrics.rankNodes({});
  const nodeUsage = deps.longLived ? cachedNodeUsage(rankNodes) : undefined;
  const actuation = createRemediationActivities({
    clients,
    guards: deps.guards ?? {},
    ...(nodeCache ? { nodeSource: nodeCache } : {}),
    nodeUsage: nodeUsage?.usage ?? rankNodes,
    // The same rate window as the metrics windows.
    podUsage: prometheusPodUsage(prometheus, DEFAULT_METRICS_CONFIG, rangeSecondsOf(gatherOptions)),
    networkCeilingMbps: actions.networkCeilingMbps,
    malfunction: rules.restart,
    ...(deps.scheduleOffloadRelease ? { scheduleOffloadRelease: deps.scheduleOffloadRelease } : {}),
    effects: {
      probe: new PrometheusRateProbe(prometheus, DEFAULT_METRICS_CONFIG),
      // The window's step is the scrape interval it was chosen for (5 s locally, 30 s on clusters).
      scrapeSeconds: deps.windowStepSeconds ?? 30,
      deadlineSeconds: actions.effectDeadlineSeconds,
      dataOffloadEffectFraction: actions.dataOffloadEffectFraction,
    },
    ...(deps.onBudget ? { onBudget: deps.onBudget } : {}),
  });
  const remediation = learning.decisionLog ? withActionLog(actuation, learning.decisionLog) : actuation;
  // Task submissions: taxonomy, node load (same Prometheus source as offloading), offer prices and task Jobs.
  const offers = deps.pricing ? pricingForPlacement(deps.pricing, prometheus, clients, log) : undefined;
  const task = createTaskActivities({
    clients,
    taxonomy: () => loadTaxonomy(deps.taxonomy),
    nodeUsage: nodeUsage?.usage ?? rankNodes,
    ...(offers ? { nodePrices: offers } : {}),
  });
  return {
    target: createTargetActivities({ core: clients.core }),
    metrics,
    policy,
    remediation,
    rollback: createRollbackActivities({ clients, guards: deps.guards ?? {} }),
    task,
    contract: createContractActivities({ clients, taxonomy: () => loadTaxonomy(deps.taxonomy) }),
    predictive: createPredictiveActivities({
      policy: deps.policy ?? (() => undefined),
      // Through the metrics activities' reader, on the same Prometheus client and metric names.
      usage: (request) => metrics.watchedUsage(request),
      talonNamespace: deps.talonNamespace ?? DEFAULT_TALON_NAMESPACE,
      onRound: (tick) => {
        if (tick.breaches.length > 0)
          log(`predictive watch: ${tick.breaches.length} breach(es) forecast among ${tick.forecast} series`);
      },
    }),
    ...(modelStatus ? { model: modelStatus } : {}),
    async close() {
      nodeUsage?.stop();
      await nodeCache?.stop();
      await learning.close();
      await influx?.close();
    },
  };
}

export async function createActivities(deps: ActivityDeps): Promise<AssembledActivities> {
  const groups = await createActivityGroups(deps);
  return {
    activities: {
      ...groups.target,
      ...groups.metrics,
      ...groups.policy,
      ...groups.remediation,
      ...groups.rollback,
      ...groups.task,
      ...groups.contract,
      ...groups.predictive,
    },
    close: () => groups.close(),
  };
}
