import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectAlgorithm } from '../../src/domain/selection';
import { NoCandidatesError, TaxonomyValidationError, UnknownAlgorithmError } from '../../src/domain/task-errors';
import {
  BUILTIN_METRICS,
  candidatesFor,
  findAlgorithm,
  metricDefinitions,
  type Taxonomy,
} from '../../src/domain/taxonomy';
import { mergeTaxonomies, parseTaxonomy, registerUserTaxonomy } from '../../src/domain/taxonomy-parse';
import { SHIPPED_ALGORITHMS, SHIPPED_TASKS } from '../../src/tasks/algorithms';
import { linearInterpolate, padInterpolate } from '../../src/tasks/algorithms/interpolation';
import { loadBundledDataset } from '../../tools/taxonomy/dataset';
import { prepareInputs, DEFAULT_MEASURE_OPTIONS } from '../../tools/taxonomy/measure';
import { meanAbsoluteError } from '../../tools/taxonomy/scores';
import { loadTaxonomy } from '../../src/tasks/taxonomy-store';

const userAlgorithm = {
  id: 'spline',
  task: 'interpolation',
  name: 'Cubic spline',
  dataset: 'mauna-loa-co2',
  metrics: { mae: 0.9, exec_time_s: 0.001, rmse: 1.1 },
  image: 'registry.example/acme/spline:1.0',
  command: ['python', '-m', 'spline'],
};

const userFile = {
  schemaVersion: 1,
  metrics: [{ id: 'rmse', label: 'RMSE', unit: 'ppm', better: 'lower', parameter: 'quality' }],
  algorithms: [userAlgorithm],
};

describe('the bundled taxonomy (data/taxonomy.json)', () => {
  let bundled: Taxonomy;
  beforeAll(async () => {
    bundled = await loadTaxonomy();
  });

  it('has every shipped task and algorithm, marked built-in, with an image and a command', () => {
    expect(bundled.tasks.map((t) => t.id)).toEqual(SHIPPED_TASKS.map((t) => t.id));
    expect(bundled.algorithms.map((a) => `${a.task}/${a.id}`)).toEqual(
      SHIPPED_ALGORITHMS.map((a) => `${a.task}/${a.id}`),
    );
    for (const a of bundled.algorithms) {
      expect(a.origin).toBe('builtin');
      expect(a.image).not.toBe('');
      expect(a.command).toEqual(['node', 'dist/src/tasks/run.js', '--task', a.task, '--algorithm', a.id]);
    }
  });

  it('fills every Table 2 column, with N/A where the metric does not apply', () => {
    for (const a of bundled.algorithms) {
      expect(Object.keys(a.metrics).sort()).toEqual(BUILTIN_METRICS.map((m) => m.id).sort());
      for (const cost of ['exec_time_s', 'energy_j', 'cpu_time_s', 'max_memory_bytes']) {
        expect(typeof a.metrics[cost]).toBe('number');
      }
    }
    const interpolation = bundled.algorithms.filter((a) => a.task === 'interpolation');
    for (const a of interpolation)
      expect([a.metrics.accuracy, a.metrics.precision, a.metrics.f1]).toEqual([null, null, null]);
    const detectors = bundled.algorithms.filter((a) => a.task !== 'interpolation');
    for (const a of detectors) expect(a.metrics.mae).toBeNull();
  });

  it('records quality figures that a fresh computation with the committed seed reproduces', () => {
    // The quality metrics depend only on the data, the seed and the algorithm, not on the machine.
    const series = loadBundledDataset();
    const { interpolation } = prepareInputs(series, DEFAULT_MEASURE_OPTIONS.seed);
    const linear = meanAbsoluteError(
      linearInterpolate(interpolation.times, interpolation.values),
      series.values,
      interpolation.missing,
    );
    const pad = meanAbsoluteError(padInterpolate(interpolation.values), series.values, interpolation.missing);
    expect(findAlgorithm(bundled, 'interpolation', 'linear').metrics.mae).toBe(Number(linear.toPrecision(4)));
    expect(findAlgorithm(bundled, 'interpolation', 'pad').metrics.mae).toBe(Number(pad.toPrecision(4)));
    // As in D3.3 Table 2, linear interpolation is the more accurate of the two.
    expect(linear).toBeLessThan(pad);
  });

  it('states its energy model', () => {
    expect(bundled.energyModel).toMatch(/energy_j = cpu_time_s × \d+(\.\d+)? W per busy core/);
  });
});

describe('user registrations', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'talon-taxonomy-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('adds an algorithm and a metric to a built-in task, and selection considers them', async () => {
    const file = join(dir, 'mine.json');
    await writeFile(file, JSON.stringify(userFile));
    const merged = await loadTaxonomy({ userFiles: [file] });
    const spline = findAlgorithm(merged, 'interpolation', 'spline');
    expect(spline.origin).toBe('user');
    expect(spline.command).toEqual(['python', '-m', 'spline']);
    expect(metricDefinitions(merged).map((m) => m.id)).toContain('rmse');
    expect(candidatesFor(merged, 'interpolation').map((a) => a.id)).toEqual(['linear', 'pad', 'spline']);
    // Quality only: MAE spline 0.9 is the lowest → 1; rmse only spline has it → 1 (others N/A → 0).
    // spline quality = (1 + 1)/2 = 1, so it wins.
    const result = selectAlgorithm(merged, 'interpolation', { quality: 1 });
    expect(result.selected.id).toBe('spline');
    expect(result.ranking[0]!.coefficient).toBe(1);
  });

  it('adds a whole new task', () => {
    const base = parseTaxonomy({ schemaVersion: 1, tasks: SHIPPED_TASKS }, 'base');
    const merged = registerUserTaxonomy(
      base,
      {
        schemaVersion: 1,
        tasks: [{ id: 'forecasting', name: 'Forecasting' }],
        algorithms: [{ ...userAlgorithm, id: 'arima', task: 'forecasting', metrics: { mae: 2 } }],
      },
      'user.json',
    );
    expect(candidatesFor(merged, 'forecasting').map((a) => a.id)).toEqual(['arima']);
    expect(() => candidatesFor(merged, 'interpolation')).toThrow(NoCandidatesError);
  });

  it('cannot pass its entries off as built-in ones', () => {
    const base = parseTaxonomy({ schemaVersion: 1, tasks: SHIPPED_TASKS }, 'base');
    const merged = registerUserTaxonomy(
      base,
      { schemaVersion: 1, algorithms: [{ ...userAlgorithm, metrics: { mae: 0.9 }, origin: 'builtin' }] },
      'user.json',
    );
    expect(findAlgorithm(merged, 'interpolation', 'spline').origin).toBe('user');
  });

  function rejects(doc: unknown, issue: RegExp): void {
    const base = parseTaxonomy(
      {
        schemaVersion: 1,
        tasks: SHIPPED_TASKS,
        algorithms: [{ ...userAlgorithm, id: 'linear', metrics: { mae: 1 } }],
      },
      'base',
    );
    let caught: unknown;
    try {
      registerUserTaxonomy(base, doc, 'user.json');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TaxonomyValidationError);
    expect((caught as TaxonomyValidationError).issues.join('\n')).toMatch(issue);
    expect((caught as TaxonomyValidationError).message).toMatch(/^invalid taxonomy user\.json:/);
  }

  it.each([
    ['an unknown task', { ...userAlgorithm, task: 'forecasting' }, /task "forecasting" is not defined/],
    ['an undefined metric', { ...userAlgorithm, metrics: { rmse: 1 } }, /metric "rmse" is not defined/],
    [
      'an id clashing with a built-in',
      { ...userAlgorithm, id: 'linear' },
      /"interpolation\/linear" is registered more than once/,
    ],
    ['a rate above 1', { ...userAlgorithm, metrics: { accuracy: 1.5 } }, /accuracy = 1\.5 is outside \[0, 1\]/],
    ['a negative time', { ...userAlgorithm, metrics: { exec_time_s: -1 } }, /exec_time_s = -1 is outside \[0, ∞\]/],
    ['an id unfit for Kubernetes', { ...userAlgorithm, id: 'My Spline' }, /algorithms\.\[0\]\.id: lowercase letters/],
    ['no image', { ...userAlgorithm, image: undefined }, /algorithms\.\[0\]\.image/],
    ['an empty command', { ...userAlgorithm, command: [] }, /algorithms\.\[0\]\.command/],
    ['a string metric value', { ...userAlgorithm, metrics: { mae: '0.9' } }, /algorithms\.\[0\]\.metrics\.mae/],
  ])('rejects %s', (_what, algorithm, issue) => {
    rejects({ schemaVersion: 1, algorithms: [algorithm] }, issue);
  });

  it('rejects a metric that redefines a built-in one, unknown fields and a wrong schema version', () => {
    rejects(
      { schemaVersion: 1, metrics: [{ id: 'mae', label: 'MAE', unit: '', better: 'higher', parameter: 'quality' }] },
      /metric "mae" is defined more than once/,
    );
    rejects({ schemaVersion: 1, algorithms: [], extra: true }, /Unrecognized key/);
    rejects({ schemaVersion: 2 }, /schemaVersion/);
    rejects(
      { schemaVersion: 1, metrics: [{ id: 'x', label: 'X', unit: '', better: 'up', parameter: 'quality' }] },
      /metrics\.\[0\]\.better/,
    );
  });

  it('reports unreadable and malformed files as validation errors', async () => {
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{ "schemaVersion": 1, ');
    await expect(loadTaxonomy({ userFiles: [broken] })).rejects.toThrow(/not valid JSON/);
    await expect(loadTaxonomy({ userFiles: [join(dir, 'absent.json')] })).rejects.toThrow(/cannot read the file/);
  });

  it('merges two parsed taxonomies and re-checks them', () => {
    const a = parseTaxonomy({ schemaVersion: 1, tasks: SHIPPED_TASKS }, 'a');
    expect(() => mergeTaxonomies(a, a, 'a+a')).toThrow(/task "interpolation" is defined more than once/);
  });

  it('names the registered algorithms when one is missing', () => {
    const t = parseTaxonomy(
      { schemaVersion: 1, tasks: SHIPPED_TASKS, algorithms: [{ ...userAlgorithm, metrics: {} }] },
      't',
    );
    expect(() => findAlgorithm(t, 'interpolation', 'akima')).toThrow(UnknownAlgorithmError);
    expect(() => findAlgorithm(t, 'interpolation', 'akima')).toThrow(/registered: spline/);
  });
});
