import { describeWeights, normalisePriorities, parsePriorities } from '../../src/domain/priorities';
import { normaliseMetric, rankAlgorithms, selectAlgorithm } from '../../src/domain/selection';
import {
  InvalidPrioritiesError,
  NoCandidatesError,
  UnknownTaskError,
  UnscorablePrioritiesError,
} from '../../src/domain/task-errors';
import { BUILTIN_METRICS, type AlgorithmEntry, type Taxonomy } from '../../src/domain/taxonomy';
import { parseTaxonomy } from '../../src/domain/taxonomy-parse';
import { loadTaxonomy } from '../../src/tasks/taxonomy-store';

function algo(id: string, metrics: Record<string, number | null>, dataset = 'delhi'): AlgorithmEntry {
  return {
    id,
    task: 't',
    name: id,
    description: '',
    origin: 'user',
    dataset,
    metrics,
    image: 'img',
    command: ['run'],
  };
}

function scoresOf(result: ReturnType<typeof rankAlgorithms>): Record<string, number> {
  return Object.fromEntries(result.ranking.map((c) => [c.algorithm, c.coefficient]));
}

describe('normaliseMetric', () => {
  it('scales lower-is-better metrics so the smallest value scores 1', () => {
    // MAE 1, 2, 4: range 3; (4-1)/3 = 1, (4-2)/3 = 0.667, (4-4)/3 = 0
    const [a, b, c] = normaliseMetric([1, 2, 4], 'lower');
    expect(a).toBe(1);
    expect(b).toBeCloseTo(2 / 3, 12);
    expect(c).toBe(0);
  });

  it('scales higher-is-better metrics so the largest value scores 1', () => {
    // accuracy 0.5, 0.8, 0.9: range 0.4; (0.5-0.5)/0.4 = 0, (0.8-0.5)/0.4 = 0.75, 1
    const [a, b, c] = normaliseMetric([0.5, 0.8, 0.9], 'higher');
    expect(a).toBe(0);
    expect(b).toBeCloseTo(0.75, 12);
    expect(c).toBe(1);
  });

  it('gives 1 to a single candidate and to equal values (the metric separates nobody)', () => {
    expect(normaliseMetric([0.021], 'lower')).toEqual([1]);
    expect(normaliseMetric([3, 3, 3], 'higher')).toEqual([1, 1, 1]);
  });

  it('scores a missing value 0 when others have it, and drops a metric nobody has', () => {
    // present 2 and 4: 2 → 1, 4 → 0; the N/A entry gets 0 so omitting a bad figure cannot win
    expect(normaliseMetric([2, null, 4, undefined], 'lower')).toEqual([1, 0, 0, 0]);
    expect(normaliseMetric([null, undefined, Number.NaN], 'lower')).toEqual([null, null, null]);
  });
});

describe('rankAlgorithms: the D3.3 example, linear vs pad interpolation', () => {
  // Table 2 of D3.3: Linear MAE 0.021, exec 0.001240 s; Pad MAE 0.028, exec 0.000410 s; energy N/A.
  const table2 = [
    algo('linear', { mae: 0.021, exec_time_s: 0.00124, energy_j: null }),
    algo('pad', { mae: 0.028, exec_time_s: 0.00041, energy_j: null }),
  ];

  it('with Table 2 as published (no energy figures) quality 70 / energy 30 selects linear with coefficient 1', () => {
    // energy_j is N/A for both, so energy cannot separate them: its 30% moves to quality (effective 1.0).
    // MAE normalised: linear (0.028-0.021)/0.007 = 1, pad 0 → coefficients 1.0 and 0.0.
    const result = rankAlgorithms('interpolation', table2, BUILTIN_METRICS, { quality: 70, energy: 30 });
    expect(result.selected.id).toBe('linear');
    expect(result.requested).toEqual({ quality: 0.7, speed: 0, energy: 0.3, cost: 0 });
    expect(result.effective).toEqual({ quality: 1, speed: 0, energy: 0, cost: 0 });
    expect(scoresOf(result)).toEqual({ linear: 1, pad: 0 });
    expect(result.notes.join('\n')).toMatch(
      /no candidate has a metric for energy \(energy_j\): its share was spread over the other parameters/,
    );
    // The explanation still lists exec time: linear (0.00124-0.00124)/0.00083 = 0, pad 1.
    const linear = result.ranking[0]!;
    expect(linear.metrics.map((m) => [m.metric, m.raw, m.normalised])).toEqual([
      ['mae', 0.021, 1],
      ['exec_time_s', 0.00124, 0],
    ]);
    expect(linear.parameters.find((p) => p.parameter === 'quality')).toEqual({
      parameter: 'quality',
      weight: 1,
      score: 1,
      contribution: 1,
    });
  });

  it('with energy figures, quality 70 / energy 30 still selects linear: 0.7 against 0.3', () => {
    // energy linear 0.5 J, pad 0.2 J → normalised linear 0, pad 1.
    // linear = 0.7·1 + 0.3·0 = 0.7; pad = 0.7·0 + 0.3·1 = 0.3.
    const candidates = [
      algo('linear', { mae: 0.021, exec_time_s: 0.00124, energy_j: 0.5 }),
      algo('pad', { mae: 0.028, exec_time_s: 0.00041, energy_j: 0.2 }),
    ];
    const result = rankAlgorithms('interpolation', candidates, BUILTIN_METRICS, { quality: 70, energy: 30 });
    expect(result.selected.id).toBe('linear');
    const s = scoresOf(result);
    expect(s.linear).toBeCloseTo(0.7, 12);
    expect(s.pad).toBeCloseTo(0.3, 12);
    expect(result.summary).toBe(
      'linear selected for interpolation with coefficient 0.700 (next: pad 0.300) for quality 70%, energy 30%',
    );

    // Reversed priorities, quality 20 / energy 80: linear 0.2, pad 0.8 → pad.
    const reversed = rankAlgorithms('interpolation', candidates, BUILTIN_METRICS, { quality: 20, energy: 80 });
    expect(reversed.selected.id).toBe('pad');
    expect(scoresOf(reversed).pad).toBeCloseTo(0.8, 12);
  });

  it('speed 100 prefers pad, the faster one', () => {
    const result = rankAlgorithms('interpolation', table2, BUILTIN_METRICS, { speed: 100 });
    expect(result.selected.id).toBe('pad');
    expect(scoresOf(result)).toEqual({ pad: 1, linear: 0 });
  });
});

describe('rankAlgorithms: hand-computed cases', () => {
  it('weighs three candidates across two parameters', () => {
    // mae a=1 b=2 c=4 → a 1, b 2/3, c 0; exec a=3 b=1 c=2 → a 0, b 1, c 0.5.
    // quality 50 / speed 50: a = 0.5, b = 0.5·(2/3) + 0.5 = 0.8333, c = 0.25 → b, a, c.
    const result = rankAlgorithms(
      't',
      [
        algo('a', { mae: 1, exec_time_s: 3 }),
        algo('b', { mae: 2, exec_time_s: 1 }),
        algo('c', { mae: 4, exec_time_s: 2 }),
      ],
      BUILTIN_METRICS,
      { quality: 50, speed: 50 },
    );
    expect(result.ranking.map((c) => c.algorithm)).toEqual(['b', 'a', 'c']);
    expect(result.ranking.map((c) => c.rank)).toEqual([1, 2, 3]);
    const s = scoresOf(result);
    expect(s.a).toBeCloseTo(0.5, 12);
    expect(s.b).toBeCloseTo(5 / 6, 12);
    expect(s.c).toBeCloseTo(0.25, 12);
  });

  it('averages the quality metrics and reads accuracy and F1 as higher-is-better', () => {
    // accuracy a=0.9 b=0.8 → a 1, b 0; f1 a=0.5 b=0.7 → a 0, b 1; precision equal → both 1.
    // quality = mean of three: a (1+0+1)/3 = 2/3, b (0+1+1)/3 = 2/3: a tie, decided by id → a first.
    const result = rankAlgorithms(
      't',
      [algo('b', { accuracy: 0.8, f1: 0.7, precision: 1 }), algo('a', { accuracy: 0.9, f1: 0.5, precision: 1 })],
      BUILTIN_METRICS,
      { quality: 1 },
    );
    expect(result.ranking.map((c) => c.algorithm)).toEqual(['a', 'b']);
    expect(result.ranking[0]!.coefficient).toBeCloseTo(2 / 3, 12);
    expect(result.ranking[1]!.coefficient).toBeCloseTo(2 / 3, 12);
  });

  it('maps CPU time and memory to cost', () => {
    // cpu a=1 b=3 → a 1, b 0; memory a=200 b=100 → a 0, b 1; mem only counts half: a 0.5, b 0.5
    // with cost 100 → tie → a. With exec time added under speed 50 / cost 50: exec a=2 b=1 → a 0, b 1:
    // a = 0.5·0 + 0.5·0.5 = 0.25, b = 0.5·1 + 0.5·0.5 = 0.75.
    const candidates = [
      algo('a', { cpu_time_s: 1, max_memory_bytes: 200, exec_time_s: 2 }),
      algo('b', { cpu_time_s: 3, max_memory_bytes: 100, exec_time_s: 1 }),
    ];
    expect(scoresOf(rankAlgorithms('t', candidates, BUILTIN_METRICS, { cost: 100 }))).toEqual({ a: 0.5, b: 0.5 });
    const s = scoresOf(rankAlgorithms('t', candidates, BUILTIN_METRICS, { speed: 50, cost: 50 }));
    expect(s.a).toBeCloseTo(0.25, 12);
    expect(s.b).toBeCloseTo(0.75, 12);
  });

  it('selects the only candidate with coefficient 1', () => {
    const result = rankAlgorithms('t', [algo('only', { mae: 0.5, energy_j: 3 })], BUILTIN_METRICS, {
      quality: 70,
      energy: 30,
    });
    expect(result.selected.id).toBe('only');
    expect(result.ranking[0]!.coefficient).toBe(1);
    expect(result.summary).toMatch(/\(only candidate\)/);
  });

  it('ties equal candidates at 1 and orders them by id', () => {
    const result = rankAlgorithms('t', [algo('z', { mae: 1 }), algo('m', { mae: 1 })], BUILTIN_METRICS, {
      quality: 1,
    });
    expect(result.ranking.map((c) => [c.algorithm, c.coefficient])).toEqual([
      ['m', 1],
      ['z', 1],
    ]);
  });

  it('scores a candidate with a missing weighted metric 0 on it and says so', () => {
    // energy a=2, b N/A, c=4 → a 1, b 0, c 0; quality all equal mae → 1 each.
    // quality 50 / energy 50: a = 1, b = 0.5, c = 0.5 → a, then b and c tied by id.
    const result = rankAlgorithms(
      't',
      [algo('c', { mae: 1, energy_j: 4 }), algo('b', { mae: 1 }), algo('a', { mae: 1, energy_j: 2 })],
      BUILTIN_METRICS,
      { quality: 50, energy: 50 },
    );
    expect(result.ranking.map((c) => [c.algorithm, c.coefficient])).toEqual([
      ['a', 1],
      ['b', 0.5],
      ['c', 0.5],
    ]);
    expect(result.notes).toContain('energy_j is N/A for 1 of 3 candidates (b): they score 0 on it');
    const b = result.ranking.find((c) => c.algorithm === 'b')!;
    expect(b.metrics.find((m) => m.metric === 'energy_j')).toEqual({
      metric: 'energy_j',
      parameter: 'energy',
      raw: null,
      normalised: 0,
    });
  });

  it('reads priorities on any scale: 7/3 is the same request as 70/30', () => {
    const candidates = [algo('a', { mae: 1, energy_j: 5 }), algo('b', { mae: 2, energy_j: 1 })];
    const big = rankAlgorithms('t', candidates, BUILTIN_METRICS, { quality: 70, energy: 30 });
    const small = rankAlgorithms('t', candidates, BUILTIN_METRICS, { quality: 7, energy: 3 });
    expect(scoresOf(small)).toEqual(scoresOf(big));
  });

  it('warns when candidates were measured on different datasets', () => {
    const result = rankAlgorithms('t', [algo('a', { mae: 1 }, 'x'), algo('b', { mae: 2 }, 'y')], BUILTIN_METRICS, {
      quality: 1,
    });
    expect(result.notes.join('\n')).toMatch(/different datasets \(x, y\)/);
  });

  it('uses user-defined metrics with their own direction and parameter', () => {
    // rmse (lower, quality) a=3 b=1 → a 0, b 1; throughput (higher, speed) a=10 b=30 → a 0, b 1.
    const metrics = [
      ...BUILTIN_METRICS,
      { id: 'rmse', label: 'RMSE', unit: '', better: 'lower' as const, parameter: 'quality' as const, description: '' },
      {
        id: 'throughput',
        label: 'Throughput',
        unit: 'rows/s',
        better: 'higher' as const,
        parameter: 'speed' as const,
        description: '',
      },
    ];
    const result = rankAlgorithms(
      't',
      [algo('a', { rmse: 3, throughput: 30 }), algo('b', { rmse: 1, throughput: 10 })],
      metrics,
      {
        quality: 60,
        speed: 40,
      },
    );
    // a = 0.6·0 + 0.4·1 = 0.4, b = 0.6·1 + 0.4·0 = 0.6
    expect(result.selected.id).toBe('b');
    expect(scoresOf(result).a).toBeCloseTo(0.4, 12);
  });
});

describe('rankAlgorithms: errors', () => {
  const candidates = [algo('a', { mae: 1 }), algo('b', { mae: 2 })];

  it.each([
    [{ quality: -10, energy: 30 }, /quality must not be negative, got -10/],
    [{ quality: 0, energy: 0 }, /at least one of quality, speed, energy, cost must be above zero/],
    [{}, /at least one of/],
    [{ accuracy: 70 }, /unknown parameter "accuracy" \(expected quality, speed, energy, cost\)/],
    [{ quality: Number.NaN }, /quality must be a finite number/],
    [{ quality: '70' }, /quality must be a finite number, got "70"/],
    [{ quality: Infinity }, /quality must be a finite number/],
  ])('rejects %p', (priorities, message) => {
    expect(() => rankAlgorithms('t', candidates, BUILTIN_METRICS, priorities)).toThrow(InvalidPrioritiesError);
    expect(() => rankAlgorithms('t', candidates, BUILTIN_METRICS, priorities)).toThrow(message);
  });

  it('reports every priority problem at once', () => {
    try {
      normalisePriorities({ latency: 1, quality: -1 });
      throw new Error('expected a throw');
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidPrioritiesError);
      expect((error as InvalidPrioritiesError).problems).toHaveLength(2);
      expect((error as InvalidPrioritiesError).name).toBe('InvalidPrioritiesError');
    }
  });

  it('rejects priorities that no candidate was measured on', () => {
    // cost maps to cpu_time_s and max_memory_bytes, which neither candidate has.
    expect(() => rankAlgorithms('t', candidates, BUILTIN_METRICS, { cost: 100 })).toThrow(UnscorablePrioritiesError);
  });

  it('rejects an empty candidate list', () => {
    expect(() => rankAlgorithms('t', [], BUILTIN_METRICS, { quality: 1 })).toThrow(NoCandidatesError);
  });
});

describe('selectAlgorithm on a taxonomy', () => {
  const taxonomy: Taxonomy = parseTaxonomy(
    {
      schemaVersion: 1,
      tasks: [
        { id: 'interpolation', name: 'Interpolation' },
        { id: 'empty', name: 'No algorithms yet' },
      ],
      algorithms: [
        { ...algo('linear', { mae: 0.021 }), task: 'interpolation' },
        { ...algo('pad', { mae: 0.028 }), task: 'interpolation' },
      ],
    },
    'test',
  );

  it('selects among the task’s algorithms', () => {
    expect(selectAlgorithm(taxonomy, 'interpolation', { quality: 1 }).selected.id).toBe('linear');
  });

  it('rejects an unknown task, naming the known ones', () => {
    expect(() => selectAlgorithm(taxonomy, 'forecasting', { quality: 1 })).toThrow(UnknownTaskError);
    expect(() => selectAlgorithm(taxonomy, 'forecasting', { quality: 1 })).toThrow(/known tasks: interpolation, empty/);
  });

  it('rejects a task with no candidates', () => {
    expect(() => selectAlgorithm(taxonomy, 'empty', { quality: 1 })).toThrow(NoCandidatesError);
  });

  it('on the bundled, measured taxonomy picks linear for quality 70 / energy 30', async () => {
    // Linear's MAE is lower than pad's (fixed by the seed, see taxonomy.test.ts), so linear scores 1 on
    // quality (0.7 of the coefficient) while pad scores 0: pad can reach at most 0.3 whatever the energy.
    const bundled = await loadTaxonomy();
    const result = selectAlgorithm(bundled, 'interpolation', { quality: 70, energy: 30 });
    expect(result.selected.id).toBe('linear');
    expect(result.ranking[0]!.coefficient).toBeGreaterThanOrEqual(0.7);
    expect(result.ranking[1]!.coefficient).toBeLessThanOrEqual(0.3);
  });
});

describe('parsePriorities', () => {
  it('reads name=value pairs separated by commas or spaces', () => {
    expect(parsePriorities('quality=70,energy=30')).toEqual({ quality: 70, energy: 30 });
    expect(parsePriorities('quality:0.7 speed:0.3')).toEqual({ quality: 0.7, speed: 0.3 });
  });

  it('rejects malformed pairs, non-numbers, repeats and empty input', () => {
    expect(() => parsePriorities('quality')).toThrow(/"quality" is not name=value/);
    expect(() => parsePriorities('quality=high')).toThrow(/high is not a number/);
    expect(() => parsePriorities('quality=1,quality=2')).toThrow(/given more than once/);
    expect(() => parsePriorities('  ')).toThrow(/no priorities given/);
  });

  it('describes weights largest first', () => {
    expect(describeWeights(normalisePriorities({ energy: 30, quality: 70 }))).toBe('quality 70%, energy 30%');
  });
});
