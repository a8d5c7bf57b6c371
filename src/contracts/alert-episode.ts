/**
 * What both alert workflows (`remediateAlert` for pods, `nodeOverload` for nodes) answer to: the alert's
 * notifications and a cancel as signals, and their progress as the `state` query. One alert episode is one
 * workflow, so a face signals and queries it without knowing which of the two runs. Imported by workflows:
 * deterministic, no I/O.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { TalonAlert } from '../domain/alert';
import type { MemoryEntry } from '../domain/target-memory';

/** The alert fired (again): first notification starts the workflow, later ones may escalate. */
export const alertFiredSignal = defineSignal<[TalonAlert]>('alertFired');
/** The sender says the condition is over. */
export const alertResolvedSignal = defineSignal<[TalonAlert]>('alertResolved');
export interface CancelRequest {
  readonly by: string;
  readonly reason?: string;
}
/** Stop remediating; records who asked. */
export const cancelSignal = defineSignal<[CancelRequest]>('cancel');

export const stateQuery = defineQuery<RemediationState>('state');

/** `watching`: an episode ended; the workload's remediation remembers it and waits for a re-fire. */
export type RemediationStep =
  | 'starting'
  | 'gather'
  | 'infer'
  | 'guard'
  | 'awaiting_approval'
  | 'apply'
  | 'verify'
  | 'rollback'
  | 'cooldown'
  | 'watching'
  | 'done';

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
  /** The change was undone (verification failed or the signal got worse), and how. */
  readonly rolledBack?: string;
  /** The policy file version that decided this attempt (absent without a policy file). */
  readonly policyVersion?: string;
}

export interface RemediationState {
  readonly workflowId: string;
  readonly alert: TalonAlert;
  readonly step: RemediationStep;
  readonly firing: boolean;
  readonly notifications: number;
  /** Pods of the workload whose alerts joined this remediation, newest first (pod workflows only). */
  readonly pods?: readonly string[];
  readonly attempts: readonly AttemptRecord[];
  readonly outcome?: RemediationOutcome;
  readonly lastVerification?: string;
  readonly targetSnapshot?: unknown;
  /** Set while a policy waits for an `approve`/`reject` update. */
  readonly awaitingApprovalFor?: string;
  /** Which episode of the workload this is (1-based), and what its remediation remembers of all of them. */
  readonly episode?: number;
  readonly memory?: readonly MemoryEntry[];
  /** Until when (ISO time) a watching remediation waits for a re-fire. */
  readonly watchingUntil?: string;
  /** The operator policy in force: its version, the autonomy, the overrides that shaped it, a storm brake holding it. */
  readonly operator?: {
    readonly policyVersion: string;
    readonly autonomy: string;
    readonly matched: readonly string[];
    readonly brake?: string;
  };
}
