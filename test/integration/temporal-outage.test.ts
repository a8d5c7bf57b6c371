/**
 * Temporal stops while alerts arrive: the webhook answers 503 (so Alertmanager retries) instead of
 * pretending; once Temporal is back, the retried notifications each get their workflow. Nothing lost.
 * This test stops and restarts the local stack's Temporal server.
 */
import { randomBytes } from 'node:crypto';
import { TalonClient } from '../../src/client/talon-client';
import { alertWorkflowId } from '../../src/domain/alert';
import { TalonMetrics } from '../../src/observability/metrics';
import { loadStackConfig } from '../../src/config/local-stack';
import { temporalComponent } from '../../tools/stack/temporal';
import { startWebhookServer, type RunningWebhook } from '../../src/webhook/server';
import { loadTalonConfig } from '../../src/config/talon-config';

jest.setTimeout(240_000);

const stack = loadStackConfig();
const config = loadTalonConfig({ ...process.env, TALON_TASK_QUEUE: `outage-${randomBytes(4).toString('hex')}` });
const token = 'outage-test-token';
let client: TalonClient;
let webhook: RunningWebhook;

function payload(i: number, fingerprint: string): Record<string, unknown> {
  return {
    version: '4',
    groupKey: `outage-${i}`,
    status: 'firing',
    receiver: 'talon',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://127.0.0.1:9093',
    alerts: [
      {
        status: 'firing',
        // One workload per alert (web0, web1, …): alerts of one workload would join one remediation.
        labels: { alertname: 'TalonPodCpuNearLimit', namespace: 'outage', pod: `web${i}`, container: 'app' },
        annotations: {},
        startsAt: new Date().toISOString(),
        fingerprint,
      },
    ],
  };
}

async function post(body: unknown): Promise<number> {
  const res = await fetch(`${webhook.url}/api/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  client = await TalonClient.connect({ address: config.temporal.address, taskQueue: config.temporal.taskQueue });
  webhook = await startWebhookServer(client, new TalonMetrics({ defaultMetrics: false }), {
    host: '127.0.0.1',
    port: 0,
    bodyLimit: '1mb',
    auth: { bearerToken: token },
    handoffTimeoutMs: 2_000,
  });
  const address = webhook.server.address();
  if (address && typeof address === 'object') Object.assign(webhook, { url: `http://127.0.0.1:${address.port}` });
});

afterAll(async () => {
  if (!(await temporalComponent.isRunning(stack))) await temporalComponent.start(stack, () => undefined);
  await webhook?.close();
  await client?.close();
});

it('answers 503 while Temporal is down, and every retried alert gets its workflow once it is back', async () => {
  const fingerprints = Array.from({ length: 5 }, () => randomBytes(8).toString('hex'));
  const bodies = fingerprints.map((f, i) => payload(i, f));

  await temporalComponent.stop(stack);
  const during = await Promise.all(bodies.map(post));
  expect(during).toEqual([503, 503, 503, 503, 503]);

  await temporalComponent.start(stack, () => undefined);
  // Alertmanager retries failed notifications; do the same until each is accepted (bounded).
  const after: number[] = [];
  for (const body of bodies) {
    let status = 0;
    for (let attempt = 0; attempt < 30 && status !== 202; attempt++) {
      status = await post(body);
      if (status !== 202) await new Promise((r) => setTimeout(r, 1_000));
    }
    after.push(status);
  }
  expect(after).toEqual([202, 202, 202, 202, 202]);

  for (const [i, fingerprint] of fingerprints.entries()) {
    const id = alertWorkflowId({
      alertName: 'TalonPodCpuNearLimit',
      target: { kind: 'pod', namespace: 'outage', pod: `web${i}` },
      fingerprint,
      labels: {},
    });
    const description = await client.temporal.workflow.getHandle(id).describe();
    expect(description.type).toBe('remediateAlert');
    await client.temporal.workflow.getHandle(id).terminate('outage test done');
  }
});
