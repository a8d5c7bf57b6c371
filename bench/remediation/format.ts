/** How the remediation benchmark prints a latency and a distribution of them. */
import { percentile } from '../support/stats';

/** Whole milliseconds; ∞ for a change that never came, n/a for no sample at all. */
export const ms = (v: number): string => (Number.isFinite(v) ? `${Math.round(v)} ms` : Number.isNaN(v) ? 'n/a' : '∞');

/** p50, p90, p99, max and the sample count. */
export function dist(values: readonly number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `p50 ${ms(percentile(sorted, 50))}, p90 ${ms(percentile(sorted, 90))}, p99 ${ms(percentile(sorted, 99))}, max ${ms(sorted.at(-1) ?? NaN)} (n=${sorted.length})`;
}

/** p50 / p99. */
export const p5099 = (values: readonly number[]): string =>
  `${ms(percentile(values, 50))} / ${ms(percentile(values, 99))}`;
