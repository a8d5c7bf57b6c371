/**
 * The workflow tier's shared set-up: the real workflows bundled once per file, a client of the local stack's
 * Temporal dev server (or the test stack's), and a worker with stubbed activities on a task queue of its
 * own, run only while a test body runs. Call {@link temporalHarness} at the top of a test file.
 */
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { loadStackConfig, stackEndpoints } from '../../src/config/local-stack';
import { bundleWorkflows } from '../../workers/bundle';

export interface TemporalHarness {
  readonly address: string;
  /** Available once the file's beforeAll has run. */
  client(): Client;
  /**
   * Runs `fn` while a worker with `activities` polls a fresh task queue (`<prefix>-<random>`), then shuts
   * the worker down whatever `fn` did.
   */
  withWorker<T>(
    prefix: string,
    activities: Record<string, (...args: never[]) => Promise<unknown>>,
    fn: (taskQueue: string) => Promise<T>,
  ): Promise<T>;
}

/** Registers the file's beforeAll/afterAll (bundle, connection) and returns the harness. */
export function temporalHarness(): TemporalHarness {
  const address = stackEndpoints(loadStackConfig()).temporalAddress;
  let bundle: WorkflowBundleWithSourceMap | undefined;
  let connection: Connection | undefined;
  let client: Client | undefined;
  beforeAll(async () => {
    bundle = await bundleWorkflows();
    connection = await Connection.connect({ address });
    client = new Client({ connection });
  });
  afterAll(async () => {
    await connection?.close();
  });
  return {
    address,
    client() {
      if (!client) throw new Error('the Temporal harness is used before its beforeAll ran');
      return client;
    },
    async withWorker(prefix, activities, fn) {
      if (!bundle) throw new Error('the Temporal harness is used before its beforeAll ran');
      const taskQueue = `${prefix}-${randomBytes(4).toString('hex')}`;
      const nativeConnection = await NativeConnection.connect({ address });
      try {
        const worker = await Worker.create({
          connection: nativeConnection,
          taskQueue,
          workflowBundle: bundle,
          activities,
        });
        return await worker.runUntil(fn(taskQueue));
      } finally {
        await nativeConnection.close();
      }
    },
  };
}
