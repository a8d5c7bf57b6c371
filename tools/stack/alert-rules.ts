/**
 * Talon's Prometheus alert rules, one source for the local stack and for real clusters. The metric
 * names are kube-state-metrics' and the kubelet's, which the local KWOK cluster also exposes.
 */
export interface AlertRuleOptions {
  /** How long a condition must hold before the alert fires (short locally, longer in production). */
  readonly forDuration: string;
  /** Range of the CPU rate; must span at least two scrapes. */
  readonly rateWindow: string;
  readonly cpuLimitShare: number;
  readonly memoryLimitShare: number;
  readonly nodeCpuShare: number;
}

export const PRODUCTION_RULE_OPTIONS: AlertRuleOptions = {
  forDuration: '2m',
  rateWindow: '2m',
  cpuLimitShare: 0.8,
  memoryLimitShare: 0.85,
  nodeCpuShare: 0.9,
};

export const LOCAL_RULE_OPTIONS: AlertRuleOptions = {
  forDuration: '10s',
  rateWindow: '20s',
  cpuLimitShare: 0.8,
  memoryLimitShare: 0.85,
  nodeCpuShare: 0.9,
};

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export function talonAlertRules(o: AlertRuleOptions): { groups: { name: string; rules: AlertRule[] }[] } {
  const podKeys = 'namespace, pod, container';
  const cpuUsage = `sum by (${podKeys}) (rate(container_cpu_usage_seconds_total{container!=""}[${o.rateWindow}]))`;
  const cpuLimit = `(max by (${podKeys}) (kube_pod_container_resource_limits{resource="cpu"}) > 0)`;
  const memUsage = `max by (${podKeys}) (container_memory_working_set_bytes{container!=""})`;
  const memLimit = `(max by (${podKeys}) (kube_pod_container_resource_limits{resource="memory"}) > 0)`;
  const nodeUsage = `sum by (node) (rate(node_cpu_usage_seconds_total[${o.rateWindow}]))`;
  const nodeAlloc = `(max by (node) (kube_node_status_allocatable{resource="cpu"}) > 0)`;
  return {
    groups: [
      {
        name: 'talon-remediation',
        rules: [
          {
            alert: 'TalonPodCpuNearLimit',
            expr: `${cpuUsage} / on (${podKeys}) ${cpuLimit} > ${o.cpuLimitShare}`,
            for: o.forDuration,
            labels: { severity: 'warning', talon_scope: 'pod', talon_resource: 'cpu' },
            annotations: {
              summary:
                'Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} uses {{ $value | humanizePercentage }} of its CPU limit',
            },
          },
          {
            alert: 'TalonPodMemoryNearLimit',
            expr: `${memUsage} / on (${podKeys}) ${memLimit} > ${o.memoryLimitShare}`,
            for: o.forDuration,
            labels: { severity: 'warning', talon_scope: 'pod', talon_resource: 'memory' },
            annotations: {
              summary:
                'Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} uses {{ $value | humanizePercentage }} of its memory limit',
            },
          },
          {
            alert: 'TalonNodeOverloaded',
            expr: `${nodeUsage} / on (node) ${nodeAlloc} > ${o.nodeCpuShare}`,
            for: o.forDuration,
            labels: { severity: 'critical', talon_scope: 'node', talon_resource: 'cpu' },
            annotations: {
              summary: 'Node {{ $labels.node }} uses {{ $value | humanizePercentage }} of its allocatable CPU',
            },
          },
        ],
      },
    ],
  };
}
