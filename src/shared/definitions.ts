/**
 * What the faces (webhook, CLI, SDK) and the workflows share: task queue, workflow names, signals,
 * queries and updates. Imported by workflows, so it must stay deterministic (no I/O).
 */
import { defineQuery, defineSignal, defineUpdate, type Sinks } from '@temporalio/workflow';
import type { TalonAlert } from '../domain/alert';

export const DEFAULT_TASK_QUEUE = 'talon-remediation';

export const WORKFLOW_TYPES = {
  remediateAlert: 'remediateAlert',
  nodeOverload: 'nodeOverload',
  deployTask: 'deployTask',
} as const;

/** The alert fired (again): first notification starts the workflow, later ones may escalate. */
export const alertFiredSignal = defineSignal<[TalonAlert]>('alertFired');
/** The sender says the condition is over. */
export const alertResolvedSignal = defineSignal<[TalonAlert]>('alertResolved');
/** Stop remediating; records who asked. */
export const cancelSignal = defineSignal<[{ by: string; reason?: string }]>('cancel');

export interface ApprovalInput {
  readonly by: string;
  readonly comment?: string;
}
export interface ApprovalResult {
  readonly accepted: boolean;
  readonly message: string;
}
export const approveUpdate = defineUpdate<ApprovalResult, [ApprovalInput]>('approve');
export const rejectUpdate = defineUpdate<ApprovalResult, [ApprovalInput]>('reject');

export const stateQuery = defineQuery<RemediationState>('state');

export type RemediationStep =
  'starting' | 'gather' | 'infer' | 'guard' | 'awaiting_approval' | 'apply' | 'verify' | 'cooldown' | 'done';

export type RemediationOutcome = 'resolved' | 'needs_human' | 'cancelled' | 'rejected' | 'no_action';

export interface AttemptRecord {
  readonly attempt: number;
  readonly policy: string;
  readonly magnitude: number;
  readonly summary: string;
  readonly applied: boolean;
  readonly verified?: boolean;
  readonly detail?: string;
  /** Which engine chose the policy, and why the rules answered when they did. */
  readonly source?: 'model' | 'rules';
  readonly fallbackReason?: string;
}

export interface RemediationState {
  readonly workflowId: string;
  readonly alert: TalonAlert;
  readonly step: RemediationStep;
  readonly firing: boolean;
  readonly notifications: number;
  readonly attempts: readonly AttemptRecord[];
  readonly outcome?: RemediationOutcome;
  readonly lastVerification?: string;
  readonly targetSnapshot?: unknown;
  /** Set while a policy waits for an `approve`/`reject` update. */
  readonly awaitingApprovalFor?: string;
}

/**
 * Counters the workflows report to their worker's /metrics. Sinks are not recorded in history and are not
 * called again on replay, so a worker restart never counts an episode twice and adding a call changes no
 * history.
 */
export interface TalonMetricsSink extends Sinks {
  talonMetrics: {
    workflowStarted(type: string): void;
    /** A firing notification reached a remediation that was already running. */
    alertDeduplicated(type: string): void;
    escalated(from: string, to: string): void;
    workflowFinished(type: string, outcome: string): void;
  };
}
