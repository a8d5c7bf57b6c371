/**
 * Talon's Prometheus alert rules, one source for the local stack and for real clusters. The metric
 * names are kube-state-metrics' and the kubelet's, which the local KWOK cluster also exposes.
 */
import { ALERT_LIMIT_SHARES } from '../../src/domain/predictive';
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
  /** D3.6 Rule 1: a node busier than this share… */
  readonly nodeBusyShare: number;
  /** …and a pod using at least this share of the node's busy CPU: the pod's workload may lose a replica. */
  readonly podShareOfBusyNode: number;
  /** A pod dropping more packets per second than this (received + sent) is on a congested link. */
  readonly networkDropsPerSecond: number;
  /** …or sending or receiving more than this many Mbit/s (TALON_NETWORK_CEILING_MBPS × the rules' highShare). */
  readonly networkHighMbps: number;
  /** Disk bytes read + written per second above which a pod's I/O is heavy (the rules' io.highBytesPerSecond). */
  readonly ioBytesPerSecond: number;
  /** Restarts within `restartWindow` that make a container crash-looping (the rules' restart.restartsAtLeast). */
  readonly crashRestarts: number;
  readonly restartWindow: string;
}

/** Namespaces and nodes of the incident lab (tools/lab/runner/names.ts makes every lab name start with it). */
export const LAB_NAME_PREFIX = 'talon-lab-';

/** The thresholds Talon's rule policy uses by default (src/policy/talon-rules.ts), so alert and rule agree. */
const SHARED_THRESHOLDS = {
  nodeBusyShare: 0.7,
  podShareOfBusyNode: 0.2,
  networkDropsPerSecond: 100,
  networkHighMbps: 800,
  ioBytesPerSecond: 100 * 1024 * 1024,
  crashRestarts: 3,
} as const;

export const PRODUCTION_RULE_OPTIONS: AlertRuleOptions = {
  forDuration: '2m',
  rateWindow: '2m',
  // The predictive watch forecasts against the same lines (src/domain/predictive.ts).
  cpuLimitShare: ALERT_LIMIT_SHARES.cpu,
  memoryLimitShare: ALERT_LIMIT_SHARES.memory,
  nodeCpuShare: 0.9,
  ...SHARED_THRESHOLDS,
  restartWindow: '10m',
};

export const LOCAL_RULE_OPTIONS: AlertRuleOptions = {
  forDuration: '10s',
  rateWindow: '20s',
  cpuLimitShare: ALERT_LIMIT_SHARES.cpu,
  memoryLimitShare: ALERT_LIMIT_SHARES.memory,
  nodeCpuShare: 0.9,
  podMatchers: [`namespace!~"${LAB_NAME_PREFIX}.+"`],
  nodeMatchers: [`node!~"${LAB_NAME_PREFIX}.+"`],
  ...SHARED_THRESHOLDS,
  restartWindow: '2m',
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
  const podCpuOnNode = `sum by (namespace, pod, node) (rate(container_cpu_usage_seconds_total{${pod('container!=""')}}[${o.rateWindow}]))`;
  const busyNodes = `(${nodeUsage} / on (node) ${nodeAlloc} > ${o.nodeBusyShare})`;
  const podNet = (metric: string) =>
    `sum by (namespace, pod) (rate(${metric}${(o.podMatchers ?? []).length > 0 ? `{${(o.podMatchers ?? []).join(', ')}}` : ''}[${o.rateWindow}]))`;
  const drops = `sum by (namespace, pod) (rate({${pod('__name__=~"container_network_(receive|transmit)_packets_dropped_total"')}}[${o.rateWindow}]))`;
  const mbit = (metric: string) => `${podNet(metric)} * 8 / 1e6`;
  const io = `sum by (namespace, pod) (rate({${pod('__name__=~"container_fs_(reads|writes)_bytes_total"')}}[${o.rateWindow}]))`;
  const waiting = `kube_pod_container_status_waiting_reason{${pod('reason="CrashLoopBackOff"')}}`;
  const restarts = `kube_pod_container_status_restarts_total${(o.podMatchers ?? []).length > 0 ? `{${(o.podMatchers ?? []).join(', ')}}` : ''}`;
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
            // D3.6 Rule 1: high CPU on a node, a pod of a redundant workload among its heavy users. The rule
            // policy decides whether the workload is redundant (replica_scale_down) or the pod should move.
            alert: 'TalonPodNodeCpuHigh',
            expr:
              `(${podCpuOnNode} / on (node) group_left () ${nodeUsage}) > ${o.podShareOfBusyNode} ` +
              `and on (node) ${busyNodes}`,
            for: o.forDuration,
            labels: { severity: 'warning', talon_scope: 'pod', talon_resource: 'node-cpu', ...extra },
            annotations: {
              summary:
                '{{ $labels.namespace }}/{{ $labels.pod }} uses {{ $value | humanizePercentage }} of the busy CPU of node {{ $labels.node }}',
            },
          },
          {
            alert: 'TalonPodNetworkCongested',
            expr:
              `${drops} > ${o.networkDropsPerSecond} or ${mbit('container_network_receive_bytes_total')} > ${o.networkHighMbps} ` +
              `or ${mbit('container_network_transmit_bytes_total')} > ${o.networkHighMbps}`,
            for: o.forDuration,
            labels: { severity: 'warning', talon_scope: 'pod', talon_resource: 'network', ...extra },
            annotations: {
              summary: '{{ $labels.namespace }}/{{ $labels.pod }} is on a congested link ({{ $value }})',
            },
          },
          {
            alert: 'TalonPodIoHigh',
            expr: `${io} > ${o.ioBytesPerSecond}`,
            for: o.forDuration,
            labels: { severity: 'warning', talon_scope: 'pod', talon_resource: 'io', ...extra },
            annotations: {
              summary: '{{ $labels.namespace }}/{{ $labels.pod }} reads and writes {{ $value | humanize1024 }}B/s',
            },
          },
          {
            alert: 'TalonContainerCrashLooping',
            expr:
              `max by (namespace, pod, container) (${waiting}) > 0 ` +
              `or max by (namespace, pod, container) (increase(${restarts}[${o.restartWindow}])) >= ${o.crashRestarts}`,
            for: o.forDuration,
            labels: { severity: 'warning', talon_scope: 'pod', talon_resource: 'health', ...extra },
            annotations: {
              summary:
                'Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} is crash-looping',
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
