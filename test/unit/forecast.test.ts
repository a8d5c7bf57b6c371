/**
 * The shared forecaster (src/domain/forecast): Holt and damped Holt against their recursions, season detection,
 * the normal distribution, the model choice, and whether a 90 % lower bound is below what follows about 90 % of
 * the time (so "with enough confidence" is a number that means what it says).
 */
import {
  fitHolt,
  holtFilter,
  holtForecast,
  holtForecastFrom,
  holtInitialStates,
  PHI_RANGE,
} from '../../src/domain/forecast/holt';
import {
  fitHoltWinters,
  holtWintersFilter,
  holtWintersForecast,
  simpleInitialStates,
} from '../../src/domain/forecast/holt-winters';
import { forecastWithInterval, horizonErrors, standardErrors } from '../../src/domain/forecast/model';
import {
  autocorrelation,
  detectSeason,
  leastSquaresLine,
  normalCdf,
  normalQuantile,
} from '../../src/domain/forecast/stats';
import { Rng } from '../../training/rng';

const line = (n: number, a: number, b: number): number[] => Array.from({ length: n }, (_, i) => a + b * i);

describe('Holt', () => {
  test('the recursions, step by step, on a short series', () => {
    const fit = holtFilter([1, 3, 2], { alpha: 0.5, beta: 0.5, phi: 0.9 }, { level: 0, trend: 1 });
    // t=0: ŷ = 0 + 0.9·1 = 0.9; l = 0.5·1 + 0.5·0.9 = 0.95; b = 0.5·0.95 + 0.5·0.9·1 = 0.925
    // t=1: ŷ = 0.95 + 0.8325 = 1.7825; l = 1.5 + 0.89125 = 2.39125; b = 0.5·1.44125 + 0.5·0.8325 = 1.136875
    // t=2: ŷ = 2.39125 + 1.0231875 = 3.4144375
    expect(fit.fitted[0]).toBeCloseTo(0.9, 12);
    expect(fit.fitted[1]).toBeCloseTo(1.7825, 12);
    expect(fit.fitted[2]).toBeCloseTo(3.4144375, 12);
    expect(fit.states[1]).toEqual({ level: expect.closeTo(2.39125, 12), trend: expect.closeTo(1.136875, 12) });
    expect(fit.sse).toBeCloseTo(0.01 + 1.2175 ** 2 + 1.4144375 ** 2, 10);
    expect(fit.damped).toBe(true);
  });

  test('the h-step forecast adds the damped sum of the trend', () => {
    const states = { level: 10, trend: 2 };
    expect(holtForecastFrom(states, 1, 3)).toEqual([12, 14, 16]);
    const damped = holtForecastFrom(states, 0.5, 3);
    expect(damped).toEqual([11, 11.5, 11.75]);
    // Damped, the forecast levels off at l + φ/(1−φ)·b.
    expect(holtForecastFrom(states, 0.5, 60).at(-1)).toBeCloseTo(12, 9);
  });

  test('starts from the least-squares line through the first points, not from y₁ − y₀', () => {
    const y = [0, 10, 2, 3, 4, 5, 6, 7, 8, 9];
    const initial = holtInitialStates(y);
    const head = leastSquaresLine(y.slice(0, 5));
    expect(initial.trend).toBeCloseTo(head.slope, 12);
    expect(initial.level + initial.trend).toBeCloseTo(head.intercept, 12);
    expect(() => holtInitialStates([1])).toThrow(/at least two points/);
  });

  test('fits a clean line exactly and continues it', () => {
    const fit = fitHolt(line(30, 2, 0.5), { damped: false });
    expect(fit.sse).toBeLessThan(1e-12);
    holtForecast(fit, 5).forEach((v, i) => expect(v).toBeCloseTo(2 + 0.5 * (30 + i), 6));
  });

  test('a damped fit keeps φ inside its range and refuses non-finite values', () => {
    const rng = new Rng(3);
    const y = line(40, 1, 0.2).map((v) => v + rng.normal(0, 0.3));
    const fit = fitHolt(y, { damped: true });
    expect(fit.params.phi).toBeGreaterThanOrEqual(PHI_RANGE[0]);
    expect(fit.params.phi).toBeLessThanOrEqual(PHI_RANGE[1]);
    expect(() => fitHolt([1, 2, Number.NaN, 4], { damped: false })).toThrow(/non-finite/);
  });
});

describe('Holt–Winters with a damped trend', () => {
  const rng = new Rng(21);
  const y = Array.from({ length: 48 }, (_, i) => 5 + 0.1 * i + Math.sin((2 * Math.PI * i) / 12) + rng.normal(0, 0.05));
  const spec = { period: 12, seasonal: 'additive' as const, trend: true };
  const initial = simpleInitialStates(y, spec);

  test('φ = 1 is the undamped method exactly (what the SPS and its statsmodels reference use)', () => {
    const plain = holtWintersFilter(y, spec, { alpha: 0.4, beta: 0.2, gamma: 0.3 }, initial);
    const one = holtWintersFilter(y, spec, { alpha: 0.4, beta: 0.2, gamma: 0.3, phi: 1 }, initial);
    expect(one.fitted).toEqual(plain.fitted);
    expect(holtWintersForecast(one, 30)).toEqual(holtWintersForecast(plain, 30));
  });

  test('a damped trend levels off: the forecast minus its season converges', () => {
    const fit = holtWintersFilter(y, spec, { alpha: 0.4, beta: 0.2, gamma: 0.3, phi: 0.8 }, initial);
    const f = holtWintersForecast(fit, 240);
    const { level, trend, seasonal } = fit.final;
    expect(f[239]! - seasonal[239 % 12]!).toBeCloseTo(level + (0.8 / 0.2) * trend, 6);
    const fitted = fitHoltWinters(y, { ...spec, damped: true });
    expect(fitted.params.phi).toBeGreaterThanOrEqual(PHI_RANGE[0]);
    expect(fitted.params.phi).toBeLessThanOrEqual(PHI_RANGE[1]);
    expect(fitHoltWinters(y, spec).params.phi).toBeUndefined();
  });
});

describe('statistics', () => {
  test('normal quantiles and probabilities at known points', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    expect(normalQuantile(0.9)).toBeCloseTo(1.2815516, 6);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 6);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232, 5);
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1.2815516)).toBeCloseTo(0.1, 6);
    for (const p of [0.01, 0.3, 0.77, 0.999]) expect(normalCdf(normalQuantile(p))).toBeCloseTo(p, 6);
    expect(() => normalQuantile(1)).toThrow(/strictly between 0 and 1/);
  });

  test('finds the season of a noisy sine with a trend, and none in a line or in noise', () => {
    const rng = new Rng(11);
    const seasonal = Array.from(
      { length: 120 },
      (_, i) => 0.01 * i + Math.sin((2 * Math.PI * i) / 24) + rng.normal(0, 0.2),
    );
    expect(detectSeason(seasonal)?.period).toBe(24);
    expect(detectSeason(line(120, 0, 1))).toBeUndefined();
    expect(detectSeason(Array.from({ length: 120 }, () => rng.normal()))).toBeUndefined();
    // Fewer than 2.5 seasons in the data: not identifiable.
    expect(detectSeason(seasonal.slice(0, 55))).toBeUndefined();
    expect(autocorrelation([5, 5, 5, 5], 2)).toEqual([0, 0, 0]);
  });
});

describe('forecast with a prediction interval', () => {
  test('a line is forecast by Holt, a season by Holt–Winters', () => {
    const rng = new Rng(5);
    const trend = forecastWithInterval(
      line(60, 0.2, 0.005).map((v) => v + rng.normal(0, 0.005)),
      10,
      0.9,
    );
    expect(trend.model.name).toMatch(/^holt/);
    expect(trend.point[9]).toBeCloseTo(0.2 + 0.005 * 69, 1);
    const seasonal = forecastWithInterval(
      Array.from({ length: 120 }, (_, i) => 0.5 + 0.2 * Math.sin((2 * Math.PI * i) / 24) + rng.normal(0, 0.01)),
      24,
      0.9,
    );
    expect(seasonal.model.name).toBe('holt-winters');
    expect(seasonal.model.period).toBe(24);
    seasonal.point.forEach((v, i) => expect(v).toBeCloseTo(0.5 + 0.2 * Math.sin((2 * Math.PI * (120 + i)) / 24), 1));
    expect(seasonal.candidates.map((c) => c.name)).toContain('holt-damped');
    // `period: 0` keeps the seasonal model out.
    expect(
      forecastWithInterval(seasonal.point.concat(seasonal.point, seasonal.point), 5, 0.9, { period: 0 }).candidates,
    ).toHaveLength(2);
  });

  test('standard errors never shrink with h and grow in proportion to h past the errors seen', () => {
    const rng = new Rng(9);
    const y = line(30, 0, 0.1).map((v) => v + rng.normal(0, 0.05));
    const interval = forecastWithInterval(y, 40, 0.9);
    for (let i = 1; i < interval.sigma.length; i++)
      expect(interval.sigma[i]).toBeGreaterThanOrEqual(interval.sigma[i - 1]!);
    const errors = horizonErrors(interval.model, y, 40, 6);
    // Origins 6…28 reach at most 23 steps; beyond 19 fewer than five errors stand behind an h.
    expect(errors.counts[0]).toBe(23);
    expect(errors.counts[39]).toBe(0);
    const sigma = standardErrors(errors, interval.model, y.length, 0);
    expect(sigma[37]! / sigma[18]!).toBeCloseTo(38 / 19, 6);
    expect(standardErrors(errors, interval.model, y.length, 5)[0]).toBe(5);
    interval.lower.forEach((l, i) =>
      expect(l).toBeCloseTo(interval.point[i]! - normalQuantile(0.9) * interval.sigma[i]!, 12),
    );
  });

  test('a 90 % lower bound five steps out is below what follows about 90 % of the time', () => {
    const rng = new Rng(2024);
    let below = 0;
    const trials = 300;
    for (let k = 0; k < trials; k++) {
      // A line with a random slope and noise, and a random walk with drift: the two shapes usage takes.
      const slope = rng.uniform(-0.01, 0.01);
      const walk = k % 2 === 1;
      let level = 0.5;
      const y: number[] = [];
      for (let i = 0; i < 65; i++) {
        level += walk ? slope + rng.normal(0, 0.01) : slope;
        y.push(walk ? level : level + rng.normal(0, 0.02));
      }
      const interval = forecastWithInterval(y.slice(0, 60), 5, 0.9);
      if (y[64]! >= interval.lower[4]!) below++;
    }
    const coverage = below / trials;
    expect(coverage).toBeGreaterThan(0.82);
    expect(coverage).toBeLessThan(0.97);
  });
});
