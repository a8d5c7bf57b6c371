/**
 * One Talon worker process with stubbed activities (stub-activities.ts) and the real workflows from a
 * prebuilt bundle, configured like the real one (src/config/talon-config.ts: TALON_TEMPORAL_ADDRESS,
 * TALON_TEMPORAL_NAMESPACE, TALON_TASK_QUEUE, TALON_WORKER_SHUTDOWN_GRACE_SECONDS) and shut down like
 * `talon worker`: SIGTERM drains in-flight activities, then the process exits 0.
 * Extra env: STUB_BUNDLE (file with the bundled workflow code), STUB_APPLY_MS.
 * Prints `ready <identity>` once polling.
 */
import { readFileSync } from 'node:fs';
import { loadTalonConfig } from '../../src/config/talon-config';
import { createTalonWorker } from '../../workers/worker';
import { stubActivities } from './stub-activities';

async function main(): Promise<void> {
  const config = loadTalonConfig();
  const bundlePath = process.env.STUB_BUNDLE;
  if (!bundlePath) throw new Error('STUB_BUNDLE is required');
  const worker = await createTalonWorker(config, {
    workflowBundle: { code: readFileSync(bundlePath, 'utf8') },
    activities: stubActivities(Number(process.env.STUB_APPLY_MS ?? '0')),
  });
  const done = worker.run();
  process.once('SIGTERM', () => worker.shutdown());
  process.once('SIGINT', () => worker.shutdown());
  while (worker.worker.getState() === 'INITIALIZED') await new Promise((r) => setTimeout(r, 50));
  process.stdout.write(`ready ${worker.worker.options.identity}\n`);
  await done;
  process.stdout.write('drained\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`stub worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
