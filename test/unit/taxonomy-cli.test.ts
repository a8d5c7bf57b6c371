import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerTaxonomyCommands } from '../../src/cli/task-taxonomy';
import { InvalidPrioritiesError, UnknownTaskError } from '../../src/domain/task-errors';
import type { SelectionResult } from '../../src/domain/selection';
import type { Taxonomy } from '../../src/domain/taxonomy';
import { loadTaxonomy } from '../../src/tasks/taxonomy-store';

async function run(...args: string[]): Promise<{ out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command('talon').exitOverride().configureOutput({ writeErr: (t) => err.push(t.trimEnd()) });
  registerTaxonomyCommands(program, { out: (t) => out.push(t), err: (t) => err.push(t) });
  await program.parseAsync(['node', 'talon', ...args]);
  return { out: out.join('\n'), err: err.join('\n') };
}

describe('talon taxonomy', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'talon-taxonomy-cli-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('show prints the table in the layout of Table 2, N/A included', async () => {
    const { out } = await run('taxonomy', 'show', '--format', 'markdown', '--task', 'interpolation');
    const lines = out.split('\n');
    expect(lines[0]).toBe(
      '| Task | Name | Dataset | MAE | Acc | Prec | F1 | Exec time (s) | Energy cons (J) | CPU usage (CPU s) | Max mem alloc (B) | Origin |',
    );
    expect(lines[2]).toMatch(
      /^\| Time series interpolation \(interpolation\) \| Linear \(linear\) \| mauna-loa-co2 \| [\d.]+ \| N\/A \| N\/A \| N\/A \|/,
    );
    expect(lines[3]).toMatch(/^\| {2}\| Pad \(pad\) \|/);
    expect(out).toMatch(/energy_j = cpu_time_s ×/);
  });

  it('show --format json merges user registrations', async () => {
    const file = join(dir, 'user.json');
    await writeFile(
      file,
      JSON.stringify({
        schemaVersion: 1,
        algorithms: [
          {
            id: 'nearest',
            task: 'interpolation',
            name: 'Nearest',
            dataset: 'mauna-loa-co2',
            metrics: { mae: 1.7 },
            image: 'acme/nearest:1',
            command: ['nearest'],
          },
        ],
      }),
    );
    const { out } = await run('taxonomy', 'show', '--format', 'json', '--user', file, '--task', 'interpolation');
    const shown = JSON.parse(out) as Taxonomy;
    expect(shown.algorithms.map((a) => [a.id, a.origin])).toEqual([
      ['linear', 'builtin'],
      ['pad', 'builtin'],
      ['nearest', 'user'],
    ]);
  });

  it('select explains the ranking for quality 70 / energy 30', async () => {
    const { out } = await run('taxonomy', 'select', '--task', 'interpolation', '--priorities', 'quality=70,energy=30');
    expect(out).toMatch(/^linear selected for interpolation with coefficient/);
    expect(out).toMatch(/Rank\s+Algorithm\s+Coefficient\s+quality \(w=0\.70\)\s+energy \(w=0\.30\)/);
    const json = await run(
      'taxonomy',
      'select',
      '--task',
      'interpolation',
      '--priorities',
      'quality=70,energy=30',
      '--format',
      'json',
    );
    const result = JSON.parse(json.out) as SelectionResult;
    expect(result.selected.id).toBe('linear');
    expect(result.ranking).toHaveLength(2);
  });

  it('select fails clearly on bad priorities and unknown tasks', async () => {
    await expect(run('taxonomy', 'select', '--task', 'interpolation', '--priorities', 'quality=-1')).rejects.toThrow(
      InvalidPrioritiesError,
    );
    await expect(run('taxonomy', 'select', '--task', 'nope', '--priorities', 'quality=1')).rejects.toThrow(
      UnknownTaskError,
    );
  });

  it('measure rewrites the taxonomy file, which then loads and validates', async () => {
    const out = join(dir, 'taxonomy.json');
    const result = await run(
      'taxonomy',
      'measure',
      '--out',
      out,
      '--min-sample-ms',
      '2',
      '--min-runs',
      '2',
      '--seed',
      '5',
    );
    expect(result.err).toMatch(/measured interpolation\/linear: \d+ runs/);
    expect(result.err).toMatch(/wrote /);
    const measured = await loadTaxonomy({ file: out });
    expect(measured.algorithms).toHaveLength(6);
    expect(measured.energyModel).toMatch(/seed 5/);
    // CPU-bound (it times every algorithm) behind a tsx start-up: ~2 s alone, >20 s on a 2-core machine under load.
  }, 60_000);

  it('measure rejects nonsense options', async () => {
    await expect(run('taxonomy', 'measure', '--watts-per-core', '-3', '--dry-run')).rejects.toThrow(
      /expected a positive number/,
    );
  });
});
