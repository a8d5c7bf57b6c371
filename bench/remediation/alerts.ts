/** The alerts the benchmark sends: what Alertmanager posts for a pod near its CPU limit. */
import { randomBytes } from 'node:crypto';
import { alertWorkflowId, type TalonAlert } from '../../src/domain/alert';
import { alertmanagerPayload, normaliseAlertmanager } from '../../src/webhook/payloads';

export interface RawAlert {
  readonly status: 'firing' | 'resolved';
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly startsAt: string;
  readonly fingerprint: string;
}

export function rawPodAlert(namespace: string, pod: string): RawAlert {
  return {
    status: 'firing',
    labels: {
      alertname: 'TalonPodCpuNearLimit',
      namespace,
      pod,
      container: 'app',
      severity: 'warning',
      talon_scope: 'pod',
      talon_resource: 'cpu',
    },
    annotations: { summary: `Container app of ${namespace}/${pod} uses 95% of its CPU limit (bench)` },
    startsAt: new Date().toISOString(),
    fingerprint: randomBytes(8).toString('hex'),
  };
}

/** The alert the webhook makes of a raw one (rejects what the webhook would reject). */
export function talonAlertOf(raw: RawAlert): TalonAlert {
  const batch = normaliseAlertmanager(payloadOf([raw]));
  const alert = batch.alerts[0];
  if (!alert) throw new Error(`bench alert rejected: ${JSON.stringify(batch.rejected)}`);
  return alert;
}

/** The workflow id Talon derives for a raw alert (same rule as the webhook). */
export function workflowIdOf(raw: RawAlert): string {
  return alertWorkflowId(talonAlertOf(raw));
}

/** What Alertmanager's webhook_config (version 4) posts for one notification group. */
export function payloadOf(alerts: readonly RawAlert[]) {
  const first = alerts[0]!;
  const common = Object.fromEntries(
    Object.entries(first.labels).filter(([k, v]) => alerts.every((a) => a.labels[k] === v)),
  );
  return alertmanagerPayload.parse({
    version: '4',
    groupKey: `{}:{alertname="${first.labels.alertname}", namespace="${first.labels.namespace}"}`,
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'talon',
    groupLabels: { alertname: first.labels.alertname, namespace: first.labels.namespace },
    commonLabels: common,
    commonAnnotations: {},
    externalURL: 'http://127.0.0.1:9093',
    alerts,
  });
}
