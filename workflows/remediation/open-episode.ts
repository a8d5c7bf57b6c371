/**
 * Opening an episode: checks the alert, picks the reads' shape and the patched paths, answers the signals, the
 * approval updates and the `state` query, and tags the search attributes.
 */
import { ApplicationFailure, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import { alertKey, alertWorkload, describeTarget } from '../../src/domain/alert';
import { AlertMembers } from '../../src/domain/alert-members';
import { EMPTY_MEMORY, validateMemory } from '../../src/domain/target-memory';
import type { PodTarget } from '../../src/domain/remediation';
import {
  alertFiredSignal,
  alertResolvedSignal,
  cancelSignal,
  stateQuery,
  type RemediationState,
} from '../../src/contracts/alert-episode';
import {
  approveUpdate,
  DEFAULT_REMEDIATION_SETTINGS,
  rejectUpdate,
  type ApprovalInput,
  type RemediateAlertInput,
  type RemediationSettings,
} from '../../src/contracts/remediate-alert';
import { SEARCH_ATTRIBUTES, upsertTalonSearchAttributes } from '../../src/contracts/search-attributes';
import { failureMessage } from '../activity-failures';
import { rememberTried } from '../episode-memory';
import { checkApprover, openOperator } from '../operator';
import type { Episode, Reads } from './episode';
import {
  LOCAL_READS_PATCH,
  localMetrics,
  localPolicy,
  localTarget,
  metrics,
  policy,
  ROLLBACK_PATCH,
  target,
  TARGET_MEMORY_PATCH,
  talonMetrics,
  TYPE,
} from './proxies';

/** Checks the alert, picks the reads' shape, answers signals, updates and the query, tags the search attributes. */
export function openEpisode(input: RemediateAlertInput): Episode {
  const { alert } = input;
  const settings: RemediationSettings = { ...DEFAULT_REMEDIATION_SETTINGS, ...input.settings };
  const targetName = describeTarget(alert.target);
  if (alert.target.kind !== 'pod') {
    throw ApplicationFailure.nonRetryable(
      `remediateAlert handles pod alerts; ${targetName} is a node`,
      'InvalidRequest',
    );
  }
  const pod: PodTarget = {
    namespace: alert.target.namespace,
    pod: alert.target.pod,
    ...(alert.target.container ? { container: alert.target.container } : {}),
  };
  // Histories recorded before the patch replay with ordinary activities; new runs take the in-task path.
  const readsInTask = patched(LOCAL_READS_PATCH);
  const remembering = patched(TARGET_MEMORY_PATCH);
  const undoing = patched(ROLLBACK_PATCH) && settings.rollback.enabled;
  const carried = input.carried?.memory;
  if (remembering) {
    try {
      validateMemory(settings.memory);
    } catch (err) {
      throw ApplicationFailure.nonRetryable(failureMessage(err), 'InvalidRequest');
    }
  }
  const reads: Reads = readsInTask
    ? { target: localTarget, metrics: localMetrics, policy: localPolicy }
    : { target, metrics, policy };
  const episode: Episode = {
    alert,
    members: new AlertMembers(alert),
    current: alert,
    pod,
    targetName,
    workload: alertWorkload(alert) ?? pod.pod,
    settings,
    reads,
    step: 'starting',
    notifications: 0,
    attempts: [],
    tried: new Set<string>(),
    ...(remembering ? { memory: carried ?? { ...EMPTY_MEMORY, episodes: 1 } } : {}),
    number: carried?.episodes ?? 1,
    undoing,
    ...(input.carried ? { outcome: input.carried.lastResult.outcome, endedAt: Date.now() } : {}),
  };
  if (input.carried) episode.step = 'watching';
  rememberTried(episode);
  const operator = openOperator({ kind: 'Pod', namespace: pod.namespace, name: pod.pod });
  if (operator) Object.assign(episode, { operator });

  talonMetrics.workflowStarted(TYPE);
  setHandler(alertFiredSignal, (fired) => {
    episode.notifications += 1;
    // signal-with-start delivers the first notification; every later one is a repeat Talon absorbed.
    if (episode.notifications > 1) talonMetrics.alertDeduplicated(TYPE);
    episode.members.fired(fired);
  });
  setHandler(alertResolvedSignal, (resolved) => {
    episode.members.resolved(resolved);
  });
  setHandler(cancelSignal, (request) => {
    episode.cancelled = request;
  });
  const answer =
    (approved: boolean) =>
    (request: ApprovalInput): { accepted: boolean; message: string } => {
      episode.approval = {
        approved,
        by: request.by,
        ...(request.identity ? { identity: request.identity } : {}),
        ...(request.comment ? { comment: request.comment } : {}),
      };
      return {
        accepted: true,
        message: `${approved ? 'approved' : 'rejected'} ${episode.awaitingApprovalFor ?? ''} by ${request.by}`.trim(),
      };
    };
  const approvalValidator = (request: ApprovalInput): void => {
    if (!request.by || request.by.length > 200) throw new Error('approval needs who ("by"), at most 200 characters');
    if (episode.awaitingApprovalFor === undefined) throw new Error('nothing is waiting for approval');
    checkApprover(episode.operator, request.identity ?? request.by);
  };
  setHandler(approveUpdate, answer(true), { validator: approvalValidator });
  setHandler(rejectUpdate, answer(false), { validator: approvalValidator });
  setHandler(stateQuery, (): RemediationState => ({
    workflowId: workflowInfo().workflowId,
    alert,
    step: episode.step,
    firing: episode.members.firing,
    notifications: episode.notifications,
    pods: episode.members.pods(),
    attempts: [...episode.attempts],
    ...(episode.outcome ? { outcome: episode.outcome } : {}),
    ...(episode.lastVerification ? { lastVerification: episode.lastVerification } : {}),
    ...(episode.targetSnapshot ? { targetSnapshot: episode.targetSnapshot } : {}),
    ...(episode.awaitingApprovalFor ? { awaitingApprovalFor: episode.awaitingApprovalFor } : {}),
    ...(episode.memory ? { episode: episode.number, memory: [...episode.memory.entries] } : {}),
    ...(episode.watchingUntil ? { watchingUntil: new Date(episode.watchingUntil).toISOString() } : {}),
    ...(episode.operator?.policy
      ? {
          operator: {
            policyVersion: episode.operator.policy.version,
            autonomy: episode.operator.policy.settings.autonomy,
            matched: [...episode.operator.policy.matched],
            ...(episode.operator.brake ? { brake: episode.operator.brake } : {}),
          },
        }
      : {}),
  }));

  upsertTalonSearchAttributes(
    { key: SEARCH_ATTRIBUTES.TalonAlertName, value: alertKey(alert.alertName) },
    { key: SEARCH_ATTRIBUTES.TalonTarget, value: targetName },
    { key: SEARCH_ATTRIBUTES.TalonNamespace, value: pod.namespace },
    { key: SEARCH_ATTRIBUTES.TalonKind, value: 'pod' },
  );
  return episode;
}
