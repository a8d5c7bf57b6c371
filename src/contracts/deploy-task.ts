/**
 * The `deployTask` workflow's contract (one task submission), shared by the faces (SDK, REST, CLI), the
 * workflow and the task activities: the input and result, the progress query, the Job's name and labels.
 * Imported by workflows, so it must stay deterministic (no I/O).
 */
import { defineQuery } from '@temporalio/workflow';
import type { Tier } from '../domain/placement';

/** Label every Job (and its pods) of a submission carries: the workflow id, shortened to a label value. */
export const TASK_ID_LABEL = 'talon.io/task-id';
/** Full workflow id, as an annotation (label values are limited to 63 characters). */
export const TASK_WORKFLOW_ANNOTATION = 'talon.io/workflow-id';
export const TASK_ATTEMPT_LABEL = 'talon.io/task-attempt';
export const TASK_ALGORITHM_LABEL = 'talon.io/algorithm';

/** Where the Job reads and writes data; appended to the registry entry's command as `--input`/`--output`. */
export interface TaskDataInput {
  /** Path (inside the container) of the input CSV. */
  readonly path?: string;
  /** Path (inside the container) the result is written to. */
  readonly output?: string;
  /** Site of the data; nodes labelled `talon.io/site=<dataSite>` count as near the data. */
  readonly dataSite?: string;
}

export interface DeployTaskSettings {
  /** Runs of the Job in all, each on a node not yet tried (default 2: one retry on another node). */
  readonly maxAttempts: number;
  /** Upper bound of one run, in seconds (Job `activeDeadlineSeconds`, and the wait's timeout). */
  readonly runTimeoutSeconds: number;
  /** How long Kubernetes keeps finished Jobs (`ttlSecondsAfterFinished`). */
  readonly keepFinishedSeconds: number;
  /**
   * Extra annotations on the Job's pods (sidecar injection, cost allocation; on the local KWOK stack
   * `talon.io/simulate-failure-on: <node>` makes the pod fail on that node, see deploy/local/kwok/stages.yaml).
   */
  readonly podAnnotations?: Readonly<Record<string, string>>;
}

export const DEFAULT_DEPLOY_TASK_SETTINGS: DeployTaskSettings = {
  maxAttempts: 2,
  runTimeoutSeconds: 600,
  keepFinishedSeconds: 3600,
};

export interface DeployTaskInput {
  readonly task: string;
  readonly priorities: Readonly<Record<string, number>>;
  readonly input?: TaskDataInput;
  /** Namespace the Job runs in (default `default`). */
  readonly namespace?: string;
  readonly settings?: Partial<DeployTaskSettings>;
}

export type TaskStep = 'starting' | 'planning' | 'creating' | 'running' | 'collecting' | 'done';
export type TaskOutcome = 'succeeded' | 'failed' | 'cancelled';

/** One run of the Job on one node. */
export interface TaskAttempt {
  readonly attempt: number;
  readonly job: string;
  readonly node: string;
  readonly tier: Tier;
  readonly outcome: 'running' | 'succeeded' | 'failed';
  readonly reason?: string;
}

export interface TaskPlacementSummary {
  readonly node: string;
  readonly tier: Tier;
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly explanation: string;
}

export interface TaskAlgorithmSummary {
  readonly id: string;
  readonly name: string;
  readonly coefficient: number;
  readonly image: string;
  readonly command: readonly string[];
  readonly explanation: string;
}

/** What one run measured, and what the taxonomy says of the algorithm: labelled, never mixed. */
export interface TaskRunMetrics {
  /** From the Kubernetes objects: Job start/completion and the pod's container timestamps. */
  readonly observed: {
    readonly jobStartTime?: string;
    readonly jobCompletionTime?: string;
    /** Job completion − start (whole seconds, as Kubernetes records them). */
    readonly jobDurationSeconds?: number;
    readonly containerStartedAt?: string;
    readonly containerFinishedAt?: string;
    readonly exitCode?: number;
  };
  /** The run's own report (`src/tasks/run.ts` prints it as the last stderr line); absent when no log could be read. */
  readonly reported?: Readonly<Record<string, number | string>>;
  /** The algorithm's figures in the taxonomy: measured by `talon taxonomy measure`, not by this run. */
  readonly taxonomy: {
    readonly dataset: string;
    readonly measuredAt?: string;
    readonly metrics: Readonly<Record<string, number | null>>;
  };
  /** True when the node is simulated (KWOK): the container did not really run, so only timestamps are real. */
  readonly simulated: boolean;
  readonly notes: readonly string[];
}

export interface TaskTimings {
  readonly submittedAt: string;
  readonly plannedAt?: string;
  readonly jobCreatedAt?: string;
  readonly finishedAt?: string;
  /** Milliseconds from workflow start to Job created, and to the end. */
  readonly toJobCreatedMs?: number;
  readonly totalMs?: number;
}

export interface TaskState {
  readonly workflowId: string;
  readonly task: string;
  readonly priorities: Readonly<Record<string, number>>;
  readonly namespace: string;
  readonly step: TaskStep;
  readonly outcome?: TaskOutcome;
  readonly algorithm?: TaskAlgorithmSummary;
  readonly placement?: TaskPlacementSummary;
  readonly attempts: readonly TaskAttempt[];
  readonly metrics?: TaskRunMetrics;
  readonly timings: TaskTimings;
  readonly error?: string;
}

export interface DeployTaskResult {
  readonly workflowId: string;
  readonly task: string;
  readonly outcome: 'succeeded';
  readonly algorithm: TaskAlgorithmSummary;
  readonly placement: TaskPlacementSummary;
  readonly attempts: readonly TaskAttempt[];
  readonly metrics: TaskRunMetrics;
  readonly timings: TaskTimings;
}

export const taskStateQuery = defineQuery<TaskState>('taskState');

/** Job name of one attempt: the same workflow and attempt always give the same name (idempotent create). */
export function taskJobName(workflowId: string, attempt: number): string {
  // FNV-1a, 32 bit: deterministic and dependency-free (this module runs inside workflows).
  let hash = 0x811c9dc5;
  for (let i = 0; i < workflowId.length; i++) {
    hash ^= workflowId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  const slug = workflowId
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 30)
    .replace(/-+$/g, '');
  return `talon-${slug ? `${slug}-` : ''}${hash.toString(16).padStart(8, '0')}-${attempt}`;
}

/** A workflow id as a label value (≤ 63 characters of [A-Za-z0-9-_.], alphanumeric at both ends). */
export function taskIdLabelValue(workflowId: string): string {
  const job = taskJobName(workflowId, 0);
  return job.slice(0, -2);
}
