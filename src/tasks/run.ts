/**
 * The entry point a task's Kubernetes Job runs (the `command` of the shipped taxonomy entries):
 *
 *   node dist/src/tasks/run.js --task interpolation --algorithm linear [--input in.csv] [--output out.csv]
 *
 * Input is a CSV with a header holding `value` and optionally `time`; output is the same rows processed
 * (outlier removal adds an `outlier` column and empties removed values). One JSON line on stderr reports
 * the run's metrics, so the caller can show them as D3.3 1.7.1 asks ("real-time metrics").
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { TaskInputError } from '../domain/task-errors';
import { findShippedAlgorithm, TASK, type ShippedAlgorithm } from './algorithms';
import { MISSING_TOKENS } from './algorithms/casting';
import { removeFlagged } from './algorithms/outliers';

/** Splits one CSV line, honouring double-quoted fields ("315,70" holds a decimal comma, not two fields). */
export function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields;
}

function quote(field: string): string {
  return /[",\n]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field;
}

export interface RunReport {
  readonly task: string;
  readonly algorithm: string;
  readonly rows: number;
  readonly exec_time_s: number;
  readonly cpu_time_s: number;
  readonly max_rss_bytes: number;
}

function parseTime(cell: string | undefined, row: number): number {
  if (cell === undefined || cell.trim() === '') return row;
  const asNumber = Number(cell);
  if (Number.isFinite(asNumber)) return asNumber;
  const asDate = Date.parse(cell);
  if (Number.isNaN(asDate)) throw new TaskInputError(`row ${row + 2}: time "${cell}" is neither a number nor a date`);
  return asDate / 86_400_000;
}

function parseValue(cell: string | undefined, row: number, allowMissing: boolean): number | null {
  const trimmed = (cell ?? '').trim();
  if (MISSING_TOKENS.has(trimmed.toLowerCase())) {
    if (allowMissing) return null;
    throw new TaskInputError(`row ${row + 2}: a value is missing; this task needs every value`);
  }
  const value = Number(trimmed);
  if (!Number.isFinite(value)) throw new TaskInputError(`row ${row + 2}: "${cell}" is not a number`);
  return value;
}

/** Runs a shipped algorithm over CSV text; returns the output CSV. */
export function runOnCsv(algorithm: ShippedAlgorithm, csv: string): { csv: string; rows: number } {
  const lines = csv.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = splitCsvLine(lines.shift() ?? '').map((h) => h.trim());
  const vi = header.indexOf('value');
  const ti = header.indexOf('time');
  if (vi < 0) throw new TaskInputError(`the CSV header "${header.join(',')}" has no "value" column`);
  const rows = lines.map(splitCsvLine);
  const times = rows.map((r, i) => parseTime(ti < 0 ? undefined : r[ti], i));
  const timeCell = (i: number): string[] => (ti < 0 ? [] : [quote(rows[i]?.[ti] ?? '')]);
  const head = ti < 0 ? [] : ['time'];
  const format = (v: number | null): string => (v === null ? '' : String(v));
  let out: string[];
  switch (algorithm.task) {
    case TASK.interpolation: {
      const filled = algorithm.run(
        times,
        rows.map((r, i) => parseValue(r[vi], i, true)),
      );
      out = [[...head, 'value'].join(','), ...filled.map((v, i) => [...timeCell(i), format(v)].join(','))];
      break;
    }
    case TASK.outlierRemoval: {
      const values = rows.map((r, i) => parseValue(r[vi], i, false) as number);
      const flags = algorithm.run(values);
      const kept = removeFlagged(values, flags);
      out = [
        [...head, 'value', 'outlier'].join(','),
        ...kept.map((v, i) => [...timeCell(i), format(v), String(flags[i] === true)].join(',')),
      ];
      break;
    }
    case TASK.dataCasting: {
      const cast = algorithm.run(rows.map((r) => r[vi] ?? ''));
      out = [[...head, 'value'].join(','), ...cast.map((v, i) => [...timeCell(i), format(v)].join(','))];
      break;
    }
  }
  return { csv: `${out.join('\n')}\n`, rows: rows.length };
}

function main(argv: readonly string[]): void {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      task: { type: 'string' },
      algorithm: { type: 'string' },
      input: { type: 'string', default: '-' },
      output: { type: 'string', default: '-' },
    },
  });
  if (!values.task || !values.algorithm) throw new TaskInputError('--task and --algorithm are required');
  const algorithm = findShippedAlgorithm(values.task, values.algorithm);
  if (!algorithm) throw new TaskInputError(`no shipped algorithm ${values.task}/${values.algorithm}`);
  const input = readFileSync(values.input === '-' ? 0 : values.input, 'utf8');
  const cpuBefore = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const result = runOnCsv(algorithm, input);
  const execSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  if (values.output === '-') process.stdout.write(result.csv);
  else writeFileSync(values.output, result.csv, 'utf8');
  const report: RunReport = {
    task: algorithm.task,
    algorithm: algorithm.id,
    rows: result.rows,
    exec_time_s: execSeconds,
    cpu_time_s: (cpu.user + cpu.system) / 1e6,
    max_rss_bytes: process.resourceUsage().maxRSS * 1024,
  };
  process.stderr.write(`${JSON.stringify(report)}\n`);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
    process.exitCode = 1;
  }
}
