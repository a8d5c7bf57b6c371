/**
 * `talon taxonomy measure`: runs every shipped algorithm on the bundled dataset and rewrites the taxonomy
 * file. The CLI lists it (src/cli/task-taxonomy.ts) and calls this to fill it in when it is invoked.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { TaxonomyCommandIo } from '../../src/cli/task-taxonomy';
import { defaultTaxonomyPath, writeTaxonomy } from '../../src/tasks/taxonomy-store';
import { renderTaxonomy } from '../../src/tasks/taxonomy-table';
import { DEFAULT_MEASURE_OPTIONS, measureShippedAlgorithms } from './measure';

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

function positiveInteger(value: string): number {
  const n = positiveNumber(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('expected an integer');
  return n;
}

/** Options and action of `talon taxonomy measure`; `io` is where output goes (tests capture it). */
export function configureMeasure(measure: Command, io: TaxonomyCommandIo): void {
  measure
    .option('--out <file>', 'where to write the taxonomy', defaultTaxonomyPath())
    .option('--seed <n>', 'seed of the corrupted inputs', integer, DEFAULT_MEASURE_OPTIONS.seed)
    .option(
      '--watts-per-core <w>',
      'power of a busy core for the energy model',
      positiveNumber,
      DEFAULT_MEASURE_OPTIONS.wattsPerCore,
    )
    .option(
      '--min-sample-ms <ms>',
      'least timed duration per algorithm',
      positiveNumber,
      DEFAULT_MEASURE_OPTIONS.minSampleMs,
    )
    .option('--min-runs <n>', 'least timed runs per algorithm', positiveInteger, DEFAULT_MEASURE_OPTIONS.minRuns)
    .option('--dry-run', 'print the table without writing the file', false)
    .action(
      async (opts: {
        out: string;
        seed: number;
        wattsPerCore: number;
        minSampleMs: number;
        minRuns: number;
        dryRun: boolean;
      }) => {
        const measured = measureShippedAlgorithms({
          seed: opts.seed,
          wattsPerCore: opts.wattsPerCore,
          minSampleMs: opts.minSampleMs,
          minRuns: opts.minRuns,
          onProgress: (line) => io.err(`measured ${line}`),
        });
        io.out(renderTaxonomy(measured, 'text'));
        if (opts.dryRun) return;
        await writeTaxonomy(measured, opts.out);
        io.err(`wrote ${opts.out}`);
      },
    );
}
