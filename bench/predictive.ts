/**
 * The breach predictor as the predictive watch runs it (issue 15 §3), over synthetic usage families
 * (bench/support/series.ts): the watch's defaults from the policy (src/domain/predictive.ts DEFAULT_PREDICTIVE:
 * 30 s samples, 30 min look-back, 5 min horizon, 90 % confidence, a round every minute), the same
 * predictBreach call, and the watch's handover rule (a container already over its threshold is the alert rule's).
 *
 *   npx tsx bench/predictive.ts [--series 12] [--seed 1] [--step 30] [--lookback 1800] [--horizon 300]
 *                              [--interval 60] [--confidence 0.9]
 *
 * Figures:
 * - breach families: lead time = seconds from the first forecast alarm to the first sample over the threshold
 *   (median and p90 over the series; a series with no alarm before the crossing counts as 0 and as missed);
 *   "early" = alarms more than horizon + interval ahead of the crossing. The reactive rule fires another `for:`
 *   (2 min in production) after the crossing, so the gain over it is lead + 120 s.
 * - no-breach families: false-alarm rate = series with at least one alarm, and alarms per watched hour.
 * - flapping over the line: any alarm is redundant (the alert rule's for: damps it).
 * - CPU milliseconds per prediction (process CPU time over all calls), and wall-clock p50/p99 per call.
 */
import { performance } from 'node:perf_hooks';
import { predictBreach } from '../src/domain/forecast/breach';
import { ALERT_LIMIT_SHARES, DEFAULT_PREDICTIVE } from '../src/domain/predictive';
import { Rng, mixSeed } from '../training/rng';
import { numberFlag, parseFlags } from './support/flags';
import { out, runMain, table } from './support/output';
import { seriesFamilies, type SeriesFamily } from './support/series';
import { mean, percentile } from './support/stats';

interface FamilyResult {
  readonly family: SeriesFamily;
  readonly leads: number[];
  missed: number;
  early: number;
  alarmedSeries: number;
  alarms: number;
  watchedSeconds: number;
  predictions: number;
  cpuMs: number;
  readonly models: Map<string, number>;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const d = DEFAULT_PREDICTIVE;
  const perFamily = numberFlag(flags, 'series', 12, 1, 1000);
  const seed = numberFlag(flags, 'seed', 1, 0, 2 ** 31);
  const step = numberFlag(flags, 'step', d.stepSeconds, 1, 600);
  const lookback = numberFlag(flags, 'lookback', d.lookbackSeconds, 60, 86_400);
  const horizon = numberFlag(flags, 'horizon', d.horizonSeconds, 10, 3600);
  const interval = numberFlag(flags, 'interval', d.intervalSeconds, step, 3600);
  const confidence = numberFlag(flags, 'confidence', d.confidence, 0.51, 0.999);
  const threshold = ALERT_LIMIT_SHARES.cpu;
  const window = Math.floor(lookback / step);
  const every = Math.max(1, Math.round(interval / step));
  out(
    `breach predictor: ${perFamily} series per family, seed ${seed}; samples ${step}s, look-back ${lookback}s (${window}), horizon ${horizon}s, a round every ${every * step}s, confidence ${confidence}, threshold ${threshold}`,
  );
  const families = seriesFamilies({ threshold, warmupSteps: window });
  const wall: number[] = [];
  const results: FamilyResult[] = [];
  for (const [f, family] of families.entries()) {
    const result: FamilyResult = {
      family,
      leads: [],
      missed: 0,
      early: 0,
      alarmedSeries: 0,
      alarms: 0,
      watchedSeconds: 0,
      predictions: 0,
      cpuMs: 0,
      models: new Map(),
    };
    for (let s = 0; s < perFamily; s++) {
      const rng = new Rng(mixSeed(seed, f * 1000 + s));
      const y = family.make(rng, step);
      const crossing = family.kind === 'breach' ? y.findIndex((v, i) => i >= window && v >= threshold) : -1;
      const last = crossing >= 0 ? crossing : y.length;
      let first: number | undefined;
      let alarms = 0;
      for (let end = window; end <= last; end += every) {
        const series = y.slice(end - window, end);
        const cpu = process.cpuUsage();
        const t0 = performance.now();
        const p = predictBreach({
          series,
          stepSeconds: step,
          limit: 1,
          thresholdShare: threshold,
          horizonSeconds: horizon,
          confidence,
        });
        wall.push(performance.now() - t0);
        const used = process.cpuUsage(cpu);
        result.cpuMs += (used.user + used.system) / 1000;
        result.predictions++;
        const label = p.verdict === 'refused' ? `refused:${p.reason}` : `${p.verdict}:${p.model}`;
        result.models.set(label, (result.models.get(label) ?? 0) + 1);
        if (p.verdict !== 'breach') continue;
        alarms++;
        first ??= end;
      }
      result.watchedSeconds += (last - window) * step;
      result.alarms += alarms;
      if (alarms > 0) result.alarmedSeries++;
      if (family.kind === 'breach') {
        // `end` counts samples seen: the newest one is index end − 1, so the crossing sample arrives at end = crossing + 1.
        const lead = first === undefined ? 0 : (crossing + 1 - first) * step;
        result.leads.push(lead);
        if (first === undefined) result.missed++;
        else if (lead > horizon + every * step) result.early++;
      }
    }
    results.push(result);
  }

  const seconds = (v: number) => `${Math.round(v)} s`;
  const breach = results.filter((r) => r.family.kind === 'breach');
  table(
    'breach families: lead time before the threshold is crossed (gain over the reactive alert: + its for:, 120 s)',
    breach.map((r) => [
      r.family.name,
      `median ${seconds(percentile(r.leads, 50))}, p90 ${seconds(percentile(r.leads, 90))}; missed ${r.missed}/${r.leads.length}, early ${r.early}`,
    ]),
  );
  const allLeads = breach.flatMap((r) => r.leads);
  const caught = allLeads.filter((l) => l > 0);
  table('breach families together', [
    [
      'lead time, all series (missed = 0)',
      `median ${seconds(percentile(allLeads, 50))}, p90 ${seconds(percentile(allLeads, 90))}`,
    ],
    [
      'lead time, series caught in time',
      `median ${seconds(percentile(caught, 50))}, p90 ${seconds(percentile(caught, 90))}`,
    ],
    ['caught before the crossing', `${caught.length}/${allLeads.length}`],
    ['early (more than horizon + a round ahead)', `${breach.reduce((a, r) => a + r.early, 0)}/${allLeads.length}`],
  ]);
  const rate = (r: FamilyResult) =>
    `${r.alarmedSeries}/${perFamily} series (${((100 * r.alarmedSeries) / perFamily).toFixed(1)} %), ${(r.alarms / (r.watchedSeconds / 3600)).toFixed(2)} alarms per watched hour`;
  const clear = results.filter((r) => r.family.kind === 'clear');
  table(
    'no-breach families: false alarms',
    clear.map((r) => [r.family.name, rate(r)]),
  );
  const clearSeries = clear.length * perFamily;
  const clearAlarmed = clear.reduce((a, r) => a + r.alarmedSeries, 0);
  table('no-breach families together', [
    [
      'false-alarm rate (series with an alarm)',
      `${clearAlarmed}/${clearSeries} (${((100 * clearAlarmed) / clearSeries).toFixed(1)} %)`,
    ],
    [
      'alarms per watched hour',
      (clear.reduce((a, r) => a + r.alarms, 0) / (clear.reduce((a, r) => a + r.watchedSeconds, 0) / 3600)).toFixed(3),
    ],
  ]);
  table(
    'flapping over the line: alarms are redundant (the alert rule fires, for: damps it)',
    results.filter((r) => r.family.kind === 'flapping').map((r) => [r.family.name, rate(r)]),
  );
  const predictions = results.reduce((a, r) => a + r.predictions, 0);
  const cpuMs = results.reduce((a, r) => a + r.cpuMs, 0);
  table('cost', [
    ['predictions', String(predictions)],
    ['CPU ms per prediction (mean)', (cpuMs / predictions).toFixed(2)],
    ['wall ms per prediction p50 / p99', `${percentile(wall, 50).toFixed(2)} / ${percentile(wall, 99).toFixed(2)}`],
    [
      'CPU ms per prediction, by family (max / min)',
      `${Math.max(...results.map((r) => r.cpuMs / r.predictions)).toFixed(2)} / ${Math.min(...results.map((r) => r.cpuMs / r.predictions)).toFixed(2)}`,
    ],
    ['mean wall ms', mean(wall).toFixed(2)],
  ]);
  out('\n  what the predictor answered, by family (share of rounds)');
  for (const r of results) {
    const parts = [...r.models.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${((100 * n) / r.predictions).toFixed(0)}%`);
    out(`  ${r.family.name.padEnd(32)} ${parts.join(', ')}`);
  }
}

runMain(main);
