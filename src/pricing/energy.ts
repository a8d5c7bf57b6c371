/**
 * Electricity per unit of work. Measured when the cluster runs Kepler: the Kepler-named joule counters
 * (`kepler_container_joules_total` and its DRAM part, names from `src/metrics`) over cAdvisor's busy cores
 * and working-set memory give watts per busy vCPU and per GB held. Otherwise, and for the facility overhead
 * (PUE) in both cases, the per-tier power profiles of the configuration, mixed by each tier's share of the
 * cluster's allocatable CPU (a node's own `talon.io/energy-per-core-watts` replacing its tier's figure).
 */
import type { PowerEstimate } from '../domain/pricing/context';
import type { Tier } from '../domain/placement';
import type { PrometheusClient } from '../metrics/prometheus';
import { DEFAULT_METRICS_CONFIG, type MetricsConfig } from '../metrics/queries';
import type { TierPowerProfile } from './config';
import type { PricingNode } from './nodes';

const GIB = 1024 ** 3;

/** The profiles' power, weighted by allocatable CPU (W per vCPU, PUE) and memory (W per GB). */
export function profilePower(
  nodes: readonly PricingNode[],
  profiles: Readonly<Record<Tier, TierPowerProfile>>,
): PowerEstimate {
  const cpu = nodes.reduce((a, n) => a + n.cpuCores, 0);
  const mem = nodes.reduce((a, n) => a + n.memoryGb, 0);
  if (nodes.length === 0 || cpu <= 0) {
    const p = profiles.cloud;
    return { ...p, source: 'profiles', detail: 'no nodes known: the cloud profile' };
  }
  let wattsPerVcpu = 0;
  let pue = 0;
  let wattsPerGb = 0;
  for (const n of nodes) {
    const p = profiles[n.tier];
    wattsPerVcpu += ((n.wattsPerCore ?? p.wattsPerVcpu) * n.cpuCores) / cpu;
    pue += (p.pue * n.cpuCores) / cpu;
    wattsPerGb += mem > 0 ? (p.wattsPerGb * n.memoryGb) / mem : p.wattsPerGb / nodes.length;
  }
  const tiers = (['cloud', 'edge'] as const)
    .map((t) => [t, nodes.filter((n) => n.tier === t).reduce((a, n) => a + n.cpuCores, 0) / cpu] as const)
    .filter(([, share]) => share > 0)
    .map(([t, share]) => `${t} ${Math.round(share * 100)} %`);
  const labelled = nodes.filter((n) => n.wattsPerCore !== undefined).length;
  return {
    wattsPerVcpu,
    wattsPerGb,
    pue,
    source: 'profiles',
    detail:
      `power profiles mixed by allocatable CPU (${tiers.join(', ')})` +
      (labelled > 0 ? `; ${labelled} node(s) with their own W per core` : ''),
  };
}

export interface KeplerQueries {
  readonly cpuWatts: string;
  readonly busyCores: string;
  readonly dramWatts: string;
  readonly memoryGb: string;
}

export function keplerQueries(window: string, config: MetricsConfig = DEFAULT_METRICS_CONFIG): KeplerQueries {
  const e = config.energy;
  const c = config.containers;
  const real = c.ignoreContainers.map((v) => `${c.labels.container}!=${JSON.stringify(v)}`).join(',');
  const rate = (metric: string) => `sum(rate(${metric}[${window}]))`;
  return {
    cpuWatts: `${rate(e.totalJoules.metric)} - (${rate(e.dramJoules.metric)} or vector(0))`,
    busyCores: `sum(rate(${c.cpuSeconds.metric}{${real}}[${window}]))`,
    dramWatts: rate(e.dramJoules.metric),
    memoryGb: `sum(${c.memoryWorkingSetBytes.metric}{${real}}) / ${GIB}`,
  };
}

export interface MeasuredPower {
  readonly wattsPerVcpu: number;
  /** Absent when Kepler reports no DRAM energy. */
  readonly wattsPerGb?: number;
  readonly detail: string;
}

/** Watts per busy vCPU (and per GB) from Kepler, or undefined with the reason when it cannot be measured. */
export async function keplerPower(
  prometheus: Pick<PrometheusClient, 'query'>,
  window: string,
  config?: MetricsConfig,
): Promise<MeasuredPower | { readonly unavailable: string }> {
  const q = keplerQueries(window, config);
  const [cpuWatts, busy, dram, mem] = await Promise.all([
    prometheus.query(q.cpuWatts),
    prometheus.query(q.busyCores),
    prometheus.query(q.dramWatts),
    prometheus.query(q.memoryGb),
  ]);
  const watts = cpuWatts[0]?.sample.v;
  const cores = busy[0]?.sample.v;
  if (watts === undefined) return { unavailable: 'no Kepler series in Prometheus' };
  if (!(cores !== undefined && cores > 0.01)) return { unavailable: 'Kepler is there but no CPU is busy to divide by' };
  const dramWatts = dram[0]?.sample.v;
  const gb = mem[0]?.sample.v;
  const perGb = dramWatts !== undefined && gb !== undefined && gb > 0.01 ? dramWatts / gb : undefined;
  return {
    wattsPerVcpu: watts / cores,
    ...(perGb !== undefined ? { wattsPerGb: perGb } : {}),
    detail:
      `Kepler over ${window}: ${watts.toFixed(1)} W for ${cores.toFixed(2)} busy cores` +
      (perGb !== undefined ? `, ${dramWatts!.toFixed(1)} W DRAM for ${gb!.toFixed(1)} GB` : ''),
  };
}

/** Measured watts where Kepler has them, the profiles' elsewhere; the facility overhead is always the profiles'. */
export function combinePower(measured: MeasuredPower | undefined, profile: PowerEstimate): PowerEstimate {
  if (!measured) return profile;
  return {
    wattsPerVcpu: measured.wattsPerVcpu,
    wattsPerGb: measured.wattsPerGb ?? profile.wattsPerGb,
    pue: profile.pue,
    source: 'kepler',
    detail:
      `${measured.detail}; PUE ${profile.pue.toFixed(2)} from the profiles` +
      (measured.wattsPerGb === undefined ? '; W per GB from the profiles' : ''),
  };
}
