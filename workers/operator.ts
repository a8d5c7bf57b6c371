/**
 * The operator policy in a worker process: the policy file's store (loaded at start, reloaded on change, its
 * version and reloads on /metrics), the operator activities over Temporal visibility and the Kubernetes API, and
 * the storm brake's gauges, kept fresh while a scope is engaged even when no remediation asks (so a released
 * brake shows as released).
 */
import type { Client } from '@temporalio/client';
import { liveBrakeSources } from '../activities/brake-sources';
import { createOperatorActivities, type OperatorActivityDeps } from '../activities/operator';
import type { PolicyStore } from '../src/config/policy-file';
import type { TalonConfig } from '../src/config/talon-config';
import type { BrakeScope, BrakeState } from '../src/domain/autonomy';
import { DEFAULT_STORM_BRAKE } from '../src/domain/autonomy';
import type { BrakeCheckInput, OperatorActivities } from '../src/contracts/operator';
import type { KubeClients } from '../src/kube/client';
import { EventRecorder } from '../src/kube/events';
import type { TalonMetrics } from '../src/observability/metrics';
import { startPredictiveWatch } from '../src/client/predictive-watch';
export { openPolicyStore } from '../src/policy/policy-store';

/** Scopes one brake evaluation looked at, and whether each is engaged. */
export function brakeScopes(
  state: BrakeState,
  input: Pick<BrakeCheckInput, 'kind' | 'namespace'>,
): Map<BrakeScope, boolean> {
  const scopes = new Map<BrakeScope, boolean>();
  const engaged = new Set<string>([...state.trips.map((t) => t.scope), ...state.latched.map((l) => l.scope)]);
  scopes.set('cluster', engaged.has('cluster'));
  if (input.kind === 'node') scopes.set('nodes', engaged.has('nodes'));
  if (input.kind === 'pod' && input.namespace) {
    const scope: BrakeScope = `namespace/${input.namespace}`;
    scopes.set(scope, engaged.has(scope));
  }
  return scopes;
}

export interface WorkerOperator {
  readonly activities: OperatorActivities;
  readonly store?: PolicyStore;
  close(): void;
}

export function createWorkerOperator(options: {
  config: TalonConfig;
  metrics: TalonMetrics;
  temporal: Client;
  clients: KubeClients;
  store: PolicyStore | undefined;
  /** How often engaged scopes are re-evaluated for the gauges (ms); 0: never. */
  refreshMs?: number;
  /** How often the policy is looked at for a predictive watch to start (ms); 0: never. */
  predictiveCheckMs?: number;
  log?: (line: string) => void;
}): WorkerOperator {
  const { config, metrics, temporal, clients, store } = options;
  const log = options.log ?? (() => undefined);
  const engaged = new Map<BrakeScope, BrakeCheckInput>();
  const onBrake: OperatorActivityDeps['onBrake'] = (state, input) => {
    metrics.remediationsRunning.set(state.counts.remediations);
    for (const [scope, on] of brakeScopes(state, input)) {
      metrics.stormBrakeEngaged.set({ scope }, on ? 1 : 0);
      if (on)
        engaged.set(scope, {
          kind: input.kind,
          ...(input.namespace ? { namespace: input.namespace } : {}),
          config: input.config,
        });
      else engaged.delete(scope);
    }
  };
  const activities = createOperatorActivities({
    policy: () => store?.current(),
    talonNamespace: config.talonNamespace,
    taskQueue: config.temporal.taskQueue,
    brake: liveBrakeSources(temporal.workflow, clients, config.talonNamespace),
    events: new EventRecorder(clients, {
      ...(config.temporalUiUrl ? { temporalUiUrl: config.temporalUiUrl } : {}),
      temporalNamespace: config.temporal.namespace,
    }),
    onBrake,
  });
  const every = options.refreshMs ?? 15_000;
  const timer =
    every > 0
      ? setInterval(() => {
          // Only scopes last seen engaged: once released, no remediation may ask again to say so.
          for (const input of new Set(engaged.values())) {
            const config = store?.current().stormBrake ?? input.config ?? DEFAULT_STORM_BRAKE;
            activities.checkStormBrake({ ...input, config }).catch(() => undefined);
          }
        }, every)
      : undefined;
  timer?.unref();
  const watch = store ? keepPredictiveWatch(store, temporal, config.temporal.taskQueue, log) : undefined;
  const checkEvery = options.predictiveCheckMs ?? 5_000;
  const watchTimer = watch && checkEvery > 0 ? setInterval(watch, checkEvery) : undefined;
  watchTimer?.unref();
  if (watch) watch();
  return {
    activities,
    ...(store ? { store } : {}),
    close() {
      if (timer) clearInterval(timer);
      if (watchTimer) clearInterval(watchTimer);
      store?.close();
    },
  };
}

/**
 * Starts the task queue's predictive watch whenever a policy version that enables it comes into force (at start
 * and after a reload); the watch ends itself once a policy disables it. A start that fails (Temporal unavailable)
 * is tried again at the next check.
 */
export function keepPredictiveWatch(
  store: Pick<PolicyStore, 'current'>,
  temporal: Client,
  taskQueue: string,
  log: (line: string) => void,
  start: typeof startPredictiveWatch = startPredictiveWatch,
): () => void {
  let handled: string | undefined;
  let pending = false;
  return () => {
    const policy = store.current();
    if (pending || policy.version === handled) return;
    handled = policy.version;
    if (!policy.predictive.enabled) return;
    pending = true;
    start(temporal, taskQueue)
      .then((result) =>
        log(`predictive watch ${result === 'started' ? 'started' : 'already running'} (policy ${policy.version})`),
      )
      .catch((err: unknown) => {
        handled = undefined;
        log(`predictive watch not started, trying again: ${err instanceof Error ? err.message : String(err)}`);
      })
      .finally(() => {
        pending = false;
      });
  };
}
