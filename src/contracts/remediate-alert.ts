/**
 * The `remediateAlert` workflow's contract (one pod alert episode): its input and result, the settings it
 * runs with, and the approval updates. It also answers the alert episode's signals and query
 * (alert-episode.ts). Imported by the workflow and the faces: deterministic, no I/O.
 */
import { defineUpdate } from '@temporalio/workflow';
import type { TalonAlert } from '../domain/alert';
import { DEFAULT_COOLDOWN, type CooldownConfig } from '../domain/cooldown';
import type { PolicyName } from '../domain/policy';
import { DEFAULT_ROLLBACK, type RollbackSettings } from '../domain/rollback';
import { DEFAULT_MEMORY, type MemorySettings, type TargetMemory } from '../domain/target-memory';
import type { AttemptRecord, RemediationOutcome } from './alert-episode';

export interface RemediationSettings {
  /** Policies tried per episode before calling a human. */
  readonly maxAttempts: number;
  readonly cooldown: CooldownConfig;
  /** Policies that wait for an `approve` update before they are applied. */
  readonly requireApproval: readonly PolicyName[];
  readonly approvalTimeoutSeconds: number;
  /** Report what would change (server-side dry run) instead of changing it. */
  readonly dryRun: boolean;
  /**
   * Escalation memory across episodes of one workload and its growth cap: after an episode the workflow keeps
   * watching for a re-fire while anything is remembered (see src/domain/target-memory.ts).
   */
  readonly memory: MemorySettings;
  /** Undo a change whose verification failed or after which the alert's signal got worse (src/domain/rollback.ts). */
  readonly rollback: RollbackSettings;
}

export const DEFAULT_REMEDIATION_SETTINGS: RemediationSettings = {
  maxAttempts: 3,
  cooldown: DEFAULT_COOLDOWN,
  requireApproval: [],
  approvalTimeoutSeconds: 900,
  dryRun: false,
  memory: DEFAULT_MEMORY,
  rollback: DEFAULT_ROLLBACK,
};

/** Part of the workflow input, so a replay sees the same settings. */
export interface RemediateAlertInput {
  readonly alert: TalonAlert;
  readonly settings?: Partial<RemediationSettings>;
  /** Set when a run continues as new while watching: what the target's remediation remembers so far. */
  readonly carried?: CarriedMemory;
  /** A watching run continues as new past this many history events (default 5,000; tests make it small). */
  readonly maxWatchHistoryEvents?: number;
}

/** What a run hands to its continuation (continue-as-new while watching for a re-fire). */
export interface CarriedMemory {
  readonly memory: TargetMemory;
  /** The last episode's result, returned if no re-fire comes. */
  readonly lastResult: RemediateAlertResult;
}

export interface RemediateAlertResult {
  readonly outcome: RemediationOutcome;
  readonly target: string;
  /** The last episode's attempts. */
  readonly attempts: readonly AttemptRecord[];
  readonly notifications: number;
  readonly reason: string;
  /** Episodes this workload's remediation went through (absent: one, from before escalation memory). */
  readonly episodes?: number;
}

export interface ApprovalInput {
  readonly by: string;
  readonly comment?: string;
  /**
   * Who answers, as the client identifies itself to Temporal (the mTLS certificate's subject when there is one):
   * what the policy file's `approvers` are checked against, and what is recorded. `by` when absent.
   */
  readonly identity?: string;
}
export interface ApprovalResult {
  readonly accepted: boolean;
  readonly message: string;
}
/** Answer a policy waiting in `requireApproval`; refused (validator) when nothing waits. */
export const approveUpdate = defineUpdate<ApprovalResult, [ApprovalInput]>('approve');
export const rejectUpdate = defineUpdate<ApprovalResult, [ApprovalInput]>('reject');
