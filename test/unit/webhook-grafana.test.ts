/**
 * Grafana's unified alerting webhook, in the shapes its versions post (test/fixtures/grafana/README.md): free-text
 * rule titles are accepted and encoded safely into workflow ids; only an alert that names no pod or node is
 * refused, and for that reason. Grafana's legacy dashboard alerts get a 4xx that says what to change.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import inject from 'light-my-request';
import { alertKey, alertWorkflowId, legacyAlertWorkflowId, type TalonAlert } from '../../src/domain/alert';
import { TalonMetrics } from '../../src/observability/metrics';
import { webhookSettings } from '../../src/config/defaults';
import { createWebhookApp, type AlertSink } from '../../src/webhook/app';

const TOKEN = 'test-token-0123456789';
type Json = Record<string, unknown>;
const documented = JSON.parse(
  readFileSync(join(__dirname, '..', 'fixtures', 'grafana', 'documented-example.json'), 'utf8'),
) as Json & { alerts: Json[] };

class Sink implements AlertSink {
  readonly received: TalonAlert[] = [];
  async remediate(alert: TalonAlert) {
    this.received.push(alert);
    return { workflowId: alertWorkflowId(alert), action: 'started-or-signalled' };
  }
}

function setup() {
  const sink = new Sink();
  const app = createWebhookApp({
    sink,
    metrics: new TalonMetrics({ defaultMetrics: false }),
    auth: { bearerToken: TOKEN },
    ready: async () => true,
    settings: webhookSettings({ intake: { mode: 'off' } }),
  });
  const post = (payload: unknown) =>
    inject(app, {
      method: 'POST',
      url: '/api/alerts/grafana',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      payload: JSON.stringify(payload),
    });
  return { sink, post };
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** The documented example with the labels a Kubernetes alert rule would add (namespace and pod). */
function withTargets(body: Json & { alerts: Json[] }): Json & { alerts: Json[] } {
  const copy = clone(body);
  copy.alerts.forEach((a, i) => {
    (a.labels as Json).namespace = 'shop';
    (a.labels as Json).pod = `web-${i}`;
  });
  return copy;
}

/** Versions, as their documentation prints the message. */
const versions: [string, (b: Json & { alerts: Json[] }) => Json][] = [
  ['10.x-12.x (values map, orgId)', (b) => b],
  [
    '9.x (valueString instead of values)',
    (b) => ({
      ...b,
      alerts: b.alerts.map(({ values: _v, ...a }) => ({ ...a, valueString: "[ metric='' labels={} value=14151.33 ]" })),
    }),
  ],
  [
    '8.x (before orgId, truncatedAlerts, fingerprint, silence/dashboard/panel URLs)',
    ({ orgId: _o, truncatedAlerts: _t, ...b }) => ({
      ...b,
      alerts: b.alerts.map(
        ({ fingerprint: _f, silenceURL: _s, dashboardURL: _d, panelURL: _p, values: _v, ...a }) => a,
      ),
    }),
  ],
  [
    'later additions (imageURL, orgId per alert, null values, embedded image)',
    (b) => ({
      ...b,
      alerts: b.alerts.map((a) => ({
        ...a,
        imageURL: 'https://grafana.example/render/abc.png',
        orgId: 1,
        values: { B: null, C: 1 },
        embeddedImage: '',
      })),
    }),
  ],
];

describe('POST /api/alerts/grafana with Grafana shapes', () => {
  it('refuses the documented example only because its alerts name no pod or node, not for their names', async () => {
    const { sink, post } = setup();
    const res = await post(documented);
    expect(res.statusCode).toBe(422);
    const body = res.json<{ error: string; details: { alertname: string; reason: string }[] }>();
    expect(body.error).toBe('no_actionable_alerts');
    expect(body.details.map((d) => d.alertname)).toEqual(['High memory usage', 'High CPU usage']);
    for (const d of body.details) expect(d.reason).toMatch(/neither namespace\+pod nor node labels/);
    expect(sink.received).toHaveLength(0);
  });

  it.each(versions)('accepts %s with target labels, keeping the readable names', async (_name, shape) => {
    const { sink, post } = setup();
    const res = await post(shape(withTargets(documented)));
    expect(res.statusCode).toBe(202);
    expect(sink.received.map((a) => [a.source, a.alertName, a.status])).toEqual([
      ['grafana', 'High memory usage', 'firing'],
      ['grafana', 'High CPU usage', 'firing'],
    ]);
    expect(sink.received[0]!.summary).toBe('This alert was triggered for zone us-1');
    const ids = res.json<{ accepted: { workflowId: string }[] }>().accepted.map((a) => a.workflowId);
    // web-0 and web-1 are one workload: one remediation, with no free text in its id; the per-alert id of
    // before (which a resolve still reaches) carries the encoded key.
    expect(ids).toEqual(['remediate/shop/web', 'remediate/shop/web']);
    expect(legacyAlertWorkflowId(sink.received[0]!)).toMatch(
      /^remediate\/High-memory-usage~[0-9a-f]{16}\/shop\/web-0\/[0-9a-f]{16}$/,
    );
    expect(legacyAlertWorkflowId(sink.received[1]!)).toMatch(
      /^remediate\/High-CPU-usage~[0-9a-f]{16}\/shop\/web-1\/[0-9a-f]{16}$/,
    );
  });

  it('maps a resolved notification to the same workflow as its firing one', async () => {
    const { sink, post } = setup();
    const firing = withTargets(documented);
    const resolved = clone(firing);
    resolved.status = 'resolved';
    resolved.alerts.forEach((a) => {
      a.status = 'resolved';
      a.endsAt = '2021-10-12T10:01:03.157076+02:00';
    });
    await post(firing);
    await post(resolved);
    expect(sink.received.map((a) => a.status)).toEqual(['firing', 'firing', 'resolved', 'resolved']);
    expect(alertWorkflowId(sink.received[2]!)).toBe(alertWorkflowId(sink.received[0]!));
  });

  it('accepts any Unicode rule title, encoding it for ids and keeping it readable', async () => {
    const { sink, post } = setup();
    const titles = ['Uso elevado de memória', 'メモリ使用率が高い', 'CPU > 90% / 5m 🔥', 'a"b\\c\'d'];
    const body = withTargets({
      ...documented,
      alerts: titles.map((t, i) => ({ ...clone(documented.alerts[0]!), labels: { alertname: t, zone: `z${i}` } })),
    });
    const res = await post(body);
    expect(res.statusCode).toBe(202);
    expect(sink.received.map((a) => a.alertName)).toEqual(titles);
    for (const a of sink.received) {
      expect(alertWorkflowId(a)).toBe('remediate/shop/web');
      expect(legacyAlertWorkflowId(a)).toMatch(/^remediate\/[A-Za-z0-9_.:~-]+\/shop\/web-\d\/[0-9a-f]{16}$/);
    }
  });

  it('answers a legacy dashboard alert with a 422 that says what to change', async () => {
    const { post } = setup();
    const res = await post({
      dashboardId: 2,
      evalMatches: [{ value: 19377.99, metric: 'System - Processes executing in kernel mode', tags: {} }],
      orgId: 1,
      panelId: 3,
      ruleId: 1,
      ruleName: 'CPU alert',
      ruleUrl: 'http://localhost:3000/d/rYdddlPWj/node-exporter-full?tab=alert&viewPanel=3&orgId=1',
      state: 'alerting',
      tags: { severity: '1' },
      title: '[Alerting] CPU alert',
    });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ error: 'legacy_grafana_alerting' });
  });
});

describe('alertKey', () => {
  it('keeps Prometheus-style names as they are, so existing workflow ids do not change', () => {
    for (const name of ['TalonPodCpuNearLimit', 'KubePodCrashLooping', 'node:cpu:high', 'a.b-c_d']) {
      expect(alertKey(name)).toBe(name);
    }
    const node = {
      alertName: 'TalonNodeCpuHigh',
      fingerprint: 'a1b2',
      labels: {},
      target: { kind: 'node', node: 'edge-1' },
    } as const;
    expect(alertWorkflowId(node)).toBe('node-overload/TalonNodeCpuHigh/edge-1/a1b2');
    // Pod remediations are keyed by workload; the per-alert id a resolve still reaches keeps the name as it was.
    const pod = {
      alertName: 'TalonPodCpuNearLimit',
      fingerprint: 'a1b2',
      labels: {},
      target: { kind: 'pod', namespace: 'shop', pod: 'web-1' },
    } as const;
    expect(legacyAlertWorkflowId(pod)).toBe('remediate/TalonPodCpuNearLimit/shop/web-1/a1b2');
  });

  it('puts the key, never the free text, into ids: node ids carry it, pod ids name only the workload', () => {
    const node = {
      alertName: 'High CPU on node',
      fingerprint: 'a1b2',
      labels: {},
      target: { kind: 'node', node: 'edge-1' },
    } as const;
    expect(alertWorkflowId(node)).toMatch(/^node-overload\/High-CPU-on-node~[0-9a-f]{16}\/edge-1\/a1b2$/);
    const pod = {
      alertName: 'High memory usage',
      fingerprint: 'a1b2',
      labels: {},
      target: { kind: 'pod', namespace: 'shop', pod: 'web-7c9f8b6d4-x2x9z' },
    } as const;
    expect(alertWorkflowId(pod)).toBe('remediate/shop/web');
  });

  it('encodes free text as slug~hash: deterministic, distinct for titles that slug alike, bounded', () => {
    expect(alertKey('High memory usage')).toBe(alertKey('High memory usage'));
    expect(alertKey('CPU > 90%')).not.toBe(alertKey('CPU < 90%'));
    expect(alertKey('CPU > 90%').split('~')[0]).toBe(alertKey('CPU < 90%').split('~')[0]);
    expect(alertKey('メモリ')).toMatch(/^alert~[0-9a-f]{16}$/);
    expect(alertKey('x y'.repeat(100)).length).toBeLessThanOrEqual(48 + 17);
    expect(alertKey('Uso elevado de memória')).toMatch(/^Uso-elevado-de-memoria~/);
  });

  it('never produces a key a Prometheus-style name could have (no collisions across the two forms)', () => {
    const key = alertKey('High memory usage');
    expect(key).toContain('~');
    expect(alertKey(key)).not.toBe(key); // a name spelled like a key is itself encoded
  });
});
