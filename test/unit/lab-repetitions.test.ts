/** A lab run with repetitions: totals per repetition, paired differences with intervals, and the report's section. */
import { renderMarkdown, type RunReport, type ScenarioReport } from '../../tools/lab/runner/report';
import {
  comparedPairs,
  pairedTotal,
  renderRepetitions,
  repetitionTotals,
  verdict,
} from '../../tools/lab/runner/repetitions';
import { repetitionsSvg } from '../../tools/lab/runner/repetitions-svg';
import type { CopyScore } from '../../tools/lab/runner/score';

/** A copy with only what the repetition maths reads; the rest of a score does not enter it. */
function copy(engine: string, repeat: number, slo: number | null): CopyScore & { repeat: number } {
  return { engine, repeat, sloViolationSeconds: slo, harmfulActions: 0, actionLog: [], lostAlerts: [] } as never;
}

/**
 * A scenario as the runner reports it: one section per repetition (`a-r1`, `a-r2`, …), each with that
 * repetition's copies; a single run's one section keeps the scenario's name.
 */
function scenario(name: string, slo: Record<string, (number | null)[]>, recorded = true): ScenarioReport[] {
  const repeats = Math.max(...Object.values(slo).map((v) => v.length));
  return Array.from({ length: repeats }, (_, i) => ({
    name: repeats > 1 ? `${name}-r${i + 1}` : name,
    ...(recorded ? { scenario: name } : {}),
    source: `${name}.yaml`,
    description: 'd',
    sloText: 'p95',
    wallSeconds: 100 + i,
    copies: Object.entries(slo).flatMap(([engine, values]) => (i < values.length ? [copy(engine, i, values[i]!)] : [])),
  }));
}

function run(scenarios: ScenarioReport[][], engines: string[], repeat = 3): RunReport {
  return {
    run: 'r',
    command: 'talon lab run x.yaml --repeat 3',
    startedAt: '2030-01-01T00:00:00Z',
    wallSeconds: 600,
    engines,
    repeat,
    scenarios: scenarios.flat(),
    notes: [],
  };
}

const steady = run(
  [
    scenario('a', { 'talon-rules': [10, 12, 11], none: [100, 98, 102] }),
    scenario('b', { 'talon-rules': [30, 20, 40], none: [60, 61, 59] }),
  ],
  ['talon-rules', 'none'],
);

describe('repetition totals', () => {
  it('sums each repetition over the suite; an unmeasured copy counts 0', () => {
    expect(repetitionTotals(steady, 'talon-rules')).toEqual([40, 32, 51]);
    expect(repetitionTotals(steady, 'none')).toEqual([160, 159, 161]);
    const gap = run([scenario('a', { x: [5, null, 7] })], ['x']);
    expect(repetitionTotals(gap, 'x')).toEqual([5, 0, 7]);
  });
});

describe('paired totals', () => {
  it('a consistent gap: the estimate is the mean difference of the totals and its interval excludes 0', () => {
    const p = pairedTotal(steady, 'talon-rules', 'none')!;
    expect(p.estimate).toBeCloseTo((40 + 32 + 51) / 3 - (160 + 159 + 161) / 3, 6);
    expect(p.high).toBeLessThan(0);
    expect(p.low).toBeLessThanOrEqual(p.estimate);
    expect(p.high).toBeGreaterThanOrEqual(p.estimate);
    expect(p.scenarios).toBe(2);
    expect(verdict(p)).toBe('talon-rules better');
    expect(verdict(pairedTotal(steady, 'none', 'talon-rules')!)).toBe('talon-rules better');
  });

  it('a gap that flips between repetitions is no clear difference', () => {
    const noisy = run(
      [scenario('a', { 'talon-model': [30, 170, 30], 'talon-rules': [170, 30, 100] })],
      ['talon-model', 'talon-rules'],
    );
    const p = pairedTotal(noisy, 'talon-model', 'talon-rules')!;
    expect(p.low).toBeLessThan(0);
    expect(p.high).toBeGreaterThan(0);
    expect(verdict(p)).toBe('no clear difference');
  });

  it('is reproducible for a seed, and refuses nonsense options', () => {
    expect(pairedTotal(steady, 'talon-rules', 'none')).toEqual(pairedTotal(steady, 'talon-rules', 'none'));
    expect(() => pairedTotal(steady, 'talon-rules', 'none', { resamples: 3 })).toThrow(/resamples must be ≥ 10/);
    expect(() => pairedTotal(steady, 'talon-rules', 'none', { level: 1 })).toThrow(/level must be in \(0, 1\)/);
    expect(pairedTotal(steady, 'talon-rules', 'nobody')).toBeUndefined();
  });

  it('groups a report written before sections named their scenario by the section name', () => {
    const legacy = run(
      [
        scenario('a', { 'talon-rules': [10, 12, 11], none: [100, 98, 102] }, false),
        scenario('b', { 'talon-rules': [30, 20, 40], none: [60, 61, 59] }, false),
      ],
      ['talon-rules', 'none'],
    );
    expect(pairedTotal(legacy, 'talon-rules', 'none')).toEqual(pairedTotal(steady, 'talon-rules', 'none'));
    expect(pairedTotal(legacy, 'talon-rules', 'none')!.scenarios).toBe(2);
  });

  it('compares each Talon engine with every other engine once', () => {
    expect(comparedPairs(['talon-model', 'talon-rules', 'seed-orchestrator', 'none'])).toEqual([
      ['talon-model', 'talon-rules'],
      ['talon-model', 'seed-orchestrator'],
      ['talon-model', 'none'],
      ['talon-rules', 'seed-orchestrator'],
      ['talon-rules', 'none'],
    ]);
  });
});

describe('the report', () => {
  it('with repetitions: ranges in the summary and a section with totals and intervals', () => {
    const md = renderMarkdown(steady);
    // One summary row per scenario over its three sections, linked to the first; the longest wall time.
    expect(md).toContain('| [b](#b-r1) | 30 [20–40] (0) | 60 [59–61] (0) | 102 |');
    expect(md).toContain('## b-r3');
    expect(md).toContain('2 scenario(s) × 2 engine(s) × 3 repetition(s)');
    expect(md).toContain('## Repetitions');
    expect(md).toContain('| talon-rules | 40 | 32 | 51 | 41 | 19 |');
    expect(md).toMatch(/\| talon-rules − none \| -119 \| \[-\d+(\.\d)?, -\d+(\.\d)?\] \| talon-rules better \|/);
  });

  it('a single repetition has no such section and no ranges', () => {
    const single = run([scenario('a', { 'talon-rules': [10], none: [100] })], ['talon-rules', 'none'], 1);
    expect(renderRepetitions(single)).toEqual([]);
    const md = renderMarkdown(single);
    expect(md).not.toContain('## Repetitions');
    expect(md).toContain('| [a](#a) | 10 (0) | 100 (0) | 100 |');
  });
});

describe('the picture', () => {
  it('one row per engine, a dot per repetition with its total, a bar at the mean', () => {
    const svg = repetitionsSvg(steady);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<circle /g)).toHaveLength(6);
    expect(svg).toContain('talon-rules repetition 3: 51 s');
    expect(svg).toContain('none mean 160 s');
    expect(svg).not.toMatch(/NaN|undefined|Infinity/);
  });
});
