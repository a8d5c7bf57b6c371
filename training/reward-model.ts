/**
 * The direct-method part of doubly-robust off-policy evaluation, and the cost estimates retraining uses: a
 * ridge regression of a logged decision's cost on a few summaries of its window and the action's magnitude,
 * one per policy, shrunk to the policy's mean cost and, with too few samples of a policy, to the mean of all.
 * Deliberately small: with the logging propensities known exactly, DR stays unbiased however crude this is;
 * it only has to cut variance. Cross-fitting (`crossFit`) keeps a decision's own cost out of its estimate.
 */
import { featureIndex } from '../src/domain/features';
import type { PolicyName } from '../src/domain/policy';
import type { Action } from './log-data';
import { mixSeed } from './rng';
import { solveRidge } from './simple-learner';

export interface CostSample {
  readonly values: readonly (readonly number[])[];
  readonly action: Action;
  readonly cost: number;
}

export interface RewardModel {
  /** Expected cost of `action` on a window. */
  predict(values: readonly (readonly number[])[], action: Action): number;
  /** Samples per policy it was fitted on. */
  readonly counts: Readonly<Partial<Record<PolicyName, number>>>;
}

const CPU = featureIndex('cpu_usage');
const MEM = featureIndex('memory_usage');

/** Window summaries the regression reads: last-step CPU and memory shares, their trend, recent CPU, magnitude. */
export function costFeatures(values: readonly (readonly number[])[], magnitude: number): number[] {
  const last = values[values.length - 1] ?? [];
  const first = values[0] ?? [];
  const recent = values.slice(-3);
  const steps = Math.max(1, values.length - 1);
  const cpuRecent = recent.reduce((s, r) => s + (r[CPU] ?? 0), 0) / Math.max(1, recent.length);
  return [
    1,
    last[CPU] ?? 0,
    last[MEM] ?? 0,
    ((last[CPU] ?? 0) - (first[CPU] ?? 0)) / steps,
    ((last[MEM] ?? 0) - (first[MEM] ?? 0)) / steps,
    cpuRecent,
    Math.log(Math.max(magnitude, 1e-3)),
  ];
}

export interface RewardModelOptions {
  /** Ridge strength per sample on the standardised summaries. */
  readonly lambda: number;
  /** Below this many samples a policy is predicted by its mean cost only. */
  readonly minSamples: number;
}

export const DEFAULT_REWARD_OPTIONS: RewardModelOptions = { lambda: 1, minSamples: 8 };

export function fitRewardModel(samples: readonly CostSample[], options = DEFAULT_REWARD_OPTIONS): RewardModel {
  const overall = samples.length === 0 ? 0 : samples.reduce((s, x) => s + x.cost, 0) / samples.length;
  const byPolicy = new Map<PolicyName, CostSample[]>();
  for (const s of samples) byPolicy.set(s.action.policy, [...(byPolicy.get(s.action.policy) ?? []), s]);
  const fits = new Map<PolicyName, (x: number[]) => number>();
  const counts: Partial<Record<PolicyName, number>> = {};
  for (const [policy, list] of byPolicy) {
    counts[policy] = list.length;
    // A policy seen a few times is shrunk towards the overall mean, by as many pseudo-samples as minSamples.
    const mean =
      (list.reduce((s, x) => s + x.cost, 0) + overall * options.minSamples) / (list.length + options.minSamples);
    if (list.length < options.minSamples) {
      fits.set(policy, () => mean);
      continue;
    }
    const xs = list.map((s) => costFeatures(s.values, s.action.magnitude));
    const d = xs[0]!.length;
    const mu = Array.from({ length: d }, (_, k) => (k === 0 ? 0 : xs.reduce((s, x) => s + x[k]!, 0) / xs.length));
    const sd = Array.from({ length: d }, (_, k) => {
      if (k === 0) return 1;
      const v = xs.reduce((s, x) => s + (x[k]! - mu[k]!) ** 2, 0) / xs.length;
      return v > 1e-12 ? Math.sqrt(v) : 1;
    });
    const z = (x: number[]) => x.map((v, k) => (k === 0 ? 1 : (v - mu[k]!) / sd[k]!));
    const zs = xs.map(z);
    const xtx = Array.from({ length: d }, (_, a) =>
      Array.from({ length: d }, (_, b) => zs.reduce((s, x) => s + x[a]! * x[b]!, 0)),
    );
    const xty = Array.from({ length: d }, (_, a) => zs.reduce((s, x, i) => s + x[a]! * (list[i]!.cost - mean), 0));
    let w: number[];
    try {
      w = solveRidge(xtx, xty, options.lambda * list.length);
    } catch {
      fits.set(policy, () => mean);
      continue;
    }
    fits.set(policy, (x) => mean + z(x).reduce((s, v, k) => s + v * w[k]!, 0));
  }
  return {
    counts,
    predict(values, action) {
      const f = fits.get(action.policy);
      return f ? f(costFeatures(values, action.magnitude)) : overall;
    },
  };
}

/**
 * Cross-fitted predictions: samples are split into `folds` groups by `group` (one episode's decisions stay
 * together), and each sample is predicted by the model fitted on the other groups.
 */
export function crossFit(
  samples: readonly CostSample[],
  group: (i: number) => string,
  folds: number,
  options = DEFAULT_REWARD_OPTIONS,
): (i: number, action: Action) => number {
  const foldOf = samples.map((_, i) => hashFold(group(i), folds));
  const models = Array.from({ length: folds }, (_, f) =>
    fitRewardModel(
      samples.filter((_, i) => foldOf[i] !== f),
      options,
    ),
  );
  return (i, action) => models[foldOf[i]!]!.predict(samples[i]!.values, action);
}

function hashFold(key: string, folds: number): number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619) >>> 0;
  // FNV's low bits alone are poor (a digit repeated in a key cancels out of them): mix before taking a residue.
  return mixSeed(h, folds) % folds;
}
