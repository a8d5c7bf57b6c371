/**
 * Paired bootstrap confidence intervals over incidents: every engine faced the same incidents, so a
 * difference is resampled by incident (the same resampled incidents for both engines), which keeps the
 * pairing and so the much smaller variance of a paired comparison. Percentile intervals; seeded, so a report
 * is reproducible.
 */
import { Rng } from './rng';

export interface Interval {
  /** The statistic on the full sample. */
  readonly estimate: number;
  readonly low: number;
  readonly high: number;
  /** Confidence level, e.g. 0.95. */
  readonly level: number;
  readonly resamples: number;
}

export interface BootstrapOptions {
  readonly resamples?: number;
  readonly level?: number;
  readonly seed?: number;
}

const DEFAULTS = { resamples: 2000, level: 0.95, seed: 1 } as const;

/** Linear-interpolated quantile of an already sorted array. */
export function sortedQuantile(sorted: Float64Array, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const a = sorted[lo] ?? NaN;
  const b = sorted[Math.min(sorted.length - 1, lo + 1)] ?? a;
  return a + (b - a) * (pos - lo);
}

/**
 * Bootstrap interval of a statistic of paired samples. `statistic(weights)` gets how many times each incident
 * was drawn (all ones for the full sample) and must be a weighted statistic of the pairs.
 */
export function pairedBootstrap(
  n: number,
  statistic: (counts: Float64Array) => number,
  options: BootstrapOptions = {},
): Interval {
  const { resamples, level, seed } = { ...DEFAULTS, ...options };
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`a bootstrap needs at least one pair, got ${n}`);
  if (!Number.isInteger(resamples) || resamples < 10) throw new RangeError(`resamples must be ≥ 10, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  const estimate = statistic(new Float64Array(n).fill(1));
  const rng = new Rng(seed);
  const values = new Float64Array(resamples);
  const counts = new Float64Array(n);
  for (let b = 0; b < resamples; b++) {
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const j = Math.floor(rng.next() * n);
      counts[j] = (counts[j] ?? 0) + 1;
    }
    values[b] = statistic(counts);
  }
  values.sort();
  const tail = (1 - level) / 2;
  return { estimate, low: sortedQuantile(values, tail), high: sortedQuantile(values, 1 - tail), level, resamples };
}

function checkPaired(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new RangeError(`paired samples differ in length: ${a.length} vs ${b.length}`);
}

function weightedMean(x: ArrayLike<number>, w: Float64Array): number {
  let s = 0;
  let total = 0;
  for (let i = 0; i < w.length; i++) {
    const wi = w[i] ?? 0;
    if (wi === 0) continue;
    s += wi * (x[i] ?? 0);
    total += wi;
  }
  return s / total;
}

/** Mean of a − b over the pairs, with its interval (seconds, joules, shares: whatever a and b are). */
export function meanDifference(a: ArrayLike<number>, b: ArrayLike<number>, options?: BootstrapOptions): Interval {
  checkPaired(a, b);
  const d = Float64Array.from({ length: a.length }, (_, i) => (a[i] ?? 0) - (b[i] ?? 0));
  return pairedBootstrap(d.length, (w) => weightedMean(d, w), options);
}

/** mean(a) / mean(b) − 1 over the same resampled pairs: a relative difference such as "+0.8 % energy". */
export function relativeDifference(a: ArrayLike<number>, b: ArrayLike<number>, options?: BootstrapOptions): Interval {
  checkPaired(a, b);
  return pairedBootstrap(a.length, (w) => weightedMean(a, w) / weightedMean(b, w) - 1, options);
}

/** The interval excludes zero: the difference is distinguishable from none at this level. */
export function excludesZero(i: Interval): boolean {
  return i.low > 0 || i.high < 0;
}
