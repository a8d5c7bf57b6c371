/**
 * The breach predictor (issue 15 §3, "predict, don't only react"): from a container's recent usage and its limit,
 * will the usage cross the alert rule's threshold (a share of the limit, the same share Talon's alert rules use)
 * within the horizon, when, and how sure is that? "Sure enough" is a number: a breach is predicted only when the
 * forecast's lower prediction bound at `confidence` crosses the threshold, so random movement rarely does.
 *
 * It refuses, saying why, where a forecast would only add noise: too few points, too many gaps, a series that
 * already breaches (the alert rule's job), one that went over the threshold and back more than once (flapping:
 * the rule's `for:` is the right damper), one that does not move (flat), and one the best model explains little
 * of (noise). Pure: the worker runs it in an activity, the benchmark (bench/predictive.ts) runs the same code.
 */
import { exceedanceProbability, forecastWithInterval, type ModelName } from './model';
import { mean, sumOfSquares } from './stats';

export type BreachRefusal = 'too_short' | 'gappy' | 'already_breaching' | 'flapping' | 'flat' | 'noisy';

export interface BreachQuestion {
  /** Usage samples, oldest first, `stepSeconds` apart; null (or a non-finite value) where a sample is missing. */
  readonly series: readonly (number | null)[];
  readonly stepSeconds: number;
  /** The container's limit, in the series' unit (cores, bytes). */
  readonly limit: number;
  /** The alert rule's threshold as a share of the limit (0.8 for TalonPodCpuNearLimit). */
  readonly thresholdShare: number;
  readonly horizonSeconds?: number;
  /** Confidence of the lower bound that must cross, strictly between 0.5 and 1. */
  readonly confidence?: number;
  /** A known season in samples; 0 turns seasonal models off; absent: detected from the series. */
  readonly period?: number;
}

export interface BreachOptions {
  /** Fewest usable points. */
  readonly minPoints: number;
  /** Largest share of missing samples interpolated over. */
  readonly maxGapShare: number;
  /** Most missing samples at the end (the forecast must start from now). */
  readonly maxTrailingGaps: number;
  /** A series whose range is below this share of the limit is flat. */
  readonly flatShare: number;
  /** Least share of the series' variance the chosen model must explain (1 − SSE / Σ(y − ȳ)²). */
  readonly minExplained: number;
  /** Most threshold up-crossings in the window before the series counts as flapping. */
  readonly maxUpCrossings: number;
}

export const DEFAULT_BREACH_OPTIONS: BreachOptions = {
  minPoints: 12,
  maxGapShare: 0.25,
  maxTrailingGaps: 2,
  flatShare: 0.02,
  minExplained: 0.5,
  maxUpCrossings: 1,
};

export const DEFAULT_HORIZON_SECONDS = 300;
export const DEFAULT_CONFIDENCE = 0.9;

interface Common {
  /** The threshold in the series' unit (share × limit). */
  readonly threshold: number;
  /** The newest usable sample as a share of the limit. */
  readonly lastShare?: number;
  /** One line for a person: what was seen and concluded. */
  readonly detail: string;
}

export type BreachPrediction =
  | (Common & { readonly verdict: 'refused'; readonly reason: BreachRefusal })
  | (Common & {
      readonly verdict: 'breach' | 'clear';
      readonly model: ModelName;
      readonly period?: number;
      /** Breach: seconds until the lower bound first crosses the threshold. */
      readonly inSeconds?: number;
      /** Seconds until the point forecast first crosses, when it does within the horizon. */
      readonly expectedInSeconds?: number;
      /** Breach: P(usage > threshold) at `inSeconds`; clear: the highest such probability within the horizon. */
      readonly probability: number;
      /** Highest point forecast within the horizon, as a share of the limit. */
      readonly peakShare: number;
      readonly horizonSeconds: number;
      readonly confidence: number;
      /** The forecast and its lower bound, as shares of the limit, one per step of the horizon. */
      readonly forecast: readonly number[];
      readonly lower: readonly number[];
    });

export class BreachQuestionError extends Error {
  override readonly name = 'BreachQuestionError';
}

function check(q: BreachQuestion, horizonSeconds: number, confidence: number): void {
  const problems: string[] = [];
  if (!(q.stepSeconds > 0 && Number.isFinite(q.stepSeconds)))
    problems.push(`stepSeconds must be > 0, got ${q.stepSeconds}`);
  if (!(q.limit > 0 && Number.isFinite(q.limit))) problems.push(`limit must be > 0, got ${q.limit}`);
  if (!(q.thresholdShare > 0 && q.thresholdShare <= 2))
    problems.push(`thresholdShare must be in (0, 2], got ${q.thresholdShare}`);
  if (!(confidence > 0.5 && confidence < 1))
    problems.push(`confidence must be strictly between 0.5 and 1, got ${confidence}`);
  if (!(horizonSeconds >= q.stepSeconds && Number.isFinite(horizonSeconds)))
    problems.push(`horizonSeconds must be at least one step (${q.stepSeconds}s), got ${horizonSeconds}`);
  if (q.period !== undefined && !(Number.isInteger(q.period) && q.period >= 0))
    problems.push(`period must be a whole number of samples ≥ 0, got ${q.period}`);
  if (problems.length > 0) throw new BreachQuestionError(problems.join('; '));
}

const pct = (share: number): string => `${Math.round(share * 1000) / 10}%`;

/**
 * The usable series: interior gaps linearly interpolated, leading gaps dropped; undefined with the reason when
 * there are too many gaps or the newest samples are missing.
 */
function usable(series: readonly (number | null)[], o: BreachOptions): number[] | string {
  const values = series.map((v) => (v !== null && Number.isFinite(v) ? v : undefined));
  const first = values.findIndex((v) => v !== undefined);
  if (first < 0) return 'no sample in the window';
  let trailing = 0;
  while (values[values.length - 1 - trailing] === undefined) trailing++;
  if (trailing > o.maxTrailingGaps) return `the newest ${trailing} samples are missing`;
  const window = values.slice(first, values.length - trailing);
  const missing = window.filter((v) => v === undefined).length;
  if (missing > o.maxGapShare * window.length)
    return `${missing} of ${window.length} samples are missing (more than ${pct(o.maxGapShare)})`;
  const out: number[] = [];
  for (let i = 0; i < window.length; i++) {
    const v = window[i];
    if (v !== undefined) {
      out.push(v);
      continue;
    }
    let next = i + 1;
    while (window[next] === undefined) next++;
    const before = out.at(-1)!;
    const after = window[next]!;
    out.push(before + (after - before) / (next - i + 1));
  }
  return out;
}

function upCrossings(y: readonly number[], threshold: number): number {
  let crossings = 0;
  for (let i = 1; i < y.length; i++) if (y[i - 1]! < threshold && y[i]! >= threshold) crossings++;
  return crossings;
}

/** Whether (and when, and how surely) the usage will cross the alert threshold within the horizon. */
export function predictBreach(question: BreachQuestion, options: Partial<BreachOptions> = {}): BreachPrediction {
  const o = { ...DEFAULT_BREACH_OPTIONS, ...options };
  const horizonSeconds = question.horizonSeconds ?? DEFAULT_HORIZON_SECONDS;
  const confidence = question.confidence ?? DEFAULT_CONFIDENCE;
  check(question, horizonSeconds, confidence);
  const { limit, thresholdShare, stepSeconds } = question;
  const threshold = thresholdShare * limit;
  const refuse = (reason: BreachRefusal, detail: string, lastShare?: number): BreachPrediction => ({
    verdict: 'refused',
    reason,
    threshold,
    ...(lastShare !== undefined ? { lastShare } : {}),
    detail,
  });
  const clean = usable(question.series, o);
  if (typeof clean === 'string') return refuse('gappy', `${clean}: no forecast`);
  // In shares of the limit from here on, so every rule below is independent of the unit.
  const y = clean.map((v) => v / limit);
  const last = y.at(-1)!;
  if (y.length < o.minPoints)
    return refuse('too_short', `${y.length} usable samples, a forecast needs at least ${o.minPoints}`, last);
  if (last >= thresholdShare)
    return refuse(
      'already_breaching',
      `usage is at ${pct(last)} of the limit, over the threshold ${pct(thresholdShare)} already: the alert rule's case`,
      last,
    );
  const crossings = upCrossings(y, thresholdShare);
  if (crossings > o.maxUpCrossings)
    return refuse(
      'flapping',
      `usage went over ${pct(thresholdShare)} and back ${crossings} times in the window: flapping, left to the alert rule's for:`,
      last,
    );
  const range = Math.max(...y) - Math.min(...y);
  if (range < o.flatShare)
    return refuse(
      'flat',
      `usage stayed within ${pct(range)} of the limit (at ${pct(last)}): nothing to extrapolate`,
      last,
    );
  // A forecast reaches no further ahead than the history it stands on (a new pod's first minute says little about
  // its next five); the policy holds the configured look-back to the same rule.
  const horizon = Math.max(1, Math.min(Math.floor(horizonSeconds / stepSeconds), y.length));
  const interval = forecastWithInterval(y, horizon, confidence, {
    floor: 1e-6,
    ...(question.period !== undefined ? { period: question.period } : {}),
  });
  const model = interval.model;
  const ybar = mean(y);
  const explained = 1 - model.sse / sumOfSquares(y.map((v) => v - ybar));
  if (explained < o.minExplained)
    return refuse(
      'noisy',
      `the best model (${model.name}) explains ${pct(Math.max(0, explained))} of the variation, less than ${pct(o.minExplained)}: noise, not a trend`,
      last,
    );
  const firstAt = (values: readonly number[]): number | undefined => {
    const i = values.findIndex((v) => v >= thresholdShare);
    return i < 0 ? undefined : i + 1;
  };
  const lowerAt = firstAt(interval.lower);
  const pointAt = firstAt(interval.point);
  const peakShare = Math.max(...interval.point);
  const probabilities = interval.point.map((_, i) => exceedanceProbability(interval, i + 1, thresholdShare));
  const modelName = `${model.name}${model.period ? ` (season ${model.period * stepSeconds}s)` : ''}`;
  const base = {
    threshold,
    lastShare: last,
    model: model.name,
    ...(model.period ? { period: model.period } : {}),
    ...(pointAt !== undefined ? { expectedInSeconds: pointAt * stepSeconds } : {}),
    peakShare,
    horizonSeconds: horizon * stepSeconds,
    confidence,
    forecast: interval.point,
    lower: interval.lower,
  };
  if (lowerAt !== undefined) {
    const probability = probabilities[lowerAt - 1]!;
    return {
      ...base,
      verdict: 'breach',
      inSeconds: lowerAt * stepSeconds,
      probability,
      detail:
        `usage at ${pct(last)} of the limit will cross ${pct(thresholdShare)} in about ${lowerAt * stepSeconds}s ` +
        `(${pct(confidence)} lower bound; P = ${pct(probability)}; ${modelName} forecast peaks at ${pct(peakShare)} within ${horizon * stepSeconds}s)`,
    };
  }
  const probability = Math.max(...probabilities);
  return {
    ...base,
    verdict: 'clear',
    probability,
    detail:
      `usage at ${pct(last)} of the limit, ${modelName} forecast peaks at ${pct(peakShare)} within ${horizon * stepSeconds}s; ` +
      `P(over ${pct(thresholdShare)}) at most ${pct(probability)}, below the ${pct(confidence)} asked`,
  };
}
