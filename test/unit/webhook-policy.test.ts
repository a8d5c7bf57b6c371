/**
 * The webhook reads the operator policy too: an alert on a namespace the policy protects is refused at the door
 * (by its index in the payload, naming the rule and the version), the others go through; a policy reload takes
 * effect on the next payload.
 */
import inject from 'light-my-request';
import type { TalonAlert } from '../../src/domain/alert';
import type { OperatorPolicy } from '../../src/domain/autonomy';
import { parsePolicyFile } from '../../src/config/policy-file';
import { TalonMetrics } from '../../src/observability/metrics';
import { webhookSettings } from '../../src/config/defaults';
import { createWebhookApp } from '../../src/webhook/app';
import { alertmanagerBody } from '../support/alertmanager';

const TOKEN = 'test-token-0123456789';
const alert = (namespace: string, pod = 'web-1') => ({
  status: 'firing',
  labels: { alertname: 'TalonPodCpuNearLimit', namespace, pod },
  annotations: {},
  startsAt: '2026-11-25T10:00:00Z',
  fingerprint: `${namespace}${pod}`.replace(/[^a-z0-9]/g, '').slice(0, 16),
});

describe('webhook and the operator policy', () => {
  it('refuses alerts on protected namespaces by index, hands the rest off, and follows a reload', async () => {
    const received: TalonAlert[] = [];
    let policy: OperatorPolicy = parsePolicyFile(
      "apiVersion: talon.io/v1alpha1\nkind: TalonPolicy\nversion: '1'\nprotectedNamespaces: [payments, 'team-*']\n",
      'p',
    );
    const app = createWebhookApp({
      sink: {
        remediate: async (a) => {
          received.push(a);
          return { workflowId: a.fingerprint, action: 'started-or-signalled' };
        },
      },
      metrics: new TalonMetrics({ defaultMetrics: false }),
      auth: { bearerToken: TOKEN },
      ready: async () => true,
      settings: webhookSettings({ intake: { mode: 'off' } }),
      policy: () => policy,
    });
    const post = (alerts: Record<string, unknown>[]) =>
      inject(app, {
        method: 'POST',
        url: '/api/alerts',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        payload: JSON.stringify(alertmanagerBody(alerts)),
      });
    const res = await post([alert('shop'), { labels: {} }, alert('payments'), alert('team-a')]);
    expect(res.statusCode).toBe(202);
    const body = res.json<{ accepted: unknown[]; rejected: { index: number; reason: string }[] }>();
    expect(body.accepted).toHaveLength(1);
    expect(body.rejected.map((r) => r.index)).toEqual([1, 2, 3]);
    expect(body.rejected[1]!.reason).toMatch(
      /^namespace payments is protected by the operator policy \(payments, version 1@[0-9a-f]{12}\)/,
    );
    expect(body.rejected[2]!.reason).toMatch(/\(team-\*, version 1@/);
    expect(received.map((a) => a.target.kind === 'pod' && a.target.namespace)).toEqual(['shop']);

    const all = await post([alert('payments')]);
    expect(all.statusCode).toBe(422);

    policy = parsePolicyFile(
      "apiVersion: talon.io/v1alpha1\nkind: TalonPolicy\nversion: '2'\nprotectedNamespaces: []\n",
      'p',
    );
    expect((await post([alert('payments')])).statusCode).toBe(202);
  });
});
