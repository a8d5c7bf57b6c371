/**
 * The alert intake: how a webhook under an alert storm acknowledges alerts after one durable write per
 * batch instead of one workflow start per alert. Accepted alerts are appended (signal) to one of a few
 * long-lived `alertIntake` workflows — sharded by the alert's workflow id so every notification of one
 * alert goes through the same shard, in order — and that workflow hands them on to their own remediation
 * workflows at the pace Temporal sustains. Imported by workflows: deterministic, no I/O.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { TalonAlert } from '../domain/alert';
import type { RemediationStartSettings } from './alert-workflows';

export const INTAKE_WORKFLOW_TYPE = 'alertIntake';

/** Alerts one webhook flush appended, with the settings their remediations start with. */
export interface IntakeBatch {
  readonly alerts: readonly TalonAlert[];
  readonly settings?: RemediationStartSettings;
  /** ISO-8601, the webhook's clock when it sent the batch (the UI shows how long alerts queued). */
  readonly queuedAt: string;
}

export interface AlertIntakeInput {
  /** The queue the remediations start on (the intake itself runs on the same one). */
  readonly taskQueue: string;
  readonly shard: number;
  /** Batches not yet handed on when the previous run continued as new. */
  readonly pending?: readonly IntakeBatch[];
  /** Alerts handed on by earlier runs of this shard (for the query). */
  readonly dispatched?: number;
  /** Continue as new past this many history events even before Temporal suggests it (tests lower it). */
  readonly maxHistoryEvents?: number;
  /** Finish after this long without alerts; the next batch starts the shard again (default 5 minutes). */
  readonly idleSeconds?: number;
}

export interface IntakeState {
  readonly shard: number;
  /** Alerts appended and not yet handed on. */
  readonly queued: number;
  readonly dispatched: number;
  /** Alerts handed on whose remediation could not be started or signalled for good (see the activity result). */
  readonly dropped: number;
}

export const alertsQueuedSignal = defineSignal<[IntakeBatch]>('alertsQueued');
export const intakeStateQuery = defineQuery<IntakeState>('intakeState');

/** What dispatchAlerts reports for one call. */
export interface DispatchResult {
  readonly startedOrSignalled: number;
  readonly resolvedSignalled: number;
  /** Resolved notifications for alerts without a running remediation (nothing to do). */
  readonly noWorkflow: number;
  /** Refused by Temporal as invalid (never retried); each with why. */
  readonly dropped: readonly { readonly workflowId: string; readonly reason: string }[];
}

export interface DispatchAlertsInput {
  readonly taskQueue: string;
  readonly batches: readonly IntakeBatch[];
}

export function intakeWorkflowId(taskQueue: string, shard: number): string {
  return `talon-intake/${taskQueue}/${shard}`;
}

/** FNV-1a of the alert's workflow id: the same alert always lands on the same shard. */
export function intakeShardOf(alertWorkflowId: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < alertWorkflowId.length; i++) {
    hash ^= alertWorkflowId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}
