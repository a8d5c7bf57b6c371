/**
 * CI's smoke run of the incident lab: two committed scenarios, Talon (rule policy) and nobody side by side on
 * the test stack, through the real path (Prometheus rule → Alertmanager → webhook → Temporal → worker). Asserts
 * on the score, not on what Talon wrote: Talon keeps the SLO violated for less time than `none`, loses no alert
 * and makes no harmful change. About 5 minutes (the scenarios run 4 minutes, side by side).
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunReport } from '../../tools/lab/runner/report';
import { runLab } from '../../tools/lab/runner/runner';

jest.setTimeout(900_000);

const SCENARIOS = ['cpu-spike', 'noisy-neighbour'];

describe('incident lab smoke run (talon-rules vs none)', () => {
  let report: RunReport;
  let out: string;

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'lab-smoke-'));
    const lines: string[] = [];
    report = await runLab({
      files: SCENARIOS.map((s) => join(__dirname, '../../tools/lab/scenarios', `${s}.yaml`)),
      engines: ['talon-rules', 'none'],
      repeat: 1,
      parallel: 2,
      warmupSeconds: 20,
      outDir: out,
      command: 'lab-smoke.test.ts',
      log: (l) => lines.push(l),
      status: () => undefined,
    });
    process.stdout.write(`${lines.join('\n')}\nlab smoke report: ${join(out, 'report.md')}\n`);
  });

  it.each(SCENARIOS)('%s: Talon shortens the SLO violation, loses no alert, does no harm', (name) => {
    const s = report.scenarios.find((x) => x.name === name)!;
    const talon = s.copies.find((c) => c.engine === 'talon-rules')!;
    const none = s.copies.find((c) => c.engine === 'none')!;
    expect(none.alertsFired).toBeGreaterThan(0);
    expect(talon.remediationsStarted).toBeGreaterThan(0);
    expect(talon.alertsLost).toBe(0);
    expect(talon.harmfulActions).toBe(0);
    expect(talon.actions).toBeGreaterThan(0);
    expect(none.actions).toBe(0);
    expect(talon.sloViolationSeconds).toBeLessThan(none.sloViolationSeconds);
  });

  it('writes the report, the JSON with every number and one picture per scenario', async () => {
    const md = await readFile(join(out, 'report.md'), 'utf8');
    const json = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as RunReport;
    expect(md).toContain('## Summary');
    expect(json.scenarios.map((s) => s.name).sort()).toEqual([...SCENARIOS].sort());
    for (const name of SCENARIOS)
      expect((await readFile(join(out, `${name}.svg`), 'utf8')).startsWith('<svg')).toBe(true);
  });
});
