/**
 * The webhook in-process (no sockets): validation, auth, limits and the "2xx only after hand-off" rule.
 * The sink records what reaches it, so "no workflow" is asserted as "nothing handed off".
 */
import inject from 'light-my-request';
import type { TalonAlert } from '../../src/domain/alert';
import { TalonMetrics } from '../../src/observability/metrics';
import { webhookSettings } from '../../src/config/defaults';
import { createWebhookApp, type AlertSink } from '../../src/webhook/app';

import { alertmanagerBody } from '../support/alertmanager';

const TOKEN = 'test-token-0123456789';

function podAlert(
  overrides: Record<string, unknown> = {},
  labels: Record<string, string> = {},
): Record<string, unknown> {
  return {
    status: 'firing',
    labels: {
      alertname: 'TalonPodCpuNearLimit',
      namespace: 'shop',
      pod: 'web-7f9c-abcde',
      container: 'app',
      ...labels,
    },
    annotations: { summary: 'web uses 96% of its CPU limit' },
    startsAt: '2026-11-25T10:00:00Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus/graph',
    fingerprint: 'a1b2c3d4e5f60718',
    ...overrides,
  };
}

class RecordingSink implements AlertSink {
  readonly received: TalonAlert[] = [];
  failWith: Error | undefined;
  delayMs = 0;
  honourDeadline = true;
  readonly deadlines: Date[] = [];
  async remediate(alert: TalonAlert, deadline: Date) {
    this.deadlines.push(deadline);
    if (this.delayMs) {
      const remaining = deadline.getTime() - Date.now();
      const misses = this.honourDeadline && this.delayMs >= remaining;
      await new Promise((r) => setTimeout(r, Math.max(0, misses ? remaining : this.delayMs)));
      if (misses) throw new Error('deadline exceeded');
    }
    if (this.failWith) throw this.failWith;
    this.received.push(alert);
    return { workflowId: `wf-${alert.fingerprint}`, action: 'started-or-signalled' };
  }
}

function setup(options: { bodyLimit?: string; handoffTimeoutMs?: number; ready?: boolean } = {}) {
  const sink = new RecordingSink();
  const metrics = new TalonMetrics({ defaultMetrics: false });
  const app = createWebhookApp({
    sink,
    metrics,
    auth: { bearerToken: TOKEN, basic: { username: 'am', password: 'secret' } },
    ready: async () => options.ready ?? true,
    settings: webhookSettings({ bodyLimit: options.bodyLimit, handoffTimeoutMs: options.handoffTimeoutMs }),
  });
  const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
    inject(app, {
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });
  return { sink, metrics, app, post };
}

describe('POST /api/alerts (Alertmanager v4)', () => {
  it('hands every valid alert to the sink and answers 202 with the workflow ids', async () => {
    const { sink, post } = setup();
    const res = await post(
      '/api/alerts',
      alertmanagerBody([podAlert(), podAlert({ fingerprint: 'ffff0000ffff0000' })]),
    );
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({
      accepted: [
        { workflowId: 'wf-a1b2c3d4e5f60718', action: 'started-or-signalled' },
        { workflowId: 'wf-ffff0000ffff0000', action: 'started-or-signalled' },
      ],
      rejected: [],
    });
    expect(sink.received).toHaveLength(2);
    expect(sink.received[0]).toMatchObject({
      source: 'alertmanager',
      alertName: 'TalonPodCpuNearLimit',
      status: 'firing',
      target: { kind: 'pod', namespace: 'shop', pod: 'web-7f9c-abcde', container: 'app' },
      summary: 'web uses 96% of its CPU limit',
    });
  });

  it('accepts basic auth as Alertmanager http_config sends it', async () => {
    const { sink, post } = setup();
    const basic = `Basic ${Buffer.from('am:secret').toString('base64')}`;
    const res = await post('/api/alerts', alertmanagerBody([podAlert()]), { authorization: basic });
    expect(res.statusCode).toBe(202);
    expect(sink.received).toHaveLength(1);
  });

  it.each([
    ['no Authorization header', {}, 'missing Authorization header'],
    ['a wrong bearer token', { authorization: 'Bearer nope' }, 'credentials were not accepted'],
    [
      'a token that is a prefix of the right one',
      { authorization: `Bearer ${TOKEN.slice(0, 10)}` },
      'credentials were not accepted',
    ],
    [
      'wrong basic credentials',
      { authorization: `Basic ${Buffer.from('am:guess').toString('base64')}` },
      'credentials were not accepted',
    ],
  ])('refuses %s with 401 and hands nothing off', async (_name, headers, message) => {
    const { sink, post, app } = setup();
    const res =
      'authorization' in headers
        ? await post('/api/alerts', alertmanagerBody([podAlert()]), headers)
        : await inject(app, {
            method: 'POST',
            url: '/api/alerts',
            headers: { 'content-type': 'application/json' },
            payload: JSON.stringify(alertmanagerBody([podAlert()])),
          });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: 'unauthorized', message });
    expect(sink.received).toHaveLength(0);
  });

  it('answers 400 malformed_json for a body that is not JSON', async () => {
    const { sink, post } = setup();
    const res = await post('/api/alerts', '{"version": "4", ');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'malformed_json' });
    expect(sink.received).toHaveLength(0);
  });

  it('answers 400 invalid_payload naming the field for a wrong version', async () => {
    const { sink, post } = setup();
    const res = await post('/api/alerts', { ...alertmanagerBody([podAlert()]), version: '3' });
    expect(res.statusCode).toBe(400);
    const body = res.json<{ error: string; details: string[] }>();
    expect(body.error).toBe('invalid_payload');
    expect(body.details.some((d) => d.startsWith('version:'))).toBe(true);
    expect(sink.received).toHaveLength(0);
  });

  it('answers 415 when the content type is not JSON', async () => {
    const { sink, post } = setup();
    const res = await post('/api/alerts', alertmanagerBody([podAlert()]), { 'content-type': 'text/plain' });
    expect(res.statusCode).toBe(415);
    expect(sink.received).toHaveLength(0);
  });

  it('answers 413 for a body over the configured limit', async () => {
    const { sink, post } = setup({ bodyLimit: '2kb' });
    const big = podAlert({ annotations: { summary: 'x'.repeat(4096) } });
    const res = await post('/api/alerts', alertmanagerBody([big]));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: 'body_too_large' });
    expect(sink.received).toHaveLength(0);
  });

  it('answers 422 when no alert names a target, saying why for each', async () => {
    const { sink, post } = setup();
    const noTarget = podAlert({ labels: { alertname: 'Something' } });
    const noName = podAlert({}, {});
    delete (noName.labels as Record<string, string>).alertname;
    const res = await post('/api/alerts', alertmanagerBody([noTarget, noName]));
    expect(res.statusCode).toBe(422);
    expect(res.json()).toEqual({
      error: 'no_actionable_alerts',
      message: 'no alert in the payload can be remediated',
      details: [
        {
          index: 0,
          alertname: 'Something',
          reason: 'alert has neither namespace+pod nor node labels, so Talon cannot tell what to remediate',
        },
        { index: 1, reason: 'missing label "alertname"' },
      ],
    });
    expect(sink.received).toHaveLength(0);
  });

  it.each([
    ['a pod name with a path traversal', { pod: '../../etc/passwd' }, 'label "pod" must be a Kubernetes pod name'],
    [
      'a namespace with upper case and spaces',
      { namespace: 'Shop Prod' },
      'label "namespace" must be a Kubernetes namespace name',
    ],
    [
      'a container name with a shell metacharacter',
      { container: 'app;rm -rf' },
      'label "container" must be a container name',
    ],
    ['a blank alert name', { alertname: '   ' }, 'label "alertname" is empty'],
    ['an alert name of 300 characters', { alertname: 'x'.repeat(300) }, 'longer than 256 characters'],
    ['an alert name with a lone surrogate', { alertname: 'cpu \ud800' }, 'not well-formed Unicode'],
  ])('rejects %s (hostile label values never reach Temporal)', async (_name, labels, reason) => {
    const { sink, post } = setup();
    const res = await post('/api/alerts', alertmanagerBody([podAlert({}, labels)]));
    expect(res.statusCode).toBe(422);
    expect(res.json<{ details: { reason: string }[] }>().details[0]!.reason).toContain(reason);
    expect(sink.received).toHaveLength(0);
  });

  it('hands off the good alerts of a mixed batch and lists the rejected ones', async () => {
    const { sink, post } = setup();
    const res = await post('/api/alerts', alertmanagerBody([podAlert({}, { pod: 'Bad_Pod' }), podAlert()]));
    expect(res.statusCode).toBe(202);
    expect(res.json<{ rejected: { index: number }[] }>().rejected.map((r) => r.index)).toEqual([0]);
    expect(sink.received.map((a) => a.target)).toEqual([
      { kind: 'pod', namespace: 'shop', pod: 'web-7f9c-abcde', container: 'app' },
    ]);
  });

  it('answers 503 with Retry-After when Temporal cannot take the alerts, so Alertmanager retries', async () => {
    const { sink, post, metrics } = setup();
    sink.failWith = new Error('14 UNAVAILABLE: connection refused');
    const res = await post('/api/alerts', alertmanagerBody([podAlert()]));
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json()).toMatchObject({ error: 'temporal_unavailable' });
    const text = await metrics.registry.metrics();
    expect(text).toContain('talon_handoffs_total{result="unavailable"} 1');
  });

  it('answers 503 when Temporal is too slow rather than holding Alertmanager forever', async () => {
    const { sink, post } = setup({ handoffTimeoutMs: 50 });
    sink.delayMs = 500;
    const before = Date.now();
    const res = await post('/api/alerts', alertmanagerBody([podAlert()]));
    expect(res.statusCode).toBe(503);
    // The sink was told when to give up, so no gRPC retry outlives the answer.
    expect(sink.deadlines).toHaveLength(1);
    expect(sink.deadlines[0]!.getTime() - before).toBeGreaterThanOrEqual(40);
    expect(sink.deadlines[0]!.getTime() - before).toBeLessThan(1_000);
    expect(sink.received).toHaveLength(0);
  });

  it('still answers 503 when a sink ignores its deadline', async () => {
    const { sink, post } = setup({ handoffTimeoutMs: 50 });
    sink.delayMs = 3_000;
    sink.honourDeadline = false;
    const before = Date.now();
    const res = await post('/api/alerts', alertmanagerBody([podAlert()]));
    expect(res.statusCode).toBe(503);
    expect(Date.now() - before).toBeLessThan(2_500);
  });

  it('maps a node alert to a node target', async () => {
    const { sink, post } = setup();
    const res = await post(
      '/api/alerts',
      alertmanagerBody([podAlert({ labels: { alertname: 'TalonNodeOverloaded', node: 'edge-1' } })]),
    );
    expect(res.statusCode).toBe(202);
    expect(sink.received[0]?.target).toEqual({ kind: 'node', node: 'edge-1' });
  });
});

describe('POST /api/alerts/grafana', () => {
  it('accepts a Grafana unified-alerting payload and derives a stable fingerprint when none is given', async () => {
    const { sink, post } = setup();
    const alert = {
      status: 'firing',
      labels: { alertname: 'HighCPU', namespace: 'shop', pod: 'web-1' },
      annotations: {},
      startsAt: '2026-11-25T10:00:00Z',
    };
    const body = { receiver: 'talon', status: 'firing', orgId: 1, version: '1', alerts: [alert] };
    const first = await post('/api/alerts/grafana', body);
    const second = await post('/api/alerts/grafana', body);
    expect(first.statusCode).toBe(202);
    expect(second.statusCode).toBe(202);
    expect(sink.received).toHaveLength(2);
    expect(sink.received[0]!.source).toBe('grafana');
    expect(sink.received[0]!.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(sink.received[0]!.fingerprint).toBe(sink.received[1]!.fingerprint);
  });
});

describe('health, readiness and metrics', () => {
  it('reports liveness without touching Temporal, readiness from Temporal', async () => {
    const ready = setup({ ready: true });
    const notReady = setup({ ready: false });
    expect((await inject(ready.app, { method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await inject(ready.app, { method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    expect((await inject(notReady.app, { method: 'GET', url: '/readyz' })).statusCode).toBe(503);
  });

  it('counts received and rejected alerts in the Prometheus exposition', async () => {
    const { post, app } = setup();
    await post('/api/alerts', alertmanagerBody([podAlert(), podAlert({}, { pod: 'BAD' })]));
    const res = await inject(app, { method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('talon_alerts_received_total{source="alertmanager",status="firing"} 1');
    expect(res.body).toContain('talon_alerts_rejected_total{reason="invalid_alert"} 1');
    expect(res.body).toContain('talon_handoffs_total{result="ok"} 1');
  });

  it('answers unknown routes with a JSON 404', async () => {
    const { app } = setup();
    const res = await inject(app, { method: 'GET', url: '/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'not_found', message: 'no such route' });
  });
});
