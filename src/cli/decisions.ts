/**
 * `talon decisions export`: the decision log of a time range (InfluxDB, joined with applies and outcomes, each
 * decision priced where its result is known) as JSONL or CSV. The JSONL file is what `talon model evaluate
 * --from-log --log-file` and `talon model retrain --from-log --log-file` read without an InfluxDB.
 */
import { writeFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { loadTalonConfig } from '../config/talon-config';
import { parseTime, toCsv, toJsonl } from '../metrics/decision-export';
import { readDecisionLog } from '../metrics/decision-log';
import { InfluxStore } from '../metrics/influx';

interface ExportFlags {
  since: string;
  until: string;
  namespace?: string;
  format: 'csv' | 'jsonl';
  out?: string;
  energy: boolean;
}

function format(value: string): 'csv' | 'jsonl' {
  if (value !== 'csv' && value !== 'jsonl') throw new InvalidArgumentError('must be csv or jsonl');
  return value;
}

export function registerDecisionCommands(program: Command): void {
  const decisions = program
    .command('decisions')
    .description('the decision log (every policy decision and its outcome)');
  decisions
    .command('export')
    .description('write the decision log of a time range as JSONL (everything) or CSV (one flat row per decision)')
    .option('--since <time>', 'start: a duration back from now (24h, 7d), an ISO time or unix seconds', '7d')
    .option('--until <time>', 'end: same forms; default now', '0s')
    .option('--namespace <ns>', 'only this namespace')
    .option('--format <csv|jsonl>', 'output format', format, 'jsonl')
    .option('--out <file>', 'write here instead of stdout')
    .option('--no-energy', 'do not read the pods’ energy after each decision (one Flux query less)')
    .action(async (flags: ExportFlags) => {
      const now = Date.now() / 1000;
      const start = parseTime(flags.since, now);
      const stop = parseTime(flags.until, now);
      const config = loadTalonConfig();
      const store = new InfluxStore(config.influx);
      try {
        const log = await readDecisionLog(store, config.influx.bucket, {
          start,
          stop,
          energy: flags.energy,
          ...(flags.namespace ? { namespace: flags.namespace } : {}),
        });
        const text = flags.format === 'csv' ? toCsv(log.decisions) : toJsonl(log.decisions);
        if (flags.out) await writeFile(flags.out, text);
        else process.stdout.write(text);
        const priced = log.decisions.filter((d) => d.cost !== undefined).length;
        process.stderr.write(
          `${log.decisions.length} decision(s), ${priced} with a known result` +
            `${log.skipped > 0 ? `; ${log.skipped} unreadable record(s) skipped (first: ${(log.firstProblem ?? '').slice(0, 160)})` : ''}` +
            `${flags.out ? ` → ${flags.out}` : ''}\n`,
        );
      } finally {
        await store.close();
      }
    });
}
