/**
 * What one node-overload run knows (the handlers write to it, the `state` query reads it, every step works on
 * it), and the small helpers its steps share.
 */
import type { WorkflowInfo } from '@temporalio/workflow';
import type { TalonAlert } from '../../src/domain/alert';
import type { AttemptRecord, RemediationOutcome, RemediationStep } from '../../src/contracts/alert-episode';
import type { NodeOverloadSettings } from '../../src/contracts/node-overload';
import type { OperatorState } from '../operator';

/** Everything one node-overload run knows; the handlers write to it and the `state` query reads it. */
export interface NodeRun {
  /** The alert that started the workflow (the query shows it). */
  readonly alert: TalonAlert;
  /** The input's settings; the policy file's untaint delay replaces theirs when there is one. */
  settings: NodeOverloadSettings;
  /** The node acted on: the alert's, or the node an alerted address belongs to. */
  node: string;
  /** Whether the node's usage judges the run (false in histories from before NODE_VERIFY_PATCH). */
  readonly verifying: boolean;
  readonly info: WorkflowInfo;
  step: RemediationStep;
  firing: boolean;
  notifications: number;
  cancelled: boolean;
  outcome?: RemediationOutcome;
  readonly attempts: AttemptRecord[];
  /** The operator policy (workflows/operator.ts); undefined in histories recorded before it. */
  readonly operator?: OperatorState;
  awaitingApproval?: string;
  approval?: { approved: boolean; by: string; identity?: string; comment?: string };
  /** The pod evicted in histories from before usage verification (one eviction at most). */
  evicted?: string;
  /** The address the alert named the node by, when it did. */
  alertedAs?: string;
}

/** What one eviction and the wait after it came to. */
export interface EvictionRound {
  readonly evicted?: string;
  readonly blocked?: string;
  readonly relieved: boolean;
  readonly cpuShare?: number;
  readonly unread?: string;
}

/** Stable per write so a retried activity recognises its own earlier write. */
export function operation(run: NodeRun, what: string): string {
  return `${run.info.workflowId}/${run.info.runId}/${what}`;
}

export function pct(share: number): string {
  return `${Math.round(share * 100)} %`;
}
