/**
 * The small statistics the forecasters and the breach predictor share: the normal distribution (a prediction
 * interval's quantile, a breach's probability), a least-squares line, and the autocorrelation that finds a
 * season. Pure and dependency-free.
 */

export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

export const sumOfSquares = (xs: readonly number[]): number => xs.reduce((a, b) => a + b * b, 0);

/**
 * Φ(x), the standard normal CDF, from erfc by Numerical Recipes' Chebyshev fit (|error| < 1.2e-7): more than
 * a probability reported to two digits needs.
 */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const erfc =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** Φ⁻¹(p) by Acklam's rational approximation (relative error < 1.2e-9) for 0 < p < 1. */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`a probability strictly between 0 and 1, got ${p}`);
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
  ];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  const poly = (k: readonly number[], x: number): number => k.reduce((acc, v) => acc * x + v, 0);
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(c, q) / (poly(d, q) * q + 1);
  }
  if (p > 1 - low) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -poly(c, q) / (poly(d, q) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}

/** The least-squares line through (i, y_i), i = 0…n−1. */
export function leastSquaresLine(y: readonly number[]): { intercept: number; slope: number } {
  const n = y.length;
  if (n === 0) return { intercept: 0, slope: 0 };
  if (n === 1) return { intercept: y[0]!, slope: 0 };
  const xBar = (n - 1) / 2;
  const yBar = mean(y);
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (i - xBar) * (y[i]! - yBar);
    sxx += (i - xBar) ** 2;
  }
  const slope = sxy / sxx;
  return { intercept: yBar - slope * xBar, slope };
}

/**
 * Autocorrelation of `y` at lags 0…maxLag, each lag's covariance averaged over its own pairs (so a long lag is not
 * discounted for having fewer of them, which would hide a season near the window's length); r_0 = 1, all 0 for a
 * constant series.
 */
export function autocorrelation(y: readonly number[], maxLag: number): number[] {
  const n = y.length;
  const m = mean(y);
  const dev = y.map((v) => v - m);
  const c0 = sumOfSquares(dev);
  const out: number[] = [];
  for (let lag = 0; lag <= Math.min(maxLag, n - 1); lag++) {
    if (c0 === 0) {
      out.push(0);
      continue;
    }
    let c = 0;
    for (let i = lag; i < n; i++) c += dev[i]! * dev[i - lag]!;
    out.push(c / (n - lag) / (c0 / n));
  }
  return out;
}

export interface DetectedSeason {
  /** Observations per season. */
  readonly period: number;
  /** Autocorrelation of the detrended series at that lag. */
  readonly strength: number;
}

/**
 * The season of a series, if it has a clear one: the first local peak of the detrended series' autocorrelation
 * at or above `minStrength`, with at least `minSeasons` whole seasons in the data (a season seen once cannot be
 * told from a trend). The first peak rather than the highest, so a multiple of the period is not taken for it.
 */
export function detectSeason(
  y: readonly number[],
  options: { minPeriod?: number; minSeasons?: number; minStrength?: number } = {},
): DetectedSeason | undefined {
  const minPeriod = Math.max(2, options.minPeriod ?? 4);
  const minSeasons = options.minSeasons ?? 2.5;
  const minStrength = options.minStrength ?? 0.5;
  const maxPeriod = Math.floor(y.length / minSeasons);
  if (maxPeriod < minPeriod) return undefined;
  const line = leastSquaresLine(y);
  const detrended = y.map((v, i) => v - line.intercept - line.slope * i);
  const acf = autocorrelation(detrended, maxPeriod + 1);
  for (let lag = minPeriod; lag <= maxPeriod; lag++) {
    const r = acf[lag]!;
    if (r >= minStrength && r >= acf[lag - 1]! && r >= (acf[lag + 1] ?? -Infinity)) return { period: lag, strength: r };
  }
  return undefined;
}
