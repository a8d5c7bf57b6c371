/**
 * Outcome labels: every policy at every candidate magnitude is played forward in the cluster model from
 * the same moment, and the label is the one with the best outcome. The cost puts a price on the three
 * things the benchmark reports: minutes out of SLO, energy and disruption.
 */
import { MODEL_POLICIES, type ModelPolicy } from '../src/domain/policy';
import { rollout, type Episode, type Outcome, type PodState } from './cluster';

/** Magnitudes tried per policy, inside the guide's ranges. */
export const MAGNITUDE_CANDIDATES: Readonly<Record<ModelPolicy, readonly number[]>> = {
  cpu_scale_up: [1.1, 1.25, 1.5, 1.75, 2, 2.5, 3],
  cpu_scale_down: [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
  memory_scale_up: [1.1, 1.25, 1.5, 1.75, 2, 2.5, 3],
  memory_scale_down: [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
  task_offloading: [0.1, 0.2, 0.3, 0.5, 0.7, 0.9],
  data_offloading: [0.1, 0.2, 0.3, 0.5, 0.7, 0.9],
  no_action: [1],
};

/**
 * Prices in "steps out of SLO": 1 % more energy than doing nothing costs 0.1 step (so +10 % ≈ 30 s of
 * violation); a restart costs 4 steps (2 minutes), which is what a pod restart behind a load balancer
 * typically costs in dropped and retried requests; any change costs half a step (operational risk, churn),
 * so a change must buy at least 5 % energy or half a step of SLO to be worth making.
 */
export const COST_WEIGHTS: CostWeights = { energyPerRelative: 10, disruption: 4, change: 0.5 };

/** What one unit of each outcome costs, in steps out of SLO; an installation's trade-off, not a law. */
export interface CostWeights {
  readonly energyPerRelative: number;
  readonly disruption: number;
  readonly change: number;
}

export function outcomeCost(
  outcome: Outcome,
  baselineEnergyJ: number,
  policy: ModelPolicy,
  weights: CostWeights = COST_WEIGHTS,
): number {
  const relEnergy = baselineEnergyJ > 0 ? outcome.energyJ / baselineEnergyJ - 1 : 0;
  return (
    outcome.violationSteps +
    weights.energyPerRelative * relEnergy +
    (outcome.disruptive ? weights.disruption : 0) +
    (policy === 'no_action' ? 0 : weights.change)
  );
}

export interface OutcomeLabel {
  readonly policy: ModelPolicy;
  readonly magnitude: number;
  /** Best cost per policy (MODEL_POLICIES order) and the magnitude that reached it. */
  readonly costs: readonly number[];
  readonly magnitudes: readonly number[];
  readonly outcomes: readonly Outcome[];
}

export function outcomeLabel(ep: Episode, decisionState: PodState, weights: CostWeights = COST_WEIGHTS): OutcomeLabel {
  const baseline = rollout(ep, decisionState, { policy: 'no_action', magnitude: 1 });
  const costs: number[] = [];
  const magnitudes: number[] = [];
  const outcomes: Outcome[] = [];
  for (const policy of MODEL_POLICIES) {
    let best: { cost: number; magnitude: number; outcome: Outcome } | undefined;
    for (const magnitude of MAGNITUDE_CANDIDATES[policy]) {
      const outcome = policy === 'no_action' ? baseline : rollout(ep, decisionState, { policy, magnitude });
      const cost = outcomeCost(outcome, baseline.energyJ, policy, weights);
      if (!best || cost < best.cost - 1e-12) best = { cost, magnitude, outcome };
    }
    if (!best) throw new Error(`no magnitude candidates for ${policy}`);
    costs.push(best.cost);
    magnitudes.push(best.magnitude);
    outcomes.push(best.outcome);
  }
  let bestIndex = 0;
  for (let i = 1; i < costs.length; i++) if ((costs[i] ?? Infinity) < (costs[bestIndex] ?? Infinity)) bestIndex = i;
  return {
    policy: MODEL_POLICIES[bestIndex] ?? 'no_action',
    magnitude: magnitudes[bestIndex] ?? 1,
    costs,
    magnitudes,
    outcomes,
  };
}
