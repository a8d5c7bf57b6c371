/**
 * How much a lab run's verdict owes to chance: with `--repeat N`, every scenario ran N times for every engine
 * (side by side in each batch), so the run holds N totals per engine and N paired differences per scenario.
 * A winner is named only when the interval of its difference excludes zero. Pure; the report renders it.
 */
import { sortedQuantile } from '../../../training/bootstrap';
import { Rng } from '../../../training/rng';
import type { RunReport, ScenarioReport } from './report';

type RepeatedCopy = ScenarioReport['copies'][number];

/**
 * The scenario a report section ran: with repetitions each one is its own section (`busy-node-r2`), named by the
 * runner; reports written before `scenario` was recorded are read back by that name.
 */
export function baseScenario(s: Pick<ScenarioReport, 'name' | 'scenario'>, repeat: number): string {
  return s.scenario ?? (repeat > 1 ? s.name.replace(/-r\d+$/, '') : s.name);
}

/** The run's copies by scenario, every repetition of one scenario together, in the order the run listed them. */
export function byScenario(r: Pick<RunReport, 'scenarios' | 'repeat'>): Map<string, RepeatedCopy[]> {
  const groups = new Map<string, RepeatedCopy[]>();
  for (const s of r.scenarios) {
    const name = baseScenario(s, r.repeat);
    groups.set(name, [...(groups.get(name) ?? []), ...s.copies]);
  }
  return groups;
}

/** One engine's total SLO-violation seconds over the suite, per repetition (index = repetition). */
export function repetitionTotals(r: Pick<RunReport, 'scenarios' | 'repeat'>, engine: string): number[] {
  const totals = new Array<number>(r.repeat).fill(0);
  for (const s of r.scenarios) {
    for (const c of s.copies) {
      if (c.engine !== engine || c.repeat < 0 || c.repeat >= r.repeat) continue;
      totals[c.repeat] = (totals[c.repeat] ?? 0) + (c.sloViolationSeconds ?? 0);
    }
  }
  return totals;
}

export interface PairedTotal {
  readonly a: string;
  readonly b: string;
  /** Mean over repetitions of (a's total − b's total), in seconds: negative means a violated the SLO less. */
  readonly estimate: number;
  readonly low: number;
  readonly high: number;
  readonly level: number;
  readonly resamples: number;
  /** How many scenarios had both engines in at least one repetition. */
  readonly scenarios: number;
}

/** Each scenario's paired differences (a − b) by repetition, where both engines have a copy. */
function differences(r: Pick<RunReport, 'scenarios' | 'repeat'>, a: string, b: string): number[][] {
  const out: number[][] = [];
  for (const copies of byScenario(r).values()) {
    const byRepeat = (engine: string) =>
      new Map(copies.filter((c) => c.engine === engine).map((c) => [c.repeat, c.sloViolationSeconds ?? 0]));
    const x = byRepeat(a);
    const y = byRepeat(b);
    const d = [...x.keys()].filter((k) => y.has(k)).map((k) => x.get(k)! - y.get(k)!);
    if (d.length > 0) out.push(d);
  }
  return out;
}

const meanOf = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

/**
 * The difference of two engines' suite totals, with a percentile bootstrap interval that resamples the
 * repetitions within each scenario: the scenarios are the fixed suite, the run-to-run noise (placement, timing,
 * scrape phase) is what varies. With 3 repetitions the interval is coarse; it is still wider, and so more honest,
 * than a single run's difference.
 */
export function pairedTotal(
  r: Pick<RunReport, 'scenarios' | 'repeat'>,
  a: string,
  b: string,
  options: { resamples?: number; level?: number; seed?: number } = {},
): PairedTotal | undefined {
  const { resamples = 2000, level = 0.95, seed = 1 } = options;
  if (!Number.isInteger(resamples) || resamples < 10) throw new RangeError(`resamples must be ≥ 10, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  const perScenario = differences(r, a, b);
  if (perScenario.length === 0) return undefined;
  const estimate = perScenario.reduce((s, d) => s + meanOf(d), 0);
  const rng = new Rng(seed);
  const values = new Float64Array(resamples);
  for (let i = 0; i < resamples; i++) {
    let total = 0;
    for (const d of perScenario) {
      let sum = 0;
      for (let k = 0; k < d.length; k++) sum += d[Math.floor(rng.next() * d.length)]!;
      total += sum / d.length;
    }
    values[i] = total;
  }
  values.sort();
  const tail = (1 - level) / 2;
  return {
    a,
    b,
    estimate,
    low: sortedQuantile(values, tail),
    high: sortedQuantile(values, 1 - tail),
    level,
    resamples,
    scenarios: perScenario.length,
  };
}

/** Every ordered pair of a run's engines that a reader compares: each Talon engine against every other engine. */
export function comparedPairs(engines: readonly string[]): [string, string][] {
  const pairs: [string, string][] = [];
  engines.forEach((a, i) => {
    engines.forEach((b, j) => {
      if (i === j) return;
      if (a.startsWith('talon-') && !(b.startsWith('talon-') && j < i)) pairs.push([a, b]);
    });
  });
  return pairs;
}

/** The verdict of one pair in words. */
export function verdict(p: PairedTotal): string {
  if (p.high < 0) return `${p.a} better`;
  if (p.low > 0) return `${p.b} better`;
  return 'no clear difference';
}

const round = (v: number): string => String(Math.round(v * 10) / 10);

/** The report's section on repetitions; empty for a single repetition. */
export function renderRepetitions(r: RunReport): string[] {
  if (r.repeat < 2) return [];
  const out: string[] = ['## Repetitions', ''];
  out.push(
    `Total SLO-violation seconds of each repetition (each one a full pass over the suite), then each Talon engine's ` +
      `difference from the others: the mean over repetitions with a ${Math.round(0.95 * 100)} % bootstrap interval ` +
      `that resamples the repetitions within each scenario. A difference whose interval includes 0 is not a win.`,
    '',
    '![repetitions](repetitions.svg)',
    '',
  );
  out.push(
    `| engine | ${Array.from({ length: r.repeat }, (_, i) => `rep. ${i + 1}`).join(' | ')} | mean | range |`,
    `| --- | ${Array.from({ length: r.repeat + 2 }, () => '---:').join(' | ')} |`,
  );
  for (const e of r.engines) {
    const t = repetitionTotals(r, e);
    const spread = Math.max(...t) - Math.min(...t);
    out.push(`| ${e} | ${t.map(round).join(' | ')} | ${round(meanOf(t))} | ${round(spread)} |`);
  }
  out.push('', '| a − b | difference (s) | 95 % interval | verdict |', '| --- | ---: | ---: | --- |');
  for (const [a, b] of comparedPairs(r.engines)) {
    const p = pairedTotal(r, a, b);
    if (!p) continue;
    out.push(`| ${a} − ${b} | ${round(p.estimate)} | [${round(p.low)}, ${round(p.high)}] | ${verdict(p)} |`);
  }
  out.push('');
  return out;
}
