/**
 * Measures the shipped algorithms on the bundled dataset and produces the taxonomy table (D3.3 Table 2).
 *
 * Ground truth: the clean series. Each task gets a corrupted copy made with a fixed seed (gaps for
 * interpolation, spikes for outlier removal, garbled cells for casting), and quality is scored on what
 * the algorithm had to repair. Cost figures come from this process:
 * - exec_time_s: median per-run wall time of timed batches (each at least 2 ms), over at least `minRuns`
 *   runs and `minSampleMs`, after warm-up;
 * - cpu_time_s: process CPU time (user + system, `process.cpuUsage`) over the same runs, per run;
 * - max_memory_bytes: V8 heap growth across one run started right after a full GC (least of 7 tries);
 * - energy_j: cpu_time_s × `wattsPerCore`, a stated model (no RAPL or Kepler counter is readable where
 *   Talon measures), so it ranks algorithms by CPU work, not by a meter reading.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { METRIC, type AlgorithmEntry, type DatasetInfo, type Taxonomy } from '../../src/domain/taxonomy';
import { parseTaxonomy } from '../../src/domain/taxonomy-parse';
import {
  SHIPPED_ALGORITHMS,
  SHIPPED_TASKS,
  TASK,
  TASK_IMAGE,
  taskCommand,
  type ShippedAlgorithm,
} from '../../src/tasks/algorithms';
import { garbleCells, injectSpikes, punchGaps, seededRandom } from './corrupt';
import { BUNDLED_DATASET, loadBundledDataset, type Series } from './dataset';
import { castingScores, classificationScores, meanAbsoluteError } from './scores';

export interface MeasureOptions {
  /** Seed of the corruptions; the same seed gives the same inputs and so the same quality metrics. */
  readonly seed: number;
  readonly minSampleMs: number;
  readonly minRuns: number;
  /** Power of one busy core for the energy model, in watts. */
  readonly wattsPerCore: number;
  readonly now?: Date;
  readonly series?: Series;
  readonly dataset?: DatasetInfo;
  readonly onProgress?: (line: string) => void;
}

/**
 * 10 W per busy core: a mid-range server package (about 150 W for 16 cores under load), the order of
 * magnitude Kepler's models attribute per core. A stated assumption, overridable per measurement.
 */
export const DEFAULT_WATTS_PER_CORE = 10;

export const DEFAULT_MEASURE_OPTIONS: MeasureOptions = {
  seed: 20241002,
  minSampleMs: 300,
  minRuns: 50,
  wattsPerCore: DEFAULT_WATTS_PER_CORE,
};

export interface PreparedInputs {
  readonly interpolation: {
    readonly times: readonly number[];
    readonly values: readonly (number | null)[];
    readonly missing: readonly number[];
  };
  readonly outliers: { readonly values: readonly number[]; readonly truth: readonly boolean[] };
  readonly casting: { readonly cells: readonly string[]; readonly truth: readonly (number | null)[] };
}

/** The corrupted inputs of each task; one generator per task, so adding damage to one leaves the others as they were. */
export function prepareInputs(series: Series, seed: number): PreparedInputs {
  const gaps = punchGaps(series.values, seededRandom(seed));
  const spikes = injectSpikes(series.values, seededRandom(seed + 1));
  const cells = garbleCells(series.cells, seededRandom(seed + 2));
  return {
    interpolation: { times: series.times, values: gaps.values, missing: gaps.missing },
    outliers: { values: spikes.values, truth: spikes.outliers },
    casting: { cells: cells.cells, truth: cells.truth },
  };
}

type Quality = Partial<Record<'mae' | 'accuracy' | 'precision' | 'f1', number>>;

interface Prepared {
  run: () => unknown;
  quality: (output: unknown) => Quality;
}

function prepare(algorithm: ShippedAlgorithm, inputs: PreparedInputs, truth: readonly number[]): Prepared {
  switch (algorithm.task) {
    case TASK.interpolation: {
      const { times, values, missing } = inputs.interpolation;
      return {
        run: () => algorithm.run(times, values),
        quality: (out) => ({ mae: meanAbsoluteError(out as number[], truth, missing) }),
      };
    }
    case TASK.outlierRemoval: {
      const { values, truth: flags } = inputs.outliers;
      return {
        run: () => algorithm.run(values),
        quality: (out) => {
          const s = classificationScores(out as boolean[], flags);
          return { accuracy: s.accuracy, precision: s.precision, f1: s.f1 };
        },
      };
    }
    case TASK.dataCasting: {
      const { cells, truth: numbers } = inputs.casting;
      return {
        run: () => algorithm.run(cells),
        quality: (out) => {
          const s = castingScores(out as (number | null)[], numbers);
          return { accuracy: s.accuracy, precision: s.precision, f1: s.f1 };
        },
      };
    }
  }
}

let gcFunction: (() => void) | null | undefined;

/** A handle on V8's full GC, so memory is measured from a clean heap; null where V8 refuses. */
function fullGc(): (() => void) | null {
  if (gcFunction !== undefined) return gcFunction;
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') {
    gcFunction = existing;
  } else {
    try {
      setFlagsFromString('--expose-gc');
      gcFunction = runInNewContext('gc') as () => void;
    } catch {
      gcFunction = null;
    }
  }
  return gcFunction;
}

// Outputs are kept here so V8 cannot drop the work being timed as dead code.
let sink: unknown;

export interface CostSample {
  readonly execSeconds: number;
  readonly cpuSecondsPerRun: number;
  readonly maxMemoryBytes: number;
  readonly runs: number;
}

/** Shortest timed batch: a single run of a few microseconds would mostly time the clock itself. */
const MIN_BATCH_MS = 2;

/** Times repeated runs of `run` and measures its heap growth; see the file comment for the method. */
export function measureCost(run: () => unknown, minSampleMs: number, minRuns: number): CostSample {
  // Warm-up doubles the batch size until one batch lasts MIN_BATCH_MS, so the JIT has settled and the
  // per-batch clock reads are negligible against the work they time.
  let batch = 1;
  const warmUntil = performance.now() + minSampleMs / 4;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) sink = run();
    const elapsed = performance.now() - t0;
    if (elapsed >= MIN_BATCH_MS && performance.now() >= warmUntil) break;
    if (elapsed < MIN_BATCH_MS) batch *= 2;
  }

  const perRun: number[] = [];
  let runs = 0;
  let wallNs = 0n;
  const cpuBefore = process.cpuUsage();
  while (runs < minRuns || Number(wallNs) / 1e6 < minSampleMs) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) sink = run();
    const elapsed = process.hrtime.bigint() - t0;
    wallNs += elapsed;
    runs += batch;
    perRun.push(Number(elapsed) / 1e9 / batch);
  }
  const cpu = process.cpuUsage(cpuBefore);
  perRun.sort((a, b) => a - b);
  const execSeconds = perRun[perRun.length >> 1] ?? 0;

  // The smallest growth of several tries: the run is deterministic, and what varies between tries is
  // only added on top (heapUsed also counts code space, so a try that triggers an optimising compile
  // shows the compiler's allocation). A scavenge inside a try could hide allocation instead, which is
  // why each try starts from a full GC; runs allocating beyond the young generation are under-counted.
  const gc = fullGc();
  let maxMemoryBytes = Infinity;
  for (let i = 0; i < 7; i++) {
    gc?.();
    const before = process.memoryUsage().heapUsed;
    const out = run();
    const after = process.memoryUsage().heapUsed;
    sink = out;
    maxMemoryBytes = Math.min(maxMemoryBytes, Math.max(0, after - before));
  }
  return {
    execSeconds,
    cpuSecondsPerRun: (cpu.user + cpu.system) / 1e6 / runs,
    maxMemoryBytes,
    runs,
  };
}

/** Four significant digits: more would only record timer noise and churn the committed file. */
function round(value: number): number {
  return value === 0 ? 0 : Number(value.toPrecision(4));
}

/** Measures every shipped algorithm and returns the taxonomy, validated like any loaded one. */
export function measureShippedAlgorithms(options: Partial<MeasureOptions> = {}): Taxonomy {
  const o = { ...DEFAULT_MEASURE_OPTIONS, ...options };
  const series = o.series ?? loadBundledDataset();
  const datasetInfo: DatasetInfo = o.dataset ?? {
    id: BUNDLED_DATASET.id,
    name: BUNDLED_DATASET.name,
    source: BUNDLED_DATASET.source,
    licence: BUNDLED_DATASET.licence,
    rows: series.values.length,
  };
  const inputs = prepareInputs(series, o.seed);
  const measuredAt = (o.now ?? new Date()).toISOString();
  const algorithms: AlgorithmEntry[] = [];
  for (const algorithm of SHIPPED_ALGORITHMS) {
    const prepared = prepare(algorithm, inputs, series.values);
    const quality = prepared.quality(prepared.run());
    const cost = measureCost(prepared.run, o.minSampleMs, o.minRuns);
    const cpuTime = cost.cpuSecondsPerRun;
    algorithms.push({
      id: algorithm.id,
      task: algorithm.task,
      name: algorithm.name,
      description: algorithm.description,
      origin: 'builtin',
      dataset: datasetInfo.id,
      metrics: {
        [METRIC.mae]: quality.mae === undefined ? null : round(quality.mae),
        [METRIC.accuracy]: quality.accuracy === undefined ? null : round(quality.accuracy),
        [METRIC.precision]: quality.precision === undefined ? null : round(quality.precision),
        [METRIC.f1]: quality.f1 === undefined ? null : round(quality.f1),
        [METRIC.execTime]: round(cost.execSeconds),
        [METRIC.energy]: round(cpuTime * o.wattsPerCore),
        [METRIC.cpuTime]: round(cpuTime),
        [METRIC.maxMemory]: Math.max(0, Math.round(cost.maxMemoryBytes)),
      },
      image: TASK_IMAGE,
      command: taskCommand(algorithm.task, algorithm.id),
      measuredAt,
    });
    o.onProgress?.(`${algorithm.task}/${algorithm.id}: ${cost.runs} runs`);
  }
  void sink;
  return parseTaxonomy(
    {
      schemaVersion: 1,
      generatedAt: measuredAt,
      energyModel:
        `energy_j = cpu_time_s × ${o.wattsPerCore} W per busy core (a stated model: no energy counter is ` +
        'readable where Talon measures). Quality on the bundled dataset corrupted with seed ' +
        `${o.seed}: 10% of points removed in runs of 1–6 (interpolation, MAE in ppm over the removed points), ` +
        '3% isolated spikes of 3–8 robust σ of the monthly change (outlier removal), 25% of cells garbled ' +
        '(data casting).',
      datasets: [datasetInfo],
      metrics: [],
      tasks: SHIPPED_TASKS,
      algorithms,
    },
    'measured taxonomy',
  );
}
