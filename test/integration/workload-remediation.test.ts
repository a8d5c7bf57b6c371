/**
 * One incident, one remediation, on the real local stack (issue 14, gap 0): a Deployment with two pods at 90 % of
 * a 500m CPU limit (the demo's talon-demo/web) has one alert per pod; Alertmanager (grouping by pod) posts them to
 * the webhook as two notifications; both join ONE remediation of the Deployment, which changes it exactly once
 * (×magnitude), never twice (500m → 945m → 1787m was the bug).
 *
 * The two notifications are posted by the test, the way Alertmanager sends them, so both arrive before the change:
 * left to Prometheus, the pods' series start a scrape apart, the first alert's change can roll both pods out before
 * the second alert fires, and then there is only one alert to join (alert-slice.test.ts covers the Prometheus
 * path). Prometheus' own alerts for the same pods may arrive too; they join the same remediation.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { TalonClient } from '../../src/client/talon-client';
import type { RemediationState } from '../../src/contracts/alert-episode';
import { parseQuantity } from '../../src/domain/quantity';
import { TalonMetrics } from '../../src/observability/metrics';
import { startWebhookServer, type RunningWebhook } from '../../src/webhook/server';
import { loadTalonConfig } from '../../src/config/talon-config';
import { createTalonWorker, type TalonWorker } from '../../workers/worker';
import {
  createLoadedDeployment,
  createNamespace,
  deleteNamespace,
  runningPods,
  testKube,
  uniqueName,
  waitFor,
} from '../support/kube';

jest.setTimeout(300_000);

const config = loadTalonConfig({ ...process.env, TALON_TASK_QUEUE: `talon-it-${randomBytes(4).toString('hex')}` });
const kube = testKube(config.kube.kubeconfigPath!);
const namespace = uniqueName('it-workload');

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
    // Long enough for both pods' alerts to arrive during the cool-down; no lingering memory (gap 5) needed here.
    settings: { remediation: { cooldown: { defaultSeconds: 60, minSeconds: 30, maxSeconds: 120, historyFactor: 1 } } },
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

/** Posts one pod's alert to the webhook as Alertmanager does (one notification per group, grouped by pod). */
async function notify(pod: string, status: 'firing' | 'resolved'): Promise<number> {
  const labels = {
    alertname: 'TalonPodCpuNearLimit',
    namespace,
    pod,
    container: 'app',
    talon_scope: 'pod',
    talon_resource: 'cpu',
    severity: 'warning',
  };
  const response = await fetch(`http://127.0.0.1:${(webhook.server.address() as AddressInfo).port}/api/alerts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${config.webhook.bearerToken!}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      version: '4',
      groupKey: `{}:{pod="${pod}"}`,
      status,
      receiver: 'talon',
      groupLabels: { pod },
      commonLabels: labels,
      commonAnnotations: {},
      externalURL: 'http://alertmanager.test',
      alerts: [
        {
          status,
          labels,
          annotations: {},
          startsAt: new Date(Date.now() - 60_000).toISOString(),
          ...(status === 'resolved' ? { endsAt: new Date().toISOString() } : {}),
          fingerprint: createHash('sha256').update(pod).digest('hex').slice(0, 16),
        },
      ],
    }),
  });
  return response.status;
}

it('joins the alerts of both pods of one Deployment into one remediation that changes it exactly once', async () => {
  await createLoadedDeployment(kube, namespace, 'web', { usageCpu: '450m', limitCpu: '500m', replicas: 2 });
  const pods = await waitFor('two running pods', 60_000, async () => {
    const running = await runningPods(kube, namespace, 'web');
    return running.length === 2 ? running : undefined;
  });
  const podNames = pods.map((p) => p.metadata!.name!).sort();
  const before = await kube.apps.readNamespacedDeployment({ namespace, name: 'web' });
  const workflowId = `remediate/${namespace}/web`;

  // Alertmanager groups by pod: one notification per pod, sent at the same moment.
  const posted = await Promise.all(podNames.map((pod) => notify(pod, 'firing')));
  expect(posted).toEqual([202, 202]);
  const joined = await waitFor(
    'both pods’ alerts in the one remediation',
    180_000,
    async () => {
      const state = await client.status(workflowId).catch(() => undefined);
      return state && (state.pods ?? []).length >= 2 ? state : undefined;
    },
    2_000,
  );
  expect(joined.workflowId).toBe(workflowId);
  expect([...joined.pods!].sort()).toEqual(podNames);
  // Once the change is made the rollout replaces both pods: their alerts resolve, as Alertmanager would say.
  await waitFor('the change applied', 120_000, async () => {
    const state = await client.status(workflowId).catch(() => undefined);
    return state?.attempts.some((a) => a.applied) ? true : undefined;
  });
  expect(await Promise.all(podNames.map((pod) => notify(pod, 'resolved')))).toEqual([202, 202]);

  const done: RemediationState = await waitFor(
    'the remediation’s outcome',
    240_000,
    async () => {
      const state = await client.status(workflowId).catch(() => undefined);
      return state?.outcome ? state : undefined;
    },
    2_000,
  );
  process.stdout.write(`one remediation for ${podNames.join(', ')}: ${JSON.stringify(done.attempts)}\n`);
  expect(done.outcome).toBe('resolved');
  const applied = done.attempts.filter((a) => a.applied);
  expect(applied).toHaveLength(1);
  expect(applied[0]).toMatchObject({ verified: true });

  // Judged by effect: the Deployment's template moved once, by the one attempt's magnitude.
  const after = await kube.apps.readNamespacedDeployment({ namespace, name: 'web' });
  expect(after.metadata!.generation).toBe(before.metadata!.generation! + 1);
  const first = applied[0]!;
  if (first.policy === 'cpu_scale_up') {
    const limit = parseQuantity(String(after.spec!.template.spec!.containers[0]!.resources!.limits!.cpu));
    expect(Math.abs(limit.asApproximateFloat64() - 0.5 * first.magnitude)).toBeLessThan(0.002);
  } else if (first.policy === 'replica_scale_up') {
    expect(after.spec!.replicas).toBeGreaterThan(2);
  }

  // No second remediation was started for the other pod: one workflow in the namespace.
  const all = await waitFor('the workflow in visibility', 30_000, async () => {
    const rows = await client.list(`TalonNamespace = "${namespace}"`);
    return rows.length > 0 ? rows : undefined;
  });
  expect(all.map((w) => w.workflowId)).toEqual([workflowId]);
  const history = await client.history(workflowId);
  const applies = (history.events ?? []).filter(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'applyPolicy',
  );
  expect(applies).toHaveLength(1);
});
