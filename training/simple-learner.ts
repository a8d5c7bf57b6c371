/**
 * The simple-learner baseline: multinomial logistic regression on the last step of the window (the eight
 * features, standardised), trained on the same soft outcome labels as the served model, with one ridge
 * regression per policy for its magnitude. If the LSTM cannot beat this, its sequence modelling buys nothing.
 * Hand-written (a few dozen lines; no dependency), deterministic, and shaped as a PolicyModel so it is
 * served through the same engine, breaker and choice function as the real model.
 */
import { MODEL_FEATURES, featureIndex } from '../src/domain/features';
import {
  MODEL_POLICIES,
  clampMagnitude,
  rankPolicies,
  type PolicyDecision,
  type RankedPolicy,
} from '../src/domain/policy';
import { REQUIRED_FEATURES, type FeatureWindow } from '../src/domain/window';
import { PolicyInputError } from '../src/policy/errors';
import type { Sample } from './dataset';

const F = MODEL_FEATURES.length;
const P = MODEL_POLICIES.length;
/** Inputs: the standardised features and a bias. */
const D = F + 1;

export interface LinearPolicy {
  readonly mean: readonly number[];
  readonly std: readonly number[];
  /** P × D softmax weights. */
  readonly weights: readonly (readonly number[])[];
  /** P × D ridge weights predicting each policy's best magnitude. */
  readonly magnitude: readonly (readonly number[])[];
  /** Mean cross-entropy against the soft targets after training. */
  readonly loss: number;
}

export interface LinearTrainOptions {
  /** Soft-target temperature on the outcome costs (the served model's: 0.5). */
  readonly temperature: number;
  readonly iterations: number;
  readonly learningRate: number;
  readonly l2: number;
}

export const DEFAULT_LINEAR_OPTIONS: LinearTrainOptions = {
  temperature: 0.5,
  iterations: 400,
  learningRate: 0.5,
  l2: 1e-4,
};

function lastRow(window: readonly (readonly number[])[]): readonly number[] {
  const row = window[window.length - 1];
  if (!row || row.length !== F) throw new PolicyInputError(`window's last step must have ${F} features`);
  return row;
}

function softTargets(costs: readonly number[], temperature: number): number[] {
  const best = Math.min(...costs);
  const w = costs.map((c) => Math.exp(-(c - best) / temperature));
  const total = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / total);
}

function softmaxInto(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Solves (A + λI) x = b by Gaussian elimination with partial pivoting; A is D × D. */
export function solveRidge(a: number[][], b: number[], lambda: number): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row.map((v, j) => v + (i === j ? lambda : 0)), b[i] ?? 0]);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[pivot]![c]!)) pivot = r;
    [m[c], m[pivot]] = [m[pivot]!, m[c]!];
    const p = m[c]![c]!;
    if (Math.abs(p) < 1e-12) throw new RangeError('singular system in the magnitude regression');
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r]![c]! / p;
      for (let k = c; k <= n; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  return m.map((row, i) => row[n]! / row[i]!);
}

/** What the learner fits: a target distribution per sample, and the magnitude of a policy where one is known. */
export interface LinearTargets {
  distribution(sample: Sample, index: number): readonly number[];
  magnitude(sample: Sample, index: number, policy: number): number | undefined;
}

/** The served model's targets: soft outcome labels, the best magnitude of every policy. */
export function outcomeTargets(temperature: number): LinearTargets {
  return {
    distribution: (s) => softTargets(s.outcome.costs, temperature),
    magnitude: (s, _i, p) => s.outcome.magnitudes[p],
  };
}

/** Fits the softmax policy and the magnitude regressions (outcome targets unless told otherwise). */
export function trainLinearPolicy(
  samples: readonly Sample[],
  options: LinearTrainOptions = DEFAULT_LINEAR_OPTIONS,
  targets: LinearTargets = outcomeTargets(options.temperature),
): LinearPolicy {
  const n = samples.length;
  if (n < D) throw new RangeError(`the linear policy needs at least ${D} samples, got ${n}`);
  const rows = samples.map((s) => lastRow(s.window));
  const mean = MODEL_FEATURES.map((_, f) => rows.reduce((a, r) => a + (r[f] ?? 0), 0) / n);
  const std = MODEL_FEATURES.map((_, f) => {
    const v = rows.reduce((a, r) => a + ((r[f] ?? 0) - (mean[f] ?? 0)) ** 2, 0) / n;
    return Math.sqrt(v) || 1;
  });
  const x = rows.map((r) => [...r.map((v, f) => (v - (mean[f] ?? 0)) / (std[f] ?? 1)), 1]);
  const y = samples.map((s, i) => targets.distribution(s, i));

  // Full-batch gradient descent on the mean cross-entropy; the inputs are standardised, so one step size fits.
  const w = Array.from({ length: P }, () => new Array<number>(D).fill(0));
  let loss = 0;
  for (let it = 0; it < options.iterations; it++) {
    const grad = Array.from({ length: P }, () => new Array<number>(D).fill(0));
    loss = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[i]!;
      const p = softmaxInto(w.map((wp) => wp.reduce((a, v, d) => a + v * (xi[d] ?? 0), 0)));
      const yi = y[i]!;
      for (let c = 0; c < P; c++) {
        const g = (p[c] ?? 0) - (yi[c] ?? 0);
        loss -= (yi[c] ?? 0) * Math.log(Math.max(p[c] ?? 0, 1e-12));
        const gc = grad[c]!;
        for (let d = 0; d < D; d++) gc[d]! += g * (xi[d] ?? 0);
      }
    }
    loss /= n;
    for (let c = 0; c < P; c++) {
      for (let d = 0; d < D; d++) {
        const reg = d < F ? options.l2 * w[c]![d]! : 0;
        w[c]![d]! -= options.learningRate * (grad[c]![d]! / n + reg);
      }
    }
  }

  const magnitude = MODEL_POLICIES.map((_, c) => {
    const known = samples.flatMap((s, i) => {
      const m = targets.magnitude(s, i, c);
      return m === undefined ? [] : [{ x: x[i]!, m }];
    });
    // No example of this policy's magnitude: predict 1 (the bias alone); serving clamps it into the guide.
    if (known.length === 0) return [...new Array<number>(F).fill(0), 1];
    const xtx = Array.from({ length: D }, (_, i) =>
      Array.from({ length: D }, (_, j) => known.reduce((a, k) => a + k.x[i]! * k.x[j]!, 0)),
    );
    const xty = Array.from({ length: D }, (_, d) => known.reduce((a, k) => a + k.x[d]! * k.m, 0));
    return solveRidge(xtx, xty, 1e-3 * known.length + 1e-6);
  });
  return { mean, std, weights: w, magnitude, loss };
}

/** Scores and magnitudes of every policy for one last step; absent features take their training mean. */
export function scoreLinear(
  policy: LinearPolicy,
  row: readonly number[],
  absent: ReadonlySet<number> = new Set(),
): {
  probabilities: number[];
  magnitudes: number[];
} {
  const xi = [
    ...MODEL_FEATURES.map((_, f) => (absent.has(f) ? 0 : ((row[f] ?? 0) - policy.mean[f]!) / policy.std[f]!)),
    1,
  ];
  const dot = (wp: readonly number[]): number => wp.reduce((a, v, d) => a + v * xi[d]!, 0);
  return { probabilities: softmaxInto(policy.weights.map(dot)), magnitudes: policy.magnitude.map(dot) };
}

/** The linear policy as a PolicyModel: same input checks as the served model, same ranked answer. */
export function linearPolicyModel(
  policy: LinearPolicy,
  version = 'linear-last-step',
): {
  readonly version: string;
  decide(window: FeatureWindow): PolicyDecision;
} {
  return {
    version,
    decide(window) {
      const absent = new Set(window.absentFeatures.map((f) => featureIndex(f)));
      for (const f of REQUIRED_FEATURES) {
        if (absent.has(featureIndex(f))) throw new PolicyInputError(`required feature ${f} is absent`);
      }
      const { probabilities, magnitudes } = scoreLinear(policy, lastRow(window.values), absent);
      const ranked: RankedPolicy[] = MODEL_POLICIES.map((p, c) => ({
        policy: p,
        score: probabilities[c] ?? 0,
        magnitude: clampMagnitude(p, magnitudes[c] ?? 1),
        reason: `linear policy on the last step: p=${(probabilities[c] ?? 0).toFixed(2)}`,
      }));
      return { source: 'model', ranked: rankPolicies(ranked), modelVersion: version };
    },
  };
}
