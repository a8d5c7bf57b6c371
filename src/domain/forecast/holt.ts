/**
 * Holt's linear trend method, optionally with a damped trend (Gardner & McKenzie): the forecaster for short,
 * minute-level windows where no season can be identified (Holt–Winters needs two whole seasons). Component form
 * (Hyndman & Athanasopoulos, "Forecasting: Principles and Practice", 8.2), φ = 1 being the undamped method:
 *
 *   ŷ_t = l_{t-1} + φ b_{t-1}
 *   l_t = α y_t + (1−α)(l_{t-1} + φ b_{t-1})
 *   b_t = β (l_t − l_{t-1}) + (1−β) φ b_{t-1}
 *   ŷ_{n+h} = l_n + (φ + φ² + … + φ^h) b_n
 *
 * Parameters are fitted by least squares of the one-step errors, like the seasonal model next to it.
 */
import { nelderMead } from './optimise';
import { leastSquaresLine } from './stats';

export interface HoltParams {
  readonly alpha: number;
  readonly beta: number;
  /** Damping of the trend; 1 is Holt's undamped method. */
  readonly phi: number;
}

export interface HoltStates {
  readonly level: number;
  readonly trend: number;
}

export interface HoltFit {
  readonly params: HoltParams;
  readonly damped: boolean;
  readonly initial: HoltStates;
  /** One-step-ahead predictions ŷ_t for every observation. */
  readonly fitted: number[];
  /** Sum of squared one-step errors. */
  readonly sse: number;
  /** States after each observation (`states[n-1]` is the final one): forecasts from any origin. */
  readonly states: HoltStates[];
}

export class HoltError extends Error {
  override readonly name = 'HoltError';
}

/** The damping range Hyndman & Athanasopoulos recommend: below 0.8 the trend dies within a few steps. */
export const PHI_RANGE = [0.8, 0.98] as const;

/**
 * States before the first observation: the least-squares line through the first few points (up to ten), so
 * one noisy first step does not set the trend, as y₁ − y₀ would.
 */
export function holtInitialStates(y: readonly number[]): HoltStates {
  if (y.length < 2) throw new HoltError(`Holt's method needs at least two points, got ${y.length}`);
  const head = y.slice(0, Math.min(10, Math.max(2, Math.floor(y.length / 2))));
  const line = leastSquaresLine(head);
  return { level: line.intercept - line.slope, trend: line.slope };
}

export function holtFilter(y: readonly number[], params: HoltParams, initial: HoltStates): HoltFit {
  const { alpha, beta, phi } = params;
  let level = initial.level;
  let trend = initial.trend;
  const fitted = new Array<number>(y.length);
  const states = new Array<HoltStates>(y.length);
  let sse = 0;
  for (let t = 0; t < y.length; t++) {
    const predicted = level + phi * trend;
    fitted[t] = predicted;
    sse += (y[t]! - predicted) ** 2;
    const nextLevel = alpha * y[t]! + (1 - alpha) * predicted;
    trend = beta * (nextLevel - level) + (1 - beta) * phi * trend;
    level = nextLevel;
    states[t] = { level, trend };
  }
  return { params, damped: phi < 1, initial, fitted, sse, states };
}

/** Forecasts h = 1…horizon from the given states. */
export function holtForecastFrom(states: HoltStates, phi: number, horizon: number): number[] {
  const out: number[] = [];
  let damping = 0;
  let power = 1;
  for (let h = 1; h <= horizon; h++) {
    power *= phi;
    damping += power;
    out.push(states.level + damping * states.trend);
  }
  return out;
}

/** Forecasts `horizon` steps after the last observation of a fit. */
export function holtForecast(fit: HoltFit, horizon: number): number[] {
  const last = fit.states.at(-1) ?? fit.initial;
  return holtForecastFrom(last, fit.params.phi, horizon);
}

/**
 * Fits α, β ∈ [0, 1] (and φ within {@link PHI_RANGE} when damped) by least squares: a coarse grid finds the
 * basin, Nelder–Mead polishes it.
 */
export function fitHolt(y: readonly number[], options: { damped: boolean }): HoltFit {
  if (y.some((v) => !Number.isFinite(v))) throw new HoltError('the series has a non-finite value');
  const initial = holtInitialStates(y);
  const phiOf = (x: readonly number[]): number => (options.damped ? x[2]! : 1);
  const sse = (x: readonly number[]): number =>
    holtFilter(y, { alpha: x[0]!, beta: x[1]!, phi: phiOf(x) }, initial).sse;
  let start = [0.5, 0.1, 0.9];
  let best = Number.POSITIVE_INFINITY;
  for (const a of [0.1, 0.3, 0.5, 0.8, 1]) {
    for (const b of [0, 0.05, 0.2, 0.5]) {
      for (const p of options.damped ? [0.85, 0.95] : [1]) {
        const value = sse([a, b, p]);
        if (value < best) {
          best = value;
          start = [a, b, p];
        }
      }
    }
  }
  const lower = options.damped ? [0, 0, PHI_RANGE[0]] : [0, 0];
  const upper = options.damped ? [1, 1, PHI_RANGE[1]] : [1, 1];
  const min = nelderMead(sse, start.slice(0, lower.length), { lower, upper, step: 0.05, maxIterations: 600 });
  return holtFilter(y, { alpha: min.x[0]!, beta: min.x[1]!, phi: phiOf(min.x) }, initial);
}
