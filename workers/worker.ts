/**
 * The Talon worker process: connects to Temporal, registers workflows and activities, and shuts down
 * gracefully (in-flight activities finish, nothing is lost: Temporal hands unfinished work to the next worker).
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { loadKubeConfig } from '../src/kube/config';
import { activityDepsFromConfig, createActivities } from './activities';
import type { TalonConfig } from './config';

export interface TalonWorker {
  readonly worker: Worker;
  run(): Promise<void>;
  shutdown(): void;
}

export function workflowsPath(): string {
  return require.resolve('../workflows');
}

export async function createTalonWorker(
  config: TalonConfig,
  overrides: Partial<Pick<WorkerOptions, 'workflowBundle' | 'activities'>> & { shutdownGraceMs?: number } = {},
): Promise<TalonWorker> {
  const connection = await NativeConnection.connect({
    address: config.temporal.address,
    ...(config.temporal.tls !== undefined ? { tls: config.temporal.tls } : {}),
    ...(config.temporal.apiKey ? { apiKey: config.temporal.apiKey } : {}),
  });
  const assembled = overrides.activities
    ? undefined
    : await createActivities({
        ...activityDepsFromConfig(config, loadKubeConfig(config.kube), (line) => process.stdout.write(`${line}\n`)),
        longLived: true,
      });
  const activities = overrides.activities ?? assembled!.activities;
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...(overrides.workflowBundle ? { workflowBundle: overrides.workflowBundle } : { workflowsPath: workflowsPath() }),
    activities,
    shutdownGraceTime: overrides.shutdownGraceMs ?? config.worker.shutdownGraceSeconds * 1000,
  });
  return {
    worker,
    async run() {
      try {
        await worker.run();
      } finally {
        await assembled?.close();
        await connection.close();
      }
    },
    shutdown() {
      // SIGTERM reaches the SDK's Runtime first, which already asked the worker to drain; asking twice
      // throws IllegalStateError and turned a clean drain into a failed exit.
      if (worker.getState() === 'RUNNING') worker.shutdown();
    },
  };
}
