/**
 * What Alertmanager can send, accepted as its own Go types decode it: missing and null optional fields are zero
 * values, the status follows endsAt when absent, bad alerts are refused one by one. Large groups (max_alerts 0)
 * are not lost to a 413 or to one oversized write. And the webhook refuses to start without authentication.
 */
import inject from 'light-my-request';
import type { TalonAlert } from '../../src/domain/alert';
import { TalonMetrics } from '../../src/observability/metrics';
import { loadTalonConfig } from '../../src/config/talon-config';
import { webhookSettings } from '../../src/config/defaults';
import { createWebhookApp, type AlertSink } from '../../src/webhook/app';
import { WebhookAuthConfigError, INSECURE_WARNING } from '../../src/webhook/auth';
import { chunkAlerts, MAX_BATCH_BYTES, type IntakeSink } from '../../src/webhook/intake';
import { startWebhookServer } from '../../src/webhook/server';
import { startServices } from '../../workers/services';
import type { TalonClient } from '../../src/client/talon-client';
import { alertmanagerBody } from '../support/alertmanager';

const TOKEN = 'test-token-0123456789';

class Sink implements AlertSink, IntakeSink {
  readonly direct: TalonAlert[] = [];
  readonly queued: TalonAlert[][] = [];
  async remediate(alert: TalonAlert) {
    this.direct.push(alert);
    return { workflowId: `wf-${alert.fingerprint}`, action: 'started-or-signalled' };
  }
  async queueAlerts(_shard: number, alerts: readonly TalonAlert[]) {
    this.queued.push([...alerts]);
  }
}

function setup(options: { intake?: boolean } = {}) {
  const sink = new Sink();
  const app = createWebhookApp({
    sink,
    metrics: new TalonMetrics({ defaultMetrics: false }),
    auth: { bearerToken: TOKEN },
    ready: async () => true,
    settings: webhookSettings(options.intake ? {} : { intake: { mode: 'off' } }),
    ...(options.intake ? { intake: { sink } } : {}),
  });
  const post = (payload: unknown, url = '/api/alerts') =>
    inject(app, {
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });
  return { sink, post };
}

const fullAlert = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  status: 'firing',
  labels: { alertname: 'TalonPodCpuNearLimit', namespace: 'shop', pod: 'web-1', container: 'app' },
  annotations: { summary: 'web uses 96% of its CPU limit' },
  startsAt: '2026-11-25T10:00:00Z',
  endsAt: '0001-01-01T00:00:00Z',
  generatorURL: 'http://prometheus/graph',
  fingerprint: 'a1b2c3d4e5f60718',
  ...extra,
});

describe('Alertmanager payloads decoded as Alertmanager decodes them', () => {
  const topLevel = [
    'groupKey',
    'truncatedAlerts',
    'status',
    'receiver',
    'groupLabels',
    'commonLabels',
    'commonAnnotations',
    'externalURL',
    'version',
  ];
  it.each(
    topLevel.flatMap((field) => [
      [field, 'missing'],
      [field, 'null'],
    ]),
  )('accepts a payload whose %s is %s', async (field, how) => {
    const { sink, post } = setup();
    const body = alertmanagerBody([fullAlert()]);
    if (how === 'missing') delete body[field];
    else body[field] = null;
    const res = await post(body);
    expect(res.statusCode).toBe(202);
    expect(sink.direct).toHaveLength(1);
  });

  const perAlert = ['annotations', 'startsAt', 'endsAt', 'generatorURL', 'fingerprint', 'status'];
  it.each(
    perAlert.flatMap((field) => [
      [field, 'missing'],
      [field, 'null'],
      [field, 'empty'],
    ]),
  )('accepts an alert whose %s is %s', async (field, how) => {
    const { sink, post } = setup();
    const alert = fullAlert();
    if (how === 'missing') delete alert[field];
    else if (how === 'null') alert[field] = null;
    else alert[field] = field === 'annotations' ? {} : '';
    const res = await post(alertmanagerBody([alert]));
    expect(res.statusCode).toBe(202);
    expect(sink.direct).toHaveLength(1);
    const got = sink.direct[0]!;
    expect(got.target).toEqual({ kind: 'pod', namespace: 'shop', pod: 'web-1', container: 'app' });
    expect(got.status).toBe('firing');
    expect(got.fingerprint).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
  });

  it('derives the status from endsAt when none is sent, as Alertmanager does (resolved once the end has passed)', async () => {
    const { sink, post } = setup();
    const past = fullAlert({ status: undefined, endsAt: '2020-01-01T00:00:00Z', fingerprint: 'aaaa' });
    const future = fullAlert({ status: '', endsAt: '2999-01-01T00:00:00Z', fingerprint: 'bbbb' });
    const zero = fullAlert({ status: null, fingerprint: 'cccc' });
    const res = await post(alertmanagerBody([past, future, zero]));
    expect(res.statusCode).toBe(202);
    expect(sink.direct.map((a) => [a.fingerprint, a.status])).toEqual([
      ['aaaa', 'resolved'],
      ['bbbb', 'firing'],
      ['cccc', 'firing'],
    ]);
  });

  it('reads a null label value as empty, and an empty label as absent (Prometheus)', async () => {
    const { sink, post } = setup();
    const alert = fullAlert({
      labels: { alertname: 'TalonPodCpuNearLimit', namespace: 'shop', pod: 'web-1', container: null, node: '' },
    });
    const res = await post(alertmanagerBody([alert]));
    expect(res.statusCode).toBe(202);
    expect(sink.direct[0]!.target).toEqual({ kind: 'pod', namespace: 'shop', pod: 'web-1' });
    expect(sink.direct[0]!.labels.container).toBe('');
  });

  it('derives a safe fingerprint from one it could not put in a workflow id, the same every time', async () => {
    const { sink, post } = setup();
    const odd = fullAlert({ fingerprint: 'has/slash and spaces' });
    await post(alertmanagerBody([odd]));
    await post(alertmanagerBody([odd]));
    expect(sink.direct[0]!.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(sink.direct[1]!.fingerprint).toBe(sink.direct[0]!.fingerprint);
  });

  it('refuses a null, empty or wrongly typed alert by index and hands the others off', async () => {
    const { sink, post } = setup();
    const res = await post(alertmanagerBody([null as never, fullAlert({ labels: ['x'] }), fullAlert(), 7 as never]));
    expect(res.statusCode).toBe(202);
    const body = res.json<{ rejected: { index: number; reason: string }[] }>();
    expect(body.rejected.map((r) => r.index)).toEqual([0, 1, 3]);
    expect(body.rejected[0]!.reason).toBe('missing label "alertname"');
    expect(body.rejected[1]!.reason).toMatch(/^not a valid alert: labels/);
    expect(sink.direct).toHaveLength(1);
  });

  it('refuses what is not an Alertmanager message with 400 saying why', async () => {
    const { post } = setup();
    const cases: [unknown, string][] = [
      [{ ...alertmanagerBody([fullAlert()]), version: '3' }, 'version'],
      [{ ...alertmanagerBody([fullAlert()]), receiver: 42 }, 'receiver'],
      [{ ...alertmanagerBody([fullAlert()]), alerts: { a: 1 } }, 'alerts'],
      [[fullAlert()], '(body)'],
    ];
    for (const [body, field] of cases) {
      const res = await post(body);
      expect(res.statusCode).toBe(400);
      expect(res.json<{ details: string[] }>().details.some((d) => d.startsWith(field))).toBe(true);
    }
  });

  it('answers 422 no_alerts for a message without alerts, which Alertmanager never retries and never needs to', async () => {
    const { post } = setup();
    for (const alerts of [[], null, undefined]) {
      const res = await post({ ...alertmanagerBody([]), alerts });
      expect(res.statusCode).toBe(422);
      expect(res.json()).toMatchObject({ error: 'no_alerts' });
    }
  });

  it('reports truncatedAlerts back, so max_alerts losses show in the answer', async () => {
    const { post } = setup();
    const res = await post({ ...alertmanagerBody([fullAlert()]), truncatedAlerts: 12 });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ truncatedAlerts: 12 });
  });
});

describe('large groups (max_alerts: 0)', () => {
  const group = (n: number) =>
    alertmanagerBody(
      Array.from({ length: n }, (_, i) =>
        fullAlert({
          labels: { alertname: 'TalonPodCpuNearLimit', namespace: 'shop', pod: `web-${i}`, container: 'app' },
          annotations: { summary: `web-${i} uses 96% of its CPU limit`, description: 'x'.repeat(400) },
          fingerprint: i.toString(16).padStart(16, '0'),
        }),
      ),
    );

  it('accepts 5,000 alerts in one notification (a 3.5 MB body, over the old 1 MB limit) through the intake, in writes Temporal accepts', async () => {
    const { sink, post } = setup({ intake: true });
    const body = JSON.stringify(group(5_000));
    expect(body.length).toBeGreaterThan(3_500_000);
    const res = await post(body);
    expect(res.statusCode).toBe(202);
    expect(res.json<{ accepted: unknown[] }>().accepted).toHaveLength(5_000);
    expect(sink.direct).toHaveLength(0);
    const written = sink.queued.flat();
    expect(written).toHaveLength(5_000);
    // In order, and every write within the batch bounds.
    expect(written.map((a) => a.target.kind === 'pod' && a.target.pod)).toEqual(
      Array.from({ length: 5_000 }, (_, i) => `web-${i}`),
    );
    for (const write of sink.queued) {
      expect(write.length).toBeLessThanOrEqual(500);
      expect(JSON.stringify(write).length).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    }
  });

  it('still answers 413 above the configured limit, saying so', async () => {
    const sink = new Sink();
    const app = createWebhookApp({
      sink,
      metrics: new TalonMetrics({ defaultMetrics: false }),
      auth: { bearerToken: TOKEN },
      ready: async () => true,
      settings: webhookSettings({ bodyLimit: '100kb' }),
    });
    const res = await inject(app, {
      method: 'POST',
      url: '/api/alerts',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      payload: JSON.stringify(group(300)),
    });
    expect(res.statusCode).toBe(413);
  });

  it('chunks by bytes as well as by count', () => {
    const alerts: TalonAlert[] = Array.from({ length: 10 }, (_, i) => ({
      source: 'api',
      alertName: 'A',
      status: 'firing',
      fingerprint: String(i),
      target: { kind: 'node', node: 'n' },
      labels: {},
      annotations: { big: 'y'.repeat(300) },
      startsAt: ZERO,
    }));
    const chunks = chunkAlerts(alerts, 4, 1000);
    expect(chunks.flat()).toEqual(alerts);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(4);
    expect(chunks.every((c) => c.length === 1 || JSON.stringify(c).length <= 1000 + c.length)).toBe(true);
    expect(chunkAlerts(alerts, 4, 1e9).map((c) => c.length)).toEqual([4, 4, 2]);
  });
});
const ZERO = '0001-01-01T00:00:00Z';

describe('the webhook refuses to start without authentication', () => {
  const base = {
    metrics: new TalonMetrics({ defaultMetrics: false }),
    ready: async () => true,
    settings: webhookSettings(),
  };
  const sink: AlertSink = { remediate: async () => ({ workflowId: 'x', action: 'started-or-signalled' }) };

  it('createWebhookApp throws without a secret and without insecure', () => {
    expect(() => createWebhookApp({ ...base, sink, auth: {} })).toThrow(WebhookAuthConfigError);
    expect(() => createWebhookApp({ ...base, sink, auth: { insecure: false } })).toThrow(/TALON_WEBHOOK_INSECURE=true/);
  });

  it('serves unauthenticated requests only when insecure is explicit', async () => {
    const app = createWebhookApp({ ...base, sink, auth: { insecure: true } });
    const res = await inject(app, {
      method: 'POST',
      url: '/api/alerts',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(alertmanagerBody([fullAlert()])),
    });
    expect(res.statusCode).toBe(202);
  });

  it('insecure does not switch off a configured secret', async () => {
    const app = createWebhookApp({ ...base, sink, auth: { insecure: true, bearerToken: TOKEN } });
    const res = await inject(app, {
      method: 'POST',
      url: '/api/alerts',
      headers: { 'content-type': 'application/json' },
      payload: '{}',
    });
    expect(res.statusCode).toBe(401);
  });

  it('startWebhookServer refuses before listening, and warns loudly when insecure', async () => {
    const client = {} as TalonClient;
    const metrics = new TalonMetrics({ defaultMetrics: false });
    await expect(startWebhookServer(client, metrics, { host: '127.0.0.1', port: 0, auth: {} })).rejects.toThrow(
      WebhookAuthConfigError,
    );
    const warnings: string[] = [];
    const running = await startWebhookServer(client, metrics, {
      host: '127.0.0.1',
      port: 0,
      auth: { insecure: true },
      warn: (line) => warnings.push(line),
    });
    await running.close();
    expect(warnings).toEqual([INSECURE_WARNING]);
  });

  it('`talon webhook` refuses to start from a configuration without a secret, before connecting to anything', async () => {
    const config = loadTalonConfig(
      { TALON_TEMPORAL_ADDRESS: '127.0.0.1:1' },
      {
        temporalAddress: '127.0.0.1:1',
        kubeconfigPath: '/nonexistent',
        prometheusUrl: 'http://127.0.0.1:1',
        influx: { url: 'http://127.0.0.1:1', token: 't', org: 'o', bucket: 'b' },
        webhookPort: 18999,
        webhookTokenFile: '/nonexistent/webhook-token',
      },
    );
    expect(config.webhook.insecure).toBe(false);
    await expect(startServices(config, { worker: false, webhook: true })).rejects.toThrow(WebhookAuthConfigError);
  });

  it('reads TALON_WEBHOOK_INSECURE as a strict boolean', () => {
    const fallbacks = {
      temporalAddress: '127.0.0.1:1',
      kubeconfigPath: '/nonexistent',
      prometheusUrl: 'http://127.0.0.1:1',
      influx: { url: 'http://127.0.0.1:1', token: 't', org: 'o', bucket: 'b' },
      webhookPort: 18999,
      webhookTokenFile: '/nonexistent/webhook-token',
    };
    expect(loadTalonConfig({ TALON_WEBHOOK_INSECURE: 'true' }, fallbacks).webhook.insecure).toBe(true);
    expect(() => loadTalonConfig({ TALON_WEBHOOK_INSECURE: 'yes' }, fallbacks)).toThrow(/TALON_WEBHOOK_INSECURE/);
  });
});
