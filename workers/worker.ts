/**
 * The Talon worker process: connects to Temporal, registers workflows and activities, and shuts down
 * gracefully (in-flight activities finish, nothing is lost: Temporal hands unfinished work to the next worker).
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { loadKubeConfig } from '../src/kube/config';
import { TalonMetrics } from '../src/observability/metrics';
import { activityDepsFromConfig, createActivities } from './activities';
import type { TalonConfig } from './config';
import { serveWorkerHttp, type WorkerHttp } from './http';
import { ActivityMetricsInterceptor, metricsSinks } from './telemetry';
import { FaultInjectionInterceptor } from './fault-injection';
import type { Context } from '@temporalio/activity';

export interface TalonWorker {
  readonly worker: Worker;
  readonly metrics: TalonMetrics;
  /** The /metrics, /healthz, /readyz server, when asked for. */
  readonly http?: WorkerHttp;
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

export function workflowsPath(): string {
  return require.resolve('../workflows');
}

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

export async function createTalonWorker(config: TalonConfig, overrides: TalonWorkerOptions = {}): Promise<TalonWorker> {
  const metrics = overrides.metrics ?? new TalonMetrics();
  // Bound first: a taken port fails the start before any connection or watch is open to keep the process alive.
  const current: { worker?: Worker } = {};
  const http =
    overrides.http === undefined
      ? undefined
      : await serveWorkerHttp(metrics, () => current.worker?.getState() ?? 'INITIALIZED', overrides.http);
  let connection: NativeConnection | undefined;
  let assembled: Awaited<ReturnType<typeof createActivities>> | undefined;
  let created: Worker;
  try {
    connection = await NativeConnection.connect({
      address: config.temporal.address,
      ...(config.temporal.tls !== undefined ? { tls: config.temporal.tls } : {}),
      ...(config.temporal.apiKey ? { apiKey: config.temporal.apiKey } : {}),
    });
    assembled = overrides.activities
      ? undefined
      : await createActivities({
          ...activityDepsFromConfig(config, loadKubeConfig(config.kube), (line) => process.stdout.write(`${line}\n`)),
          longLived: true,
        });
    created = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      ...(overrides.workflowBundle ? { workflowBundle: overrides.workflowBundle } : { workflowsPath: workflowsPath() }),
      activities: overrides.activities ?? assembled!.activities,
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
      ...overrides.tuning,
    });
  } catch (err) {
    // Release what was opened, so a failed start ends the process instead of leaving it half alive.
    await http?.close();
    await assembled?.close();
    await connection?.close();
    throw err;
  }
  current.worker = created;
  const openConnection = connection;
  return {
    worker: created,
    metrics,
    ...(http ? { http } : {}),
    async run() {
      try {
        await created.run();
      } finally {
        await http?.close();
        await assembled?.close();
        await openConnection.close();
      }
    },
    shutdown() {
      // SIGTERM reaches the SDK's Runtime first, which already asked the worker to drain; asking twice
      // throws IllegalStateError and turned a clean drain into a failed exit.
      if (created.getState() === 'RUNNING') created.shutdown();
    },
  };
}
