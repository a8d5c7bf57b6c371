/**
 * `talon lab rescore <dir>`: recomputes a run's scores, pictures and report from what it saved — the timelines,
 * and per copy the alert episodes and the engine's remediations (`raw/<copy>.json`) — without running anything.
 * For a score definition that changed after the run, or to check a committed report against its data.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CopyPlan } from '../plan';
import { readTimeline } from './collect';
import type { RunReport, ScenarioReport } from './report';
import { writeReportFiles } from './report-files';
import { scoreCopy, type ScoreInput } from './score';
import { scenarioSvg } from './svg';

export async function rescore(dir: string): Promise<RunReport> {
  const before = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as RunReport;
  const raws = await Promise.all(
    (await readdir(join(dir, 'raw')))
      .filter((f) => f.endsWith('.json'))
      .map(
        async (f) =>
          JSON.parse(await readFile(join(dir, 'raw', f), 'utf8')) as Omit<ScoreInput, 'timeline'> & { repeat: number },
      ),
  );
  const scenarios: ScenarioReport[] = [];
  for (const s of before.scenarios) {
    const mine = raws.filter((r) => r.copy.scenario.name === s.name);
    const copies = [];
    const series = [];
    const none = mine.find((r) => r.copy.engine === 'none');
    const baseline = none ? await readTimeline(join(dir, 'timelines'), none.copy) : undefined;
    for (const raw of mine.sort(
      (a, b) => before.engines.indexOf(a.copy.engine) - before.engines.indexOf(b.copy.engine),
    )) {
      const copy: CopyPlan = raw.copy;
      const timeline = await readTimeline(join(dir, 'timelines'), copy);
      const score = scoreCopy({ ...raw, timeline, ...(baseline && copy.engine !== 'none' ? { baseline } : {}) });
      copies.push({ ...score, repeat: raw.repeat });
      series.push({
        engine: copy.engine,
        timeline,
        actions: score.actionLog,
        episodes: raw.episodes,
        startAt: copy.startAt,
      });
    }
    if (mine[0]) await writeFile(join(dir, `${s.name}.svg`), scenarioSvg(mine[0].copy.scenario, series));
    scenarios.push({ ...s, copies });
  }
  const report: RunReport = { ...before, scenarios };
  await writeReportFiles(dir, report);
  return report;
}
