/**
 * Metric names, label mappings and the PromQL Talon builds from them. Every name is configuration: the
 * defaults are what the kubelet's /metrics/resource and cAdvisor, kube-state-metrics and Kepler (0.7 series)
 * expose on real clusters, which is also what the local KWOK stack simulates. A cluster with other names
 * (recording rules, Kepler ≥ 0.10's `zone` label, a different node label) changes the configuration, not code.
 */
import { z } from 'zod';
import type { ModelFeature } from '../domain/features';
import type { SignalName } from '../domain/signals';
import type { WindowTarget } from '../domain/window';
import { MetricsConfigError } from './errors';

const metricName = z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'not a Prometheus metric name');
const labelName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'not a Prometheus label name');

/** A series: metric name plus fixed label matchers (e.g. `{ zone: 'core' }` for Kepler ≥ 0.10). */
const seriesRef = z.object({
  metric: metricName,
  matchers: z.record(labelName, z.string()).default({}),
});

/** Which label carries the namespace / pod / container of a series. */
const podLabels = z.object({ namespace: labelName, pod: labelName, container: labelName });

const resourceSelector = z.object({ label: labelName, cpu: z.string(), memory: z.string() });

export const metricsConfigSchema = z.object({
  /** cAdvisor / kubelet container series. */
  containers: z.object({
    labels: podLabels,
    /** Container label values that are not real containers (the pod cgroup, the pause container). */
    ignoreContainers: z.array(z.string()),
    cpuSeconds: seriesRef,
    cpuUserSeconds: seriesRef,
    memoryWorkingSetBytes: seriesRef,
    /** Network counters: per pod network namespace on real clusters (container "" or "POD"), so no container filter. */
    networkReceiveBytes: seriesRef,
    networkTransmitBytes: seriesRef,
    networkReceiveDrops: seriesRef,
    networkTransmitDrops: seriesRef,
    /** Disk I/O counters per container. */
    fsReadBytes: seriesRef,
    fsWriteBytes: seriesRef,
  }),
  /** Kepler's per-container energy counters (joules). */
  energy: z.object({
    labels: podLabels,
    coreJoules: seriesRef,
    dramJoules: seriesRef,
    packageJoules: seriesRef,
    totalJoules: seriesRef,
  }),
  /** kube-state-metrics requests and limits. */
  resources: z.object({
    labels: podLabels,
    limits: seriesRef,
    requests: seriesRef,
    resource: resourceSelector,
  }),
  nodes: z.object({
    /** The label naming the node, on node series and on the pod series used to find a pod's node. */
    label: labelName,
    cpuSeconds: seriesRef,
    memoryWorkingSetBytes: seriesRef,
    allocatable: seriesRef,
    resource: resourceSelector,
    /** kube-state-metrics' pod → node mapping, used when container series carry no node label. */
    podInfo: seriesRef,
  }),
});

export type MetricsConfig = z.output<typeof metricsConfigSchema>;
export type MetricsConfigInput = z.input<typeof metricsConfigSchema>;
export type SeriesRef = z.output<typeof seriesRef>;

/** Defaults: real clusters (kubelet + cAdvisor + kube-state-metrics v2 + Kepler 0.7) and the local KWOK stack. */
export const DEFAULT_METRICS_CONFIG: MetricsConfig = {
  containers: {
    labels: { namespace: 'namespace', pod: 'pod', container: 'container' },
    ignoreContainers: ['', 'POD'],
    cpuSeconds: { metric: 'container_cpu_usage_seconds_total', matchers: {} },
    cpuUserSeconds: { metric: 'container_cpu_user_seconds_total', matchers: {} },
    memoryWorkingSetBytes: { metric: 'container_memory_working_set_bytes', matchers: {} },
    networkReceiveBytes: { metric: 'container_network_receive_bytes_total', matchers: {} },
    networkTransmitBytes: { metric: 'container_network_transmit_bytes_total', matchers: {} },
    networkReceiveDrops: { metric: 'container_network_receive_packets_dropped_total', matchers: {} },
    networkTransmitDrops: { metric: 'container_network_transmit_packets_dropped_total', matchers: {} },
    fsReadBytes: { metric: 'container_fs_reads_bytes_total', matchers: {} },
    fsWriteBytes: { metric: 'container_fs_writes_bytes_total', matchers: {} },
  },
  energy: {
    labels: { namespace: 'container_namespace', pod: 'pod_name', container: 'container_name' },
    coreJoules: { metric: 'kepler_container_core_joules_total', matchers: {} },
    dramJoules: { metric: 'kepler_container_dram_joules_total', matchers: {} },
    packageJoules: { metric: 'kepler_container_package_joules_total', matchers: {} },
    totalJoules: { metric: 'kepler_container_joules_total', matchers: {} },
  },
  resources: {
    labels: { namespace: 'namespace', pod: 'pod', container: 'container' },
    limits: { metric: 'kube_pod_container_resource_limits', matchers: {} },
    requests: { metric: 'kube_pod_container_resource_requests', matchers: {} },
    resource: { label: 'resource', cpu: 'cpu', memory: 'memory' },
  },
  nodes: {
    label: 'node',
    cpuSeconds: { metric: 'node_cpu_usage_seconds_total', matchers: {} },
    memoryWorkingSetBytes: { metric: 'node_memory_working_set_bytes', matchers: {} },
    allocatable: { metric: 'kube_node_status_allocatable', matchers: {} },
    resource: { label: 'resource', cpu: 'cpu', memory: 'memory' },
    podInfo: { metric: 'kube_pod_info', matchers: {} },
  },
};

type DeepPartial<T> = { [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : DeepPartial<T[K]> };

function deepMerge<T>(base: T, override: DeepPartial<T> | undefined): T {
  if (override === undefined) return base;
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return override as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(override as Record<string, unknown>)) {
    if (v === undefined) continue;
    const current = out[k];
    // `matchers` replaces rather than merges: adding a matcher to a default must be able to drop another.
    out[k] =
      k !== 'matchers' && typeof current === 'object' && current !== null && !Array.isArray(current)
        ? deepMerge(current, v as DeepPartial<typeof current>)
        : v;
  }
  return out as T;
}

export type MetricsConfigOverrides = DeepPartial<MetricsConfig>;

/** Overlays a partial configuration on the defaults and validates every name. */
export function metricsConfig(overrides?: MetricsConfigOverrides): MetricsConfig {
  const merged = deepMerge(DEFAULT_METRICS_CONFIG, overrides);
  const parsed = metricsConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new MetricsConfigError(`invalid metrics configuration: ${problems}`);
  }
  return parsed.data;
}

/** Escapes a label value for a PromQL double-quoted string. */
export function promString(value: string): string {
  return JSON.stringify(value);
}

function escapeRegex(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `metric{fixed matchers, extra matchers}`; extra is a list of already-rendered matchers. */
export function selector(ref: SeriesRef, extra: readonly string[] = []): string {
  const fixed = Object.entries(ref.matchers).map(([k, v]) => `${k}=${promString(v)}`);
  const all = [...fixed, ...extra];
  return all.length === 0 ? ref.metric : `${ref.metric}{${all.join(',')}}`;
}

/** The matcher leaving out the pod cgroup and pause container series (none when nothing is ignored). */
function ignoredContainers(labels: { container: string }, ignoreContainers: readonly string[]): string[] {
  return ignoreContainers.length === 0
    ? []
    : [`${labels.container}!~${promString(ignoreContainers.map(escapeRegex).join('|'))}`];
}

/** Matchers selecting a target's containers with the given label mapping. */
export function podMatchers(
  labels: { namespace: string; pod: string; container: string },
  target: Pick<WindowTarget, 'namespace' | 'pod' | 'container'>,
  ignoreContainers: readonly string[],
): string[] {
  const m = [`${labels.namespace}=${promString(target.namespace)}`, `${labels.pod}=${promString(target.pod)}`];
  if (target.container !== undefined) m.push(`${labels.container}=${promString(target.container)}`);
  else m.push(...ignoredContainers(labels, ignoreContainers));
  return m;
}

/** kube_pod_info for the target; it carries kube-state-metrics' labels, like requests and limits. */
function podInfoSelector(config: MetricsConfig, target: WindowTarget): string {
  const l = config.resources.labels;
  return selector(config.nodes.podInfo, [
    `${l.namespace}=${promString(target.namespace)}`,
    `${l.pod}=${promString(target.pod)}`,
  ]);
}

/** Tags an expression's result with a constant label so several expressions share one query. */
export function tagged(expr: string, label: string, value: string): string {
  return `label_replace(${expr}, ${promString(label)}, ${promString(value)}, "", "")`;
}

export const FEATURE_LABEL = 'talon_feature';
export const KIND_LABEL = 'talon_kind';

/**
 * The absolute series behind a window, before division by limits: CPU in cores, memory in bytes, node CPU
 * share, energy in joules per step. Keys are model features or the helper `node_cpu_share`.
 */
export type RawSeriesKey = ModelFeature | SignalName | 'cpu_cores' | 'memory_bytes' | 'user_cpu_cores';

export interface WindowQueryOptions {
  readonly stepSeconds: number;
  /** Range of rate() and last_over_time(); must span at least two scrapes. */
  readonly rangeSeconds: number;
}

/**
 * One range query returning every series of a pod's window, each tagged with `talon_feature`. CPU and
 * memory stay absolute here (the denominators come from a separate instant query or the caller); the node
 * CPU share is computed in PromQL against the node the pod runs on, found through the node label of the
 * pod's own series or kube_pod_info.
 */
export function windowQuery(config: MetricsConfig, target: WindowTarget, o: WindowQueryOptions): string {
  const c = config.containers;
  const e = config.energy;
  const n = config.nodes;
  const r = `[${o.rangeSeconds}s]`;
  const pod = podMatchers(c.labels, target, c.ignoreContainers);
  const energyPod = podMatchers(e.labels, target, c.ignoreContainers);
  const perStep = (ref: SeriesRef) => `sum(rate(${selector(ref, energyPod)}${r})) * ${o.stepSeconds}`;
  const nodeLabel = n.label;
  const podNodes =
    target.node !== undefined
      ? undefined
      : `group by (${nodeLabel}) (${selector(c.cpuSeconds, pod.slice(0, 2))} or ${podInfoSelector(config, target)})`;
  const onNode = (expr: string) => (podNodes === undefined ? expr : `(${expr} and on (${nodeLabel}) ${podNodes})`);
  const nodeMatch = target.node !== undefined ? [`${nodeLabel}=${promString(target.node)}`] : [];
  const nodeCpu = `sum(${onNode(`sum by (${nodeLabel}) (rate(${selector(n.cpuSeconds, nodeMatch)}${r}))`)})`;
  const nodeAlloc = `sum(${onNode(
    `sum by (${nodeLabel}) (${selector(n.allocatable, [...nodeMatch, `${n.resource.label}=${promString(n.resource.cpu)}`])})`,
  )})`;
  const parts: [RawSeriesKey, string][] = [
    ['cpu_cores', `sum(rate(${selector(c.cpuSeconds, pod)}${r}))`],
    ['memory_bytes', `sum(last_over_time(${selector(c.memoryWorkingSetBytes, pod)}${r}))`],
    ['system_cpu_usage', `${nodeCpu} / ${nodeAlloc}`],
    ['user_cpu_cores', `sum(rate(${selector(c.cpuUserSeconds, pod)}${r}))`],
    ['core_joules', perStep(e.coreJoules)],
    ['dram_joules', perStep(e.dramJoules)],
    ['package_joules', perStep(e.packageJoules)],
    ['total_joules', perStep(e.totalJoules)],
    ...signalExpressions(config, target, r),
  ];
  return parts.map(([key, expr]) => tagged(expr, FEATURE_LABEL, key)).join(' or ');
}

/** The series of a pod behind each signal (network per pod, disk I/O per container), as per-second rates. */
export function signalSeries(config: MetricsConfig): Record<SignalName, { ref: SeriesRef; perPod: boolean }> {
  const c = config.containers;
  return {
    network_receive_bytes: { ref: c.networkReceiveBytes, perPod: true },
    network_transmit_bytes: { ref: c.networkTransmitBytes, perPod: true },
    network_receive_drops: { ref: c.networkReceiveDrops, perPod: true },
    network_transmit_drops: { ref: c.networkTransmitDrops, perPod: true },
    fs_read_bytes: { ref: c.fsReadBytes, perPod: false },
    fs_write_bytes: { ref: c.fsWriteBytes, perPod: false },
  };
}

/** `sum(rate(<signal of the pod>[range]))` for one signal; `range` is rendered, e.g. `[20s]`. */
export function signalRateExpression(
  config: MetricsConfig,
  target: Pick<WindowTarget, 'namespace' | 'pod' | 'container'>,
  signal: SignalName,
  range: string,
): string {
  const c = config.containers;
  const { ref, perPod } = signalSeries(config)[signal];
  const matchers = podMatchers(c.labels, target, c.ignoreContainers);
  return `sum(rate(${selector(ref, perPod ? matchers.slice(0, 2) : matchers)}${range}))`;
}

function signalExpressions(config: MetricsConfig, target: WindowTarget, range: string): [RawSeriesKey, string][] {
  return (Object.keys(signalSeries(config)) as SignalName[]).map((s) => [
    s,
    signalRateExpression(config, target, s, range),
  ]);
}

/**
 * One instant query for a pod's requests and limits (summed over its containers, zero meaning "unset" as
 * the local stack reports it) and the node it runs on, each the last value seen within `lookbackSeconds`
 * (the window's span): a pod that has just vanished keeps the limits its window must be divided by.
 */
export function podContextQuery(config: MetricsConfig, target: WindowTarget, lookbackSeconds: number): string {
  const rs = config.resources;
  const c = config.containers;
  const n = config.nodes;
  const pod = podMatchers(rs.labels, target, c.ignoreContainers);
  const res = `${rs.resource.label}=~${promString(`${rs.resource.cpu}|${rs.resource.memory}`)}`;
  const lookback = `[${lookbackSeconds}s]`;
  const byResource = (ref: SeriesRef) =>
    `sum by (${rs.resource.label}) (last_over_time(${selector(ref, [...pod, res])}${lookback}) > 0)`;
  const podSeries = selector(c.cpuSeconds, podMatchers(c.labels, target, c.ignoreContainers).slice(0, 2));
  const nodeOf = `group by (${n.label}) (last_over_time(${podSeries}${lookback}) or ${podInfoSelector(config, target)})`;
  return [
    tagged(byResource(rs.limits), KIND_LABEL, 'limit'),
    tagged(byResource(rs.requests), KIND_LABEL, 'request'),
    tagged(nodeOf, KIND_LABEL, 'node'),
  ].join(' or ');
}

/** CPU cores each pod on `node` uses, by namespace and pod (for choosing the pod to evict from an overloaded node). */
export function nodePodCpuQuery(config: MetricsConfig, node: string, rangeSeconds: number): string {
  const c = config.containers;
  const matchers = [`${config.nodes.label}=${promString(node)}`, ...ignoredContainers(c.labels, c.ignoreContainers)];
  return `sum by (${c.labels.namespace}, ${c.labels.pod}) (rate(${selector(c.cpuSeconds, matchers)}[${rangeSeconds}s]))`;
}

/** One instant query for every node's CPU/memory usage and allocatable, tagged by kind. */

export function nodeLoadQuery(config: MetricsConfig, rangeSeconds: number): string {
  const n = config.nodes;
  const r = `[${rangeSeconds}s]`;
  const alloc = (resource: string) =>
    `sum by (${n.label}) (${selector(n.allocatable, [`${n.resource.label}=${promString(resource)}`])})`;
  return [
    tagged(`sum by (${n.label}) (rate(${selector(n.cpuSeconds)}${r}))`, KIND_LABEL, 'cpu'),
    tagged(`sum by (${n.label}) (last_over_time(${selector(n.memoryWorkingSetBytes)}${r}))`, KIND_LABEL, 'memory'),
    tagged(alloc(n.resource.cpu), KIND_LABEL, 'cpu_allocatable'),
    tagged(alloc(n.resource.memory), KIND_LABEL, 'memory_allocatable'),
  ].join(' or ');
}
