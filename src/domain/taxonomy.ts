/**
 * The model taxonomy of D3.3 1.6 (Table 2): tasks → algorithms → metrics, plus what a Kubernetes Job
 * needs to run each algorithm. The bundled, measured table lives in `data/taxonomy.json`; users register
 * their own tasks, algorithms and metrics in files of the same shape (validated and merged in
 * `taxonomy-parse.ts`). Pure: no I/O, safe inside workflows (files are read in `src/tasks/taxonomy-store.ts`).
 * No zod here: every cached workflow evaluates its own copy of each module it loads, and zod alone weighs
 * megabytes per copy.
 */
import { UnknownAlgorithmError, UnknownTaskError, NoCandidatesError } from './task-errors';

/** What a user can ask to optimise (D3.3 1.4.1: "quality, speed, energy efficiency, and cost"). */
export const PRIORITY_PARAMETERS = ['quality', 'speed', 'energy', 'cost'] as const;
export type PriorityParameter = (typeof PRIORITY_PARAMETERS)[number];

export function isPriorityParameter(value: unknown): value is PriorityParameter {
  return typeof value === 'string' && (PRIORITY_PARAMETERS as readonly string[]).includes(value);
}

export type MetricDirection = 'lower' | 'higher';

/** How one metric is read: which way is better and which user parameter it speaks for. */
export interface MetricDefinition {
  readonly id: string;
  /** Column heading in the style of Table 2. */
  readonly label: string;
  readonly unit: string;
  readonly better: MetricDirection;
  readonly parameter: PriorityParameter;
  /** Inclusive bounds a measured value must respect; rates are bounded to [0, 1]. */
  readonly min?: number;
  readonly max?: number;
  readonly description: string;
}

/** Ids of the Table 2 metrics, for typed references from code. */
export const METRIC = {
  mae: 'mae',
  accuracy: 'accuracy',
  precision: 'precision',
  f1: 'f1',
  execTime: 'exec_time_s',
  energy: 'energy_j',
  cpuTime: 'cpu_time_s',
  maxMemory: 'max_memory_bytes',
} as const;
export type BuiltinMetricId = (typeof METRIC)[keyof typeof METRIC];

/**
 * The eight metrics of Table 2, in its column order. CPU usage is CPU time (core-seconds) per run
 * rather than a percentage: it is the work a run costs, and with execution time it yields the cores a
 * run keeps busy, which placement turns into a CPU request. CPU time and memory speak for "cost"
 * because they are what a cluster bills or reserves.
 */
export const BUILTIN_METRICS: readonly MetricDefinition[] = [
  {
    id: METRIC.mae,
    label: 'MAE',
    unit: 'data unit',
    better: 'lower',
    parameter: 'quality',
    min: 0,
    description: 'mean absolute error against the ground truth, in the unit of the data',
  },
  {
    id: METRIC.accuracy,
    label: 'Acc',
    unit: '',
    better: 'higher',
    parameter: 'quality',
    min: 0,
    max: 1,
    description: 'correct predictions / all predictions',
  },
  {
    id: METRIC.precision,
    label: 'Prec',
    unit: '',
    better: 'higher',
    parameter: 'quality',
    min: 0,
    max: 1,
    description: 'TP / (TP + FP)',
  },
  {
    id: METRIC.f1,
    label: 'F1',
    unit: '',
    better: 'higher',
    parameter: 'quality',
    min: 0,
    max: 1,
    description: 'harmonic mean of precision and recall',
  },
  {
    id: METRIC.execTime,
    label: 'Exec time',
    unit: 's',
    better: 'lower',
    parameter: 'speed',
    min: 0,
    description: 'wall-clock time of one run (median over repetitions)',
  },
  {
    id: METRIC.energy,
    label: 'Energy cons',
    unit: 'J',
    better: 'lower',
    parameter: 'energy',
    min: 0,
    description: 'energy of one run',
  },
  {
    id: METRIC.cpuTime,
    label: 'CPU usage',
    unit: 'CPU s',
    better: 'lower',
    parameter: 'cost',
    min: 0,
    description: 'CPU time (user + system) of one run',
  },
  {
    id: METRIC.maxMemory,
    label: 'Max mem alloc',
    unit: 'B',
    better: 'lower',
    parameter: 'cost',
    min: 0,
    description: 'peak memory the run allocates beyond its input',
  },
];

export interface DatasetInfo {
  readonly id: string;
  readonly name: string;
  readonly source: string;
  readonly licence: string;
  readonly rows?: number;
}

export interface TaskDefinition {
  readonly id: string;
  readonly name: string;
  readonly description: string;
}

export type AlgorithmOrigin = 'builtin' | 'user';

/** One row of the taxonomy table. */
export interface AlgorithmEntry {
  readonly id: string;
  readonly task: string;
  readonly name: string;
  readonly description: string;
  readonly origin: AlgorithmOrigin;
  /** The dataset the metrics were measured on; candidates are only comparable on a common one. */
  readonly dataset: string;
  /** Metric id → value; `null` or an absent key is N/A (not measured or not meaningful for the task). */
  readonly metrics: Readonly<Record<string, number | null>>;
  /** Container image of the Job that runs the algorithm. */
  readonly image: string;
  /** Container command; the Job appends its own `--input`/`--output` arguments. */
  readonly command: readonly string[];
  readonly measuredAt?: string;
}

export interface Taxonomy {
  readonly schemaVersion: 1;
  readonly generatedAt?: string;
  /** How `energy_j` was obtained, in words, so readers can judge the figures. */
  readonly energyModel?: string;
  readonly datasets: readonly DatasetInfo[];
  /** Metrics beyond the built-in eight, registered by users. */
  readonly metrics: readonly MetricDefinition[];
  readonly tasks: readonly TaskDefinition[];
  readonly algorithms: readonly AlgorithmEntry[];
}

// Ids end up in Kubernetes object names and labels, so they keep to the DNS-label alphabet.
/** Built-in plus custom metric definitions of a taxonomy. */
export function metricDefinitions(taxonomy: Pick<Taxonomy, 'metrics'>): readonly MetricDefinition[] {
  return [...BUILTIN_METRICS, ...taxonomy.metrics];
}

export function findTask(taxonomy: Taxonomy, task: string): TaskDefinition {
  const found = taxonomy.tasks.find((t) => t.id === task);
  if (!found) {
    throw new UnknownTaskError(
      task,
      taxonomy.tasks.map((t) => t.id),
    );
  }
  return found;
}

/** The algorithms registered for a task, in registry order; throws if the task is unknown or has none. */
export function candidatesFor(taxonomy: Taxonomy, task: string): readonly AlgorithmEntry[] {
  findTask(taxonomy, task);
  const candidates = taxonomy.algorithms.filter((a) => a.task === task);
  if (candidates.length === 0) throw new NoCandidatesError(task);
  return candidates;
}

export function findAlgorithm(taxonomy: Taxonomy, task: string, algorithm: string): AlgorithmEntry {
  const candidates = candidatesFor(taxonomy, task);
  const found = candidates.find((a) => a.id === algorithm);
  if (!found) {
    throw new UnknownAlgorithmError(
      task,
      algorithm,
      candidates.map((a) => a.id),
    );
  }
  return found;
}

/** A metric's value, or undefined when it is N/A (absent, null or not a finite number). */
export function metricValue(algorithm: Pick<AlgorithmEntry, 'metrics'>, metric: string): number | undefined {
  const value = algorithm.metrics[metric];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
