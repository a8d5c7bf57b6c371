/**
 * A contract's metering survives a worker crash without counting anything twice: a real worker process is
 * held by TALON_FAULT_HOLD right after `meterTaskJobs` read the task's Jobs (before Temporal heard of it)
 * and SIGKILLed; a fresh worker retries the metering and the contract charges each Job exactly once, as
 * the apiserver's Jobs and the workflow's history show.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { BatchV1Api } from '@kubernetes/client-node';
import { ContractClient } from '../../src/client/pricing';
import { TalonClient } from '../../src/client/talon-client';
import type { ContractTerms } from '../../src/domain/pricing/metering';
import { contractWorkflowId } from '../../src/contracts/pricing-contract';
import { taskIdLabelValue } from '../../src/contracts/deploy-task';
import { repoRoot } from '../../src/config/repo-root';
import { loadTalonConfig } from '../../src/config/talon-config';
import { createNamespace, deleteNamespace, testKube, uniqueName, waitFor } from '../support/kube';

jest.setTimeout(300_000);

const taskQueue = `pricing-crash-${randomBytes(4).toString('hex')}`;
const config = loadTalonConfig({ ...process.env, TALON_TASK_QUEUE: taskQueue });
const kube = testKube(config.kube.kubeconfigPath!);
const batch = kube.kc.makeApiClient(BatchV1Api);
const namespace = uniqueName('it-pricing-crash');
const workers: ChildProcess[] = [];
let client: TalonClient;

/** A real worker process (node with tsx's loader, so SIGKILL hits the worker itself); resolves once polling. */
async function startWorker(
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; said(text: string, ms: number): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts', 'worker'], {
    cwd: repoRoot(),
    env: { ...process.env, TALON_TASK_QUEUE: taskQueue, TALON_WORKER_METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  workers.push(child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const said = async (text: string, ms: number): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!output.includes(text)) {
      if (Date.now() > deadline) throw new Error(`worker did not say "${text}" in ${ms} ms:\n${output.slice(-2000)}`);
      if (child.exitCode !== null) throw new Error(`worker exited before saying "${text}":\n${output.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await said('worker polling task queue', 120_000);
  return { child, said };
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

beforeAll(async () => {
  client = await TalonClient.connect({ address: config.temporal.address, taskQueue });
  await createNamespace(kube, namespace);
});

afterAll(async () => {
  for (const w of workers) await kill(w);
  await deleteNamespace(kube, namespace);
  await client?.close();
});

it('a worker killed mid-metering: the retry charges each Job once', async () => {
  const held = await startWorker({ TALON_FAULT_HOLD: 'meterTaskJobs:after:120' });
  const contracts = new ContractClient(client.temporal, taskQueue);
  const contractId = uniqueName('it-crash');
  const terms: ContractTerms = {
    kind: 'bundle',
    bundle: 'basic',
    vcpuHours: 100,
    ramGbHours: 400,
    maxSimultaneousVcpus: 2,
    pricePerVcpuHour: 0.08,
    pricePerGbHour: 0.009,
    userOwnedIncentivePercent: 15,
  };
  const contract = await contracts.buy({ contractId, terms, namespace });
  const submitted = await contract.submit({
    task: 'interpolation',
    priorities: { quality: 70, energy: 30 },
    settings: { maxAttempts: 1 },
  });
  // The Jobs were read; the activity's answer has not reached Temporal.
  await held.said('holding meterTaskJobs after its body', 120_000);
  await kill(held.child);
  await startWorker();

  const status = await waitFor(
    'the retried metering',
    180_000,
    async () => {
      const s = await contract.status();
      return s.tasks.length === 1 ? s : undefined;
    },
    1_000,
  );
  const jobs = (
    await batch.listNamespacedJob({
      namespace,
      labelSelector: `talon.io/task-id=${taskIdLabelValue(submitted.taskId)}`,
    })
  ).items;
  expect(jobs).toHaveLength(1);
  expect(status.jobsMetered).toBe(1);
  expect(status.recentCharges.map((c) => c.uid)).toEqual([jobs[0]!.metadata!.uid]);
  const c = status.recentCharges[0]!;
  expect(status.used.vcpuHours).toBeCloseTo(c.vcpuHours, 15);
  expect(status.tasks[0]).toMatchObject({ jobs: 1 });

  // History: the metering ran twice (the kill, then the retry) and completed once.
  const events = (await client.history(contractWorkflowId(contractId))).events ?? [];
  const scheduled = events.filter(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'meterTaskJobs',
  );
  expect(scheduled).toHaveLength(1);
  const id = String(scheduled[0]!.eventId);
  const started = events.filter((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === id);
  const completed = events.filter((e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === id);
  expect(started.at(-1)?.activityTaskStartedEventAttributes?.attempt).toBeGreaterThanOrEqual(2);
  expect(completed).toHaveLength(1);
  await contract.close('test done');
});
