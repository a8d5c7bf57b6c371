/**
 * The breach predictor (src/domain/forecast/breach.ts) on series slid through time the way the predictive watch
 * sees them: a ramp is predicted before it crosses, a growing season is caught by the seasonal model, and flat,
 * flapping, noisy, too-short and gappy series are refused or left clear, never alarmed on.
 */
import {
  BreachQuestionError,
  DEFAULT_BREACH_OPTIONS,
  predictBreach,
  type BreachPrediction,
  type BreachQuestion,
} from '../../src/domain/forecast/breach';
import { ALERT_LIMIT_SHARES } from '../../src/domain/predictive';
import { PRODUCTION_RULE_OPTIONS, LOCAL_RULE_OPTIONS } from '../../tools/stack/alert-rules';
import { Rng } from '../../training/rng';

const STEP = 30;
const WINDOW = 60;

/** Every window of `size` points ending at `from`…`to` (inclusive), predicted: what a watch ticking each step sees. */
function slide(
  series: readonly number[],
  from: number,
  to: number,
  question: Partial<BreachQuestion> = {},
): { end: number; p: BreachPrediction }[] {
  const out: { end: number; p: BreachPrediction }[] = [];
  for (let end = from; end <= to; end++) {
    const p = predictBreach({
      series: series.slice(end - WINDOW, end),
      stepSeconds: STEP,
      limit: 1,
      thresholdShare: ALERT_LIMIT_SHARES.cpu,
      ...question,
    });
    out.push({ end, p });
  }
  return out;
}

const breaches = <T extends { p: BreachPrediction }>(runs: readonly T[]): T[] =>
  runs.filter((r) => r.p.verdict === 'breach');

test('the thresholds are the ones Talon’s alert rules fire at', () => {
  expect(PRODUCTION_RULE_OPTIONS.cpuLimitShare).toBe(ALERT_LIMIT_SHARES.cpu);
  expect(PRODUCTION_RULE_OPTIONS.memoryLimitShare).toBe(ALERT_LIMIT_SHARES.memory);
  expect(LOCAL_RULE_OPTIONS.cpuLimitShare).toBe(ALERT_LIMIT_SHARES.cpu);
});

describe('predicts', () => {
  test('a ramp: the breach, before it happens, with its time and a probability above the confidence', () => {
    const rng = new Rng(1);
    // 1 % of the limit per 30 s from 30 %, noise 1 %: crosses 80 % after about 50 steps.
    const y = Array.from({ length: 160 }, (_, i) => 0.3 + (i > 60 ? 0.01 * (i - 60) : 0) + rng.normal(0, 0.01));
    const cross = y.findIndex((v) => v >= 0.8);
    const runs = slide(y, WINDOW, cross);
    const first = breaches(runs)[0]!;
    expect(first).toBeDefined();
    const lead = (cross - first.end) * STEP;
    // Ahead of the crossing, and not further ahead than the 5-minute horizon.
    expect(lead).toBeGreaterThanOrEqual(60);
    expect(lead).toBeLessThanOrEqual(330);
    const p = first.p;
    if (p.verdict !== 'breach') throw new Error('breaches() returned another verdict');
    expect(p.inSeconds).toBeLessThanOrEqual(300);
    // It says when: within two steps of when it happened.
    expect(Math.abs(p.inSeconds! - lead)).toBeLessThanOrEqual(2 * STEP + 60);
    expect(p.probability).toBeGreaterThanOrEqual(0.9);
    expect(p.model).toMatch(/^holt/);
    expect(p.detail).toMatch(/will cross 80% in about \d+s/);
    // No alarm while the ramp was still flat or far away.
    expect(breaches(runs.filter((r) => r.end < cross - 12))).toEqual([]);
  });

  test('a growing season: the seasonal model sees the next peak coming, a trend alone does not', () => {
    const rng = new Rng(3);
    // A 6-minute cycle (12 steps) whose peaks grow by 8 % of the limit a cycle: the window's peaks stay under 80 %.
    const y = Array.from(
      { length: 120 },
      (_, i) => 0.1 + 0.007 * i + 0.15 * Math.sin((2 * Math.PI * i) / 12) + rng.normal(0, 0.01),
    );
    const cross = y.findIndex((v) => v >= 0.8);
    expect(Math.max(...y.slice(cross - WINDOW - 10, cross - 10))).toBeLessThan(0.8);
    const seasonal = breaches(slide(y, 70, cross - 1));
    expect(seasonal.length).toBeGreaterThan(0);
    expect(seasonal[0]!.p).toMatchObject({ model: 'holt-winters', period: 12 });
    expect((cross - seasonal[0]!.end) * STEP).toBeGreaterThanOrEqual(120);
    expect(breaches(slide(y, 70, cross - 1, { period: 0 }))).toEqual([]);
  });

  test('memory in bytes against a byte limit answers as the same series in shares', () => {
    const rng = new Rng(8);
    const shares = Array.from({ length: WINDOW }, (_, i) => 0.45 + 0.006 * i + rng.normal(0, 0.005));
    const limit = 512 * 1024 ** 2;
    const inBytes = predictBreach({
      series: shares.map((s) => s * limit),
      stepSeconds: STEP,
      limit,
      thresholdShare: 0.85,
    });
    const inShares = predictBreach({ series: shares, stepSeconds: STEP, limit: 1, thresholdShare: 0.85 });
    expect(inBytes.verdict).toBe('breach');
    expect(inBytes.threshold).toBeCloseTo(0.85 * limit, 0);
    expect({ ...inBytes, threshold: 0 }).toEqual({ ...inShares, threshold: 0 });
  });
});

describe('does not predict', () => {
  const never = (y: readonly number[]) => {
    const runs = slide(y, WINDOW, y.length);
    expect(breaches(runs)).toEqual([]);
    return runs;
  };

  test('further ahead than the history it stands on: a new pod’s first minute forecasts a minute, not five', () => {
    // 14 clean samples 5 s apart rising 0.6 % of the limit a step: 5 minutes of that would cross 85 %, 70 s does not.
    const y = Array.from({ length: 14 }, (_, i) => 0.415 + 0.006 * i);
    const p = predictBreach({ series: y, stepSeconds: 5, limit: 1, thresholdShare: 0.85, horizonSeconds: 300 });
    expect(p).toMatchObject({ verdict: 'clear', horizonSeconds: 70 });
    const longer = Array.from({ length: 60 }, (_, i) => 0.15 + 0.006 * i);
    expect(predictBreach({ series: longer, stepSeconds: 5, limit: 1, thresholdShare: 0.85 })).toMatchObject({
      verdict: 'breach',
      horizonSeconds: 300,
    });
  });

  test('a flat series: refused as flat', () => {
    const runs = never(new Array<number>(120).fill(0.78));
    expect(runs[0]!.p).toMatchObject({ verdict: 'refused', reason: 'flat' });
    expect(runs[0]!.p.detail).toMatch(/nothing to extrapolate/);
  });

  test('noise around a level: refused as noise', () => {
    const rng = new Rng(5);
    const runs = never(Array.from({ length: 200 }, () => 0.6 + rng.normal(0, 0.06)));
    const reasons = new Set(runs.map((r) => (r.p.verdict === 'refused' ? r.p.reason : r.p.verdict)));
    expect(reasons.has('noisy')).toBe(true);
    expect([...reasons].every((r) => r === 'noisy' || r === 'clear')).toBe(true);
  });

  test('flapping over the threshold: refused as flapping, or already breaching, never predicted', () => {
    const rng = new Rng(6);
    // 2 minutes at 90 %, 2 minutes at 50 %: the alert rule's for: decides, not a forecast.
    const runs = never(
      Array.from({ length: 200 }, (_, i) => (Math.floor(i / 4) % 2 ? 0.9 : 0.5) + rng.normal(0, 0.01)),
    );
    const reasons = new Set(runs.map((r) => (r.p.verdict === 'refused' ? r.p.reason : r.p.verdict)));
    expect([...reasons].sort()).toEqual(['already_breaching', 'flapping']);
  });

  test('flapping under the threshold, and a season whose peaks stay under it', () => {
    const rng = new Rng(7);
    never(Array.from({ length: 200 }, (_, i) => (Math.floor(i / 4) % 2 ? 0.75 : 0.45) + rng.normal(0, 0.01)));
    never(Array.from({ length: 200 }, (_, i) => 0.55 + 0.2 * Math.sin((2 * Math.PI * i) / 12) + rng.normal(0, 0.01)));
  });

  test('too short: refused, saying how many samples it needs', () => {
    const p = predictBreach({ series: [0.1, 0.3, 0.5, 0.7], stepSeconds: STEP, limit: 1, thresholdShare: 0.8 });
    expect(p).toMatchObject({ verdict: 'refused', reason: 'too_short' });
    expect(p.detail).toBe(`4 usable samples, a forecast needs at least ${DEFAULT_BREACH_OPTIONS.minPoints}`);
  });

  test('already over the threshold: the alert rule’s case', () => {
    const y = Array.from({ length: WINDOW }, (_, i) => 0.5 + 0.01 * i);
    expect(predictBreach({ series: y, stepSeconds: STEP, limit: 1, thresholdShare: 0.8 })).toMatchObject({
      verdict: 'refused',
      reason: 'already_breaching',
    });
  });

  test('gaps: interior ones are interpolated; too many, or missing newest samples, are refused', () => {
    const y: (number | null)[] = Array.from({ length: WINDOW }, (_, i) => 0.3 + 0.008 * i);
    const holed = y.map((v, i) => (i % 7 === 3 ? null : v));
    const whole = predictBreach({ series: y, stepSeconds: STEP, limit: 1, thresholdShare: 0.8 });
    const interpolated = predictBreach({ series: holed, stepSeconds: STEP, limit: 1, thresholdShare: 0.8 });
    expect(interpolated.verdict).toBe(whole.verdict);
    const sparse = y.map((v, i) => (i % 2 ? null : v));
    expect(predictBreach({ series: sparse, stepSeconds: STEP, limit: 1, thresholdShare: 0.8 })).toMatchObject({
      verdict: 'refused',
      reason: 'gappy',
    });
    const stale = [...y.slice(0, -3), null, null, null];
    const p = predictBreach({ series: stale, stepSeconds: STEP, limit: 1, thresholdShare: 0.8 });
    expect(p).toMatchObject({ verdict: 'refused', reason: 'gappy' });
    expect(p.detail).toMatch(/newest 3 samples are missing/);
    expect(predictBreach({ series: [null, null], stepSeconds: STEP, limit: 1, thresholdShare: 0.8 }).detail).toMatch(
      /no sample/,
    );
  });
});

test('a question it cannot answer is an error naming every problem', () => {
  expect(() =>
    predictBreach({ series: [1, 2, 3], stepSeconds: 0, limit: -1, thresholdShare: 0.8, confidence: 1 }),
  ).toThrow(BreachQuestionError);
  expect(() =>
    predictBreach({ series: [1, 2, 3], stepSeconds: 0, limit: -1, thresholdShare: 0.8, confidence: 1 }),
  ).toThrow(/stepSeconds must be > 0.*limit must be > 0.*confidence must be strictly between 0.5 and 1/);
  expect(() =>
    predictBreach({ series: [1, 2, 3], stepSeconds: 30, limit: 1, thresholdShare: 0.8, horizonSeconds: 10 }),
  ).toThrow(/horizonSeconds must be at least one step \(30s\), got 10/);
});

test('a higher confidence predicts later, never earlier', () => {
  const rng = new Rng(12);
  const y = Array.from({ length: 160 }, (_, i) => 0.3 + (i > 60 ? 0.008 * (i - 60) : 0) + rng.normal(0, 0.02));
  const cross = y.findIndex((v) => v >= 0.8);
  const firstAt = (confidence: number): number => breaches(slide(y, WINDOW, cross, { confidence }))[0]?.end ?? cross;
  expect(firstAt(0.6)).toBeLessThan(cross);
  expect(firstAt(0.6)).toBeLessThanOrEqual(firstAt(0.9));
  expect(firstAt(0.9)).toBeLessThanOrEqual(firstAt(0.99));
});
