/**
 * Holt–Winters seasonal exponential smoothing, shared by the SPS's demand forecast (D3.6 §2.7,
 * src/domain/pricing/demand-forecast.ts) and the breach predictor (./breach.ts): level, additive
 * trend, additive or multiplicative seasonality of period m. The recursions and the "simple" initial states
 * are those of statsmodels' `ExponentialSmoothing` (Hyndman & Athanasopoulos' component form), so the
 * reference values in test/fixtures/pricing were computed with statsmodels and this code must reproduce
 * them. Parameters are fitted by least squares of the one-step errors, like statsmodels' `fit()`.
 *
 *   additive:       ŷ_t = l_{t-1} + b_{t-1} + s_{t-m}
 *                   l_t = α (y_t − s_{t-m}) + (1−α)(l_{t-1} + b_{t-1})
 *                   s_t = γ (y_t − l_{t-1} − b_{t-1}) + (1−γ) s_{t-m}
 *   multiplicative: ŷ_t = (l_{t-1} + b_{t-1}) · s_{t-m}
 *                   l_t = α y_t / s_{t-m} + (1−α)(l_{t-1} + b_{t-1})
 *                   s_t = γ y_t / (l_{t-1} + b_{t-1}) + (1−γ) s_{t-m}
 *   both:           b_t = β (l_t − l_{t-1}) + (1−β) b_{t-1}
 *
 * A damped trend (Gardner & McKenzie; statsmodels' `damped_trend=True`) replaces b_{t-1} by φ b_{t-1} in all three
 * and forecasts l + (φ + … + φ^h) b: on short windows an undamped trend fitted to one rising flank runs away.
 * φ = 1 (the default) is the undamped method exactly.
 */
import { PHI_RANGE } from './holt';
import { nelderMead } from './optimise';

export type SeasonalKind = 'additive' | 'multiplicative';

export interface HoltWintersSpec {
  /** Observations per season (24 for hourly data with a daily cycle). */
  readonly period: number;
  readonly seasonal: SeasonalKind;
  /** Without a trend, b ≡ 0 and β is unused. */
  readonly trend: boolean;
  /** Fit a damping φ of the trend (within PHI_RANGE of ./holt.ts) instead of φ = 1. */
  readonly damped?: boolean;
}

export interface HoltWintersParams {
  readonly alpha: number;
  readonly beta: number;
  readonly gamma: number;
  /** Damping of the trend; absent or 1: undamped. */
  readonly phi?: number;
}

/** States before the first observation; `seasonal[j]` is the seasonal term of observation j (j < m). */
export interface HoltWintersStates {
  readonly level: number;
  readonly trend: number;
  readonly seasonal: readonly number[];
}

export interface HoltWintersFit {
  readonly spec: HoltWintersSpec;
  readonly params: HoltWintersParams;
  readonly initial: HoltWintersStates;
  /** One-step-ahead predictions ŷ_t for every observation. */
  readonly fitted: number[];
  /** Sum of squared one-step errors. */
  readonly sse: number;
  /** States after the last observation; `seasonal` holds the last m seasonal terms, oldest first. */
  readonly final: HoltWintersStates;
}

export class HoltWintersError extends Error {
  override readonly name = 'HoltWintersError';
}

function checkSeries(y: readonly number[], spec: HoltWintersSpec): void {
  if (!Number.isInteger(spec.period) || spec.period < 2) {
    throw new HoltWintersError(`the seasonal period must be an integer ≥ 2, got ${spec.period}`);
  }
  if (y.length < 2 * spec.period) {
    throw new HoltWintersError(`need at least two seasons (${2 * spec.period} points), got ${y.length}`);
  }
  if (y.some((v) => !Number.isFinite(v))) throw new HoltWintersError('the series has a non-finite value');
  if (spec.seasonal === 'multiplicative' && y.some((v) => v <= 0)) {
    throw new HoltWintersError('multiplicative seasonality needs a strictly positive series');
  }
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * statsmodels' `initialization_method="simple"`: level = mean of the first season, trend = mean of the
 * season-over-season differences of the second season divided by m, seasonal = first season minus (or
 * over) the level.
 */
export function simpleInitialStates(y: readonly number[], spec: HoltWintersSpec): HoltWintersStates {
  checkSeries(y, spec);
  const m = spec.period;
  const first = y.slice(0, m);
  const level = mean(first);
  let trend = 0;
  if (spec.trend) {
    let sum = 0;
    for (let i = m; i < 2 * m; i++) sum += (y[i]! - y[i - m]!) / m;
    trend = sum / m;
  }
  const seasonal = first.map((v) => (spec.seasonal === 'additive' ? v - level : v / level));
  return { level, trend, seasonal };
}

/** Runs the recursions over `y` from the given states. */
export function holtWintersFilter(
  y: readonly number[],
  spec: HoltWintersSpec,
  params: HoltWintersParams,
  initial: HoltWintersStates,
): HoltWintersFit {
  const m = spec.period;
  if (initial.seasonal.length !== m) {
    throw new HoltWintersError(`need ${m} initial seasonal terms, got ${initial.seasonal.length}`);
  }
  const { alpha, gamma } = params;
  const beta = spec.trend ? params.beta : 0;
  const phi = params.phi ?? 1;
  const additive = spec.seasonal === 'additive';
  // season[t mod m] holds s_{t-m} until observation t overwrites it with s_t.
  const season = [...initial.seasonal];
  let level = initial.level;
  let trend = spec.trend ? initial.trend : 0;
  const fitted = new Array<number>(y.length);
  let sse = 0;
  for (let t = 0; t < y.length; t++) {
    const obs = y[t]!;
    const s = season[t % m]!;
    const base = level + phi * trend;
    const predicted = additive ? base + s : base * s;
    fitted[t] = predicted;
    sse += (obs - predicted) ** 2;
    const nextLevel = additive ? alpha * (obs - s) + (1 - alpha) * base : (alpha * obs) / s + (1 - alpha) * base;
    trend = spec.trend ? beta * (nextLevel - level) + (1 - beta) * phi * trend : 0;
    season[t % m] = additive ? gamma * (obs - base) + (1 - gamma) * s : (gamma * obs) / base + (1 - gamma) * s;
    level = nextLevel;
  }
  const start = y.length % m;
  const ordered = [...season.slice(start), ...season.slice(0, start)];
  return {
    spec,
    params: { alpha, beta, gamma, ...(params.phi !== undefined ? { phi } : {}) },
    initial,
    fitted,
    sse,
    final: { level, trend, seasonal: ordered },
  };
}

/** Forecasts `horizon` steps after the last observation of a fit. */
export function holtWintersForecast(fit: HoltWintersFit, horizon: number): number[] {
  const m = fit.spec.period;
  const { level, trend, seasonal } = fit.final;
  const phi = fit.params.phi ?? 1;
  const out: number[] = [];
  let damping = 0;
  let power = 1;
  for (let h = 1; h <= horizon; h++) {
    const s = seasonal[(h - 1) % m]!;
    power *= phi;
    damping += power;
    const base = level + (phi === 1 ? h : damping) * trend;
    out.push(fit.spec.seasonal === 'additive' ? base + s : base * s);
  }
  return out;
}

export interface FitOptions {
  /** Fix parameters instead of estimating them. */
  readonly params?: HoltWintersParams;
  readonly initial?: HoltWintersStates;
}

/**
 * Fits α, β, γ ∈ [0, 1] by least squares from the simple initial states: a coarse grid finds the basin
 * (the SSE surface has several), Nelder–Mead polishes the best grid point.
 */
export function fitHoltWinters(y: readonly number[], spec: HoltWintersSpec, options: FitOptions = {}): HoltWintersFit {
  checkSeries(y, spec);
  const initial = options.initial ?? simpleInitialStates(y, spec);
  if (options.params) return holtWintersFilter(y, spec, options.params, initial);
  const damped = spec.trend && spec.damped === true;
  const paramsOf = (x: readonly number[]): HoltWintersParams => ({
    alpha: x[0]!,
    beta: x[1]!,
    gamma: x[2]!,
    ...(damped ? { phi: x[3]! } : {}),
  });
  const sse = (x: readonly number[]): number => holtWintersFilter(y, spec, paramsOf(x), initial).sse;
  const grid = [0.01, 0.1, 0.25, 0.5, 0.75, 0.95];
  let start = damped ? [0.5, 0.1, 0.1, 0.9] : [0.5, 0.1, 0.1];
  let best = Number.POSITIVE_INFINITY;
  for (const a of grid) {
    for (const b of spec.trend ? grid : [0]) {
      for (const g of grid) {
        // A damped fit starts its grid at φ = 0.9 and leaves φ to the simplex.
        const x = damped ? [a, b, g, 0.9] : [a, b, g];
        const value = sse(x);
        if (value < best) {
          best = value;
          start = x;
        }
      }
    }
  }
  const lower = damped ? [0, 0, 0, PHI_RANGE[0]] : [0, 0, 0];
  const upper = damped ? [1, 1, 1, PHI_RANGE[1]] : [1, spec.trend ? 1 : 0, 1];
  let min = nelderMead(sse, start, { lower, upper, step: 0.05, maxIterations: 2000 });
  // A restart from the optimum frees a simplex that collapsed against a bound.
  min = nelderMead(sse, min.x, { lower, upper, step: 0.02, maxIterations: 2000 });
  return holtWintersFilter(y, spec, paramsOf(min.x), initial);
}
