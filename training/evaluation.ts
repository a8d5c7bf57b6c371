/**
 * Decision quality as production makes decisions: every engine answers through the policy engine the worker
 * builds (src/policy/breaker.ts: the model behind its circuit breaker, the rules as fallback), its ranked answer
 * goes through the workflow's own choice function (./choice → chooseCandidate), and the chosen action is played
 * forward in the simulator. Only incidents one of Talon's alert rules would catch count (./alerting); the others
 * are scored apart under a hypothetical resource-less SLO alert, clearly labelled as such.
 */
import { MODEL_FEATURES, WINDOW_STEPS, WINDOW_STEP_SECONDS } from '../src/domain/features';
import { MODEL_POLICIES, type ModelPolicy, type PolicyDecision } from '../src/domain/policy';
import type { FeatureWindow } from '../src/domain/window';
import { CircuitBreaker, createPolicyEngine, type PolicyModel } from '../src/policy/breaker';
import { createRulePolicy, type RuleConfig } from '../src/policy/rules';
import { catchability, ruleReadings, type Catchability, type PodAlert, type RuleReading } from './alerting';
import { meanDifference, relativeDifference, type BootstrapOptions, type Interval } from './bootstrap';
import { productionChoice } from './choice';
import {
  DECISION_STEP,
  HORIZON_STEPS,
  makeEpisode,
  observe,
  rollout,
  step,
  type Action,
  type Episode,
  type Outcome,
  type PodState,
  type Scenario,
} from './cluster';
import { splitSeed } from './dataset';
import { outcomeCost, outcomeLabel, type CostWeights } from './outcome-labels';
import { mixSeed } from './rng';
import type { SimFamily } from './sim-family';

/** One simulated incident: an SLO breach at the decision step, with what the adapter would deliver. */
export interface EvalIncident {
  readonly seed: number;
  /** The window as simulated (before the adapter marks absent features): what the alert rules read. */
  readonly raw: readonly (readonly number[])[];
  readonly episode: Episode;
  readonly state: PodState;
  readonly window: FeatureWindow;
  readonly caught: Catchability;
  /** Doing nothing, the energy reference of the cost. */
  readonly baseline: Outcome;
}

/**
 * For incidents no Talon rule catches: what an SLO alert without a resource label would let the workflow do
 * (scale-downs allowed, no_action still skipped). Hypothetical: Talon ships no such rule.
 */
export const HYPOTHETICAL_SLO_ALERT: PodAlert = { alertName: 'HypotheticalSloBreach', labels: { talon_scope: 'pod' } };

/** What the metrics adapter hands the policy engine: the window, its target's limits, absent features marked. */
export function featureWindowOf(ep: Episode, values: readonly (readonly number[])[]): FeatureWindow {
  const absent = ep.family.kepler === 'absent' ? MODEL_FEATURES.filter((f) => f.endsWith('_joules')) : [];
  const rows = values.map((row) => row.map((v, f) => (absent.includes(MODEL_FEATURES[f]!) ? 0 : v)));
  return {
    kind: 'window',
    target: { namespace: 'sim', pod: `episode-${ep.seed}` },
    source: 'prometheus',
    end: 1_700_000_000 - (1_700_000_000 % WINDOW_STEP_SECONDS),
    stepSeconds: WINDOW_STEP_SECONDS,
    steps: WINDOW_STEPS,
    features: MODEL_FEATURES,
    values: rows,
    observed: rows.map((row) => row.map((_, f) => !absent.includes(MODEL_FEATURES[f]!))),
    absentFeatures: absent,
    quality: { realFraction: 1, stalenessSeconds: 0, freshness: 1, score: 1, coverage: 1 - absent.length / 8 },
    resources: {
      cpuRequestCores: ep.cpuLimit,
      cpuLimitCores: ep.cpuLimit,
      memoryRequestBytes: ep.memLimit * 2 ** 30,
      memoryLimitBytes: ep.memLimit * 2 ** 30,
    },
  };
}

/**
 * `count` SLO incidents of a family. Episode seeds are those of the old benchmark's incident split, so the base
 * family at seed s is exactly the set `drawIncidents(s, count)` used to give.
 */
export function drawEvalIncidents(
  family: SimFamily,
  seed: number,
  count: number,
  split: 'incidents' | 'tuning' = 'incidents',
): EvalIncident[] {
  const base = splitSeed(seed, split);
  const rules = ruleReadings();
  const out: EvalIncident[] = [];
  for (let i = 0; out.length < count; i++) {
    if (i > count * 200) throw new Error(`could not draw ${count} incidents of family ${family.name}`);
    const episodeSeed = mixSeed(base, i);
    const episode = makeEpisode(episodeSeed, undefined, family);
    const obs = observe(episode);
    if (!obs.incident) continue;
    out.push({
      seed: episodeSeed,
      raw: obs.window,
      episode,
      state: obs.state,
      window: featureWindowOf(episode, obs.window),
      caught: catchability(obs.window, rules),
      baseline: rollout(episode, obs.state, { policy: 'no_action', magnitude: 1 }),
    });
  }
  return out;
}

/** A policy engine as the worker builds it. */
export interface Engine {
  readonly name: string;
  readonly label: string;
  /** A model engine falls back to the rules; a rules engine always answers "no model configured". */
  readonly kind: 'model' | 'rules';
  decide(window: FeatureWindow): Promise<PolicyDecision>;
}

export function rulesEngine(name: string, label: string, config: RuleConfig): Engine {
  const engine = createPolicyEngine({ rules: createRulePolicy(config), breaker: new CircuitBreaker() });
  return { name, label, kind: 'rules', decide: (w) => engine.decide(w) };
}

/** A model behind the breaker with the default rules as fallback, exactly activities/policy.ts's engine. */
export function modelEngine(name: string, label: string, model: PolicyModel, fallback: RuleConfig): Engine {
  const engine = createPolicyEngine({ model, rules: createRulePolicy(fallback), breaker: new CircuitBreaker() });
  return { name, label, kind: 'model', decide: (w) => engine.decide(w) };
}

/** One incident played with one engine's production choice. */
export interface Played {
  readonly action: Action;
  readonly outcome: Outcome;
  readonly cost: number;
  readonly fromAlert: boolean;
  readonly unsimulated: boolean;
  /** The rules answered in the model's place (fallbackReason set). */
  readonly fellBack: boolean;
}

export function play(
  incident: EvalIncident,
  action: Action,
  weights: CostWeights,
): Pick<Played, 'action' | 'outcome' | 'cost'> {
  const outcome = rollout(incident.episode, incident.state, action);
  return { action, outcome, cost: outcomeCost(outcome, incident.baseline.energyJ, action.policy, weights) };
}

/** The alert whose workflow decides: the caught pod alert, else the hypothetical SLO alert. */
export function alertFor(incident: EvalIncident): PodAlert {
  return incident.caught.kind === 'pod' ? incident.caught.alert : HYPOTHETICAL_SLO_ALERT;
}

export async function playEngine(
  engine: Engine,
  incidents: readonly EvalIncident[],
  weights: CostWeights,
): Promise<Played[]> {
  const out: Played[] = [];
  for (const incident of incidents) {
    const decision = await engine.decide(incident.window);
    const choice = productionChoice(decision, alertFor(incident));
    out.push({
      ...play(incident, choice.action, weights),
      fromAlert: choice.fromAlert,
      unsimulated: choice.unsimulated,
      fellBack: engine.kind === 'model' && decision.fallbackReason !== undefined,
    });
  }
  return out;
}

/** Policies the workflow can open a resource alert with (no no_action, no scale-down). */
const WORKFLOW_POLICIES: readonly ModelPolicy[] = [
  'cpu_scale_up',
  'memory_scale_up',
  'task_offloading',
  'data_offloading',
];

/**
 * Hindsight upper bound among what the workflow could do: the cheapest policy × magnitude of the outcome
 * labeller, restricted to the policies chooseCandidate can return for a resource alert.
 */
export function playOracle(incidents: readonly EvalIncident[], weights: CostWeights): Played[] {
  return incidents.map((incident) => {
    const label = outcomeLabel(incident.episode, incident.state, weights);
    let best: ModelPolicy = 'cpu_scale_up';
    for (const p of WORKFLOW_POLICIES) {
      if (
        (label.costs[MODEL_POLICIES.indexOf(p)] ?? Infinity) < (label.costs[MODEL_POLICIES.indexOf(best)] ?? Infinity)
      )
        best = p;
    }
    const magnitude = label.magnitudes[MODEL_POLICIES.indexOf(best)] ?? 1;
    return {
      ...play(incident, { policy: best, magnitude }, weights),
      fromAlert: false,
      unsimulated: false,
      fellBack: false,
    };
  });
}

export function playNoAction(incidents: readonly EvalIncident[], weights: CostWeights): Played[] {
  return incidents.map((incident) => ({
    ...play(incident, { policy: 'no_action', magnitude: 1 }, weights),
    fromAlert: false,
    unsimulated: false,
    fellBack: false,
  }));
}

/** Per-incident series of the figures reported. */
export function series(played: readonly Played[]): {
  ttr: number[];
  energy: number[];
  disruptive: number[];
  cost: number[];
  recovered: number[];
} {
  return {
    ttr: played.map((p) => p.outcome.ttrSteps * WINDOW_STEP_SECONDS),
    energy: played.map((p) => p.outcome.energyJ),
    disruptive: played.map((p) => (p.outcome.disruptive ? 1 : 0)),
    cost: played.map((p) => p.cost),
    recovered: played.map((p) => (p.outcome.ttrSteps < HORIZON_STEPS ? 1 : 0)),
  };
}

export interface EngineSummary {
  readonly name: string;
  readonly label: string;
  readonly incidents: number;
  readonly meanTtrSeconds: number;
  readonly recoveredShare: number;
  readonly meanEnergyJ: number;
  readonly disruptiveShare: number;
  readonly meanCost: number;
  readonly pendingResizes: number;
  readonly fromAlert: number;
  readonly unsimulated: number;
  readonly fallbacks: number;
  readonly choices: Readonly<Partial<Record<ModelPolicy, number>>>;
}

export interface Difference {
  readonly engine: string;
  readonly reference: string;
  /** Seconds back under SLO, engine − reference. */
  readonly ttrSeconds: Interval;
  /** mean energy ratio − 1. */
  readonly energyRelative: Interval;
  /** Share of disruptive first actions, engine − reference. */
  readonly disruptiveShare: Interval;
  /** Outcome cost in steps out of SLO, engine − reference. */
  readonly cost: Interval;
}

const mean = (xs: readonly number[]): number => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);

export function summarise(name: string, label: string, played: readonly Played[]): EngineSummary {
  const s = series(played);
  const choices: Partial<Record<ModelPolicy, number>> = {};
  for (const p of played) choices[p.action.policy] = (choices[p.action.policy] ?? 0) + 1;
  return {
    name,
    label,
    incidents: played.length,
    meanTtrSeconds: mean(s.ttr),
    recoveredShare: mean(s.recovered),
    meanEnergyJ: mean(s.energy),
    disruptiveShare: mean(s.disruptive),
    meanCost: mean(s.cost),
    pendingResizes: played.filter((p) => !p.outcome.applied).length,
    fromAlert: played.filter((p) => p.fromAlert).length,
    unsimulated: played.filter((p) => p.unsimulated).length,
    fallbacks: played.filter((p) => p.fellBack).length,
    choices,
  };
}

/** Paired differences with bootstrap intervals; both lists are the same incidents in the same order. */
export function difference(
  engine: string,
  engineRuns: readonly Played[],
  reference: string,
  referenceRuns: readonly Played[],
  options?: BootstrapOptions,
): Difference {
  const a = series(engineRuns);
  const b = series(referenceRuns);
  return {
    engine,
    reference,
    ttrSeconds: meanDifference(a.ttr, b.ttr, options),
    energyRelative: relativeDifference(a.energy, b.energy, options),
    disruptiveShare: meanDifference(a.disruptive, b.disruptive, options),
    cost: meanDifference(a.cost, b.cost, options),
  };
}

/** Incidents per hidden cause, split by what catches them. */
export function catchTable(incidents: readonly EvalIncident[]): Record<string, Partial<Record<Scenario, number>>> {
  const out: Record<string, Partial<Record<Scenario, number>>> = {};
  for (const i of incidents) {
    const key = i.caught.kind === 'pod' ? i.caught.alert.alertName : i.caught.kind;
    const row = (out[key] ??= {});
    row[i.episode.scenario] = (row[i.episode.scenario] ?? 0) + 1;
  }
  return out;
}

/**
 * For an incident no rule catches at the decision: the first later step (1-based, within the horizon) at
 * which a pod rule would fire if nothing were done, or undefined. Production would start the workflow then,
 * on a later window; this evaluation decides at the SLO breach only, so these are reported, not scored.
 */
export function podAlertLater(
  incident: EvalIncident,
  rules: readonly RuleReading[] = ruleReadings(),
): number | undefined {
  const s = { ...incident.state };
  const rows = incident.raw.map((r) => [...r]);
  for (let k = 0; k < HORIZON_STEPS; k++) {
    rows.push(step(incident.episode, s, DECISION_STEP + k).features);
    if (catchability(rows.slice(-incident.raw.length), rules).kind === 'pod') return k + 1;
  }
  return undefined;
}
