/**
 * The TALON documents' threshold labels (D3.3 1.4.3): scale up above the 90th percentile, scale down below
 * the 20th, offload tasks when approaching overload (between the 80th and 90th), offload data when energy
 * exceeds a limit. The documents give no magnitudes; these aim the resource back at 70 % utilisation.
 * This is the labeller for the "threshold" training set and the baseline the benchmark calls the rules.
 */
import { featureIndex } from '../src/domain/features';
import {
  MODEL_POLICIES,
  clampMagnitude,
  rankPolicies,
  type ModelPolicy,
  type PolicyDecision,
  type RankedPolicy,
} from '../src/domain/policy';

export interface ThresholdConfig {
  readonly cpuHigh: number;
  readonly cpuWarn: number;
  readonly cpuLow: number;
  readonly memHigh: number;
  readonly memWarn: number;
  readonly memLow: number;
  /** total_joules per step above which data is offloaded (95th percentile). */
  readonly energyHigh: number;
  readonly targetUtilisation: number;
}

export interface Label {
  readonly policy: ModelPolicy;
  readonly magnitude: number;
  readonly reason: string;
}

const CPU = featureIndex('cpu_usage');
const MEM = featureIndex('memory_usage');
const TOTAL_J = featureIndex('total_joules');

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of an empty sample');
  const pos = (sorted.length - 1) * p;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] ?? 0;
  const b = sorted[hi] ?? a;
  return a + (b - a) * (pos - lo);
}

/** Fits the percentile thresholds on the latest step of each training window, as D3.3 did on its dataset. */
export function fitThresholds(windows: readonly (readonly (readonly number[])[])[]): ThresholdConfig {
  const last = (w: readonly (readonly number[])[], i: number): number => w[w.length - 1]?.[i] ?? 0;
  const cpu = windows.map((w) => last(w, CPU)).sort((a, b) => a - b);
  const mem = windows.map((w) => last(w, MEM)).sort((a, b) => a - b);
  const energy = windows.map((w) => last(w, TOTAL_J)).sort((a, b) => a - b);
  return {
    cpuHigh: percentile(cpu, 0.9),
    cpuWarn: percentile(cpu, 0.8),
    cpuLow: percentile(cpu, 0.2),
    memHigh: percentile(mem, 0.9),
    memWarn: percentile(mem, 0.8),
    memLow: percentile(mem, 0.2),
    energyHigh: percentile(energy, 0.95),
    targetUtilisation: 0.7,
  };
}

/** The rule label of one window: the first rule that matches, checked from the most urgent. */
export function thresholdLabel(window: readonly (readonly number[])[], cfg: ThresholdConfig): Label {
  const latest = window[window.length - 1] ?? [];
  const cpu = latest[CPU] ?? 0;
  const mem = latest[MEM] ?? 0;
  const energy = latest[TOTAL_J] ?? 0;
  const toTarget = (u: number): number => u / cfg.targetUtilisation;
  const label = (policy: ModelPolicy, magnitude: number, reason: string): Label => ({
    policy,
    magnitude: clampMagnitude(policy, magnitude),
    reason,
  });
  // ">= p90" rather than "> p90": a throttled container sits exactly at its limit, often the 90th percentile.
  if (cpu >= cfg.cpuHigh) return label('cpu_scale_up', toTarget(cpu), `cpu_usage ${f(cpu)} >= p90 ${f(cfg.cpuHigh)}`);
  if (mem >= cfg.memHigh)
    return label('memory_scale_up', toTarget(mem), `memory_usage ${f(mem)} >= p90 ${f(cfg.memHigh)}`);
  if (cpu >= cfg.cpuWarn || mem >= cfg.memWarn) {
    const u = Math.max(cpu, mem);
    return label('task_offloading', (u - cfg.targetUtilisation) / u, `usage ${f(u)} approaching overload (p80..p90)`);
  }
  if (energy > cfg.energyHigh)
    return label('data_offloading', 1 - cfg.energyHigh / energy + 0.1, `total_joules ${f(energy)} > p95 limit`);
  if (cpu < cfg.cpuLow) return label('cpu_scale_down', toTarget(cpu), `cpu_usage ${f(cpu)} < p20 ${f(cfg.cpuLow)}`);
  if (mem < cfg.memLow)
    return label('memory_scale_down', toTarget(mem), `memory_usage ${f(mem)} < p20 ${f(cfg.memLow)}`);
  return label('no_action', 1, 'all features inside their thresholds');
}

/** The threshold rules as a policy engine: the matching rule first, every other policy after it. */
export function thresholdDecision(window: readonly (readonly number[])[], cfg: ThresholdConfig): PolicyDecision {
  const chosen = thresholdLabel(window, cfg);
  const ranked: RankedPolicy[] = MODEL_POLICIES.map((policy) =>
    policy === chosen.policy
      ? { policy, score: 1, magnitude: chosen.magnitude, reason: chosen.reason }
      : { policy, score: 0, magnitude: clampMagnitude(policy, 1), reason: 'no threshold rule matched' },
  );
  return { source: 'rules', ranked: rankPolicies(ranked) };
}

function f(x: number): string {
  return x.toFixed(3);
}
