/**
 * `talon taxonomy ...`: re-measure the shipped algorithms into data/taxonomy.json, show the table, and
 * dry-run a selection with its explanation. Registered on the main program by src/cli/program.ts; `measure`
 * is a development tool (tools/taxonomy), loaded only when invoked.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { normalisePriorities, parsePriorities } from '../domain/priorities';
import { selectAlgorithm } from '../domain/selection';
import { findTask } from '../domain/taxonomy';
import { defaultTaxonomyPath, loadTaxonomy } from '../tasks/taxonomy-store';
import { devCommand, loadDevExport } from './dev-commands';
import { renderSelection, renderTaxonomy, type TableFormat } from '../tasks/taxonomy-table';

export interface TaxonomyCommandIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** `configureMeasure` of tools/taxonomy/commands.ts. */
export type ConfigureMeasure = (cmd: Command, io: TaxonomyCommandIo) => void;

const processIo: TaxonomyCommandIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

function tableFormat(value: string): TableFormat | 'json' {
  if (value === 'text' || value === 'markdown' || value === 'json') return value;
  throw new InvalidArgumentError('expected text, markdown or json');
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Adds the `taxonomy` command group to `program`; `io` is where output goes (tests capture it). */
export function registerTaxonomyCommands(program: Command, io: TaxonomyCommandIo = processIo): Command {
  const taxonomy = program
    .command('taxonomy')
    .description('the model taxonomy: tasks → algorithms → measured metrics (D3.3 Table 2)');

  devCommand(
    taxonomy,
    'measure',
    'run every shipped algorithm on the bundled dataset and rewrite the taxonomy file',
    (cmd) =>
      loadDevExport<ConfigureMeasure>('tools/taxonomy/commands', 'configureMeasure', 'taxonomy measure')(cmd, io),
  );

  taxonomy
    .command('show')
    .description('print the taxonomy table, with users’ registrations merged in')
    .option('--file <file>', 'the base taxonomy', defaultTaxonomyPath())
    .option('--user <file>', "a user's registration file (repeatable)", collect, [])
    .option('--task <id>', 'only this task')
    .option('--format <format>', 'text, markdown or json', tableFormat, 'text')
    .action(async (opts: { file: string; user: string[]; task?: string; format: TableFormat | 'json' }) => {
      const loaded = await loadTaxonomy({ file: opts.file, userFiles: opts.user });
      if (opts.task !== undefined) findTask(loaded, opts.task);
      if (opts.format === 'json') {
        const shown =
          opts.task === undefined
            ? loaded
            : {
                ...loaded,
                tasks: loaded.tasks.filter((t) => t.id === opts.task),
                algorithms: loaded.algorithms.filter((a) => a.task === opts.task),
              };
        io.out(JSON.stringify(shown, null, 2));
        return;
      }
      io.out(renderTaxonomy(loaded, opts.format, opts.task));
      if (loaded.energyModel) io.out(`\n${loaded.energyModel}`);
    });

  taxonomy
    .command('select')
    .description('dry-run algorithm selection for a task and explain the ranking (no deployment)')
    .requiredOption('--task <id>', 'task id, e.g. interpolation')
    .requiredOption('--priorities <spec>', 'weights, e.g. quality=70,energy=30')
    .option('--file <file>', 'the base taxonomy', defaultTaxonomyPath())
    .option('--user <file>', "a user's registration file (repeatable)", collect, [])
    .option('--format <format>', 'text, markdown or json', tableFormat, 'text')
    .action(
      async (opts: {
        task: string;
        priorities: string;
        file: string;
        user: string[];
        format: TableFormat | 'json';
      }) => {
        const priorities = parsePriorities(opts.priorities);
        normalisePriorities(priorities);
        const loaded = await loadTaxonomy({ file: opts.file, userFiles: opts.user });
        const result = selectAlgorithm(loaded, opts.task, priorities);
        io.out(opts.format === 'json' ? JSON.stringify(result, null, 2) : renderSelection(result, opts.format));
      },
    );

  return taxonomy;
}
