/**
 * A rollback survives its worker (issue 14, gap 6): a change that cannot take effect (its new pods do not fit on
 * the only node they may run on, so the rollout stalls) fails verification and is rolled back; the worker is
 * killed with SIGKILL right after the rollback's write, before Temporal heard of it; the replacement worker's
 * retry finds the rollback's own record and writes nothing again. The Deployment is restored exactly once.
 */
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { TalonClient } from '../../src/client/talon-client';
import { loadTalonConfig } from '../../src/config/talon-config';
import type { RemediateAlertResult } from '../../src/contracts/remediate-alert';
import type { TalonAlert } from '../../src/domain/alert';
import { MEMORY_OFF } from '../../src/domain/target-memory';
import {
  createNamespace,
  createPrivateNode,
  deleteNamespace,
  deleteNode,
  runningPods,
  testKube,
  uniqueName,
  waitFor,
} from '../support/kube';
import { holdLine, killWorker, startWorkerProcess, type WorkerProcess } from '../support/worker-process';

jest.setTimeout(480_000);

const config = loadTalonConfig(process.env);
const kube = testKube(config.kube.kubeconfigPath!);
const namespace = uniqueName('it-undo');
const node = `${namespace}-tight`;
let connection: Connection;
let client: TalonClient;
const taskQueue = `crash-undo-${randomBytes(4).toString('hex')}`;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  connection = await Connection.connect({ address: config.temporal.address });
  client = await TalonClient.connect({
    client: new Client({ connection, namespace: config.temporal.namespace }),
    taskQueue,
    settings: { remediation: { maxAttempts: 1, memory: MEMORY_OFF } },
  });
  await createNamespace(kube, namespace);
});

afterAll(async () => {
  for (const w of workers) await killWorker(w.child);
  await deleteNamespace(kube, namespace);
  await deleteNode(kube, node);
  await connection?.close();
});

async function history(workflowId: string) {
  return (await client.history(workflowId)).events ?? [];
}

it('a worker killed during a rollback is replaced and the target is restored exactly once', async () => {
  // One CPU on the only node the pods may use: 600m fits, a ×1.5 template (900m) cannot start beside it.
  const toleration = await createPrivateNode(kube, node, { cpu: '1', memory: '8Gi' });
  await kube.apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: 'tight' },
      spec: {
        replicas: 1,
        // The rollout of a change that cannot fit is declared failed after 10 s: verification ends at once.
        progressDeadlineSeconds: 10,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
        selector: { matchLabels: { app: 'tight' } },
        template: {
          metadata: { labels: { app: 'tight' }, annotations: { 'kwok.x-k8s.io/usage-cpu': '580m' } },
          spec: {
            nodeSelector: { 'kubernetes.io/hostname': node },
            tolerations: [toleration],
            containers: [
              {
                name: 'app',
                image: 'registry.example/app:1',
                resources: { requests: { cpu: '600m' }, limits: { cpu: '600m' } },
              },
            ],
          },
        },
      },
    },
  });
  const pod = await waitFor('the pod', 60_000, async () => (await runningPods(kube, namespace, 'tight'))[0]);
  const before = await kube.apps.readNamespacedDeployment({ namespace, name: 'tight' });

  const first = await startWorkerProcess(taskQueue, { TALON_FAULT_HOLD: 'rollbackPolicy:after:600' });
  workers.push(first);
  const alert: TalonAlert = {
    source: 'api',
    alertName: 'TalonPodCpuNearLimit',
    status: 'firing',
    fingerprint: randomBytes(8).toString('hex'),
    target: { kind: 'pod', namespace, pod: pod.metadata!.name!, container: 'app' },
    labels: { alertname: 'TalonPodCpuNearLimit', talon_resource: 'cpu' },
    annotations: {},
    startsAt: new Date().toISOString(),
  };
  const { workflowId } = await client.remediate(alert);
  await first.said(holdLine('rollbackPolicy', 'after', workflowId), 240_000).catch(async (err: Error) => {
    const state = await client.status(workflowId).catch(() => undefined);
    throw new Error(`${err.message}\nworkflow state: ${JSON.stringify(state)}`);
  });
  // The kill lands after the rollback's write: the template moved twice (the change, its undo).
  const written = await kube.apps.readNamespacedDeployment({ namespace, name: 'tight' });
  expect(written.metadata!.generation).toBe(before.metadata!.generation! + 2);
  await killWorker(first.child);
  workers.push(await startWorkerProcess(taskQueue));

  const result = (await client.temporal.workflow.getHandle(workflowId).result()) as RemediateAlertResult;
  const attempt = result.attempts[0]!;
  expect(attempt).toMatchObject({ policy: 'cpu_scale_up', applied: true, verified: false });
  expect(attempt.rolledBack).toMatch(/ProgressDeadlineExceeded.*was rolled back by this operation before/);

  // Restored exactly once: one more generation than the change, the original values, the rollback's record.
  const after = await kube.apps.readNamespacedDeployment({ namespace, name: 'tight' });
  expect(after.metadata!.generation).toBe(before.metadata!.generation! + 2);
  expect(after.spec!.template.spec!.containers[0]!.resources).toEqual({
    requests: { cpu: '600m' },
    limits: { cpu: '600m' },
  });
  const record = JSON.parse(after.metadata!.annotations!['talon.io/operation']!) as { id: string; undoes: string };
  expect(record.id).toBe(`${record.undoes}/rollback`);
  const events = await history(workflowId);
  const scheduled = events.filter(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'rollbackPolicy',
  );
  expect(scheduled).toHaveLength(1);
  const started = events.filter(
    (e) => e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === scheduled[0]!.eventId?.toString(),
  );
  // The killed attempt was retried by the new worker, which found its own record.
  expect(started.at(-1)?.activityTaskStartedEventAttributes?.attempt).toBeGreaterThanOrEqual(2);
  // The restored Deployment runs its original pod shape again.
  const pods = await waitFor('the restored rollout', 120_000, async () => {
    const running = await runningPods(kube, namespace, 'tight');
    return running.length === 1 &&
      running[0]!.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
      ? running
      : undefined;
  });
  expect(pods[0]!.spec!.containers[0]!.resources).toEqual({ requests: { cpu: '600m' }, limits: { cpu: '600m' } });
});
