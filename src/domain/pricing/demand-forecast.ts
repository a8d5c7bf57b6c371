/**
 * The SPS's demand forecast (D3.6 §2.7) on the shared Holt–Winters forecaster (src/domain/forecast/): with two
 * seasons of history Holt–Winters, with less a naive answer that says why.
 */
import { fitHoltWinters, holtWintersForecast, type HoltWintersFit } from '../forecast/holt-winters';

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

export interface DemandForecast {
  /** Forecast values for the next `horizon` steps (never negative: demand cannot be). */
  readonly values: number[];
  readonly method: 'holt-winters' | 'seasonal-naive' | 'flat';
  readonly fit?: HoltWintersFit;
  /** Why a simpler method answered, when one did. */
  readonly note?: string;
}

/**
 * The demand forecast the SPS prices with. With two seasons of history, Holt–Winters (multiplicative
 * seasonality when the series is strictly positive and fits better, additive otherwise); with one season,
 * the last season repeated; with less, the mean repeated. The note says which and why.
 */
export function forecastDemand(y: readonly number[], period: number, horizon: number): DemandForecast {
  const clean = y.filter((v) => Number.isFinite(v));
  if (clean.length === 0) return { values: new Array<number>(horizon).fill(0), method: 'flat', note: 'no history' };
  if (clean.length < 2 * period) {
    if (clean.length >= period) {
      const season = clean.slice(-period);
      return {
        values: Array.from({ length: horizon }, (_, h) => season[h % period]!),
        method: 'seasonal-naive',
        note: `${clean.length} points of history, Holt–Winters needs ${2 * period}: the last season repeated`,
      };
    }
    return {
      values: new Array<number>(horizon).fill(mean(clean)),
      method: 'flat',
      note: `${clean.length} points of history, less than one season (${period}): the mean repeated`,
    };
  }
  const candidates: HoltWintersFit[] = [fitHoltWinters(clean, { period, seasonal: 'additive', trend: true })];
  if (clean.every((v) => v > 0)) {
    candidates.push(fitHoltWinters(clean, { period, seasonal: 'multiplicative', trend: true }));
  }
  const fit = candidates.reduce((a, b) => (b.sse < a.sse ? b : a));
  return {
    values: holtWintersForecast(fit, horizon).map((v) => Math.max(0, v)),
    method: 'holt-winters',
    fit,
  };
}
