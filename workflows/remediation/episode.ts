/**
 * What one remediation episode knows (the handlers write to it, the `state` query reads it, every step works on
 * it), the shapes the steps hand each other, and the small helpers they share.
 */
import { workflowInfo } from '@temporalio/workflow';
import type { MetricsActivities } from '../../activities/metrics';
import type { TalonAlert } from '../../src/domain/alert';
import type { AlertMembers } from '../../src/domain/alert-members';
import type { PolicyDecision, RankedPolicy } from '../../src/domain/policy';
import type { TargetMemory } from '../../src/domain/target-memory';
import type { PodTarget } from '../../src/domain/remediation';
import type {
  AttemptRecord,
  CancelRequest,
  RemediationOutcome,
  RemediationStep,
} from '../../src/contracts/alert-episode';
import type { RemediationSettings } from '../../src/contracts/remediate-alert';
import { rememberAttempt } from '../episode-memory';
import type { AppliedAttempt } from '../episode-rollback';
import type { OperatorState } from '../operator';
import type { metrics, policy, target } from './proxies';

/**
 * Stable per attempt so a retried activity recognises its own earlier write; later episodes of one run get their
 * own (`…/e2.1`), the first keeps the shape histories from before escalation memory recorded.
 */
export function operationId(episode: { readonly number: number }, attempt: number): string {
  const { workflowId, runId } = workflowInfo();
  return episode.number > 1
    ? `${workflowId}/${runId}/e${episode.number}.${attempt}`
    : `${workflowId}/${runId}/${attempt}`;
}

/** The reads before a change: local activities, or ordinary ones in histories recorded before the patch. */
export interface Reads {
  readonly target: typeof target;
  readonly metrics: typeof metrics;
  readonly policy: typeof policy;
}

/** Everything one episode knows; the handlers write to it and the `state` query reads it. */
export interface Episode {
  /** The alert that started the workflow (the query shows it). */
  readonly alert: TalonAlert;
  /** Every pod alert of the workload that joined; the episode fires while any of them does. */
  readonly members: AlertMembers;
  /** The alert and pod the current attempt acts on: the newest firing member whose pod exists. */
  current: TalonAlert;
  pod: PodTarget;
  targetName: string;
  /** The input's settings; the policy file's replace them attempt by attempt when there is one. */
  settings: RemediationSettings;
  readonly reads: Reads;
  step: RemediationStep;
  notifications: number;
  cancelled?: CancelRequest;
  /** `identity`: who the client is to Temporal (checked against the policy's approvers); `by`: who they say. */
  approval?: { approved: boolean; by: string; identity?: string; comment?: string };
  awaitingApprovalFor?: string;
  lastVerification?: string;
  targetSnapshot?: unknown;
  outcome?: RemediationOutcome;
  /** The Deployment/StatefulSet name, not the ReplicaSet's, so history survives rollouts (the workflow id's key). */
  readonly workload: string;
  readonly attempts: AttemptRecord[];
  /** Policies already chosen in this episode, or remembered from recent ones (the search attribute lists them). */
  readonly tried: Set<string>;
  /** What the workload's remediation remembers across episodes; undefined in histories from before it. */
  memory?: TargetMemory;
  /** Which episode of the workload this is (1-based). */
  number: number;
  /** Workflow time this episode began, for later episodes of the run (the storm brake settles from there). */
  startedAt?: number;
  /** Workflow time the last episode ended, and until when the remediation watches for a re-fire. */
  endedAt?: number;
  watchingUntil?: number;
  /** Whether a failed or harmful change is undone (false in histories from before rollback). */
  readonly undoing: boolean;
  /** The change the last cool-down judged: what to compare the next window with, and what to undo. */
  lastChange?: AppliedAttempt;
  /** The operator policy (workflows/operator.ts); undefined in histories recorded before it. */
  readonly operator?: OperatorState;
}

/** How an episode ends, and why in one line. */
export interface Verdict {
  readonly outcome: RemediationOutcome;
  readonly reason: string;
}

/** The policy one attempt tries, who chose it, and its one-line label. */
export interface Attempt {
  readonly number: number;
  readonly decision: PolicyDecision;
  readonly candidate: RankedPolicy;
  readonly label: string;
}

export type Gathered =
  Awaited<ReturnType<MetricsActivities['gatherWindow']>> | { readonly kind: 'error'; readonly message: string };

/** Appends this attempt to the episode's record (what the query and the result show). */
export function noteAttempt(
  episode: Episode,
  attempt: Attempt,
  fields: Pick<AttemptRecord, 'summary' | 'applied'> & Partial<AttemptRecord>,
): void {
  const { decision, candidate } = attempt;
  episode.attempts.push({
    attempt: attempt.number,
    policy: candidate.policy,
    magnitude: candidate.magnitude,
    source: decision.source,
    ...(decision.fallbackReason ? { fallbackReason: decision.fallbackReason } : {}),
    ...(episode.operator?.policy ? { policyVersion: episode.operator.policy.version } : {}),
    ...fields,
  });
  rememberAttempt(episode, candidate.policy, candidate.magnitude, fields);
}

/** The alert stopped firing before this attempt. */
export function resolvedBefore(episode: Episode, attempt: number): Verdict {
  const reason =
    attempt === 1 ? 'resolved before any change' : `resolved after ${episode.attempts.at(-1)?.policy ?? 'waiting'}`;
  return { outcome: 'resolved', reason };
}

/** The attempts ran out (or the episode was cancelled) without a verdict. */
export function closingVerdict(episode: Episode): Verdict {
  const { cancelled, attempts } = episode;
  if (cancelled) return { outcome: 'cancelled', reason: `cancelled by ${cancelled.by}` };
  if (!episode.members.firing)
    return { outcome: 'resolved', reason: `resolved after ${attempts.at(-1)?.summary ?? 'waiting'}` };
  return {
    outcome: 'needs_human',
    reason: `still firing after ${attempts.length} attempt(s): ${attempts.map((a) => a.policy).join(', ')}`,
  };
}
