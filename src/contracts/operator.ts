/**
 * The operator's side of the alert workflows' contract: what the operator activities take and answer (the
 * policy file's decision for an alert, the storm brake, Kubernetes Events), and the audit trail each alert
 * workflow keeps in its memo, which `talon audit` reads back from Temporal visibility. Imported by workflows:
 * deterministic, no I/O.
 */
import type { AlertScope, BrakeState, ResolvedPolicy, StormBrakeConfig } from '../domain/autonomy';

/** History-changing code of the operator policy runs behind this patch (workflows/operator.ts). */
export const OPERATOR_POLICY_PATCH = 'talon-operator-policy-v1';

export type { AlertScope, BrakeState, ResolvedPolicy };

export interface BrakeCheckInput {
  readonly kind: 'pod' | 'node';
  readonly namespace?: string;
  /** The brake of the policy version that decided this step (recorded with it). */
  readonly config: StormBrakeConfig;
}

/** A decision or change written as a Kubernetes Event on the alert's target. */
export interface OperatorEventInput {
  readonly target:
    | { readonly kind: 'Pod'; readonly namespace: string; readonly name: string; readonly uid?: string }
    | { readonly kind: 'Node'; readonly name: string };
  readonly reason: string;
  readonly message: string;
  readonly type: 'Normal' | 'Warning';
  readonly workflowId: string;
  readonly key: string;
  readonly policyVersion?: string;
}

/** What the operator activities answer; the worker implements them (activities/operator.ts). */
export interface OperatorActivities {
  /** The policy file's answer for this alert; null when the worker runs without a policy file. */
  resolveOperatorPolicy(scope: AlertScope): Promise<ResolvedPolicy | null>;
  checkStormBrake(input: BrakeCheckInput): Promise<BrakeState>;
  recordEvent(input: OperatorEventInput): Promise<{ readonly written: boolean }>;
}

/** What Talon decided at one step, for the operator's audit: who, what, why, under which policy version. */
export interface AuditEntry {
  /** ISO-8601, workflow time. */
  readonly at: string;
  readonly attempt?: number;
  /** observe, recommend, approval_requested, approved, rejected, approval_timed_out, applied, brake_wait, … */
  readonly decision: string;
  readonly policy?: string;
  /** Who decided: `talon` (policy, autonomy, brake) or the identity that approved or rejected. */
  readonly who: string;
  readonly why: string;
  readonly policyVersion?: string;
}

/** Memo key of the audit trail (a list, newest last, bounded). */
export const AUDIT_MEMO_KEY = 'talonAudit';
/** Most audit entries one workflow keeps in its memo (older ones are dropped; the history keeps all). */
export const MAX_AUDIT_ENTRIES = 50;
