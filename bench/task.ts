/**
 * Submit → Job created latency on the local stack (issue 7's measure). A worker with Talon's real
 * activities runs in this process on a fresh task queue; each submission goes through `TalonClient.submitTask`
 * (what REST and the CLI call), and its Job is seen through a Kubernetes watch on a fresh namespace. The
 * latency is from just before the submit call to the watch event announcing the Job (both clocks local).
 * Submissions go one after another, each as soon as the previous Job exists; Jobs then finish under KWOK
 * in the background. Prints p50/p90/p99/max and the workflow's own "Job created after" timing.
 *
 *   npx tsx bench/task.ts [--runs 50] [--warmup 3] [--timeout 120]
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { BatchV1Api, CoreV1Api, Watch, type V1Job } from '@kubernetes/client-node';
import { TalonClient } from '../src/client/talon-client';
import { loadKubeConfig } from '../src/kube/config';
import { loadTalonConfig } from '../src/config/talon-config';
import { createTalonWorker } from '../workers/worker';
import { numberFlag, parseFlags } from './support/flags';
import { runMain } from './support/output';
import { percentile } from './support/stats';

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const runs = numberFlag(flags, 'runs', 50, 0, 100_000);
  const warmup = numberFlag(flags, 'warmup', 3, 0, 100_000);
  const suffix = randomBytes(3).toString('hex');
  const config = loadTalonConfig({ ...process.env, TALON_TASK_QUEUE: `talon-bench-task-${suffix}` });
  const kc = loadKubeConfig(config.kube);
  const core = kc.makeApiClient(CoreV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const namespace = `bench-task-${suffix}`;
  await core.createNamespace({ body: { metadata: { name: namespace, labels: { 'talon.io/test': 'true' } } } });

  const seen = new Map<string, number>();
  const waiters = new Map<string, (at: number) => void>();
  // A watch ends now and then (apiserver timeout, load): restart it and catch up with a LIST.
  let stopped = false;
  let current: AbortController | undefined;
  const record = (job: V1Job) => {
    const id = job.metadata?.annotations?.['talon.io/workflow-id'];
    if (!id || seen.has(id)) return;
    const at = performance.now();
    seen.set(id, at);
    waiters.get(id)?.(at);
  };
  const startWatch = async (): Promise<void> => {
    current = await new Watch(kc).watch(
      `/apis/batch/v1/namespaces/${namespace}/jobs`,
      {},
      (type: string, job: V1Job) => {
        if (type === 'ADDED') record(job);
      },
      () => {
        if (stopped) return;
        restarts += 1;
        void startWatch().then(async () => {
          for (const job of (await batch.listNamespacedJob({ namespace })).items) record(job);
        });
      },
    );
  };
  let restarts = 0;
  await startWatch();

  const worker = await createTalonWorker(config, { shutdownGraceMs: 1_000 });
  const workerDone = worker.run();
  const client = await TalonClient.connect({ address: config.temporal.address, taskQueue: config.temporal.taskQueue });
  const priorities: { task: string; priorities: Record<string, number> }[] = [
    { task: 'interpolation', priorities: { quality: 70, energy: 30 } },
    { task: 'outlier-removal', priorities: { speed: 1 } },
    { task: 'data-casting', priorities: { quality: 1, cost: 1 } },
  ];
  const latencies: number[] = [];
  const timedOut: string[] = [];
  const timeoutMs = numberFlag(flags, 'timeout', 120, 0, 86_400) * 1000;
  const inWorkflow: number[] = [];
  const ids: string[] = [];
  try {
    for (let i = 0; i < warmup + runs; i++) {
      const request = priorities[i % priorities.length]!;
      const t0 = performance.now();
      const handle = await client.submitTask({ ...request, namespace });
      const createdAt = await new Promise<number | undefined>((resolve) => {
        const known = seen.get(handle.id);
        if (known !== undefined) return resolve(known);
        const timer = setTimeout(() => resolve(undefined), timeoutMs);
        waiters.set(handle.id, (at) => {
          clearTimeout(timer);
          resolve(at);
        });
      });
      waiters.delete(handle.id);
      if (createdAt === undefined) {
        // Counted, not hidden: a submission whose Job did not appear in time. It is cancelled below.
        timedOut.push(handle.id);
        process.stderr.write(`no Job for ${handle.id} within ${timeoutMs / 1000} s\n`);
      } else if (i >= warmup) {
        latencies.push(createdAt - t0);
        ids.push(handle.id);
      }
      if ((i + 1) % 10 === 0) process.stderr.write(`${i + 1}/${warmup + runs} submitted\n`);
    }
    // The workflow's own view, once each submission has finished.
    for (const id of ids) {
      const result = await client.task(id).result();
      if (result.timings.toJobCreatedMs !== undefined) inWorkflow.push(result.timings.toJobCreatedMs);
    }
    for (const id of timedOut)
      await client
        .task(id)
        .cancel()
        .catch(() => undefined);
  } finally {
    stopped = true;
    current?.abort();
    worker.shutdown();
    await workerDone;
    await client.close();
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const wf = [...inWorkflow].sort((a, b) => a - b);
  const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
  process.stdout.write(
    [
      `submit → Job created, ${sorted.length} submissions (after ${warmup} warm-up), sequential, local stack:`,
      `  p50 ${fmt(percentile(sorted, 50))}  p90 ${fmt(percentile(sorted, 90))}  p99 ${fmt(percentile(sorted, 99))}  max ${fmt(sorted.at(-1) ?? NaN)}  min ${fmt(sorted[0] ?? NaN)}`,
      `submissions without a Job within ${timeoutMs / 1000} s: ${timedOut.length}`,
      `load average at the end: ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} (${cpus().length} cores); watch restarts: ${restarts}`,
      `workflow start → createTaskJob done (workflow clock): p50 ${fmt(percentile(wf, 50))}  p99 ${fmt(percentile(wf, 99))}`,
      '',
    ].join('\n'),
  );
}

runMain(main);
