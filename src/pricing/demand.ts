/**
 * The cluster's demand history and capacity from Prometheus, under the metric names of `src/metrics`
 * (kube-state-metrics requests and allocatable, cAdvisor usage; the local KWOK stack exposes the same).
 * Demand in a step is what the cluster had to provide: the larger of what pods requested and what they
 * used, averaged over the step (an empty sum counts as 0, so an idle hour is not skipped).
 */
import { DEFAULT_METRICS_CONFIG, type MetricsConfig, type SeriesRef } from '../metrics/queries';
import type { PrometheusClient, RangeSeries } from '../metrics/prometheus';
import type { DemandHistory } from '../domain/pricing/context';
import type { PerResource } from '../domain/pricing/offer';

const GIB = 1024 ** 3;

function selector(
  ref: SeriesRef,
  extra: Readonly<Record<string, string>> = {},
  negative: readonly (readonly [string, string])[] = [],
): string {
  const matchers = [
    ...Object.entries({ ...ref.matchers, ...extra }).map(([k, v]) => `${k}=${JSON.stringify(v)}`),
    ...negative.map(([k, v]) => `${k}!=${JSON.stringify(v)}`),
  ];
  return `${ref.metric}${matchers.length > 0 ? `{${matchers.join(',')}}` : ''}`;
}

export interface DemandQueries {
  readonly cpu: string;
  readonly ram: string;
  readonly capacityCpu: string;
  readonly capacityRam: string;
}

/**
 * PromQL for demand per step (vCPUs, GiB) and for allocatable capacity. `resolution` is the subquery step
 * the average over each history step is taken at.
 */
export function demandQueries(stepSeconds: number, config: MetricsConfig = DEFAULT_METRICS_CONFIG): DemandQueries {
  const res = Math.max(5, Math.min(60, Math.floor(stepSeconds / 10)));
  const r = config.resources;
  const c = config.containers;
  const n = config.nodes;
  // Not the pod cgroup nor the pause container: only real containers' usage.
  const real = c.ignoreContainers.map((v) => [c.labels.container, v] as const);
  const avg = (expr: string) => `avg_over_time(((${expr}) or vector(0))[${stepSeconds}s:${res}s])`;
  const requested = (resource: string) => `sum(${selector(r.requests, { [r.resource.label]: resource })})`;
  const cpuUsed = `sum(rate(${selector(c.cpuSeconds, {}, real)}[${Math.max(4 * res, 60)}s]))`;
  const memUsed = `sum(${selector(c.memoryWorkingSetBytes, {}, real)})`;
  return {
    cpu: avg(
      `max(label_replace(${requested(r.resource.cpu)}, "src", "req", "", "") or label_replace(${cpuUsed}, "src", "use", "", ""))`,
    ),
    ram: avg(
      `max(label_replace(${requested(r.resource.memory)}, "src", "req", "", "") or label_replace(${memUsed}, "src", "use", "", "")) / ${GIB}`,
    ),
    capacityCpu: `sum(${selector(n.allocatable, { [n.resource.label]: n.resource.cpu })})`,
    capacityRam: `sum(${selector(n.allocatable, { [n.resource.label]: n.resource.memory })}) / ${GIB}`,
  };
}

/** A range answer as one value per step from `start`, gaps filled with the previous value (leading ones dropped). */
export function alignSteps(
  series: readonly RangeSeries[],
  start: number,
  steps: number,
  stepSeconds: number,
): number[] {
  const values = new Array<number>(steps).fill(Number.NaN);
  for (const s of series) {
    for (const sample of s.samples) {
      const i = Math.round((sample.t * 1000 - start) / (stepSeconds * 1000));
      if (i >= 0 && i < steps && Number.isFinite(sample.v))
        values[i] = Number.isNaN(values[i]!) ? sample.v : Math.max(values[i]!, sample.v);
    }
  }
  const first = values.findIndex((v) => !Number.isNaN(v));
  if (first < 0) return [];
  const out = values.slice(first);
  for (let i = 1; i < out.length; i++) if (Number.isNaN(out[i]!)) out[i] = out[i - 1]!;
  return out;
}

export interface DemandReading {
  readonly history: DemandHistory;
  readonly capacity?: PerResource<number>;
  readonly notes: string[];
}

/** Reads `steps` steps of demand ending at `end` (ms), and the current capacity. */
export async function readDemand(
  prometheus: Pick<PrometheusClient, 'query' | 'queryRange'>,
  options: { end: number; steps: number; stepSeconds: number; metrics?: MetricsConfig },
): Promise<DemandReading> {
  const q = demandQueries(options.stepSeconds, options.metrics);
  const stepMs = options.stepSeconds * 1000;
  const endAligned = Math.floor(options.end / stepMs) * stepMs;
  const start = endAligned - (options.steps - 1) * stepMs;
  const [cpu, ram, capCpu, capRam] = await Promise.all([
    prometheus.queryRange(q.cpu, start / 1000, endAligned / 1000, options.stepSeconds),
    prometheus.queryRange(q.ram, start / 1000, endAligned / 1000, options.stepSeconds),
    prometheus.query(q.capacityCpu),
    prometheus.query(q.capacityRam),
  ]);
  const notes: string[] = [];
  let cpuSteps = alignSteps(cpu, start, options.steps, options.stepSeconds);
  let ramSteps = alignSteps(ram, start, options.steps, options.stepSeconds);
  // Both series start at the first step either has.
  const n = Math.min(cpuSteps.length, ramSteps.length);
  cpuSteps = cpuSteps.slice(cpuSteps.length - n);
  ramSteps = ramSteps.slice(ramSteps.length - n);
  if (n === 0) notes.push('Prometheus has no demand history (no request or usage series)');
  const cpuCap = capCpu[0]?.sample.v;
  const ramCap = capRam[0]?.sample.v;
  const capacity = cpuCap && ramCap && cpuCap > 0 && ramCap > 0 ? { cpu: cpuCap, ram: ramCap } : undefined;
  if (!capacity) notes.push('Prometheus reports no allocatable capacity: the price ignores capacity');
  return {
    history: { start: endAligned - (n - 1) * stepMs, stepSeconds: options.stepSeconds, cpu: cpuSteps, ram: ramSteps },
    ...(capacity ? { capacity } : {}),
    notes,
  };
}
