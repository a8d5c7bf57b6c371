import { MODEL_FEATURES, featureIndex } from '../../src/domain/features';
import { featureColumn, recentMean, stepTimes, type FeatureWindow, type GatherOutcome } from '../../src/domain/window';
import { WindowSpecError } from '../../src/metrics/errors';
import {
  alignEnd,
  alignSamples,
  buildWindow,
  fillGaps,
  freshness,
  gridTimes,
  type Sample,
} from '../../src/metrics/window';

const STEP = 15;
const END = 1_700_000_100; // not a multiple of 15: 1_700_000_100 % 15 = 10
const ALIGNED = END - (END % STEP);

function expectWindow(outcome: GatherOutcome): FeatureWindow {
  if (outcome.kind !== 'window') throw new Error(`expected a window, got insufficient: ${outcome.reason}`);
  return outcome;
}

/** One sample per grid point for the given indices, value = f(index). */
function samplesAt(indices: readonly number[], f: (i: number) => number, steps = 10): Sample[] {
  return indices.map((i) => ({ t: ALIGNED - (steps - 1 - i) * STEP, v: f(i) }));
}

const all = Array.from({ length: 10 }, (_, i) => i);

describe('grid alignment', () => {
  it('rounds the end down to a multiple of the step and spaces points one step apart', () => {
    expect(alignEnd(END, STEP)).toBe(ALIGNED);
    expect(ALIGNED % STEP).toBe(0);
    const grid = gridTimes(END, { steps: 10, stepSeconds: STEP });
    expect(grid).toHaveLength(10);
    expect(grid[9]).toBe(ALIGNED);
    expect(grid[0]).toBe(ALIGNED - 9 * STEP);
    for (let i = 1; i < grid.length; i++) expect(grid[i]! - grid[i - 1]!).toBe(STEP);
  });

  it('gives the same grid for any time within the same step (idempotent re-gathers)', () => {
    const spec = { steps: 10, stepSeconds: STEP };
    expect(gridTimes(ALIGNED, spec)).toEqual(gridTimes(ALIGNED + STEP - 0.001, spec));
    expect(gridTimes(ALIGNED + STEP, spec)).not.toEqual(gridTimes(ALIGNED, spec));
  });

  it('assigns a sample to the grid point whose interval (t − step, t] contains it', () => {
    const grid = gridTimes(ALIGNED, { steps: 3, stepSeconds: STEP });
    const [g0, g1, g2] = grid as [number, number, number];
    const { values } = alignSamples(
      [
        { t: g1, v: 1 }, // exactly on a point: that point
        { t: g1 + 0.001, v: 2 }, // just after: the next point
        { t: g0 - STEP + 0.5, v: 3 }, // inside the first interval
      ],
      grid,
      STEP,
    );
    expect(values).toEqual([3, 1, 2]);
    expect(alignSamples([{ t: g2 + 0.001, v: 9 }], grid, STEP).values).toEqual([undefined, undefined, undefined]);
    expect(alignSamples([{ t: g0 - STEP, v: 9 }], grid, STEP).values).toEqual([undefined, undefined, undefined]);
  });

  it('keeps the newest sample of an interval and ignores non-finite values', () => {
    const grid = gridTimes(ALIGNED, { steps: 2, stepSeconds: STEP });
    const g1 = grid[1]!;
    const { values, times } = alignSamples(
      [
        { t: g1 - 1, v: 10 },
        { t: g1 - 5, v: 20 },
        { t: g1, v: Number.NaN },
        { t: g1 - 14, v: Number.POSITIVE_INFINITY },
      ],
      grid,
      STEP,
    );
    expect(values[1]).toBe(10);
    expect(times[1]).toBe(g1 - 1);
  });

  it('is not fooled by float seconds that land a hair off the grid', () => {
    const grid = gridTimes(ALIGNED, { steps: 2, stepSeconds: STEP });
    expect(alignSamples([{ t: grid[1]! + 1e-7, v: 5 }], grid, STEP).values).toEqual([undefined, 5]);
    expect(alignSamples([{ t: grid[0]! + 1e-7, v: 5 }], grid, STEP).values).toEqual([5, undefined]);
  });
});

describe('gap rule', () => {
  it('interpolates interior gaps linearly between the observed neighbours', () => {
    expect(fillGaps([0, undefined, undefined, 6])).toEqual([0, 2, 4, 6]);
    expect(fillGaps([1, undefined, 3, undefined, 7])).toEqual([1, 2, 3, 5, 7]);
  });

  it('holds the first and last observed values at the edges instead of extrapolating', () => {
    expect(fillGaps([undefined, undefined, 4, 8, undefined])).toEqual([4, 4, 4, 8, 8]);
    expect(fillGaps([undefined, 5, undefined])).toEqual([5, 5, 5]);
  });

  it('returns undefined when nothing was observed', () => {
    expect(fillGaps([undefined, undefined])).toBeUndefined();
    expect(fillGaps([])).toBeUndefined();
  });

  it('leaves a complete column unchanged', () => {
    expect(fillGaps([3, 1, 4, 1, 5])).toEqual([3, 1, 4, 1, 5]);
  });
});

describe('freshness', () => {
  it('is 1 up to one step old, 0 from stale-after, linear between', () => {
    expect(freshness(0, 15, 75)).toBe(1);
    expect(freshness(15, 15, 75)).toBe(1);
    expect(freshness(45, 15, 75)).toBeCloseTo(0.5, 12);
    expect(freshness(75, 15, 75)).toBe(0);
    expect(freshness(1000, 15, 75)).toBe(0);
  });
});

describe('buildWindow', () => {
  const spec = { steps: 10, stepSeconds: STEP };
  const target = { namespace: 'shop', pod: 'cart-1' };

  it('builds a [steps × features] matrix in the model order, oldest step first', () => {
    const window = expectWindow(
      buildWindow({
        target,
        source: 'prometheus',
        end: END,
        spec,
        series: { cpu_usage: samplesAt(all, (i) => i / 10), memory_usage: samplesAt(all, () => 0.5) },
      }),
    );
    expect(window.end).toBe(ALIGNED);
    expect(window.features).toEqual([...MODEL_FEATURES]);
    expect(window.values).toHaveLength(10);
    for (const row of window.values) expect(row).toHaveLength(MODEL_FEATURES.length);
    expect(featureColumn(window, 'cpu_usage')).toEqual(all.map((i) => i / 10));
    expect(window.values[3]![featureIndex('memory_usage')]).toBe(0.5);
    expect(stepTimes(window)).toEqual(gridTimes(END, spec));
    expect(recentMean(window, 'cpu_usage', 3)).toBeCloseTo((0.7 + 0.8 + 0.9) / 3, 12);
  });

  it('zero-fills and lists absent optional features, and reports coverage instead of failing', () => {
    const window = expectWindow(
      buildWindow({
        target,
        source: 'prometheus',
        end: END,
        spec,
        series: { cpu_usage: samplesAt(all, () => 0.3), memory_usage: samplesAt(all, () => 0.4) },
      }),
    );
    expect(window.absentFeatures).toEqual(MODEL_FEATURES.filter((f) => f !== 'cpu_usage' && f !== 'memory_usage'));
    expect(featureColumn(window, 'total_joules')).toEqual(all.map(() => 0));
    expect(window.quality.coverage).toBe(2 / 8);
    expect(window.quality.realFraction).toBe(1);
    expect(window.quality.score).toBe(1);
    expect(window.observed.every((row) => row[featureIndex('total_joules')] === false)).toBe(true);
  });

  it('fills gaps by the rule and marks them unobserved, lowering the real fraction', () => {
    const observedIdx = [0, 1, 2, 4, 5, 6, 7, 9];
    const window = expectWindow(
      buildWindow({
        target,
        source: 'prometheus',
        end: END,
        spec,
        series: { cpu_usage: samplesAt(observedIdx, (i) => i), memory_usage: samplesAt(all, () => 1) },
      }),
    );
    expect(featureColumn(window, 'cpu_usage')).toEqual(all);
    expect(window.observed.map((r) => r[0])).toEqual(all.map((i) => observedIdx.includes(i)));
    expect(window.quality.realFraction).toBeCloseTo(18 / 20, 12);
    expect(window.quality.score).toBeCloseTo(0.9, 12);
  });

  it('is insufficient, not zeros, when a required feature has too few points', () => {
    const outcome = buildWindow({
      target,
      source: 'prometheus',
      end: END,
      spec,
      series: { cpu_usage: samplesAt([0, 5, 9, 3], () => 1), memory_usage: samplesAt(all, () => 1) },
    });
    expect(outcome.kind).toBe('insufficient');
    if (outcome.kind !== 'insufficient') return;
    expect(outcome.reason).toContain('cpu_usage 4/10');
    expect(outcome.realPoints.cpu_usage).toBe(4);
    expect(outcome.realPoints.memory_usage).toBe(10);
    expect(outcome.end).toBe(ALIGNED);
  });

  it('accepts exactly minRealFraction × steps observed points (the boundary)', () => {
    const five = [0, 2, 4, 6, 8];
    const outcome = buildWindow({
      target,
      source: 'prometheus',
      end: END,
      spec,
      series: { cpu_usage: samplesAt(five, () => 1), memory_usage: samplesAt(five, () => 1) },
    });
    expect(outcome.kind).toBe('window');
    const stricter = buildWindow({
      target,
      source: 'prometheus',
      end: END,
      spec,
      rules: { minRealFraction: 0.6 },
      series: { cpu_usage: samplesAt(five, () => 1), memory_usage: samplesAt(five, () => 1) },
    });
    expect(stricter.kind).toBe('insufficient');
  });

  it('is insufficient when a required feature is missing entirely', () => {
    const outcome = buildWindow({
      target,
      source: 'influx',
      end: END,
      spec,
      series: { cpu_usage: samplesAt(all, () => 1) },
    });
    expect(outcome).toMatchObject({ kind: 'insufficient', source: 'influx' });
    if (outcome.kind === 'insufficient') expect(outcome.reason).toContain('memory_usage 0/10');
  });

  it('measures staleness from the newest real point of the stalest required feature', () => {
    const firstSeven = all.slice(0, 7);
    const window = expectWindow(
      buildWindow({
        target,
        source: 'prometheus',
        end: END,
        asOf: END,
        spec,
        series: { cpu_usage: samplesAt(firstSeven, () => 2), memory_usage: samplesAt(all, () => 1) },
      }),
    );
    const newestCpu = ALIGNED - 3 * STEP;
    expect(window.quality.stalenessSeconds).toBe(END - newestCpu);
    expect(window.quality.freshness).toBeCloseTo(freshness(END - newestCpu, STEP, 5 * STEP), 12);
    expect(window.quality.freshness).toBeLessThan(1);
    expect(window.quality.score).toBeCloseTo(window.quality.realFraction * window.quality.freshness, 12);
    expect(featureColumn(window, 'cpu_usage').slice(7)).toEqual([2, 2, 2]);
  });

  it('scores a window of old data low even when every point is present', () => {
    const window = expectWindow(
      buildWindow({
        target,
        source: 'influx',
        end: END,
        asOf: END + 10 * STEP,
        spec,
        series: { cpu_usage: samplesAt(all, () => 1), memory_usage: samplesAt(all, () => 1) },
      }),
    );
    expect(window.quality.realFraction).toBe(1);
    expect(window.quality.freshness).toBe(0);
    expect(window.quality.score).toBe(0);
  });

  it('honours a custom stale-after age', () => {
    const window = expectWindow(
      buildWindow({
        target,
        source: 'prometheus',
        end: ALIGNED,
        asOf: ALIGNED + 2 * STEP,
        spec,
        rules: { staleAfterSeconds: 3 * STEP },
        series: { cpu_usage: samplesAt(all, () => 1), memory_usage: samplesAt(all, () => 1) },
      }),
    );
    expect(window.quality.freshness).toBeCloseTo(0.5, 12);
  });

  it('carries resources, history and a note through unchanged', () => {
    const window = expectWindow(
      buildWindow({
        target,
        source: 'influx',
        end: END,
        spec,
        series: { cpu_usage: samplesAt(all, () => 1), memory_usage: samplesAt(all, () => 1) },
        resources: { cpuLimitCores: 2 },
        history: { samples: 4, sinceSeconds: 3600, cpuP95: 0.5 },
        note: 'from InfluxDB',
      }),
    );
    expect(window.resources).toEqual({ cpuLimitCores: 2 });
    expect(window.history?.cpuP95).toBe(0.5);
    expect(window.note).toBe('from InfluxDB');
    expect(JSON.parse(JSON.stringify(window))).toEqual(window);
  });

  it('rejects invalid shapes with a typed error', () => {
    const series = { cpu_usage: samplesAt(all, () => 1), memory_usage: samplesAt(all, () => 1) };
    const base = { target, source: 'prometheus' as const, end: END, series };
    expect(() => buildWindow({ ...base, spec: { steps: 1, stepSeconds: 15 } })).toThrow(WindowSpecError);
    expect(() => buildWindow({ ...base, spec: { steps: 10, stepSeconds: 0 } })).toThrow(WindowSpecError);
    expect(() => buildWindow({ ...base, spec: { steps: 10, stepSeconds: 1.5 } })).toThrow(WindowSpecError);
    expect(() => buildWindow({ ...base, spec, rules: { minRealFraction: 2 } })).toThrow(WindowSpecError);
    expect(() => buildWindow({ ...base, spec, rules: { staleAfterSeconds: STEP } })).toThrow(/must exceed the step/);
  });
});
