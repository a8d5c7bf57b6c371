/**
 * The spine of Talon on the real local stack: a pod's simulated CPU rises → Prometheus rule fires →
 * Alertmanager notifies the webhook → a remediateAlert workflow starts in Temporal → its activity reads
 * that pod from the KWOK apiserver; the load falls → the alert resolves → the workflow ends `resolved`.
 */
import { randomBytes } from 'node:crypto';
import { TalonClient } from '../../src/client/talon-client';
import { TalonMetrics } from '../../src/observability/metrics';
import { parseQuantity } from '../../src/domain/quantity';
import { MEMORY_OFF } from '../../src/domain/target-memory';
import type { RemediateAlertResult } from '../../src/contracts/remediate-alert';
import { startWebhookServer, type RunningWebhook } from '../../src/webhook/server';
import { loadTalonConfig } from '../../src/config/talon-config';
import { createTalonWorker, type TalonWorker } from '../../workers/worker';
import {
  createLoadedDeployment,
  createNamespace,
  deleteNamespace,
  runningPods,
  setPodCpuUsage,
  testKube,
  uniqueName,
  waitFor,
} from '../support/kube';

jest.setTimeout(240_000);

const config = loadTalonConfig({ ...process.env, TALON_TASK_QUEUE: `talon-it-${randomBytes(4).toString('hex')}` });
const kube = testKube(config.kube.kubeconfigPath!);
const namespace = uniqueName('it-slice');

let worker: TalonWorker;
let workerDone: Promise<void>;
let client: TalonClient;
let webhook: RunningWebhook;

beforeAll(async () => {
  worker = await createTalonWorker(config, { shutdownGraceMs: 1_000 });
  workerDone = worker.run();
  client = await TalonClient.connect({
    address: config.temporal.address,
    taskQueue: config.temporal.taskQueue,
    // The test awaits the episode's result: no watching for a re-fire afterwards.
    settings: { remediation: { memory: MEMORY_OFF } },
  });
  webhook = await startWebhookServer(client, new TalonMetrics({ defaultMetrics: false }), {
    host: config.webhook.host,
    port: config.webhook.port,
    bodyLimit: config.webhook.bodyLimit,
    auth: { bearerToken: config.webhook.bearerToken! },
  });
  await createNamespace(kube, namespace);
});

afterAll(async () => {
  await deleteNamespace(kube, namespace);
  await webhook?.close();
  await client?.close();
  worker?.shutdown();
  await workerDone;
});

it('remediates a real alert end to end: CPU rises → Prometheus → Alertmanager → webhook → workflow → change applied and verified → alert resolves', async () => {
  await createLoadedDeployment(kube, namespace, 'web', { usageCpu: '50m', limitCpu: '500m' });
  const pod = await waitFor('the pod to run', 60_000, async () => (await runningPods(kube, namespace, 'web'))[0]);
  const podName = pod.metadata!.name!;

  const raisedAt = Date.now();
  await setPodCpuUsage(kube, namespace, podName, '490m');

  const started = await waitFor(
    'a remediateAlert workflow for the pod',
    150_000,
    async () =>
      (await client.list(`TalonNamespace = "${namespace}"`)).find((w) =>
        w.target?.startsWith(`${namespace}/${podName}`),
      ),
    2_000,
  );
  expect(started.alertName).toBe('TalonPodCpuNearLimit');
  // Keyed by the workload, not the pod: every pod of Deployment web joins this one remediation.
  expect(started.workflowId).toBe(`remediate/${namespace}/web`);
  process.stdout.write(`alert → workflow in ${((Date.now() - raisedAt) / 1000).toFixed(1)} s\n`);

  const result = (await client.temporal.workflow.getHandle(started.workflowId).result()) as RemediateAlertResult;
  process.stdout.write(
    `outcome ${result.outcome} after ${((Date.now() - raisedAt) / 1000).toFixed(1)} s: ${JSON.stringify(result.attempts)}\n`,
  );
  expect(result.outcome).toBe('resolved');
  const first = result.attempts[0]!;
  expect(first).toMatchObject({ applied: true, verified: true });

  // The change is really in the cluster, and matches what the workflow says it did.
  const deployment = await kube.apps.readNamespacedDeployment({ namespace, name: 'web' });
  const container = deployment.spec!.template.spec!.containers[0]!;
  if (first.policy === 'cpu_scale_up') {
    expect(parseQuantity(String(container.resources!.limits!.cpu)).cmp(parseQuantity('500m'))).toBeGreaterThan(0);
  } else if (first.policy === 'replica_scale_up') {
    expect(deployment.spec!.replicas).toBeGreaterThan(1);
  } else if (first.policy === 'task_offloading') {
    expect(JSON.stringify(deployment.spec!.template.spec!.affinity)).toContain('kubernetes.io/hostname');
  } else {
    throw new Error(`unexpected first policy ${first.policy}`);
  }
  const [closed] = await client.list(`WorkflowId = "${started.workflowId}"`);
  expect(closed?.outcome).toBe('resolved');
  expect(closed?.policies).toContain(first.policy);
});
