/**
 * The algorithms Talon ships, with the task definitions they solve and what a Kubernetes Job needs to
 * run each of them. `talon taxonomy measure` measures exactly this list.
 */
import type { TaskDefinition } from '../../domain/taxonomy';
import { castStrict, castTolerant } from './casting';
import { linearInterpolate, padInterpolate } from './interpolation';
import { hampelOutliers, zScoreOutliers } from './outliers';

export const TASK = {
  interpolation: 'interpolation',
  outlierRemoval: 'outlier-removal',
  dataCasting: 'data-casting',
} as const;
export type ShippedTaskId = (typeof TASK)[keyof typeof TASK];

export const SHIPPED_TASKS: readonly TaskDefinition[] = [
  {
    id: TASK.interpolation,
    name: 'Time series interpolation',
    description: 'fill missing values of a time series',
  },
  {
    id: TASK.outlierRemoval,
    name: 'Outlier removal',
    description: 'flag and drop values that break from their neighbourhood',
  },
  {
    id: TASK.dataCasting,
    name: 'Data casting',
    description: 'turn raw text cells into numbers, with null where a cell holds no value',
  },
];

/** The image the worker is built into; it carries `dist/`, so it can run the shipped algorithms too. */
export const TASK_IMAGE = 'talon-orchestrator:0.1.0';

/** Container command of a shipped algorithm; the Job appends `--input` and `--output`. */
export function taskCommand(task: ShippedTaskId, algorithm: string): string[] {
  return ['node', 'dist/src/tasks/run.js', '--task', task, '--algorithm', algorithm];
}

interface Described {
  readonly id: string;
  readonly name: string;
  readonly description: string;
}

export interface InterpolationAlgorithm extends Described {
  readonly task: typeof TASK.interpolation;
  run(times: readonly number[], values: readonly (number | null)[]): number[];
}

export interface OutlierAlgorithm extends Described {
  readonly task: typeof TASK.outlierRemoval;
  /** Returns one flag per value: true = outlier. */
  run(values: readonly number[]): boolean[];
}

export interface CastingAlgorithm extends Described {
  readonly task: typeof TASK.dataCasting;
  run(cells: readonly string[]): (number | null)[];
}

export type ShippedAlgorithm = InterpolationAlgorithm | OutlierAlgorithm | CastingAlgorithm;

export const SHIPPED_ALGORITHMS: readonly ShippedAlgorithm[] = [
  {
    task: TASK.interpolation,
    id: 'linear',
    name: 'Linear',
    description: 'straight line between the neighbours of a gap, on the time axis',
    run: linearInterpolate,
  },
  {
    task: TASK.interpolation,
    id: 'pad',
    name: 'Pad',
    description: 'forward fill: repeat the last known value',
    run: (_times, values) => padInterpolate(values),
  },
  {
    task: TASK.outlierRemoval,
    id: 'zscore',
    name: 'Rolling z-score',
    description: 'leave-one-out z-score against the 6 nearest neighbours, threshold 3',
    run: (values) => zScoreOutliers(values),
  },
  {
    task: TASK.outlierRemoval,
    id: 'hampel',
    name: 'Hampel filter',
    description: 'distance from the median of a centred 7-point window over 2 scaled MADs',
    run: (values) => hampelOutliers(values),
  },
  {
    task: TASK.dataCasting,
    id: 'strict',
    name: 'Strict cast',
    description: 'the plain number grammar; anything else is missing',
    run: castStrict,
  },
  {
    task: TASK.dataCasting,
    id: 'tolerant',
    name: 'Tolerant cast',
    description: 'also decimal commas, trailing units and missing-value tokens',
    run: castTolerant,
  },
];

export function findShippedAlgorithm(task: string, algorithm: string): ShippedAlgorithm | undefined {
  return SHIPPED_ALGORITHMS.find((a) => a.task === task && a.id === algorithm);
}
