/**
 * Holt–Winters against statsmodels: test/fixtures/pricing/holt-winters-reference.json was computed by
 * tools/pricing/holt_winters_reference.py with statsmodels (version in the file; the script's docstring
 * says how, and why statsmodels' holtwinters forecast is compared at every horizon but multiples of m).
 */
import reference from '../fixtures/pricing/holt-winters-reference.json';
import {
  fitHoltWinters,
  holtWintersFilter,
  holtWintersForecast,
  simpleInitialStates,
  type HoltWintersFit,
  type HoltWintersSpec,
} from '../../src/domain/forecast/holt-winters';
import { forecastDemand } from '../../src/domain/pricing/demand-forecast';

interface States {
  level: number;
  trend: number;
  seasonal: number[];
}
interface Recorded {
  params: { alpha: number; beta: number; gamma: number };
  initial: States;
  fitted: number[];
  sse: number;
  final: States;
  forecast_holtwinters: number[];
  forecast_ets?: number[];
}
interface Case {
  seasonal: 'additive' | 'multiplicative';
  fixed: Recorded;
  known: Recorded;
  estimated: Recorded;
}

const close = (actual: number, expected: number, tolerance = 1e-9) =>
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(expected)));

/** The textbook forecast from given final states: l + h·b + s of the same season (Hyndman & Athanasopoulos 8.3). */
function textbook(final: States, seasonal: Case['seasonal'], horizon: number): number[] {
  const m = final.seasonal.length;
  return Array.from({ length: horizon }, (_, i) => {
    const base = final.level + (i + 1) * final.trend;
    const s = final.seasonal[i % m]!;
    return seasonal === 'additive' ? base + s : base * s;
  });
}

function expectSameRun(fit: HoltWintersFit, ref: Recorded, seasonal: Case['seasonal'], period: number): void {
  expect(fit.fitted).toHaveLength(ref.fitted.length);
  fit.fitted.forEach((v, i) => close(v, ref.fitted[i]!));
  close(fit.sse, ref.sse);
  close(fit.final.level, ref.final.level);
  close(fit.final.trend, ref.final.trend);
  fit.final.seasonal.forEach((s, i) => close(s, ref.final.seasonal[i]!));
  const ours = holtWintersForecast(fit, reference.horizon);
  const expected = textbook(ref.final, seasonal, reference.horizon);
  ours.forEach((v, i) => close(v, expected[i]!));
  // statsmodels' own holtwinters forecast: identical except at h = k·m (see the generator's docstring).
  ours.forEach((v, i) => {
    if ((i + 1) % period !== 0) close(v, ref.forecast_holtwinters[i]!);
  });
  ref.forecast_ets?.forEach((v, i) => close(ours[i]!, v));
}

const series = Object.entries(reference.series) as [string, { period: number; values: number[]; cases: Case[] }][];

describe.each(series)('Holt–Winters on %s', (_name, { period, values, cases }) => {
  describe.each(cases.map((c) => [c.seasonal, c] as const))('%s seasonality', (seasonal, c) => {
    const spec: HoltWintersSpec = { period, seasonal, trend: true };

    it("computes statsmodels' simple initial states", () => {
      const states = simpleInitialStates(values, spec);
      close(states.level, c.fixed.initial.level, 1e-12);
      close(states.trend, c.fixed.initial.trend, 1e-12);
      expect(states.seasonal).toHaveLength(period);
      states.seasonal.forEach((s, i) => close(s, c.fixed.initial.seasonal[i]!, 1e-12));
    });

    it('reproduces fitted values, SSE, final states and forecast for fixed parameters', () => {
      expectSameRun(fitHoltWinters(values, spec, { params: c.fixed.params }), c.fixed, seasonal, period);
    });

    it('reproduces the recursions from other known initial states', () => {
      expectSameRun(holtWintersFilter(values, spec, c.known.params, c.known.initial), c.known, seasonal, period);
    });

    it("fits at least as well as statsmodels' least squares and forecasts alike", () => {
      const fit = fitHoltWinters(values, spec);
      // Same objective from the same initial states, another optimiser: the same or a slightly lower minimum.
      expect(fit.sse).toBeLessThanOrEqual(c.estimated.sse * (1 + 1e-4));
      const theirs = textbook(c.estimated.final, seasonal, reference.horizon);
      const scale = Math.max(...theirs.map(Math.abs));
      holtWintersForecast(fit, reference.horizon).forEach((v, i) =>
        expect(Math.abs(v - theirs[i]!)).toBeLessThanOrEqual(0.02 * scale),
      );
    });
  });
});

describe('forecastDemand', () => {
  const { period, values } = reference.series['hourly-demand'];

  it('uses Holt–Winters with two seasons of history, keeps the daily cycle and never forecasts negative demand', () => {
    const f = forecastDemand(values, period, 48);
    expect(f.method).toBe('holt-winters');
    expect(f.values).toHaveLength(48);
    expect(f.values.every((v) => v >= 0)).toBe(true);
    // The history ends at a day boundary: the forecast's peak hour is the last day's peak hour.
    const peakHour = (xs: readonly number[]) => xs.indexOf(Math.max(...xs));
    expect(peakHour(f.values.slice(0, period))).toBe(peakHour(values.slice(-period)));
  });

  it('falls back to the last season, then to the mean, and says so', () => {
    const oneSeason = forecastDemand(values.slice(0, period + 3), period, 5);
    expect(oneSeason.method).toBe('seasonal-naive');
    expect(oneSeason.values).toEqual(values.slice(3, 8));
    expect(oneSeason.note).toMatch(/needs 48/);
    expect(forecastDemand([2, 4], period, 3)).toMatchObject({ method: 'flat', values: [3, 3, 3] });
    expect(forecastDemand([], period, 2)).toMatchObject({ method: 'flat', values: [0, 0] });
  });
});
