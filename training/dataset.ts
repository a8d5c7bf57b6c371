/**
 * Datasets of labelled windows. Each split draws its episodes from its own base seed, so the held-out test
 * set never shares an episode (or a random stream) with training.
 */
import { MODEL_POLICIES } from '../src/domain/policy';
import { makeEpisode, observe, type Scenario } from './cluster';
import { outcomeLabel, type CostWeights } from './outcome-labels';
import { mixSeed } from './rng';
import { thresholdLabel, type ThresholdConfig } from './threshold-labels';

export interface Sample {
  readonly seed: number;
  readonly scenario: Scenario;
  readonly window: number[][];
  readonly incident: boolean;
  /** Index into MODEL_POLICIES of the outcome-best policy, its magnitude, and per-policy costs/magnitudes. */
  readonly outcome: {
    readonly policy: number;
    readonly magnitude: number;
    readonly costs: readonly number[];
    readonly magnitudes: readonly number[];
  };
}

export interface LabelledSet {
  readonly samples: readonly Sample[];
  /** Threshold label per sample (policy index, magnitude); depends on the fitted thresholds. */
  readonly threshold: readonly { readonly policy: number; readonly magnitude: number }[];
}

/** Base seeds of the splits (tuning: where the rule baseline's thresholds are searched); a different --seed shifts all of them together. */
export const SPLIT_SEEDS = { train: 1, validation: 2, test: 3, incidents: 4, tuning: 5 } as const;

export function splitSeed(seed: number, split: keyof typeof SPLIT_SEEDS): number {
  return mixSeed(seed, SPLIT_SEEDS[split] * 7919);
}

/** Generates `count` samples; with `incidentsOnly`, keeps drawing until `count` windows end in an SLO breach. */
export function generateSamples(
  baseSeed: number,
  count: number,
  options: { incidentsOnly?: boolean; costWeights?: CostWeights } = {},
): Sample[] {
  const out: Sample[] = [];
  for (let i = 0; out.length < count; i++) {
    if (i > count * 200) throw new Error(`could not draw ${count} incidents from seed ${baseSeed}`);
    const seed = mixSeed(baseSeed, i);
    const ep = makeEpisode(seed);
    const obs = observe(ep);
    if (options.incidentsOnly && !obs.incident) continue;
    const label = outcomeLabel(ep, obs.state, options.costWeights);
    out.push({
      seed,
      scenario: ep.scenario,
      window: obs.window,
      incident: obs.incident,
      outcome: {
        policy: MODEL_POLICIES.indexOf(label.policy),
        magnitude: label.magnitude,
        costs: label.costs,
        magnitudes: label.magnitudes,
      },
    });
  }
  return out;
}

export function withThresholdLabels(samples: readonly Sample[], cfg: ThresholdConfig): LabelledSet {
  return {
    samples,
    threshold: samples.map((s) => {
      const l = thresholdLabel(s.window, cfg);
      return { policy: MODEL_POLICIES.indexOf(l.policy), magnitude: l.magnitude };
    }),
  };
}
