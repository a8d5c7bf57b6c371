/** Statistics every benchmark reports with, so one figure means the same in each of them. */

/**
 * Nearest-rank percentile (`p` in 0–100) of `values` in any order; NaN for no values. Callers that count a
 * missing sample as the worst case pass it as Infinity (a lost or late change is the worst latency).
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}
