/**
 * `talon lab …`: the incident lab (docs/LAB.md). `run` runs scenario files with engines side by side and writes
 * the report; `validate` checks scenario files without starting anything; `schema` prints (or writes) the
 * published JSON schema of the format. Listed by src/cli/program.ts, loaded only when invoked.
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_ENGINES, ENGINES, type Engine } from './plan';
import { loadScenarios } from './scenario/load';
import { scenarioJsonSchema } from './scenario/schema';
import { rescore } from './runner/rescore';
import { runLab } from './runner/runner';
import { describeSimulation, simulate } from './simulate';

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

export function parseEngines(value: string): Engine[] {
  const engines = value
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  const unknown = engines.filter((e) => !(ENGINES as readonly string[]).includes(e));
  if (unknown.length > 0 || engines.length === 0)
    throw new InvalidArgumentError(`engines are a comma-separated list of ${ENGINES.join(', ')}; got ${value}`);
  return [...new Set(engines)] as Engine[];
}

function positiveInt(name: string, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new InvalidArgumentError(`${name} must be an integer from 1 to ${max}`);
    return n;
  };
}

/** A status line: rewritten in place on a terminal, one line every 15 s otherwise (CI logs). */
function statusWriter(): (line: string) => void {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  let shown = '';
  return (line) => {
    if (tty) {
      const width = process.stderr.columns ?? 120;
      process.stderr.write(`\r\x1b[2K${line.slice(0, width - 1)}`);
      if (line === '') process.stderr.write('\r');
      return;
    }
    const now = Date.now();
    if (line !== '' && (now - last > 15_000 || line.split(' · ')[0] !== shown.split(' · ')[0])) {
      process.stderr.write(`[lab] ${line}\n`);
      last = now;
      shown = line;
    }
  };
}

export function configureLab(lab: Command): void {
  lab
    .command('run')
    .description('run scenario files with engines side by side on identical copies and write the report')
    .argument('<files...>', 'scenario files (YAML), e.g. tools/lab/scenarios/*.yaml')
    .option('--engines <list>', `comma-separated: ${ENGINES.join(', ')}`, parseEngines, [...DEFAULT_ENGINES])
    .option('--repeat <n>', 'run every scenario n times', positiveInt('--repeat', 20), 1)
    .option('--parallel <n>', 'scenarios at the same time (each with every engine)', positiveInt('--parallel', 12), 3)
    .option(
      '--warmup <seconds>',
      'seconds of steady load before each scenario starts',
      positiveInt('--warmup', 600),
      20,
    )
    .option('--out <dir>', 'where report.md, report.json, the pictures and timelines go', 'lab-report')
    .option(
      '--chaos <n>',
      "SIGKILL Talon's worker / webhook or restart Temporal n times per batch",
      positiveInt('--chaos', 200),
    )
    .option('--chaos-seed <n>', 'seed of the chaos schedule', positiveInt('--chaos-seed', 2 ** 31), 1)
    .action(
      async (
        files: string[],
        opts: {
          engines: Engine[];
          repeat: number;
          parallel: number;
          warmup: number;
          out: string;
          chaos?: number;
          chaosSeed: number;
        },
      ): Promise<void> => {
        const status = statusWriter();
        const outDir = resolve(opts.out);
        const report = await runLab({
          files,
          engines: opts.engines,
          repeat: opts.repeat,
          parallel: opts.parallel,
          warmupSeconds: opts.warmup,
          outDir,
          ...(opts.chaos ? { chaos: { perBatch: opts.chaos, seed: opts.chaosSeed } } : {}),
          command: `talon lab run ${files.join(' ')} --engines ${opts.engines.join(',')} --repeat ${opts.repeat} --parallel ${opts.parallel} --out ${opts.out}${opts.chaos ? ` --chaos ${opts.chaos} --chaos-seed ${opts.chaosSeed}` : ''}`,
          log: (line) => {
            status('');
            out(line);
          },
          status,
        });
        out(`\nreport: ${join(outDir, 'report.md')} (${Math.round(report.wallSeconds)} s)`);
      },
    );
  lab
    .command('rescore')
    .description("recompute a run's scores, pictures and report from its saved timelines and raw data")
    .argument('<dir>', 'the --out folder of a run')
    .action(async (dir: string) => {
      const report = await rescore(resolve(dir));
      out(`rescored ${report.scenarios.length} scenario(s): ${join(resolve(dir), 'report.md')}`);
    });
  lab
    .command('validate')
    .description('check scenario files against the schema and each other; nothing is started')
    .argument('<files...>', 'scenario files (YAML)')
    .action((files: string[]) => {
      const scenarios = loadScenarios(files);
      for (const s of scenarios) {
        out(
          `✓ ${s.source}: ${s.name}, ${s.durationSeconds}s, ${s.workloads.length} workload(s), ${s.faults.length} fault(s)`,
        );
      }
    });
  lab
    .command('simulate')
    .description('the load model alone, nobody acting (what engine `none` sees); no cluster needed')
    .argument('<files...>', 'scenario files (YAML)')
    .action((files: string[]) => {
      for (const s of loadScenarios(files)) out(describeSimulation(s, simulate(s)));
    });
  lab
    .command('schema')
    .description('the JSON schema of scenario files (tools/lab/scenario.schema.json)')
    .option('--out <file>', 'write it to a file instead of printing it')
    .action(async (opts: { out?: string }) => {
      const text = `${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`;
      if (opts.out) await writeFile(opts.out, text);
      else process.stdout.write(text);
    });
}
