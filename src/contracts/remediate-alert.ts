/**
 * The `remediateAlert` workflow's contract (one pod alert episode): its input and result, the settings it
 * runs with, and the approval updates. It also answers the alert episode's signals and query
 * (alert-episode.ts). Imported by the workflow and the faces: deterministic, no I/O.
 */
import { defineUpdate } from '@temporalio/workflow';
import type { TalonAlert } from '../domain/alert';
import { DEFAULT_COOLDOWN, type CooldownConfig } from '../domain/cooldown';
import type { PolicyName } from '../domain/policy';
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
}

export const DEFAULT_REMEDIATION_SETTINGS: RemediationSettings = {
  maxAttempts: 3,
  cooldown: DEFAULT_COOLDOWN,
  requireApproval: [],
  approvalTimeoutSeconds: 900,
  dryRun: false,
};

/** Part of the workflow input, so a replay sees the same settings. */
export interface RemediateAlertInput {
  readonly alert: TalonAlert;
  readonly settings?: Partial<RemediationSettings>;
}

export interface RemediateAlertResult {
  readonly outcome: RemediationOutcome;
  readonly target: string;
  readonly attempts: readonly AttemptRecord[];
  readonly notifications: number;
  readonly reason: string;
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
