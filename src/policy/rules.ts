/**
 * The rule policy: the threshold rules of the TALON documents (D3.3 1.4.3 labels, D3.6 2.5 magnitudes) made
 * explicit and configurable. It answers in the same shape as the learned model — every sensible candidate,
 * ranked, with a magnitude and a one-line reason — so the workflow escalates down the same list whichever
 * engine answered. Deterministic and free of I/O.
 *
 * The rules, per resource r ∈ {cpu, memory}, on `share` = mean of the last `recentSteps` steps of the
 * r feature (usage / limit, see FEATURE_UNITS):
 * - share > high                 → r_scale_up       (magnitude share / target: back to the target share)
 * - warn ≤ share ≤ high          → task_offloading  ("approaching overload but not yet crossed";
 *                                                     magnitude (share − target) / share: the part above target)
 * - share < low                  → r_scale_down     (magnitude max(share, history p95) / target), only when the
 *                                                     window's quality score ≥ minQualityForScaleDown
 * and on energy, power = mean joules per step of the last `recentSteps` steps / stepSeconds:
 * - power > energyLimitWatts     → data_offloading  (magnitude (power − limit) / power)
 * - nothing fired                → no_action        (magnitude 1)
 * plus Talon's rules on what the model cannot read (./talon-rules.ts: replica scaling, network QoS, data
 * offloading on disk I/O, restarting a malfunctioning container). Every magnitude is clamped into MAGNITUDE_GUIDE.
 *
 * Scores (fixed scale, so a rule answer is comparable across windows but not with model probabilities):
 * a fired rule scores 0.6 + 0.4 × severity (severity ∈ [0, 1]: how far past its threshold); the other
 * remedy for the same pressure (scale up ↔ offload tasks) is offered at 0.3 + 0.2 × severity; no_action
 * scores 1 when nothing fired and 0.1 otherwise, so it always closes an escalation list.
 */
import { hasFeature, recentMean, type FeatureWindow } from '../domain/window';
import {
  clampMagnitude,
  MAGNITUDE_GUIDE,
  rankPolicies,
  type PolicyDecision,
  type PolicyName,
  type RankedPolicy,
} from '../domain/policy';
import { mergeSettings, type OperatorPolicy } from '../domain/autonomy';
import { RuleConfigError } from './rule-errors';
import {
  DEFAULT_TALON_RULE_CONFIG,
  evaluateTalonRules,
  talonRuleConfig,
  type TalonRuleConfig,
  type TalonRuleOverrides,
} from './talon-rules';

/** Shares (usage / limit) that separate the rule bands of one resource. */
export interface ResourceThresholds {
  /** Above it: scale up. */
  readonly high: number;
  /** From it up to `high` inclusive: approaching overload, offload tasks. */
  readonly warn: number;
  /** Below it: scale down. */
  readonly low: number;
  /** The share a resize aims for. */
  readonly target: number;
}

export interface RuleConfig extends TalonRuleConfig {
  readonly cpu: ResourceThresholds;
  readonly memory: ResourceThresholds;
  /** Container power above which data offloading is proposed; null disables the energy rule. */
  readonly energyLimitWatts: number | null;
  /** How many of the newest steps a rule averages, so a single spike does not decide. */
  readonly recentSteps: number;
  /** Scale-downs need a trustworthy window: shrinking on stale or interpolated data is how outages start. */
  readonly minQualityForScaleDown: number;
}

/**
 * Defaults: the 90 % / 20 % bands of D3.3's labelling ("> 90th percentile", "< 20th percentile") read as
 * shares of the limit, warn at 80 % like the local alert rules, aim at 70 %. The energy limit is a
 * deliberately high per-container figure; set it per installation.
 */
export const DEFAULT_RULE_CONFIG: RuleConfig = {
  cpu: { high: 0.9, warn: 0.8, low: 0.2, target: 0.7 },
  memory: { high: 0.9, warn: 0.8, low: 0.2, target: 0.7 },
  energyLimitWatts: 25,
  recentSteps: 3,
  minQualityForScaleDown: 0.6,
  ...DEFAULT_TALON_RULE_CONFIG,
};

const PRIMARY_BASE = 0.6;
const PRIMARY_SPAN = 0.4;
const ALTERNATIVE_BASE = 0.3;
const ALTERNATIVE_SPAN = 0.2;
const NO_ACTION_WHEN_FIRED = 0.1;

export interface RuleConfigOverrides extends TalonRuleOverrides {
  readonly cpu?: Partial<ResourceThresholds>;
  readonly memory?: Partial<ResourceThresholds>;
  readonly energyLimitWatts?: number | null;
  readonly recentSteps?: number;
  readonly minQualityForScaleDown?: number;
}

function checkThresholds(name: string, t: ResourceThresholds): void {
  const all = [t.low, t.target, t.warn, t.high];
  if (!all.every((v) => Number.isFinite(v) && v > 0)) {
    throw new RuleConfigError(`${name} thresholds must be positive numbers: ${JSON.stringify(t)}`);
  }
  if (!(t.low < t.target && t.target <= t.warn && t.warn <= t.high)) {
    throw new RuleConfigError(
      `${name} thresholds must satisfy low < target ≤ warn ≤ high, got low=${t.low} target=${t.target} warn=${t.warn} high=${t.high}`,
    );
  }
}

/** Merges overrides onto the defaults and rejects inconsistent thresholds. */
export function ruleConfig(overrides: RuleConfigOverrides = {}): RuleConfig {
  const config: RuleConfig = {
    ...talonRuleConfig(overrides),
    cpu: { ...DEFAULT_RULE_CONFIG.cpu, ...overrides.cpu },
    memory: { ...DEFAULT_RULE_CONFIG.memory, ...overrides.memory },
    energyLimitWatts:
      overrides.energyLimitWatts === undefined ? DEFAULT_RULE_CONFIG.energyLimitWatts : overrides.energyLimitWatts,
    recentSteps: overrides.recentSteps ?? DEFAULT_RULE_CONFIG.recentSteps,
    minQualityForScaleDown: overrides.minQualityForScaleDown ?? DEFAULT_RULE_CONFIG.minQualityForScaleDown,
  };
  checkThresholds('cpu', config.cpu);
  checkThresholds('memory', config.memory);
  if (config.energyLimitWatts !== null && !(Number.isFinite(config.energyLimitWatts) && config.energyLimitWatts > 0)) {
    throw new RuleConfigError(`energyLimitWatts must be a positive number or null, got ${config.energyLimitWatts}`);
  }
  if (!Number.isInteger(config.recentSteps) || config.recentSteps < 1) {
    throw new RuleConfigError(`recentSteps must be a positive integer, got ${config.recentSteps}`);
  }
  if (!(config.minQualityForScaleDown >= 0 && config.minQualityForScaleDown <= 1)) {
    throw new RuleConfigError(`minQualityForScaleDown must be in [0, 1], got ${config.minQualityForScaleDown}`);
  }
  return config;
}

const fmt = (v: number): string => v.toFixed(2);
const clamp01 = (v: number): number => Math.min(1, Math.max(0, v));

interface Candidate {
  readonly policy: PolicyName;
  readonly score: number;
  readonly magnitude: number;
  readonly reason: string;
}

function candidate(policy: PolicyName, score: number, magnitude: number, reason: string): Candidate {
  return { policy, score: clamp01(score), magnitude: clampMagnitude(policy, magnitude), reason };
}

/** Power of the container in watts, from total joules or else package + DRAM; undefined without Kepler data. */
export function containerPowerWatts(window: FeatureWindow, recentSteps: number): number | undefined {
  const perStep = hasFeature(window, 'total_joules')
    ? recentMean(window, 'total_joules', recentSteps)
    : hasFeature(window, 'package_joules') && hasFeature(window, 'dram_joules')
      ? recentMean(window, 'package_joules', recentSteps) + recentMean(window, 'dram_joules', recentSteps)
      : undefined;
  return perStep === undefined ? undefined : perStep / window.stepSeconds;
}

function resourceRules(
  resource: 'cpu' | 'memory',
  share: number,
  t: ResourceThresholds,
  window: FeatureWindow,
  config: RuleConfig,
  notes: string[],
): Candidate[] {
  const up: PolicyName = resource === 'cpu' ? 'cpu_scale_up' : 'memory_scale_up';
  const down: PolicyName = resource === 'cpu' ? 'cpu_scale_down' : 'memory_scale_down';
  const s = fmt(share);
  if (share > t.high) {
    const severity = clamp01((share - t.high) / Math.max(1 - t.high, t.high * 0.1));
    return [
      candidate(
        up,
        PRIMARY_BASE + PRIMARY_SPAN * severity,
        share / t.target,
        `${resource} at ${s} of its limit > ${fmt(t.high)}: scale to bring it back to ${fmt(t.target)}`,
      ),
      candidate(
        'task_offloading',
        ALTERNATIVE_BASE + ALTERNATIVE_SPAN * severity,
        (share - t.target) / share,
        `${resource} at ${s} of its limit: alternatively move the part above ${fmt(t.target)} elsewhere`,
      ),
    ];
  }
  if (share >= t.warn) {
    const severity = t.high > t.warn ? clamp01((share - t.warn) / (t.high - t.warn)) : 1;
    return [
      candidate(
        'task_offloading',
        PRIMARY_BASE + PRIMARY_SPAN * severity,
        (share - t.target) / share,
        `${resource} at ${s} of its limit, approaching overload (${fmt(t.warn)}–${fmt(t.high)}): offload the part above ${fmt(t.target)}`,
      ),
      candidate(
        up,
        ALTERNATIVE_BASE + ALTERNATIVE_SPAN * severity,
        share / t.target,
        `${resource} at ${s} of its limit: alternatively give it room to ${fmt(t.target)}`,
      ),
    ];
  }
  if (share < t.low) {
    if (window.quality.score < config.minQualityForScaleDown) {
      notes.push(
        `${resource} at ${s} < ${fmt(t.low)} but window quality ${fmt(window.quality.score)} < ${fmt(config.minQualityForScaleDown)}: no scale-down`,
      );
      return [];
    }
    const p95 = resource === 'cpu' ? window.history?.cpuP95 : window.history?.memoryP95;
    const basis = Math.max(share, p95 ?? 0);
    const factor = basis / t.target;
    if (factor > MAGNITUDE_GUIDE[down].max) {
      notes.push(`${resource} at ${s} < ${fmt(t.low)} but its history p95 ${fmt(p95 ?? 0)} leaves no room to shrink`);
      return [];
    }
    const severity = clamp01((t.low - share) / t.low);
    const historyNote = p95 !== undefined && p95 > share ? ` (bounded by history p95 ${fmt(p95)})` : '';
    return [
      candidate(
        down,
        PRIMARY_BASE + PRIMARY_SPAN * severity,
        factor,
        `${resource} at ${s} of its limit < ${fmt(t.low)}: shrink towards ${fmt(t.target)}${historyNote}`,
      ),
    ];
  }
  notes.push(`${resource} at ${s} of its limit`);
  return [];
}

/** Keeps one entry per policy: the best score, with the reasons of every rule that proposed it. */
function merge(candidates: readonly Candidate[]): RankedPolicy[] {
  const byPolicy = new Map<PolicyName, Candidate>();
  for (const c of candidates) {
    const seen = byPolicy.get(c.policy);
    if (!seen) {
      byPolicy.set(c.policy, c);
      continue;
    }
    const [best, other] = c.score > seen.score ? [c, seen] : [seen, c];
    byPolicy.set(c.policy, { ...best, reason: `${best.reason}; ${other.reason}` });
  }
  return [...byPolicy.values()];
}

/** Applies the rules to a window; see the module comment for the bands, magnitudes and scores. */
export function evaluateRules(window: FeatureWindow, config: RuleConfig = DEFAULT_RULE_CONFIG): PolicyDecision {
  const candidates: Candidate[] = [];
  const notes: string[] = [];
  for (const resource of ['cpu', 'memory'] as const) {
    const feature = resource === 'cpu' ? 'cpu_usage' : 'memory_usage';
    if (!hasFeature(window, feature)) {
      notes.push(`${resource}: no data`);
      continue;
    }
    const share = recentMean(window, feature, config.recentSteps);
    candidates.push(...resourceRules(resource, share, config[resource], window, config, notes));
  }
  if (config.energyLimitWatts !== null) {
    const watts = containerPowerWatts(window, config.recentSteps);
    const limit = config.energyLimitWatts;
    if (watts === undefined) notes.push('energy: no data');
    else if (watts > limit) {
      const severity = clamp01((watts - limit) / limit);
      candidates.push(
        candidate(
          'data_offloading',
          PRIMARY_BASE + PRIMARY_SPAN * severity,
          (watts - limit) / watts,
          `power ${watts.toFixed(1)} W > ${limit} W: offload the data behind the excess`,
        ),
      );
    } else notes.push(`power ${watts.toFixed(1)} W`);
  }
  const talon = evaluateTalonRules(window, config, { cpuTarget: config.cpu.target, recentSteps: config.recentSteps });
  candidates.push(...talon.candidates);
  notes.push(...talon.notes);
  const fired = candidates.length > 0;
  const noAction = candidate(
    'no_action',
    fired ? NO_ACTION_WHEN_FIRED : 1,
    1,
    fired
      ? `leave the pod as it is${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`
      : `within bounds: ${notes.join('; ')}`,
  );
  return { source: 'rules', ranked: rankPolicies([...merge(candidates), noAction]) };
}

/**
 * The candidates of Talon's rules alone (./talon-rules.ts): what the model cannot see (signals, workload
 * context), to be added to a model's answer. Empty when none fired.
 */
export function supplementaryCandidates(
  window: FeatureWindow,
  config: RuleConfig = DEFAULT_RULE_CONFIG,
): RankedPolicy[] {
  return evaluateTalonRules(window, config, { cpuTarget: config.cpu.target, recentSteps: config.recentSteps })
    .candidates;
}

/** A PolicyModel-shaped wrapper, so the rules can stand in wherever a model is expected. */
export function createRulePolicy(config: RuleConfig = DEFAULT_RULE_CONFIG): {
  readonly config: RuleConfig;
  decide(window: FeatureWindow): PolicyDecision;
  supplement(window: FeatureWindow): RankedPolicy[];
} {
  return {
    config,
    decide: (window) => evaluateRules(window, config),
    supplement: (window) => supplementaryCandidates(window, config),
  };
}

/**
 * Refuses a policy file whose rule thresholds, merged onto the defaults, break the rules' invariants: the
 * defaults and every override as it applies over them (PolicyStore's `check`).
 */
export function checkPolicyRules(policy: OperatorPolicy): void {
  const check = (where: string, rules: RuleConfigOverrides): void => {
    try {
      ruleConfig(rules);
    } catch (err) {
      throw new RuleConfigError(`${where}.rules: ${(err as Error).message}`);
    }
  };
  check('defaults', policy.defaults.rules);
  policy.overrides.forEach((o, i) => {
    if (o.set.rules)
      check(`overrides[${i}]${o.name ? ` (${o.name})` : ''}.set`, mergeSettings(policy.defaults, o.set).rules);
  });
}
