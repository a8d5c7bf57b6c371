/**
 * The Talon worker process: connects to Temporal, registers workflows and activities, and shuts down
 * gracefully (in-flight activities finish, nothing is lost: Temporal hands unfinished work to the next worker).
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createIntakeActivities } from '../activities/intake';
import { nullOperatorActivities } from '../activities/operator';
import { loadKubeConfig } from '../src/kube/config';
import { TalonMetrics } from '../src/observability/metrics';
import { activityDepsFromConfig, createActivities } from './activities';
import { offloadReleaseStarter } from '../src/client/offload-release';
import type { TalonConfig } from '../src/config/talon-config';
import { serveWorkerHttp, type WorkerHttp } from './http';
import { ActivityMetricsInterceptor, metricsSinks } from './telemetry';
import { FaultInjectionInterceptor } from './fault-injection';
import { workflowsPath } from './workflows-path';
import { createWorkerOperator, openPolicyStore, type WorkerOperator } from './operator';
import { createKubeClients } from '../src/kube/client';
import type { Context } from '@temporalio/activity';
import type { PolicyStore } from '../src/config/policy-file';

export interface TalonWorker {
  readonly worker: Worker;
  readonly metrics: TalonMetrics;
  /** The /metrics, /healthz, /readyz server, when asked for. */
  readonly http?: WorkerHttp;
  /** The operator policy file this worker reads (TALON_POLICY_FILE), reloaded on change. */
  readonly policy?: PolicyStore;
  run(): Promise<void>;
  shutdown(): void;
}

export interface TalonWorkerOptions extends Partial<Pick<WorkerOptions, 'workflowBundle' | 'activities'>> {
  shutdownGraceMs?: number;
  /** Shared with a webhook in the same process (`talon run`); a fresh registry otherwise. */
  metrics?: TalonMetrics;
  /** Serve /metrics, /healthz and /readyz here (port 0: any free port). */
  http?: { host: string; port: number };
  tuning?: WorkerTuning;
}

export { workflowsPath } from './workflows-path';

/** Worker knobs a deployment (or the benchmark) may set; unset ones keep the SDK's defaults. */
export type WorkerTuning = Partial<
  Pick<
    WorkerOptions,
    | 'maxCachedWorkflows'
    | 'maxConcurrentWorkflowTaskExecutions'
    | 'maxConcurrentActivityTaskExecutions'
    | 'workflowTaskPollerBehavior'
    | 'activityTaskPollerBehavior'
    | 'nonStickyToStickyPollRatio'
  >
>;

/**
 * The SDK sizes its workflow cache from the heap limit, which on a large node means thousands of cached
 * remediations and gigabytes of RSS (4.6 GiB measured with 3,000); Talon bounds it instead. Concurrent workflow
 * tasks may not exceed the cache.
 */
export function cacheBound(maxCachedWorkflows: number): WorkerTuning {
  return {
    maxCachedWorkflows,
    maxConcurrentWorkflowTaskExecutions: maxCachedWorkflows === 0 ? 40 : Math.max(2, Math.min(40, maxCachedWorkflows)),
  };
}

/** A caller's bundle, else the prebuilt one the configuration names, else bundle the workflow code now. */
function workflowSource(
  config: TalonConfig,
  overrides: TalonWorkerOptions,
): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (overrides.workflowBundle) return { workflowBundle: overrides.workflowBundle };
  if (config.worker.workflowBundlePath) return { workflowBundle: { codePath: config.worker.workflowBundlePath } };
  return { workflowsPath: workflowsPath() };
}

export async function createTalonWorker(config: TalonConfig, overrides: TalonWorkerOptions = {}): Promise<TalonWorker> {
  const metrics = overrides.metrics ?? new TalonMetrics();
  // Bound first: a taken port fails the start before any connection or watch is open to keep the process alive.
  const current: { worker?: Worker } = {};
  const http =
    overrides.http === undefined
      ? undefined
      : await serveWorkerHttp(metrics, () => current.worker?.getState() ?? 'INITIALIZED', overrides.http);
  let connection: NativeConnection | undefined;
  // The alert intake hands queued alerts on with client calls (signal-with-start), on a client connection.
  let clientConnection: Connection | undefined;
  let assembled: Awaited<ReturnType<typeof createActivities>> | undefined;
  let operator: WorkerOperator | undefined;
  let created: Worker;
  const log = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  try {
    const endpoint = {
      address: config.temporal.address,
      ...(config.temporal.tls !== undefined ? { tls: config.temporal.tls } : {}),
      ...(config.temporal.apiKey ? { apiKey: config.temporal.apiKey } : {}),
    };
    connection = await NativeConnection.connect(endpoint);
    clientConnection = await Connection.connect(endpoint);
    const temporal = new Client({ connection: clientConnection, namespace: config.temporal.namespace });
    const intake = createIntakeActivities({
      temporal,
      concurrency: config.worker.intakeDispatchConcurrency,
      onDispatched: (r) => {
        metrics.intakeDispatched.inc({ result: 'started_or_signalled' }, r.startedOrSignalled);
        metrics.intakeDispatched.inc({ result: 'resolved_signalled' }, r.resolvedSignalled);
        metrics.intakeDispatched.inc({ result: 'no_workflow' }, r.noWorkflow);
        metrics.intakeDispatched.inc({ result: 'dropped' }, r.dropped.length);
      },
    });
    if (!overrides.activities) {
      // The operator policy (policy file, storm brake, Events) comes with the real activities; a caller's stubbed
      // ones run the workflows' legacy path (their operator activities are not registered).
      const kubeConfig = loadKubeConfig(config.kube);
      const store = await openPolicyStore(config, metrics, log);
      operator = createWorkerOperator({
        config,
        metrics,
        temporal,
        clients: createKubeClients(kubeConfig),
        store,
        log,
      });
      assembled = await createActivities({
        ...activityDepsFromConfig(config, kubeConfig, log),
        policy: () => store?.current(),
        longLived: true,
        onBudget: (scope, used, max) => {
          metrics.writeBudgetUsed.set({ scope }, used);
          metrics.writeBudgetMax.set({ scope }, max);
        },
        scheduleOffloadRelease: offloadReleaseStarter(temporal, config.temporal.taskQueue, {
          releaseAfterSeconds: config.actions.offloadReleaseAfterSeconds,
          recoveredBelow: config.actions.offloadRecoveredBelow,
          checkEverySeconds: config.actions.offloadCheckEverySeconds,
        }),
      });
    }
    created = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      ...workflowSource(config, overrides),
      // Every worker serves the intake, also with a caller's activities (stubbed ones in tests and benchmarks).
      // The operator activities are local activities of the alert workflows: a caller's activities get the null
      // ones (no policy file, no brake, no Events) unless they bring their own.
      activities: {
        ...intake,
        ...(overrides.activities
          ? { ...nullOperatorActivities(), ...overrides.activities }
          : { ...assembled!.activities, ...operator!.activities }),
      },
      sinks: metricsSinks(metrics),
      interceptors: {
        activity: [
          (ctx) => ({ inbound: new ActivityMetricsInterceptor(ctx, metrics) }),
          ...(config.worker.faultHolds.length > 0
            ? [
                (ctx: Context) => ({
                  inbound: new FaultInjectionInterceptor(ctx, config.worker.faultHolds, (line) =>
                    process.stdout.write(`${line}\n`),
                  ),
                }),
              ]
            : []),
        ],
      },
      shutdownGraceTime: overrides.shutdownGraceMs ?? config.worker.shutdownGraceSeconds * 1000,
      ...cacheBound(config.worker.maxCachedWorkflows),
      ...overrides.tuning,
    });
  } catch (err) {
    // Release what was opened, so a failed start ends the process instead of leaving it half alive.
    await http?.close();
    operator?.close();
    await assembled?.close();
    await connection?.close();
    await clientConnection?.close();
    throw err;
  }
  current.worker = created;
  const openConnection = connection;
  const openClientConnection = clientConnection;
  return {
    worker: created,
    metrics,
    ...(http ? { http } : {}),
    ...(operator?.store ? { policy: operator.store } : {}),
    async run() {
      try {
        await created.run();
      } finally {
        operator?.close();
        await http?.close();
        await assembled?.close();
        await openConnection.close();
        await openClientConnection.close();
      }
    },
    shutdown() {
      // SIGTERM reaches the SDK's Runtime first, which already asked the worker to drain; asking twice
      // throws IllegalStateError and turned a clean drain into a failed exit.
      if (created.getState() === 'RUNNING') created.shutdown();
    },
  };
}
