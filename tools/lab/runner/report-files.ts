/** Writes a run's report files: report.json (every number), report.md and, for a repeated run, repetitions.svg. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderMarkdown, type RunReport } from './report';
import { repetitionsSvg } from './repetitions-svg';

export async function writeReportFiles(dir: string, r: RunReport): Promise<void> {
  await writeFile(join(dir, 'report.json'), `${JSON.stringify(r, null, 2)}\n`);
  await writeFile(join(dir, 'report.md'), renderMarkdown(r));
  if (r.repeat > 1) await writeFile(join(dir, 'repetitions.svg'), repetitionsSvg(r));
}
