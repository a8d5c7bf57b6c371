/** RSS: `--workflows` remediations parked in cool-down on a worker with stubbed activities; the worker process's RSS. */
import { randomBytes } from 'node:crypto';
import { alertWorkflowId } from '../../src/domain/alert';
import { loadTalonConfig } from '../../src/config/talon-config';
import { mapLimit, sleep } from '../support/async';
import { onCleanup } from '../support/cleanup';
import { numberFlag, type Flags } from '../support/flags';
import { LoadSampler, loadLine } from '../support/machine';
import { out, table } from '../support/output';
import { rawPodAlert, talonAlertOf } from './alerts';
import { startWorker, tuningArgs } from './worker';
import { bundleToFile, connectParking, terminateAll } from './workflows';

export async function rss(flags: Flags, workDir: string): Promise<void> {
  const total = numberFlag(flags, 'workflows', 1_000, 1, 20_000);
  const id = randomBytes(3).toString('hex');
  const queue = `bench-${id}`;
  const load = new LoadSampler();
  out(`\n== worker RSS with ${total} remediations in cool-down (stubbed activities, queue ${queue})`);
  out(`  ${loadLine()}`);
  const config = loadTalonConfig({ ...process.env, TALON_TASK_QUEUE: queue });
  const bundlePath = await bundleToFile(workDir);
  const tuning = tuningArgs(flags);
  if (tuning.note) out(`  ${tuning.note}`);
  const worker = await startWorker(bundlePath, queue, 'stub', process.env, tuning.args);
  const client = await connectParking(config.temporal.address, queue);
  const alerts = Array.from({ length: total }, (_, i) =>
    // One workload per alert (`p-17` would be an ordinal of workload `p`: they would join one remediation).
    talonAlertOf(rawPodAlert(`bench-${id}-${Math.floor(i / 100)}`, `p${i}`)),
  );
  const ids = alerts.map(alertWorkflowId);
  onCleanup(async () => {
    await terminateAll(client.temporal, queue, ids);
    await worker.stop();
    await client.close();
  });
  await sleep(2_000);
  const idle = await worker.memory();
  out(
    `  worker child (pid ${worker.pid}) idle, before any workflow: RSS ${(idle.rss / 2 ** 20).toFixed(0)} MiB, heap ${(idle.heapUsed / 2 ** 20).toFixed(0)} MiB`,
  );
  let t = Date.now();
  await mapLimit(alerts, 32, (a) => client.remediate(a));
  out(`  started ${total} workflows in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  t = Date.now();
  const waiting = new Set(ids);
  const deadline = Date.now() + 600_000;
  while (waiting.size > 0 && Date.now() < deadline) {
    const profiled = new Set(
      worker.timings.filter((r) => r.name === 'workloadProfile' && r.ok).map((r) => r.workflowId),
    );
    const candidates = [...waiting].filter((i) => profiled.has(i));
    await mapLimit(candidates, 16, async (wf) => {
      const state = await client.status(wf).catch(() => undefined);
      if (state?.step === 'cooldown') waiting.delete(wf);
    });
    if (waiting.size > 0) await sleep(1_000);
  }
  out(
    `  ${total - waiting.size}/${total} in step 'cooldown' (query) after ${((Date.now() - t) / 1000).toFixed(1)} s; settling 5 s`,
  );
  await sleep(5_000);
  const m = await worker.memory();
  out(
    `  worker RSS with ${total - waiting.size} in cool-down: ${(m.rss / 2 ** 20).toFixed(0)} MiB   (goal ≤ 300 MB; ` +
      `process.memoryUsage().rss of the separate worker process, which runs nothing but the worker)`,
  );
  out(
    `  peak RSS (VmHWM) ${(m.hwmKiB / 1024).toFixed(0)} MiB; V8 heap used ${(m.heapUsed / 2 ** 20).toFixed(0)} of ${(m.heapTotal / 2 ** 20).toFixed(0)} MiB; ` +
      `external ${(m.external / 2 ** 20).toFixed(0)} MiB; maxCachedWorkflows ${m.maxCachedWorkflows ?? '?'}; ≈ ${(((m.rss - idle.rss) / Math.max(1, total - waiting.size)) * (1024 / 2 ** 20)).toFixed(0)} KiB per parked workflow`,
  );
  const parked = total - waiting.size;
  table(`worker RSS, ${parked} remediations in cool-down`, [
    ['worker RSS idle', `${(idle.rss / 2 ** 20).toFixed(0)} MiB`],
    [
      `worker RSS with ${parked} in cool-down`,
      `${(m.rss / 2 ** 20).toFixed(0)} MiB (${(m.rss / 1e6).toFixed(0)} MB)`,
      `≤ 300 MB: ${m.rss <= 300e6 ? 'met' : 'MISSED'}`,
    ],
    ['worker peak RSS (VmHWM)', `${(m.hwmKiB / 1024).toFixed(0)} MiB`],
    ['V8 heap used / total', `${(m.heapUsed / 2 ** 20).toFixed(0)} / ${(m.heapTotal / 2 ** 20).toFixed(0)} MiB`],
    ['maxCachedWorkflows', String(m.maxCachedWorkflows ?? '?')],
    ['load during the run', load.stop()],
  ]);
}
