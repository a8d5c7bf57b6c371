import { TaskInputError } from '../../src/domain/task-errors';
import { METRIC } from '../../src/domain/taxonomy';
import { parseTaxonomy } from '../../src/domain/taxonomy-parse';
import { findShippedAlgorithm } from '../../src/tasks/algorithms';
import { castStrict, castTolerant } from '../../src/tasks/algorithms/casting';
import { linearInterpolate, padInterpolate } from '../../src/tasks/algorithms/interpolation';
import { hampelOutliers, removeFlagged, zScoreOutliers } from '../../src/tasks/algorithms/outliers';
import { garbleCells, injectSpikes, punchGaps, seededRandom } from '../../tools/taxonomy/corrupt';
import { parseSeriesCsv, type Series } from '../../tools/taxonomy/dataset';
import { measureCost, measureShippedAlgorithms, prepareInputs } from '../../tools/taxonomy/measure';
import { runOnCsv, splitCsvLine } from '../../src/tasks/run';
import { castingScores, classificationScores, meanAbsoluteError } from '../../tools/taxonomy/scores';

describe('interpolation', () => {
  it('linear bridges a gap on the straight line, weighted by time', () => {
    // times 0, 1, 4 with values 0, ?, 8: at t=1 the line gives 0 + 8·(1-0)/(4-0) = 2
    expect(linearInterpolate([0, 1, 4], [0, null, 8])).toEqual([0, 2, 8]);
    // evenly spaced run of two: 1, ?, ?, 4 → 2, 3
    expect(linearInterpolate([0, 1, 2, 3], [1, null, null, 4])).toEqual([1, 2, 3, 4]);
  });

  it('linear holds the nearest value at the ends', () => {
    // leading gap takes the first known (2), trailing the last known (4)
    expect(linearInterpolate([0, 1, 2, 3, 4], [null, 2, null, 4, null])).toEqual([2, 2, 3, 4, 4]);
  });

  it('pad repeats the last known value and back-fills a leading gap', () => {
    expect(padInterpolate([null, 2, null, null, 5, null])).toEqual([2, 2, 2, 2, 5, 5]);
  });

  it('rejects a series with nothing to interpolate from, and mismatched lengths', () => {
    expect(() => padInterpolate([null, null])).toThrow(TaskInputError);
    expect(() => linearInterpolate([0, 1], [null, Number.NaN])).toThrow(/no known value/);
    expect(() => linearInterpolate([0], [1, 2])).toThrow(/differ in length/);
  });
});

describe('outlier removal', () => {
  const series = [10, 10.5, 10, 10.5, 30, 10, 10.5, 10, 10.5];

  it('rolling z-score flags the spike against its neighbours', () => {
    // i=4, neighbours 1..7 without 4: 10.5, 10, 10.5, 10, 10.5, 10 → mean 10.25, σ 0.25, z = 19.75/0.25 = 79.
    // i=1, neighbours 0, 2, 3, 4 (the spike included): mean 15.125, σ ≈ 8.59, z ≈ 0.54 → kept.
    expect(zScoreOutliers(series)).toEqual([false, false, false, false, true, false, false, false, false]);
  });

  it('Hampel flags the spike against the window median', () => {
    // i=4: window 1..7 sorted 10,10,10,10.5,10.5,10.5,30 → median 10.5; |deviations| sorted
    // 0,0,0,0.5,0.5,0.5,19.5 → MAD 0.5, σ = 1.4826·0.5 = 0.7413; 19.5 > 2·0.7413 → outlier.
    // i=5 (10): same median 10.5, MAD 0.5; 0.5 < 1.4826 → kept.
    expect(hampelOutliers(series)).toEqual([false, false, false, false, true, false, false, false, false]);
  });

  it('flags any departure from a perfectly flat neighbourhood', () => {
    // σ = 0 (z-score) and MAD = 0 (Hampel): any difference at all is an outlier.
    expect(zScoreOutliers([5, 5, 5, 6, 5, 5, 5])[3]).toBe(true);
    expect(hampelOutliers([5, 5, 5, 6, 5, 5, 5])).toEqual([false, false, false, true, false, false, false]);
  });

  it('removal empties the flagged values', () => {
    expect(removeFlagged([1, 2, 3], [false, true, false])).toEqual([1, null, 3]);
  });
});

describe('data casting', () => {
  const cells = ['1.5', ' 2 ', '3,5', 'NA', '', '1e2', '4 ppm', '1,234.5', '-'];

  it('strict reads only the number grammar', () => {
    expect(castStrict(cells)).toEqual([1.5, 2, null, null, null, 100, null, null, null]);
  });

  it('tolerant also reads decimal commas, units and missing tokens, but not thousands separators', () => {
    expect(castTolerant(cells)).toEqual([1.5, 2, 3.5, null, null, 100, 4, null, null]);
  });
});

describe('quality scores', () => {
  it('MAE averages only over the reconstructed positions', () => {
    // positions 1 and 3: |2-4| = 2 and |5-4| = 1 → 1.5 (position 0 differs but is not scored)
    expect(meanAbsoluteError([9, 2, 0, 5], [0, 4, 0, 4], [1, 3])).toBe(1.5);
  });

  it('classification: accuracy, precision, recall, F1', () => {
    // TP at 0, FP at 1 and 4, FN at 2, TN at 3 → accuracy 2/5, precision 1/3, recall 1/2,
    // F1 = 2·(1/3·1/2)/(1/3+1/2) = (1/3)/(5/6) = 0.4
    const s = classificationScores([true, true, false, false, true], [true, false, true, false, false]);
    expect(s).toMatchObject({ tp: 1, fp: 2, fn: 1, tn: 1, accuracy: 0.4, recall: 0.5 });
    expect(s.precision).toBeCloseTo(1 / 3, 12);
    expect(s.f1).toBeCloseTo(0.4, 12);
  });

  it('a detector that never fires scores 0 precision and F1', () => {
    expect(classificationScores([false, false], [true, false])).toMatchObject({ precision: 0, f1: 0, accuracy: 0.5 });
  });

  it('casting: a wrong number is both a false positive and a false negative', () => {
    // 0: correct (TP); 1: lost (FN); 2: invented (FP); 3: wrong 5 vs 6 (FP + FN); 4: both missing (TN).
    // accuracy = 2 correct / 5; precision 1/3; recall 1/3; F1 1/3.
    const s = castingScores([1, null, 3, 5, null], [1, 2, null, 6, null]);
    expect(s).toMatchObject({ tp: 1, fp: 2, fn: 2, tn: 1, accuracy: 0.4 });
    expect(s.precision).toBeCloseTo(1 / 3, 12);
    expect(s.f1).toBeCloseTo(1 / 3, 12);
  });
});

describe('seeded corruption', () => {
  const values = Array.from({ length: 200 }, (_, i) => 300 + i * 0.1 + Math.sin(i / 2));

  it('is reproducible from the seed', () => {
    expect(punchGaps(values, seededRandom(1))).toEqual(punchGaps(values, seededRandom(1)));
    expect(punchGaps(values, seededRandom(1))).not.toEqual(punchGaps(values, seededRandom(2)));
  });

  it('punches 10% gaps in runs of at most 6, keeping both ends', () => {
    const { values: gapped, missing } = punchGaps(values, seededRandom(7));
    expect(missing).toHaveLength(20);
    expect(gapped[0]).not.toBeNull();
    expect(gapped[199]).not.toBeNull();
    let run = 0;
    let longest = 0;
    for (const v of gapped) {
      run = v === null ? run + 1 : 0;
      longest = Math.max(longest, run);
    }
    expect(longest).toBeLessThanOrEqual(6);
  });

  it('injects 3% isolated spikes', () => {
    const { values: spiked, outliers } = injectSpikes(values, seededRandom(7));
    const positions = outliers.flatMap((o, i) => (o ? [i] : []));
    expect(positions).toHaveLength(6);
    for (let k = 1; k < positions.length; k++) expect(positions[k]! - positions[k - 1]!).toBeGreaterThan(1);
    for (const i of positions) expect(spiked[i]).not.toBe(values[i]);
  });

  it('garbles cells and keeps the clean number as truth', () => {
    const cells = values.map((v) => v.toFixed(2));
    const { cells: garbled, truth, damage } = garbleCells(cells, seededRandom(7));
    for (let i = 0; i < cells.length; i++) {
      if (damage[i] === null) expect(garbled[i]).toBe(cells[i]);
      expect(truth[i]).toBe(damage[i] === 'missing' ? null : Number(cells[i]));
    }
    expect(damage.filter((d) => d !== null).length).toBeGreaterThan(20);
  });
});

describe('measurement', () => {
  // A straight line y = 2t + 1 on a daily axis: linear interpolation is exact there, while pad's error at
  // a missing point is the slope times the distance to the last known point: 2·(i - last known).
  const n = 120;
  const series: Series = {
    labels: Array.from({ length: n }, (_, i) => String(i)),
    times: Array.from({ length: n }, (_, i) => i),
    values: Array.from({ length: n }, (_, i) => 2 * i + 1),
    cells: Array.from({ length: n }, (_, i) => String(2 * i + 1)),
  };

  it('measures every shipped algorithm into a valid taxonomy with ground-truth quality', () => {
    const taxonomy = measureShippedAlgorithms({
      series,
      seed: 11,
      minSampleMs: 2,
      minRuns: 3,
      wattsPerCore: 10,
      dataset: { id: 'line', name: 'line', source: 'test', licence: 'none' },
      now: new Date('2026-01-01T00:00:00Z'),
    });
    expect(() => parseTaxonomy(JSON.parse(JSON.stringify(taxonomy)), 'round trip')).not.toThrow();
    const get = (id: string) => taxonomy.algorithms.find((a) => a.id === id)!;

    const { missing } = prepareInputs(series, 11).interpolation;
    const missingSet = new Set(missing);
    let expectedPad = 0;
    for (const i of missing) {
      let last = i;
      while (missingSet.has(last)) last--;
      expectedPad += 2 * (i - last);
    }
    expectedPad /= missing.length;
    expect(get('linear').metrics[METRIC.mae]).toBeCloseTo(0, 9);
    expect(get('pad').metrics[METRIC.mae]).toBeCloseTo(expectedPad, 2);

    for (const a of taxonomy.algorithms) {
      expect(a.dataset).toBe('line');
      expect(a.measuredAt).toBe('2026-01-01T00:00:00.000Z');
      const cpu = a.metrics[METRIC.cpuTime]!;
      // energy_j = cpu_time_s × 10 W, each rounded to 4 significant digits on its own, so they agree
      // to rounding (1 part in 10^3), not exactly.
      expect(Math.abs(a.metrics[METRIC.energy]! - cpu * 10)).toBeLessThanOrEqual(cpu * 10 * 1e-3);
      expect(a.metrics[METRIC.execTime]).toBeGreaterThan(0);
    }
    // Every garbled cell kind is one the tolerant cast reads, so it recovers all of them.
    expect(get('tolerant').metrics[METRIC.accuracy]).toBe(1);
    expect(get('strict').metrics[METRIC.accuracy]).toBeLessThan(1);
  });

  it('measures cost of a known workload', () => {
    // Allocating an array of 100,000 doubles grows the heap by at least 800,000 bytes.
    const cost = measureCost(() => new Array<number>(100_000).fill(1.5), 5, 3);
    expect(cost.maxMemoryBytes).toBeGreaterThanOrEqual(800_000);
    expect(cost.runs).toBeGreaterThanOrEqual(3);
    expect(cost.execSeconds).toBeGreaterThan(0);
    expect(cost.cpuSecondsPerRun).toBeGreaterThan(0);
  });
});

describe('the job runner', () => {
  it('splits quoted CSV fields', () => {
    expect(splitCsvLine('a,"3,5","say ""hi"""')).toEqual(['a', '3,5', 'say "hi"']);
  });

  it('interpolates a CSV on its time column', () => {
    const out = runOnCsv(
      findShippedAlgorithm('interpolation', 'linear')!,
      'time,value\n2020-01-01,1\n2020-01-02,\n2020-01-05,NA\n2020-01-07,7\n',
    );
    // days 0, 1, 4, 6 with 1, ?, ?, 7: slope 1 per day → 2 and 5
    expect(out.csv).toBe('time,value\n2020-01-01,1\n2020-01-02,2\n2020-01-05,5\n2020-01-07,7\n');
    expect(out.rows).toBe(4);
  });

  it('removes outliers and marks them', () => {
    const csv = `value\n${[10, 10.5, 10, 10.5, 30, 10, 10.5, 10, 10.5].join('\n')}\n`;
    const out = runOnCsv(findShippedAlgorithm('outlier-removal', 'hampel')!, csv);
    expect(out.csv.split('\n')[5]).toBe(',true');
    expect(out.csv.split('\n')[1]).toBe('10,false');
  });

  it('casts quoted cells and rejects input without a value column', () => {
    const out = runOnCsv(findShippedAlgorithm('data-casting', 'tolerant')!, 'value\n"315,70"\nNA\n3 ppm\n');
    expect(out.csv).toBe('value\n315.7\n\n3\n');
    expect(() => runOnCsv(findShippedAlgorithm('data-casting', 'strict')!, 'v\n1\n')).toThrow(/no "value" column/);
  });

  it('reads the bundled CSV shape', () => {
    const s = parseSeriesCsv('Date,CO2\n1958-03-01,315.70\n1958-05-01,317.51\n', 'Date', 'CO2');
    // 1958-03-01 → 1958-05-01 is 61 days apart on the interpolation axis
    expect((s.times[1] as number) - (s.times[0] as number)).toBe(61);
    expect(s.values).toEqual([315.7, 317.51]);
    expect(s.cells).toEqual(['315.70', '317.51']);
    expect(() => parseSeriesCsv('Date,CO2\n1958-03-01,x\n', 'Date', 'CO2')).toThrow(/line 2/);
  });
});
