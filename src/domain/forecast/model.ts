/**
 * One face over the forecasters, so the breach predictor (and anything else) can fit several, keep the one the
 * data support best, and put a residual-based prediction interval around its forecast:
 * - Holt (trend) and damped Holt for short windows; additive Holt–Winters when the window holds a clear season
 *   (stats.detectSeason) — the same seasonal code the SPS's demand forecast uses;
 * - the choice by rolling-origin evaluation (Hyndman & Athanasopoulos 5.10): forecasts of 1…H steps from every
 *   origin after a burn-in, compared with what followed; the lowest mean squared error over the horizon wins, so
 *   a model is judged at the horizon the caller asks about (a one-step criterion such as AICc favours a model that
 *   merely follows the last value, and its penalty of m seasonal states rules a season out on short windows);
 * - the interval from the same h-step errors of the chosen model, which also catches a model that is wrong for
 *   the series, not only noise. The parameters are fitted on the whole window, so these errors are in-sample:
 *   somewhat optimistic, which the predictor's refusals (noise, flapping) and the floor compensate.
 */
import { fitHolt, holtForecastFrom, type HoltFit } from './holt';
import { fitHoltWinters, holtWintersFilter, holtWintersForecast, type HoltWintersFit } from './holt-winters';
import { detectSeason, normalCdf, normalQuantile } from './stats';

export type ModelName = 'holt' | 'holt-damped' | 'holt-winters';

export interface FittedModel {
  readonly name: ModelName;
  /** Observations per season (Holt–Winters only). */
  readonly period?: number;
  readonly fitted: readonly number[];
  readonly sse: number;
  /** Forecasts h = 1…horizon from the states after observation `origin` (the last one: the forecast). */
  forecastFrom(origin: number, horizon: number): number[];
}

function holtModel(fit: HoltFit): FittedModel {
  return {
    name: fit.damped ? 'holt-damped' : 'holt',
    fitted: fit.fitted,
    sse: fit.sse,
    forecastFrom: (origin, horizon) => holtForecastFrom(fit.states[origin]!, fit.params.phi, horizon),
  };
}

function seasonalModel(y: readonly number[], fit: HoltWintersFit): FittedModel {
  const last = y.length - 1;
  return {
    name: 'holt-winters',
    period: fit.spec.period,
    fitted: fit.fitted,
    sse: fit.sse,
    // States at an earlier origin: the recursions re-run over the prefix (O(n) each; a window is short).
    forecastFrom: (origin, horizon) =>
      holtWintersForecast(
        origin === last ? fit : holtWintersFilter(y.slice(0, origin + 1), fit.spec, fit.params, fit.initial),
        horizon,
      ),
  };
}

/** Fewest in-sample errors an h-step standard error is estimated from; beyond, it is extrapolated. */
const MIN_ERROR_SAMPLES = 5;

/** A model's in-sample h-step errors for h = 1…horizon, from every origin at or after `burnIn`. */
export interface HorizonErrors {
  /** Mean squared error per h (NaN where no origin reaches that far). */
  readonly mse: number[];
  /** Errors behind each h. */
  readonly counts: number[];
}

export function horizonErrors(
  model: FittedModel,
  y: readonly number[],
  horizon: number,
  burnIn: number,
): HorizonErrors {
  const n = y.length;
  const sums = new Array<number>(horizon).fill(0);
  const counts = new Array<number>(horizon).fill(0);
  for (let origin = Math.max(0, burnIn); origin < n - 1; origin++) {
    const steps = Math.min(horizon, n - 1 - origin);
    const forecast = model.forecastFrom(origin, steps);
    for (let h = 1; h <= steps; h++) {
      sums[h - 1]! += (y[origin + h]! - forecast[h - 1]!) ** 2;
      counts[h - 1]! += 1;
    }
  }
  return { mse: sums.map((s, i) => (counts[i]! > 0 ? s / counts[i]! : Number.NaN)), counts };
}

/**
 * Standard errors of the h-step forecasts: the root of the h-step MSE where at least {@link MIN_ERROR_SAMPLES}
 * errors stand behind it; beyond, the last well-estimated one grows in proportion to h, as the error of a slope
 * does (a random walk's √h would be optimistic for a trend model, whose error variance grows like h³), and
 * without any the one-step residuals do. Never shrinking with h (a later step is never surer than an earlier
 * one), never below `floor`.
 */
export function standardErrors(errors: HorizonErrors, model: FittedModel, n: number, floor: number): number[] {
  const sigma: number[] = [];
  let anchor: { h: number; sigma: number } | undefined;
  errors.mse.forEach((mse, i) => {
    const h = i + 1;
    const wellEstimated = errors.counts[i]! >= MIN_ERROR_SAMPLES;
    let s: number;
    if (wellEstimated) s = Math.sqrt(mse);
    else if (anchor) s = (anchor.sigma * h) / anchor.h;
    else s = Math.sqrt(model.sse / Math.max(1, n)) * h;
    s = Math.max(s, sigma.at(-1) ?? 0, floor);
    if (wellEstimated) anchor = { h, sigma: s };
    sigma.push(s);
  });
  return sigma;
}

export interface PredictionInterval {
  readonly model: FittedModel;
  readonly point: number[];
  /** One-sided bounds at the confidence: P(y_h ≥ lower_h) = confidence under the error model. */
  readonly lower: number[];
  readonly upper: number[];
  /** Standard error of each h-step forecast. */
  readonly sigma: number[];
  readonly confidence: number;
  /** Every candidate's mean squared h-step error (the choice), best first. */
  readonly candidates: readonly { readonly name: ModelName; readonly period?: number; readonly score: number }[];
}

export interface ForecastOptions {
  /** A known season in observations; 0 turns the seasonal candidate off; absent: detected. */
  readonly period?: number;
  /** Smallest standard error (a perfectly regular series would otherwise be certain). */
  readonly floor?: number;
}

/**
 * The forecast of the next `horizon` steps with one-sided bounds at `confidence`, from the candidate with the
 * lowest rolling-origin error: Holt, damped Holt and, when the series shows a season with room for two of them
 * and a little more, additive Holt–Winters.
 */
export function forecastWithInterval(
  y: readonly number[],
  horizon: number,
  confidence: number,
  options: ForecastOptions = {},
): PredictionInterval {
  const fits: FittedModel[] = [holtModel(fitHolt(y, { damped: false })), holtModel(fitHolt(y, { damped: true }))];
  const period = options.period ?? detectSeason(y)?.period;
  if (period !== undefined && period >= 2 && y.length >= 2 * period + 6) {
    fits.push(seasonalModel(y, fitHoltWinters(y, { period, seasonal: 'additive', trend: true, damped: true })));
  }
  // One burn-in for every candidate, so their errors are over the same origins.
  const burnIn = Math.max(6, Math.min(period ?? 0, Math.floor(y.length / 4)));
  const scored = fits
    .map((model) => {
      const errors = horizonErrors(model, y, horizon, burnIn);
      const usable = errors.mse.filter((_, i) => errors.counts[i]! >= MIN_ERROR_SAMPLES);
      const score = usable.length > 0 ? usable.reduce((a, b) => a + b, 0) / usable.length : model.sse / y.length;
      return { model, errors, score };
    })
    // Ties (a clean line fits every candidate) go to the simpler model, first in the list.
    .sort((a, b) => a.score - b.score);
  const best = scored[0]!;
  const sigma = standardErrors(best.errors, best.model, y.length, options.floor ?? 1e-9);
  const point = best.model.forecastFrom(y.length - 1, horizon);
  const z = normalQuantile(confidence);
  return {
    model: best.model,
    point,
    lower: point.map((p, i) => p - z * sigma[i]!),
    upper: point.map((p, i) => p + z * sigma[i]!),
    sigma,
    confidence,
    candidates: scored.map((s) => ({
      name: s.model.name,
      ...(s.model.period ? { period: s.model.period } : {}),
      score: s.score,
    })),
  };
}

/** P(y_h > threshold) under the interval's normal error model. */
export function exceedanceProbability(interval: PredictionInterval, h: number, threshold: number): number {
  return normalCdf((interval.point[h - 1]! - threshold) / interval.sigma[h - 1]!);
}
