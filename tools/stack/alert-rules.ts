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
  /**
   * Extra PromQL label matchers scoping the pod rules (e.g. `namespace=~"shop-.*"`) and the node rule; the local
   * stack uses them to leave the incident lab's namespaces and nodes to the lab's own rules (tools/lab).
   */
  readonly podMatchers?: readonly string[];
  readonly nodeMatchers?: readonly string[];
  /** Extra labels on every alert (the lab marks its copy and engine for Alertmanager's routing). */
  readonly extraLabels?: Readonly<Record<string, string>>;
  /** Rule group name (default talon-remediation). */
  readonly groupName?: string;
}

/** Namespaces and nodes of the incident lab (tools/lab/runner/names.ts makes every lab name start with it). */
export const LAB_NAME_PREFIX = 'talon-lab-';

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
  podMatchers: [`namespace!~"${LAB_NAME_PREFIX}.+"`],
  nodeMatchers: [`node!~"${LAB_NAME_PREFIX}.+"`],
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
  const pod = (first: string): string => [first, ...(o.podMatchers ?? [])].join(', ');
  const node = (...first: string[]): string => {
    const all = [...first, ...(o.nodeMatchers ?? [])];
    return all.length === 0 ? '' : `{${all.join(', ')}}`;
  };
  const cpuUsage = `sum by (${podKeys}) (rate(container_cpu_usage_seconds_total{${pod('container!=""')}}[${o.rateWindow}]))`;
  const cpuLimit = `(max by (${podKeys}) (kube_pod_container_resource_limits{${pod('resource="cpu"')}}) > 0)`;
  const memUsage = `max by (${podKeys}) (container_memory_working_set_bytes{${pod('container!=""')}})`;
  const memLimit = `(max by (${podKeys}) (kube_pod_container_resource_limits{${pod('resource="memory"')}}) > 0)`;
  const nodeUsage = `sum by (node) (rate(node_cpu_usage_seconds_total${node()}[${o.rateWindow}]))`;
  const nodeAlloc = `(max by (node) (kube_node_status_allocatable${node('resource="cpu"')}) > 0)`;
  const extra = o.extraLabels ?? {};
  return {
    groups: [
      {
        name: o.groupName ?? 'talon-remediation',
        rules: [
          {
            alert: 'TalonPodCpuNearLimit',
            expr: `${cpuUsage} / on (${podKeys}) ${cpuLimit} > ${o.cpuLimitShare}`,
            for: o.forDuration,
            labels: { severity: 'warning', talon_scope: 'pod', talon_resource: 'cpu', ...extra },
            annotations: {
              summary:
                'Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} uses {{ $value | humanizePercentage }} of its CPU limit',
            },
          },
          {
            alert: 'TalonPodMemoryNearLimit',
            expr: `${memUsage} / on (${podKeys}) ${memLimit} > ${o.memoryLimitShare}`,
            for: o.forDuration,
            labels: { severity: 'warning', talon_scope: 'pod', talon_resource: 'memory', ...extra },
            annotations: {
              summary:
                'Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} uses {{ $value | humanizePercentage }} of its memory limit',
            },
          },
          {
            alert: 'TalonNodeOverloaded',
            expr: `${nodeUsage} / on (node) ${nodeAlloc} > ${o.nodeCpuShare}`,
            for: o.forDuration,
            labels: { severity: 'critical', talon_scope: 'node', talon_resource: 'cpu', ...extra },
            annotations: {
              summary: 'Node {{ $labels.node }} uses {{ $value | humanizePercentage }} of its allocatable CPU',
            },
          },
        ],
      },
    ],
  };
}
