/** guard: the operator policy's gate and storm brake, then an approval for the policies that need one. */
import { condition, workflowInfo } from '@temporalio/workflow';
import { gate, note, recheckBrake } from '../operator';
import { noteAttempt, type Attempt, type Episode, type Verdict } from './episode';

/**
 * guard: a policy listed in `requireApproval` waits for an approve/reject update. 'skip' moves on to the next
 * attempt (cancelled or resolved meanwhile); a verdict ends the episode (timed out, rejected).
 */
export async function guard(episode: Episode, attempt: Attempt): Promise<'proceed' | 'skip' | Verdict> {
  episode.step = 'guard';
  const gated = await gate(episode.operator, {
    attempt: attempt.number,
    policy: attempt.candidate.policy,
    label: attempt.label,
    kind: 'pod',
    namespace: episode.pod.namespace,
    ...(episode.startedAt !== undefined ? { episodeStartedAt: episode.startedAt } : {}),
    done: () => episode.cancelled !== undefined || !episode.members.firing,
  });
  if (gated.kind === 'skip') return 'skip';
  if (gated.kind === 'verdict') {
    noteAttempt(episode, attempt, { summary: attempt.label, applied: false, detail: gated.reason });
    return gated;
  }
  const { settings } = episode;
  if (!settings.requireApproval.includes(attempt.candidate.policy)) return 'proceed';
  const { label } = attempt;
  await note(episode.operator, {
    attempt: attempt.number,
    policy: attempt.candidate.policy,
    decision: 'approval_requested',
    why: `${label} waits up to ${settings.approvalTimeoutSeconds}s for an approval (talon approve ${workflowInfo().workflowId})`,
    reason: 'TalonApprovalRequested',
  });
  episode.step = 'awaiting_approval';
  episode.awaitingApprovalFor = label;
  episode.approval = undefined;
  const answered = await condition(
    () => episode.approval !== undefined || episode.cancelled !== undefined || !episode.members.firing,
    settings.approvalTimeoutSeconds * 1000,
    { summary: `wait up to ${settings.approvalTimeoutSeconds}s for approval of ${label}` },
  );
  episode.awaitingApprovalFor = undefined;
  if (episode.cancelled || !episode.members.firing) return 'skip';
  // Set by an update handler during the wait (the compiler still sees the `undefined` written above).
  const answer = episode.approval as Episode['approval'];
  let verdict: Verdict | undefined;
  if (!answered || !answer) {
    verdict = {
      outcome: 'needs_human',
      reason: `approval of ${label} timed out after ${settings.approvalTimeoutSeconds}s`,
    };
  } else if (!answer.approved) {
    verdict = { outcome: 'rejected', reason: `${label} rejected by ${answer.by}` };
  }
  await note(episode.operator, {
    attempt: attempt.number,
    policy: attempt.candidate.policy,
    decision: !answer ? 'approval_timed_out' : answer.approved ? 'approved' : 'rejected',
    why: `${verdict?.reason ?? `${label} approved by ${answer!.by}`}${answer?.identity && answer.identity !== answer.by ? ` (as ${answer.identity})` : ''}${answer?.comment ? `: ${answer.comment}` : ''}`,
    ...(answer ? { who: answer.identity ?? answer.by } : {}),
    reason: !answer ? 'TalonApprovalTimedOut' : answer.approved ? 'TalonApproved' : 'TalonRejected',
    warning: !answer?.approved,
  });
  if (!verdict) {
    const held = await recheckBrake(episode.operator, {
      attempt: attempt.number,
      policy: attempt.candidate.policy,
      label,
      kind: 'pod',
      namespace: episode.pod.namespace,
      ...(episode.startedAt !== undefined ? { episodeStartedAt: episode.startedAt } : {}),
      done: () => episode.cancelled !== undefined || !episode.members.firing,
    });
    if (!held) return 'proceed';
    if (held.kind === 'skip') return 'skip';
    if (held.kind === 'verdict') verdict = held;
    else return 'proceed';
  }
  noteAttempt(episode, attempt, { summary: label, applied: false, detail: verdict.reason });
  return verdict;
}
