/**
 * Turns raw samples into a FeatureWindow: alignment onto a fixed grid, the gap-filling rule, the quality
 * score and the explicit "too little data" outcome. No I/O, so every rule here is unit-tested on its own.
 *
 * The grid: `steps` points `stepSeconds` apart ending at `end`, where `end` is rounded down to a multiple of
 * the step so two gathers of the same moment see the same grid (idempotent retries, overwriting snapshots).
 * A grid point takes the newest sample in `(t − step, t]`.
 *
 * The gap rule, per feature column:
 * 1. a gap between two observed points is linearly interpolated between them;
 * 2. a gap before the first observed point takes the first observed value, one after the last takes the
 *    last observed value (held, never extrapolated: a trend is not invented from missing data);
 * 3. a feature with no observed point at all is "absent": its column is 0 and it is listed, so a model
 *    can impute its own training mean; if it is a required feature the outcome is `insufficient`;
 * 4. a required feature with fewer than `minRealFraction × steps` observed points makes the outcome
 *    `insufficient` (interpolating across most of a window would be inventing it).
 */
import {
  REQUIRED_FEATURES,
  type ContainerResources,
  type FeatureWindow,
  type GatherOutcome,
  type WindowHistory,
  type WindowQuality,
  type WindowSource,
  type WindowTarget,
} from '../domain/window';
import { MODEL_FEATURES, type ModelFeature } from '../domain/features';
import { WindowSpecError } from './errors';

/** One observation: unix seconds and value. */
export interface Sample {
  readonly t: number;
  readonly v: number;
}

export interface WindowSpec {
  readonly steps: number;
  readonly stepSeconds: number;
}

export interface WindowRules {
  /** Share of the steps each required feature must have observed; below it the outcome is insufficient. */
  readonly minRealFraction: number;
  /** Staleness at which freshness reaches 0; defaults to five steps. */
  readonly staleAfterSeconds?: number;
  readonly required: readonly ModelFeature[];
}

export const DEFAULT_WINDOW_RULES: WindowRules = { minRealFraction: 0.5, required: REQUIRED_FEATURES };

export interface BuildWindowInput {
  readonly target: WindowTarget;
  readonly source: WindowSource;
  /** Unix seconds; rounded down to a multiple of the step. */
  readonly end: number;
  /** The moment staleness is measured from (normally "now"); defaults to `end`. */
  readonly asOf?: number;
  readonly spec: WindowSpec;
  readonly series: Partial<Record<ModelFeature, readonly Sample[]>>;
  readonly rules?: Partial<WindowRules>;
  readonly resources?: ContainerResources;
  readonly history?: WindowHistory;
  readonly note?: string;
}

export function validateSpec(spec: WindowSpec): void {
  if (!Number.isInteger(spec.steps) || spec.steps < 2 || spec.steps > 10_000) {
    throw new WindowSpecError(`steps must be an integer in [2, 10000], got ${spec.steps}`);
  }
  if (!Number.isInteger(spec.stepSeconds) || spec.stepSeconds < 1 || spec.stepSeconds > 86_400) {
    throw new WindowSpecError(`stepSeconds must be an integer in [1, 86400], got ${spec.stepSeconds}`);
  }
}

/** Rounds a unix time down to a multiple of the step. */
export function alignEnd(time: number, stepSeconds: number): number {
  return Math.floor(time / stepSeconds) * stepSeconds;
}

/** Unix seconds of the grid points, oldest first. */
export function gridTimes(end: number, spec: WindowSpec): number[] {
  const aligned = alignEnd(end, spec.stepSeconds);
  return Array.from({ length: spec.steps }, (_, i) => aligned - (spec.steps - 1 - i) * spec.stepSeconds);
}

/**
 * Puts samples on the grid: each point gets the newest finite sample in `(t − step, t]`, or undefined.
 * Times are compared in whole milliseconds so float seconds from JSON cannot shift a sample across a border.
 */
export function alignSamples(
  samples: readonly Sample[],
  grid: readonly number[],
  stepSeconds: number,
): { values: (number | undefined)[]; times: (number | undefined)[] } {
  const stepMs = Math.round(stepSeconds * 1000);
  const values: (number | undefined)[] = grid.map(() => undefined);
  const times: (number | undefined)[] = grid.map(() => undefined);
  const first = grid[0];
  if (first === undefined) return { values, times };
  const firstMs = Math.round(first * 1000);
  for (const s of samples) {
    if (!Number.isFinite(s.v) || !Number.isFinite(s.t)) continue;
    const ms = Math.round(s.t * 1000);
    // Index of the grid point whose interval (t − step, t] contains the sample.
    const index = Math.ceil((ms - firstMs) / stepMs);
    if (index < 0 || index >= grid.length) continue;
    const previous = times[index];
    if (previous === undefined || s.t >= previous) {
      values[index] = s.v;
      times[index] = s.t;
    }
  }
  return { values, times };
}

/** Applies the gap rule (interpolate inside, hold at the edges); undefined when nothing was observed. */
export function fillGaps(column: readonly (number | undefined)[]): number[] | undefined {
  const known: number[] = [];
  column.forEach((v, i) => {
    if (v !== undefined) known.push(i);
  });
  const firstIndex = known[0];
  const lastIndex = known[known.length - 1];
  if (firstIndex === undefined || lastIndex === undefined) return undefined;
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < column.length; i++) {
    const v = column[i];
    if (v !== undefined) {
      out.push(v);
      continue;
    }
    if (i < firstIndex) {
      out.push(column[firstIndex] ?? 0);
      continue;
    }
    if (i > lastIndex) {
      out.push(column[lastIndex] ?? 0);
      continue;
    }
    while ((known[k + 1] ?? Infinity) < i) k++;
    const left = known[k] ?? firstIndex;
    const right = known[k + 1] ?? lastIndex;
    const lv = column[left] ?? 0;
    const rv = column[right] ?? 0;
    out.push(lv + ((rv - lv) * (i - left)) / (right - left));
  }
  return out;
}

/** Freshness falls linearly from 1 (at most one step old) to 0 (at `staleAfter`). */
export function freshness(stalenessSeconds: number, stepSeconds: number, staleAfterSeconds: number): number {
  if (stalenessSeconds <= stepSeconds) return 1;
  if (stalenessSeconds >= staleAfterSeconds) return 0;
  return 1 - (stalenessSeconds - stepSeconds) / (staleAfterSeconds - stepSeconds);
}

function zeroCounts(): Record<ModelFeature, number> {
  return Object.fromEntries(MODEL_FEATURES.map((f) => [f, 0])) as Record<ModelFeature, number>;
}

export function buildWindow(input: BuildWindowInput): GatherOutcome {
  const { spec } = input;
  validateSpec(spec);
  const rules: WindowRules = { ...DEFAULT_WINDOW_RULES, ...input.rules };
  if (!(rules.minRealFraction >= 0 && rules.minRealFraction <= 1)) {
    throw new WindowSpecError(`minRealFraction must be in [0, 1], got ${rules.minRealFraction}`);
  }
  const staleAfter = rules.staleAfterSeconds ?? 5 * spec.stepSeconds;
  if (!(staleAfter > spec.stepSeconds)) {
    throw new WindowSpecError(`staleAfterSeconds (${staleAfter}) must exceed the step (${spec.stepSeconds})`);
  }
  const grid = gridTimes(input.end, spec);
  const end = grid[grid.length - 1] ?? alignEnd(input.end, spec.stepSeconds);
  const asOf = Math.max(input.asOf ?? end, end);

  const realPoints = zeroCounts();
  const newest: Partial<Record<ModelFeature, number>> = {};
  const columns: number[][] = [];
  const observedColumns: boolean[][] = [];
  const absent: ModelFeature[] = [];
  for (const feature of MODEL_FEATURES) {
    const { values, times } = alignSamples(input.series[feature] ?? [], grid, spec.stepSeconds);
    realPoints[feature] = values.filter((v) => v !== undefined).length;
    const observedTimes = times.filter((t): t is number => t !== undefined);
    if (observedTimes.length > 0) newest[feature] = Math.max(...observedTimes);
    const filled = fillGaps(values);
    if (filled === undefined) absent.push(feature);
    columns.push(filled ?? grid.map(() => 0));
    observedColumns.push(values.map((v) => v !== undefined));
  }

  const minPoints = Math.ceil(rules.minRealFraction * spec.steps);
  const short = rules.required.filter((f) => realPoints[f] < Math.max(1, minPoints));
  if (short.length > 0) {
    const detail = short.map((f) => `${f} ${realPoints[f]}/${spec.steps}`).join(', ');
    return {
      kind: 'insufficient',
      target: input.target,
      source: input.source,
      end,
      stepSeconds: spec.stepSeconds,
      steps: spec.steps,
      reason: `too few observed points (need ${Math.max(1, minPoints)} of ${spec.steps}): ${detail}${input.note ? `; ${input.note}` : ''}`,
      realPoints,
    };
  }

  const present = MODEL_FEATURES.filter((f) => !absent.includes(f));
  const realCells = present.reduce((sum, f) => sum + realPoints[f], 0);
  const realFraction = present.length === 0 ? 0 : realCells / (present.length * spec.steps);
  const required = rules.required.length > 0 ? rules.required : present;
  const stalestNewest = Math.min(...required.map((f) => newest[f] ?? -Infinity));
  const stalenessSeconds = Number.isFinite(stalestNewest)
    ? Math.max(0, asOf - stalestNewest)
    : asOf - (grid[0] ?? end) + spec.stepSeconds;
  const fresh = freshness(stalenessSeconds, spec.stepSeconds, staleAfter);
  const quality: WindowQuality = {
    realFraction,
    stalenessSeconds,
    freshness: fresh,
    score: realFraction * fresh,
    coverage: present.length / MODEL_FEATURES.length,
  };

  const values = grid.map((_, step) => columns.map((column) => column[step] ?? 0));
  const observed = grid.map((_, step) => observedColumns.map((column) => column[step] ?? false));
  const window: FeatureWindow = {
    kind: 'window',
    target: input.target,
    source: input.source,
    end,
    stepSeconds: spec.stepSeconds,
    steps: spec.steps,
    features: [...MODEL_FEATURES],
    values,
    observed,
    absentFeatures: absent,
    quality,
    ...(input.resources ? { resources: input.resources } : {}),
    ...(input.history ? { history: input.history } : {}),
    ...(input.note ? { note: input.note } : {}),
  };
  return window;
}
