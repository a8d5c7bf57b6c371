/**
 * The tuned-rules baseline: a small grid over the rule policy's own configuration (src/policy/rules.ts via
 * `ruleConfig`), each point scored like every engine — the rules' ranked answer through the workflow's choice
 * function, played forward — on the catchable incidents of a tuning seed that the evaluation never uses. The
 * objective is the served model's training objective (mean outcome cost at its restart price), so the rules
 * get the same target the model was trained for.
 */
import { evaluateRules, ruleConfig, type RuleConfig, type RuleConfigOverrides } from '../src/policy/rules';
import { productionChoice } from './choice';
import { alertFor, play, type EvalIncident } from './evaluation';
import type { CostWeights } from './outcome-labels';

/** The grid; every combination that `ruleConfig` accepts is tried. The defaults are one of its points. */
export const RULE_GRID = {
  cpuHigh: [0.8, 0.9],
  memoryHigh: [0.85, 0.9],
  /** The share a resize aims for: the scale-up factor is share / target (0.7 caps a pinned pod near ×1.43). */
  cpuTarget: [0.35, 0.5, 0.7],
  memoryTarget: [0.35, 0.5, 0.7],
  /** 'on': warn at 0.8 (the offload band); 'off': warn = high (no offload band). */
  warnBand: ['on', 'off'],
  /** Watts; null disables the energy rule. */
  energyLimitWatts: [null, 20, 25, 30, 45, 60, 80],
  recentSteps: [1, 3],
} as const;

export interface TunedRules {
  readonly config: RuleConfig;
  readonly overrides: RuleConfigOverrides;
  readonly objective: number;
  readonly defaultObjective: number;
  readonly points: number;
  readonly incidents: number;
  /** The best few points, for the report. */
  readonly top: readonly { readonly overrides: RuleConfigOverrides; readonly objective: number }[];
}

/** Every grid point as overrides, in a fixed order (ties keep the first). */
export function ruleGrid(): RuleConfigOverrides[] {
  const out: RuleConfigOverrides[] = [];
  for (const cpuHigh of RULE_GRID.cpuHigh)
    for (const memoryHigh of RULE_GRID.memoryHigh)
      for (const cpuTarget of RULE_GRID.cpuTarget)
        for (const memoryTarget of RULE_GRID.memoryTarget)
          for (const warnBand of RULE_GRID.warnBand)
            for (const energyLimitWatts of RULE_GRID.energyLimitWatts)
              for (const recentSteps of RULE_GRID.recentSteps) {
                const warn = (high: number): number => (warnBand === 'on' ? Math.min(0.8, high) : high);
                out.push({
                  cpu: { high: cpuHigh, warn: warn(cpuHigh), target: cpuTarget },
                  memory: { high: memoryHigh, warn: warn(memoryHigh), target: memoryTarget },
                  energyLimitWatts,
                  recentSteps,
                });
              }
  return out;
}

/** Mean outcome cost of one rule configuration on the incidents, through the workflow's choice. */
export function ruleObjective(
  config: RuleConfig,
  incidents: readonly EvalIncident[],
  weights: CostWeights,
  memo: Map<string, number>[] = incidents.map(() => new Map<string, number>()),
): number {
  let total = 0;
  incidents.forEach((incident, i) => {
    const { action } = productionChoice(evaluateRules(incident.window, config), alertFor(incident));
    const key = `${action.policy}:${action.magnitude}`;
    const cache = memo[i]!;
    let cost = cache.get(key);
    if (cost === undefined) {
      cost = play(incident, action, weights).cost;
      cache.set(key, cost);
    }
    total += cost;
  });
  return total / incidents.length;
}

/** Searches the grid on catchable tuning incidents; returns the best configuration and the procedure's figures. */
export function tuneRules(incidents: readonly EvalIncident[], weights: CostWeights): TunedRules {
  const caught = incidents.filter((i) => i.caught.kind === 'pod');
  if (caught.length === 0) throw new RangeError('no catchable tuning incidents');
  const memo = caught.map(() => new Map<string, number>());
  const scored: { overrides: RuleConfigOverrides; config: RuleConfig; objective: number }[] = [];
  for (const overrides of ruleGrid()) {
    let config: RuleConfig;
    try {
      config = ruleConfig(overrides);
    } catch {
      continue; // inconsistent bands (e.g. target above warn) are not rule configurations
    }
    scored.push({ overrides, config, objective: ruleObjective(config, caught, weights, memo) });
  }
  const ranked = [...scored].sort((a, b) => a.objective - b.objective);
  const best = ranked[0]!;
  return {
    config: best.config,
    overrides: best.overrides,
    objective: best.objective,
    defaultObjective: ruleObjective(ruleConfig(), caught, weights, memo),
    points: scored.length,
    incidents: caught.length,
    top: ranked.slice(0, 5).map(({ overrides, objective }) => ({ overrides, objective })),
  };
}
