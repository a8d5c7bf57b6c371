/**
 * Algorithm selection as D3.3 1.4.5 describes it: normalise each metric across the candidates, map the
 * metrics to the user's parameters, weight them into one coefficient per candidate, sort descending. The
 * result explains itself: every candidate with its normalised scores, its per-parameter scores and its
 * coefficient. The documents solve this with OR-Tools; with no constraints it is an argmax, so a sort is
 * exact. Pure: safe inside workflows.
 */
import { describeWeights, normalisePriorities, type PriorityWeights } from './priorities';
import { NoCandidatesError, UnscorablePrioritiesError } from './task-errors';
import {
  candidatesFor,
  metricDefinitions,
  metricValue,
  PRIORITY_PARAMETERS,
  type AlgorithmEntry,
  type MetricDefinition,
  type MetricDirection,
  type PriorityParameter,
  type Taxonomy,
} from './taxonomy';

export interface MetricScore {
  readonly metric: string;
  readonly parameter: PriorityParameter;
  /** The measured value; null is N/A. */
  readonly raw: number | null;
  /** In [0, 1], 1 = best among the candidates. */
  readonly normalised: number;
}

export interface ParameterScore {
  readonly parameter: PriorityParameter;
  /** The share this parameter carried in the coefficient. */
  readonly weight: number;
  /** Mean of the normalised scores of the parameter's metrics; null when no candidate has any of them. */
  readonly score: number | null;
  /** weight × score: this parameter's part of the coefficient. */
  readonly contribution: number;
}

export interface CandidateScore {
  /** 1 = selected. */
  readonly rank: number;
  readonly algorithm: string;
  readonly name: string;
  readonly coefficient: number;
  readonly parameters: readonly ParameterScore[];
  readonly metrics: readonly MetricScore[];
}

export interface SelectionResult {
  readonly task: string;
  /** The user's priorities as shares. */
  readonly requested: PriorityWeights;
  /** The shares actually used: a weighted parameter that no candidate was measured on passes its share on. */
  readonly effective: PriorityWeights;
  readonly selected: AlgorithmEntry;
  /** Every candidate, best first. */
  readonly ranking: readonly CandidateScore[];
  /** What the numbers alone do not say: dropped parameters, N/A metrics scored 0, mixed datasets. */
  readonly notes: readonly string[];
  readonly summary: string;
}

/**
 * Min-max normalisation of one metric across candidates, direction aware, into [0, 1] with 1 the best.
 * Equal values (including a single candidate) all score 1: the metric does not separate them and none is
 * worse than the best. A candidate without the value scores 0 while others have it, so leaving a bad
 * figure out can never win a ranking. If no candidate has the value, every entry is null.
 */
export function normaliseMetric(
  values: readonly (number | null | undefined)[],
  better: MetricDirection,
): (number | null)[] {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min > max) return values.map(() => null);
  const range = max - min;
  return values.map((v) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return 0;
    if (range === 0) return 1;
    return better === 'lower' ? (max - v) / range : (v - min) / range;
  });
}

const NAMES_IN_NOTES = 5;

function listNames(names: readonly string[]): string {
  const shown = names.slice(0, NAMES_IN_NOTES).join(', ');
  return names.length > NAMES_IN_NOTES ? `${shown} and ${names.length - NAMES_IN_NOTES} more` : shown;
}

/** Ties are decided by id so the same input always selects the same algorithm; 1e-12 absorbs float noise. */
function compareScores(a: { coefficient: number; algorithm: string }, b: typeof a): number {
  const ka = Math.round(a.coefficient * 1e12);
  const kb = Math.round(b.coefficient * 1e12);
  if (ka !== kb) return kb - ka;
  return a.algorithm < b.algorithm ? -1 : a.algorithm > b.algorithm ? 1 : 0;
}

/**
 * Ranks given candidates of one task. `priorities` are raw user priorities (validated here) or shares.
 * Throws {@link InvalidPrioritiesError} for bad priorities and {@link UnscorablePrioritiesError} when no
 * weighted parameter has a measured metric.
 */
export function rankAlgorithms(
  task: string,
  candidates: readonly AlgorithmEntry[],
  metrics: readonly MetricDefinition[],
  priorities: Readonly<Record<string, unknown>>,
): SelectionResult {
  const requested = normalisePriorities(priorities);
  const first = candidates[0];
  if (first === undefined) throw new NoCandidatesError(task);
  const notes: string[] = [];

  // Columns: metrics that at least one candidate has. A metric nobody measured says nothing about anyone.
  const columns: { def: MetricDefinition; raw: (number | null)[]; normalised: number[] }[] = [];
  for (const def of metrics) {
    const raw = candidates.map((c) => metricValue(c, def.id) ?? null);
    const normalised = normaliseMetric(raw, def.better);
    if (normalised[0] === null || normalised[0] === undefined) continue;
    columns.push({ def, raw, normalised: normalised as number[] });
    const missing = candidates.filter((_, i) => raw[i] === null).map((c) => c.id);
    if (missing.length > 0 && requested[def.parameter] > 0) {
      notes.push(
        `${def.id} is N/A for ${missing.length} of ${candidates.length} candidates (${listNames(missing)}): ` +
          'they score 0 on it',
      );
    }
  }

  const parameterColumns = new Map<PriorityParameter, typeof columns>();
  for (const p of PRIORITY_PARAMETERS) {
    parameterColumns.set(
      p,
      columns.filter((c) => c.def.parameter === p),
    );
  }

  // A weighted parameter no candidate was measured on cannot tell them apart; its share goes to the others
  // so coefficients stay in [0, 1] and comparable between requests.
  const unscorable = PRIORITY_PARAMETERS.filter((p) => requested[p] > 0 && parameterColumns.get(p)?.length === 0);
  const scorableTotal = PRIORITY_PARAMETERS.reduce((sum, p) => sum + (unscorable.includes(p) ? 0 : requested[p]), 0);
  if (scorableTotal === 0) throw new UnscorablePrioritiesError(task, weightedParameters(requested));
  const effective = Object.fromEntries(
    PRIORITY_PARAMETERS.map((p) => [p, unscorable.includes(p) ? 0 : requested[p] / scorableTotal]),
  ) as Record<PriorityParameter, number>;
  for (const p of unscorable) {
    notes.push(
      `no candidate has a metric for ${p} (${metrics
        .filter((m) => m.parameter === p)
        .map((m) => m.id)
        .join(', ')}): its share was spread over the other parameters`,
    );
  }
  const datasets = [...new Set(candidates.map((c) => c.dataset))];
  if (datasets.length > 1) {
    notes.push(`candidates were measured on different datasets (${listNames(datasets)}): metrics may not compare`);
  }

  // Scores go into flat arrays first and the explanation objects are built once, in rank order: with
  // thousands of candidates, short-lived intermediate objects would dominate the time (GC).
  const n = candidates.length;
  const parameterScores = new Map<PriorityParameter, Float64Array>();
  const coefficients = new Float64Array(n);
  for (const p of PRIORITY_PARAMETERS) {
    const cols = parameterColumns.get(p) ?? [];
    if (cols.length === 0) continue;
    const scores = new Float64Array(n);
    for (const col of cols) for (let i = 0; i < n; i++) scores[i] = (scores[i] as number) + (col.normalised[i] ?? 0);
    for (let i = 0; i < n; i++) {
      const score = (scores[i] as number) / cols.length;
      scores[i] = score;
      coefficients[i] = (coefficients[i] as number) + effective[p] * score;
    }
    parameterScores.set(p, scores);
  }
  const order = Array.from({ length: n }, (_, i) => i);
  const keyed = order.map((i) => ({
    coefficient: coefficients[i] as number,
    algorithm: (candidates[i] as AlgorithmEntry).id,
    i,
  }));
  keyed.sort(compareScores);

  const ranking: CandidateScore[] = keyed.map(({ i, coefficient }, r) => {
    const candidate = candidates[i] as AlgorithmEntry;
    return {
      rank: r + 1,
      algorithm: candidate.id,
      name: candidate.name,
      coefficient,
      parameters: PRIORITY_PARAMETERS.map((p) => {
        const scores = parameterScores.get(p);
        const score = scores === undefined ? null : (scores[i] as number);
        return { parameter: p, weight: effective[p], score, contribution: score === null ? 0 : effective[p] * score };
      }),
      metrics: columns.map((col) => ({
        metric: col.def.id,
        parameter: col.def.parameter,
        raw: col.raw[i] ?? null,
        normalised: col.normalised[i] ?? 0,
      })),
    };
  });
  const bestIndex = keyed[0]?.i ?? 0;
  const best = ranking[0];
  const runnerUp = ranking[1];
  const summary =
    `${first === undefined ? '' : (candidates[bestIndex] ?? first).id} selected for ${task} with coefficient ` +
    `${(best?.coefficient ?? 0).toFixed(3)}` +
    (runnerUp ? ` (next: ${runnerUp.algorithm} ${runnerUp.coefficient.toFixed(3)})` : ' (only candidate)') +
    ` for ${describeWeights(effective)}`;
  const selected = candidates[bestIndex] ?? first;
  return { task, requested, effective, selected, ranking, notes, summary };
}

/** Selects the algorithm for a task of the taxonomy; see {@link rankAlgorithms}. */
export function selectAlgorithm(
  taxonomy: Taxonomy,
  task: string,
  priorities: Readonly<Record<string, unknown>>,
): SelectionResult {
  // The task is checked first: when it does not exist, the priorities are moot.
  const candidates = candidatesFor(taxonomy, task);
  return rankAlgorithms(task, candidates, metricDefinitions(taxonomy), priorities);
}

function weightedParameters(weights: PriorityWeights): string[] {
  return PRIORITY_PARAMETERS.filter((p) => weights[p] > 0);
}
