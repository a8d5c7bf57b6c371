/** An Alertmanager `webhook_config` payload (version 4) around raw alerts, as the webhook tests post it. */
export function alertmanagerBody(alerts: Record<string, unknown>[]): Record<string, unknown> {
  return {
    version: '4',
    groupKey: '{}:{alertname="TalonPodCpuNearLimit"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'talon',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts,
  };
}
