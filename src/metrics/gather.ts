/**
 * Gathers a pod's feature window from Prometheus: one range query for every series (tagged per feature),
 * one instant query for requests, limits and the pod's node, both in parallel; then the usage is divided by
 * the limit (or request) so the window carries the ratio features of FEATURE_UNITS, and the window builder
 * applies alignment, the gap rule and the quality score. Also the node loads used to rank offloading targets.
 */
import { WINDOW_STEP_SECONDS, WINDOW_STEPS, type ModelFeature } from '../domain/features';
import type { NodeLoad } from '../domain/node-load';
import {
  REQUIRED_FEATURES,
  type ContainerResources,
  type GatherOutcome,
  type WindowHistory,
  type WindowTarget,
} from '../domain/window';
import { WindowSpecError } from './errors';
import type { InfluxStore } from './influx';
import type { PrometheusClient, RangeSeries } from './prometheus';
import {
  FEATURE_LABEL,
  KIND_LABEL,
  nodeLoadQuery,
  podContextQuery,
  windowQuery,
  type MetricsConfig,
  type RawSeriesKey,
} from './queries';
import { SIGNALS, type WindowSignals } from '../domain/signals';
import {
  alignEnd,
  alignSamples,
  buildWindow,
  fillGaps,
  gridTimes,
  validateSpec,
  type Sample,
  type WindowRules,
} from './window';

export interface GatherOptions {
  readonly steps: number;
  readonly stepSeconds: number;
  /** Range of rate() and last_over_time(); at least two scrape intervals. Defaults to two steps. */
  readonly rangeSeconds?: number;
  /** What a usage share is relative to: the limit (falling back to the request), or the request first. */
  readonly shareOf: 'limit' | 'request';
  readonly windowRules?: Partial<WindowRules>;
}

export const DEFAULT_GATHER_OPTIONS: GatherOptions = {
  steps: WINDOW_STEPS,
  stepSeconds: WINDOW_STEP_SECONDS,
  shareOf: 'limit',
};

export interface GatherRequest {
  readonly target: WindowTarget;
  /** Unix seconds the window ends at (rounded down to the step); defaults to now. */
  readonly at?: number;
  /** Known requests/limits (e.g. from the pod spec); they win over kube-state-metrics' values. */
  readonly resources?: ContainerResources;
  readonly history?: WindowHistory;
}

export interface PodContext {
  readonly resources: ContainerResources;
  readonly node?: string;
}

function definedOnly(r: Record<string, number | undefined>): ContainerResources {
  return Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined && Number.isFinite(v) && v > 0));
}

/** Reads the pod's requests, limits and node from the tagged context query. */
export async function podContext(
  client: PrometheusClient,
  config: MetricsConfig,
  target: WindowTarget,
  lookbackSeconds: number,
  at?: number,
): Promise<PodContext> {
  const rows = await client.query(podContextQuery(config, target, lookbackSeconds), at);
  const res = config.resources.resource;
  const value = (kind: string, resource: string) =>
    rows.find((r) => r.metric[KIND_LABEL] === kind && r.metric[res.label] === resource)?.sample.v;
  const node = rows.find((r) => r.metric[KIND_LABEL] === 'node' && r.metric[config.nodes.label])?.metric[
    config.nodes.label
  ];
  return {
    resources: definedOnly({
      cpuRequestCores: value('request', res.cpu),
      cpuLimitCores: value('limit', res.cpu),
      memoryRequestBytes: value('request', res.memory),
      memoryLimitBytes: value('limit', res.memory),
    }),
    ...(node ? { node } : {}),
  };
}

function seriesByKey(series: readonly RangeSeries[]): Partial<Record<RawSeriesKey, readonly Sample[]>> {
  const out: Partial<Record<RawSeriesKey, readonly Sample[]>> = {};
  for (const s of series) {
    const key = s.metric[FEATURE_LABEL] as RawSeriesKey | undefined;
    if (key) out[key] = s.samples;
  }
  return out;
}

const divide = (samples: readonly Sample[] | undefined, by: number | undefined): Sample[] | undefined =>
  samples === undefined || by === undefined ? undefined : samples.map((s) => ({ t: s.t, v: s.v / by }));

/** The denominators of the ratio features under the configured basis. */
export function shareDenominators(
  resources: ContainerResources,
  shareOf: GatherOptions['shareOf'],
): { cpu?: number; memory?: number } {
  const pick = (limit?: number, request?: number) => (shareOf === 'limit' ? (limit ?? request) : (request ?? limit));
  const cpu = pick(resources.cpuLimitCores, resources.cpuRequestCores);
  const memory = pick(resources.memoryLimitBytes, resources.memoryRequestBytes);
  return { ...(cpu === undefined ? {} : { cpu }), ...(memory === undefined ? {} : { memory }) };
}

export function rangeSecondsOf(options: GatherOptions): number {
  const range = options.rangeSeconds ?? 2 * options.stepSeconds;
  if (!Number.isInteger(range) || range < 1) throw new WindowSpecError(`rangeSeconds must be a positive integer`);
  return range;
}

/** Gathers one pod's window from Prometheus. Throws the client's typed errors; never returns zeros for gaps. */
export async function gatherFromPrometheus(
  client: PrometheusClient,
  config: MetricsConfig,
  options: GatherOptions,
  request: GatherRequest,
): Promise<GatherOutcome> {
  const spec = { steps: options.steps, stepSeconds: options.stepSeconds };
  validateSpec(spec);
  const range = rangeSecondsOf(options);
  const asOf = request.at ?? Date.now() / 1000;
  const end = alignEnd(asOf, spec.stepSeconds);
  const start = end - (spec.steps - 1) * spec.stepSeconds;
  const query = windowQuery(config, request.target, { stepSeconds: spec.stepSeconds, rangeSeconds: range });
  const [series, context] = await Promise.all([
    client.queryRange(query, start, end, spec.stepSeconds),
    podContext(client, config, request.target, range + (spec.steps - 1) * spec.stepSeconds, asOf),
  ]);
  const resources: ContainerResources = { ...context.resources, ...definedOnly({ ...request.resources }) };
  const raw = seriesByKey(series);
  const den = shareDenominators(resources, options.shareOf);
  const features: Partial<Record<ModelFeature, readonly Sample[]>> = {
    system_cpu_usage: raw.system_cpu_usage,
    core_joules: raw.core_joules,
    dram_joules: raw.dram_joules,
    package_joules: raw.package_joules,
    total_joules: raw.total_joules,
    cpu_usage: divide(raw.cpu_cores, den.cpu),
    memory_usage: divide(raw.memory_bytes, den.memory),
    user_cpu_usage: divide(raw.user_cpu_cores, den.cpu),
  };
  const missing = [
    ...(den.cpu === undefined ? ['no CPU limit or request known'] : []),
    ...(den.memory === undefined ? ['no memory limit or request known'] : []),
  ];
  const target = context.node && !request.target.node ? { ...request.target, node: context.node } : request.target;
  const outcome = buildWindow({
    target,
    source: 'prometheus',
    end,
    asOf,
    spec,
    series: features,
    resources,
    ...(options.windowRules ? { rules: options.windowRules } : {}),
    ...(request.history ? { history: request.history } : {}),
    ...(missing.length > 0 ? { note: missing.join('; ') } : {}),
  });
  if (outcome.kind !== 'window') return outcome;
  const signals = signalColumns(raw, gridTimes(end, spec), spec.stepSeconds);
  return Object.keys(signals).length > 0 ? { ...outcome, signals } : outcome;
}

/** The signals on the window's grid, gaps filled like the features'; a signal without any point is left out. */
export function signalColumns(
  raw: Partial<Record<RawSeriesKey, readonly Sample[]>>,
  grid: readonly number[],
  stepSeconds: number,
): WindowSignals {
  const out: Record<string, number[]> = {};
  for (const signal of SIGNALS) {
    const samples = raw[signal];
    if (!samples || samples.length === 0) continue;
    const filled = fillGaps(alignSamples(samples, grid, stepSeconds).values);
    if (filled) out[signal] = filled;
  }
  return out;
}

/** Current CPU and memory usage and allocatable of every node Prometheus knows. */
export async function nodeLoads(
  client: PrometheusClient,
  config: MetricsConfig,
  rangeSeconds: number,
  at?: number,
): Promise<NodeLoad[]> {
  const rows = await client.query(nodeLoadQuery(config, rangeSeconds), at);
  const byNode = new Map<string, Record<string, number>>();
  for (const row of rows) {
    const node = row.metric[config.nodes.label];
    const kind = row.metric[KIND_LABEL];
    if (!node || !kind || !Number.isFinite(row.sample.v)) continue;
    const entry = byNode.get(node) ?? {};
    entry[kind] = row.sample.v;
    byNode.set(node, entry);
  }
  return [...byNode.entries()]
    .map(([node, v]) => ({
      node,
      // A node whose rate Prometheus could not compute (a missed scrape, a fresh series) is unmeasured, not idle:
      // read as 0 it would end a node-overload watch as relieved.
      ...(v.cpu === undefined ? {} : { cpuCores: v.cpu }),
      ...(v.memory === undefined ? {} : { memoryBytes: v.memory }),
      ...(v.cpu_allocatable && v.cpu_allocatable > 0 ? { cpuAllocatableCores: v.cpu_allocatable } : {}),
      ...(v.memory_allocatable && v.memory_allocatable > 0 ? { memoryAllocatableBytes: v.memory_allocatable } : {}),
    }))
    .sort((a, b) => a.node.localeCompare(b.node));
}

export interface InfluxGatherRequest {
  readonly target: WindowTarget;
  /** Unix seconds of "now": staleness is measured from it. */
  readonly at: number;
  /** How far back stored steps are looked for. */
  readonly lookbackSeconds: number;
  readonly note: string;
  readonly resources?: ContainerResources;
}

/**
 * Rebuilds a window from the steps earlier gathers stored in InfluxDB, ending at the newest stored step of
 * the required features. Its staleness (measured from `at`) tells the policy how old the picture is.
 */
export async function gatherFromInflux(
  store: InfluxStore,
  options: GatherOptions,
  request: InfluxGatherRequest,
): Promise<GatherOutcome> {
  const spec = { steps: options.steps, stepSeconds: options.stepSeconds };
  validateSpec(spec);
  const series = await store.featureSamples(request.target, request.at - request.lookbackSeconds, request.at);
  const required = options.windowRules?.required ?? REQUIRED_FEATURES;
  const newestPerRequired = required.map((f) => series[f]?.[series[f].length - 1]?.t);
  const known = newestPerRequired.filter((t): t is number => t !== undefined);
  const newest = known.length === required.length && known.length > 0 ? Math.min(...known) : undefined;
  const end = alignEnd(newest ?? request.at, spec.stepSeconds);
  return buildWindow({
    target: request.target,
    source: 'influx',
    end,
    asOf: request.at,
    spec,
    series,
    note:
      newest === undefined ? `${request.note}; nothing stored in the last ${request.lookbackSeconds} s` : request.note,
    ...(options.windowRules ? { rules: options.windowRules } : {}),
    ...(request.resources ? { resources: request.resources } : {}),
  });
}
