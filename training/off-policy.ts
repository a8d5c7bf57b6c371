/**
 * Off-policy evaluation of a policy engine from the decision log (`talon model evaluate --from-log`): what the
 * workflow would have cost with the challenger deciding, estimated from decisions the champion (with bounded
 * exploration) actually made, by inverse propensity scoring (IPS, and its self-normalised form) and doubly
 * robust (DR: the reward model's estimate, corrected by the weighted residual where the log has the action).
 * Costs are the log's (src/domain/decision-log.ts: seconds out of SLO plus prices), lower is better.
 *
 * Both engines decide on every logged window through the policy engine the worker builds and chooseCandidate
 * with the logged alert and tried policies (./log-data). An action is "the logged one" when the policy is the
 * same and the magnitudes are within a relative tolerance. The estimate is only claimed when the log supports
 * it: enough decisions, every challenger action possible under the logging policy on most of them (its
 * propensity > 0: without exploration only where both agree), and an effective sample size large enough for
 * both engines. Otherwise the report says what is missing and claims nothing.
 */
import { DEFAULT_LOG_COST, DISRUPTIVE_POLICIES, loggingProbability } from '../src/domain/decision-log';
import { pairedBootstrap, type BootstrapOptions, type Interval } from './bootstrap';
import type { Engine } from './evaluation';
import { productionAction, usableDecisions, type Action, type UsableDecision } from './log-data';
import { crossFit, DEFAULT_REWARD_OPTIONS, type RewardModelOptions } from './reward-model';
import type { JoinedDecision } from '../src/domain/decision-log';

export interface OpeOptions {
  /** Fewer usable decisions than this: no claim. */
  readonly minDecisions: number;
  /** Effective sample size each engine's importance weights must reach. */
  readonly minEss: number;
  /** Share of decisions on which the challenger's action must be possible under the logging policy. */
  readonly minSupport: number;
  /** Relative magnitude difference under which two actions of the same policy count as the same. */
  readonly magnitudeTolerance: number;
  readonly folds: number;
  readonly reward: RewardModelOptions;
  readonly bootstrap: BootstrapOptions;
}

export const DEFAULT_OPE_OPTIONS: OpeOptions = {
  minDecisions: 30,
  minEss: 30,
  minSupport: 0.9,
  magnitudeTolerance: 0.2,
  folds: 2,
  reward: DEFAULT_REWARD_OPTIONS,
  bootstrap: { resamples: 2000, level: 0.95, seed: 1 },
};

export function sameAction(tolerance: number) {
  return (a: Action | { policy: string; magnitude: number }, b: Action | { policy: string; magnitude: number }) =>
    a.policy === b.policy && Math.abs(a.magnitude - b.magnitude) <= tolerance * Math.max(a.magnitude, b.magnitude);
}

export interface PolicyEstimate {
  readonly engine: string;
  /** Mean cost by IPS with its interval. */
  readonly ips: Interval;
  /** Self-normalised IPS (Σ w·c / Σ w); NaN when no weight. */
  readonly snips: number;
  readonly dr: Interval;
  /** Decisions on which this engine's action is the logged one. */
  readonly matched: number;
  /** (Σw)² / Σw². */
  readonly ess: number;
  /** Share of decisions whose engine action had a positive probability under the logging policy. */
  readonly support: number;
  /** How often each policy is this engine's choice. */
  readonly choices: Readonly<Record<string, number>>;
}

export interface HarmfulAction {
  readonly workflowId: string;
  readonly attempt: number;
  readonly action: Action;
  readonly why: string;
}

export interface OpeReport {
  readonly logged: number;
  readonly usable: number;
  readonly excluded: Readonly<Record<string, number>>;
  readonly challenger: PolicyEstimate;
  readonly champion: PolicyEstimate;
  /** Challenger − champion cost, per estimator (negative: the challenger costs less). */
  readonly difference: { readonly ips: Interval; readonly dr: Interval };
  /** Decisions where the two engines choose differently. */
  readonly disagreements: number;
  /** The champion re-run on the logged windows agrees with the logged greedy choice (a check of the log). */
  readonly championMatchesLog: number;
  /** Actions the challenger takes that the champion does not and that are harmful (disruptive, or rolled back). */
  readonly newHarmful: readonly HarmfulAction[];
  readonly claim: { readonly made: boolean; readonly reasons: readonly string[] };
  readonly options: Omit<OpeOptions, 'reward'>;
}

interface Scored {
  readonly weights: Float64Array;
  readonly ipsTerms: Float64Array;
  readonly drTerms: Float64Array;
  readonly actions: (Action | undefined)[];
  readonly support: number;
}

const ess = (w: Float64Array): number => {
  let s = 0;
  let s2 = 0;
  for (const x of w) {
    s += x;
    s2 += x * x;
  }
  return s2 === 0 ? 0 : (s * s) / s2;
};

function weightedMean(x: Float64Array, counts: Float64Array): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < x.length; i++) {
    s += (counts[i] ?? 0) * (x[i] ?? 0);
    n += counts[i] ?? 0;
  }
  return s / n;
}

/** Evaluates `challenger` against `champion` on the logged decisions. */
export async function evaluateFromLog(
  log: readonly JoinedDecision[],
  challenger: Engine,
  champion: Engine,
  options: OpeOptions = DEFAULT_OPE_OPTIONS,
): Promise<OpeReport> {
  const { usable, excluded } = usableDecisions(log);
  const n = usable.length;
  const same = sameAction(options.magnitudeTolerance);
  const samples = usable.map((u) => ({ values: u.joined.decision.window.values, action: u.action, cost: u.cost }));
  const q =
    n > 0 ? crossFit(samples, (i) => usable[i]!.joined.decision.workflowId, options.folds, options.reward) : () => 0;

  const score = async (engine: Engine): Promise<Scored> => {
    const weights = new Float64Array(n);
    const ipsTerms = new Float64Array(n);
    const drTerms = new Float64Array(n);
    const actions: (Action | undefined)[] = [];
    let supported = 0;
    for (let i = 0; i < n; i++) {
      const u: UsableDecision = usable[i]!;
      const action = await productionAction(engine, u.joined);
      actions.push(action);
      const choice = u.joined.decision.choice!;
      const p = action ? loggingProbability(choice, action, same) : 0;
      if (p > 0) supported++;
      const w = action && same(action, u.action) ? 1 / u.propensity : 0;
      weights[i] = w;
      ipsTerms[i] = w * u.cost;
      // Needs a human (no action): the workflow gives up there, never resolved: the horizon.
      const qTarget = action ? q(i, action) : DEFAULT_LOG_COST.horizonSeconds;
      drTerms[i] = qTarget + w * (u.cost - q(i, u.action));
    }
    return { weights, ipsTerms, drTerms, actions, support: n === 0 ? 0 : supported / n };
  };

  const summarise = (name: string, s: Scored): PolicyEstimate => {
    const choices: Record<string, number> = {};
    for (const a of s.actions) choices[a?.policy ?? 'needs_human'] = (choices[a?.policy ?? 'needs_human'] ?? 0) + 1;
    const sumW = s.weights.reduce((a, b) => a + b, 0);
    const boot = (terms: Float64Array): Interval =>
      n === 0
        ? { estimate: NaN, low: NaN, high: NaN, level: options.bootstrap.level ?? 0.95, resamples: 0 }
        : pairedBootstrap(n, (c) => weightedMean(terms, c), options.bootstrap);
    return {
      engine: name,
      ips: boot(s.ipsTerms),
      snips: sumW > 0 ? s.ipsTerms.reduce((a, b) => a + b, 0) / sumW : NaN,
      dr: boot(s.drTerms),
      matched: s.weights.filter((w) => w > 0).length,
      ess: ess(s.weights),
      support: s.support,
      choices,
    };
  };

  const c = await score(challenger);
  const b = await score(champion);
  const diff = (x: Float64Array, y: Float64Array): Interval => {
    if (n === 0) return { estimate: NaN, low: NaN, high: NaN, level: options.bootstrap.level ?? 0.95, resamples: 0 };
    const d = Float64Array.from(x, (v, i) => v - (y[i] ?? 0));
    return pairedBootstrap(n, (counts) => weightedMean(d, counts), options.bootstrap);
  };

  let disagreements = 0;
  let championMatchesLog = 0;
  const newHarmful: HarmfulAction[] = [];
  const rolledBack = new Set(
    usable
      .filter((u) => u.joined.rolledBack)
      .map((u) => `${u.joined.decision.namespace}/${u.joined.decision.workload}/${u.action.policy}`),
  );
  usable.forEach((u, i) => {
    const ca = c.actions[i];
    const ba = b.actions[i];
    const differ = !(ca && ba ? same(ca, ba) : ca === ba);
    if (differ) disagreements++;
    if (ba && same(ba, u.joined.decision.choice!.greedy)) championMatchesLog++;
    if (!ca || !differ) return;
    const d = u.joined.decision;
    const why = DISRUPTIVE_POLICIES.has(ca.policy)
      ? 'disruptive (restarts, moves or evicts), the champion is not'
      : rolledBack.has(`${d.namespace}/${d.workload}/${ca.policy}`)
        ? 'was rolled back on this workload in the log'
        : undefined;
    if (why && !(ba && ba.policy === ca.policy)) {
      newHarmful.push({ workflowId: d.workflowId, attempt: d.context?.attempt ?? 0, action: ca, why });
    }
  });

  const challengerEstimate = summarise(challenger.label, c);
  const championEstimate = summarise(champion.label, b);
  const reasons: string[] = [];
  if (n < options.minDecisions) reasons.push(`only ${n} usable decision(s), fewer than ${options.minDecisions}`);
  if (challengerEstimate.support < options.minSupport) {
    reasons.push(
      `the challenger takes actions the logging policy never takes on ${pct(1 - challengerEstimate.support)} of decisions (support ${pct(challengerEstimate.support)} < ${pct(options.minSupport)}): without exploration there is no evidence about them`,
    );
  }
  for (const e of [challengerEstimate, championEstimate]) {
    if (!(e.ess >= options.minEss)) {
      reasons.push(`effective sample size of ${e.engine} is ${e.ess.toFixed(1)} < ${options.minEss}`);
    }
  }
  const { reward: _reward, ...shown } = options;
  return {
    logged: log.length,
    usable: n,
    excluded,
    challenger: challengerEstimate,
    champion: championEstimate,
    difference: { ips: diff(c.ipsTerms, b.ipsTerms), dr: diff(c.drTerms, b.drTerms) },
    disagreements,
    championMatchesLog,
    newHarmful,
    claim: { made: reasons.length === 0, reasons },
    options: shown,
  };
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)} %`;
}

const interval = (i: Interval, unit: string): string =>
  Number.isFinite(i.estimate) ? `${i.estimate.toFixed(1)}${unit} [${i.low.toFixed(1)}, ${i.high.toFixed(1)}]` : 'n/a';

/** The report as people read it. */
export function formatOpeReport(r: OpeReport): string {
  const lines: string[] = [];
  lines.push(
    `decision log: ${r.logged} decision(s), ${r.usable} usable` +
      (Object.keys(r.excluded).length > 0
        ? ` (excluded: ${Object.entries(r.excluded)
            .map(([k, v]) => `${v} ${k}`)
            .join('; ')})`
        : ''),
  );
  lines.push(
    `cost = seconds out of SLO + prices (re-fire, rollback, disruption, energy); lower is better; 95 % bootstrap intervals`,
  );
  lines.push('| engine | IPS | SNIPS | DR | matched | ESS | support | choices |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const e of [r.challenger, r.champion]) {
    lines.push(
      `| ${e.engine} | ${interval(e.ips, ' s')} | ${Number.isFinite(e.snips) ? `${e.snips.toFixed(1)} s` : 'n/a'} | ${interval(e.dr, ' s')} | ${e.matched} | ${e.ess.toFixed(1)} | ${pct(e.support)} | ${Object.entries(
        e.choices,
      )
        .map(([p, k]) => `${p} ${k}`)
        .join(', ')} |`,
    );
  }
  lines.push(
    `challenger − champion: IPS ${interval(r.difference.ips, ' s')}, DR ${interval(r.difference.dr, ' s')}; they disagree on ${r.disagreements} of ${r.usable}; the champion re-run matches the logged greedy choice on ${r.championMatchesLog} of ${r.usable}`,
  );
  if (r.newHarmful.length > 0) {
    lines.push(
      `new harmful actions: ${r.newHarmful.length} (${r.newHarmful
        .slice(0, 3)
        .map((h) => `${h.action.policy} on ${h.workflowId} #${h.attempt}: ${h.why}`)
        .join('; ')})`,
    );
  }
  lines.push(r.claim.made ? 'claim: supported by the log' : `NO CLAIM: ${r.claim.reasons.join('; ')}`);
  return lines.join('\n');
}
