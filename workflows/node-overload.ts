/**
 * The TALON documents' Rule 2 for an overloaded node: taint it NoSchedule, evict its heaviest pod, wait,
 * untaint. The untaint runs exactly once even if a worker dies during the wait or the workflow is
 * cancelled: the wait is a durable timer and the untaint sits in a non-cancellable scope.
 */
import {
  CancellationScope,
  condition,
  proxyActivities,
  setHandler,
  workflowInfo,
  proxySinks,
} from '@temporalio/workflow';
import { approveUpdate, rejectUpdate, type ApprovalInput } from '../src/contracts/remediate-alert';
import { checkApprover, gate, note, openOperator, operatorLimits, recheckBrake, resolveOperator } from './operator';
import type { RemediationActivities } from '../activities/remediation';
import { NON_RETRYABLE_FAILURE_TYPES } from '../src/contracts/failures';
import {
  alertFiredSignal,
  alertResolvedSignal,
  cancelSignal,
  stateQuery,
  type AttemptRecord,
  type RemediationOutcome,
  type RemediationState,
  type RemediationStep,
} from '../src/contracts/alert-episode';
import { WORKFLOW_TYPES, type TalonMetricsSink } from '../src/contracts/common';
import {
  DEFAULT_NODE_OVERLOAD_SETTINGS,
  type NodeOverloadInput,
  type NodeOverloadResult,
  type NodeOverloadSettings,
} from '../src/contracts/node-overload';
import { alertKey } from '../src/domain/alert';
import { SEARCH_ATTRIBUTES, upsertTalonSearchAttributes } from '../src/contracts/search-attributes';

const { talonMetrics } = proxySinks<TalonMetricsSink>();
const TYPE = WORKFLOW_TYPES.nodeOverload;

const kube = proxyActivities<RemediationActivities>({
  startToCloseTimeout: '1m',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 10,
    nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES],
  },
});

export async function nodeOverload(input: NodeOverloadInput): Promise<NodeOverloadResult> {
  const { alert } = input;
  let settings: NodeOverloadSettings = { ...DEFAULT_NODE_OVERLOAD_SETTINGS, ...input.settings };
  if (alert.target.kind !== 'node') throw new Error('nodeOverload handles node alerts');
  const node = alert.target.node;
  const info = workflowInfo();
  const operation = (what: string): string => `${info.workflowId}/${info.runId}/${what}`;
  let step: RemediationStep = 'starting';
  let firing = alert.status === 'firing';
  let notifications = 0;
  let cancelled = false;
  let outcome: RemediationOutcome | undefined = undefined;
  const attempts: AttemptRecord[] = [];
  const op = openOperator({ kind: 'Node', name: node });
  let awaitingApproval: string | undefined;
  let approval: { approved: boolean; by: string; identity?: string; comment?: string } | undefined;

  talonMetrics.workflowStarted(TYPE);
  setHandler(alertFiredSignal, () => {
    notifications += 1;
    if (notifications > 1) talonMetrics.alertDeduplicated(TYPE);
    firing = true;
  });
  setHandler(alertResolvedSignal, () => {
    firing = false;
  });
  setHandler(cancelSignal, () => {
    cancelled = true;
  });
  // Approvals (autonomy approve, or node_overload in requireApproval): only registered under the operator policy.
  if (op) {
    const answer =
      (approved: boolean) =>
      (request: ApprovalInput): { accepted: boolean; message: string } => {
        approval = {
          approved,
          by: request.by,
          ...(request.identity ? { identity: request.identity } : {}),
          ...(request.comment ? { comment: request.comment } : {}),
        };
        return {
          accepted: true,
          message: `${approved ? 'approved' : 'rejected'} ${awaitingApproval ?? ''} by ${approval.by}`,
        };
      };
    const validator = (request: ApprovalInput): void => {
      if (!request.by || request.by.length > 200) throw new Error('approval needs who ("by"), at most 200 characters');
      if (awaitingApproval === undefined) throw new Error('nothing is waiting for approval');
      checkApprover(op, request.identity ?? request.by);
    };
    setHandler(approveUpdate, answer(true), { validator });
    setHandler(rejectUpdate, answer(false), { validator });
  }
  setHandler(stateQuery, (): RemediationState => ({
    workflowId: info.workflowId,
    alert,
    step,
    firing,
    notifications,
    attempts: [...attempts],
    ...(outcome ? { outcome } : {}),
    ...(awaitingApproval ? { awaitingApprovalFor: awaitingApproval } : {}),
    ...(op?.policy
      ? {
          operator: {
            policyVersion: op.policy.version,
            autonomy: op.policy.settings.autonomy,
            matched: [...op.policy.matched],
            ...(op.brake ? { brake: op.brake } : {}),
          },
        }
      : {}),
  }));
  upsertTalonSearchAttributes(
    { key: SEARCH_ATTRIBUTES.TalonAlertName, value: alertKey(alert.alertName) },
    { key: SEARCH_ATTRIBUTES.TalonTarget, value: `node/${node}` },
    { key: SEARCH_ATTRIBUTES.TalonKind, value: 'node' },
    { key: SEARCH_ATTRIBUTES.TalonPolicy, value: ['node_overload'] },
  );

  const finish = async (result: RemediationOutcome, why: string): Promise<NodeOverloadResult> => {
    outcome = result;
    step = 'done';
    upsertTalonSearchAttributes({ key: SEARCH_ATTRIBUTES.TalonOutcome, value: outcome });
    talonMetrics.workflowFinished(TYPE, outcome);
    await note(op, {
      decision: `outcome_${outcome}`,
      why,
      reason: outcome === 'needs_human' ? 'TalonNeedsHuman' : 'TalonFinished',
      warning: outcome === 'needs_human',
    });
    return { outcome, node, reason: why };
  };
  step = 'guard';
  const policy = await resolveOperator(op, alert, 1);
  if (policy) {
    settings = { ...settings, untaintAfterSeconds: policy.settings.untaintAfterSeconds };
    const label = `node_overload on ${node}`;
    const record = (detail: string): void => {
      attempts.push({
        attempt: 1,
        policy: 'node_overload',
        magnitude: 1,
        summary: label,
        applied: false,
        detail,
        policyVersion: policy.version,
      });
    };
    if (!policy.settings.allowedPolicies.includes('node_overload')) {
      const why = `node_overload is not among the allowed policies of policy ${policy.version}`;
      await note(op, { attempt: 1, policy: 'node_overload', decision: 'not_allowed', why, reason: 'TalonNotAllowed' });
      record(why);
      return finish('no_action', why);
    }
    const gated = await gate(op, {
      attempt: 1,
      policy: 'node_overload',
      label,
      kind: 'node',
      done: () => cancelled || !firing,
    });
    if (gated.kind === 'skip')
      return finish(
        cancelled ? 'cancelled' : 'resolved',
        `${cancelled ? 'cancelled' : 'resolved'} while held by the storm brake`,
      );
    if (gated.kind === 'verdict') {
      record(gated.reason);
      return finish(gated.outcome, gated.reason);
    }
    if (gated.action === 'approve') {
      const timeout = policy.settings.approvalTimeoutSeconds;
      awaitingApproval = label;
      step = 'awaiting_approval';
      await note(op, {
        attempt: 1,
        policy: 'node_overload',
        decision: 'approval_requested',
        why: `${label} waits up to ${timeout}s for an approval (talon approve ${info.workflowId})`,
        reason: 'TalonApprovalRequested',
      });
      await condition(() => approval !== undefined || cancelled || !firing, timeout * 1000, {
        summary: `wait up to ${timeout}s for approval of ${label}`,
      });
      awaitingApproval = undefined;
      const answered = approval;
      if (cancelled || !firing)
        return finish(
          cancelled ? 'cancelled' : 'resolved',
          `${cancelled ? 'cancelled' : 'resolved'} while awaiting approval`,
        );
      const why = !answered
        ? `approval of ${label} timed out after ${timeout}s`
        : answered.approved
          ? `${label} approved by ${answered.by}${answered.comment ? `: ${answered.comment}` : ''}`
          : `${label} rejected by ${answered.by}`;
      await note(op, {
        attempt: 1,
        policy: 'node_overload',
        decision: !answered ? 'approval_timed_out' : answered.approved ? 'approved' : 'rejected',
        why,
        ...(answered ? { who: answered.identity ?? answered.by } : {}),
        reason: !answered ? 'TalonApprovalTimedOut' : answered.approved ? 'TalonApproved' : 'TalonRejected',
        warning: !answered?.approved,
      });
      if (!answered?.approved) {
        record(why);
        return finish(answered ? 'rejected' : 'needs_human', why);
      }
      const held = await recheckBrake(op, {
        attempt: 1,
        policy: 'node_overload',
        label,
        kind: 'node',
        done: () => cancelled || !firing,
      });
      if (held?.kind === 'skip')
        return finish(
          cancelled ? 'cancelled' : 'resolved',
          `${cancelled ? 'cancelled' : 'resolved'} while held by the storm brake`,
        );
      if (held?.kind === 'verdict') {
        record(held.reason);
        return finish(held.outcome, held.reason);
      }
    }
  }
  const limits = operatorLimits(op);

  let evicted: string | undefined;
  let reason: string;
  step = 'apply';
  const taint = await kube.taintNode.executeWithOptions(
    { startToCloseTimeout: '1m', summary: `taint ${node} NoSchedule (talon.io/overloaded)` },
    [{ node, operationId: operation('taint'), dryRun: settings.dryRun, ...limits }],
  );
  await note(op, {
    attempt: 1,
    policy: 'node_overload',
    decision: 'applied',
    why: taint.summary,
    reason: 'TalonApplied',
  });
  attempts.push({
    attempt: 1,
    policy: 'node_overload',
    magnitude: 1,
    summary: taint.summary,
    applied: taint.applied || taint.alreadyApplied,
  });
  try {
    const victim = await kube.heaviestPod.executeWithOptions(
      { startToCloseTimeout: '1m', summary: `find the heaviest pod on ${node}` },
      [{ node }],
    );
    if (!victim) {
      reason = `no evictable pod on ${node}`;
    } else {
      const name = `${victim.namespace}/${victim.pod}`;
      const eviction = await kube.evictPod.executeWithOptions(
        {
          startToCloseTimeout: '1m',
          summary: `evict ${name} (${victim.cpuCores.toFixed(2)} cores by ${victim.basis}) from ${node}`,
        },
        [
          {
            namespace: victim.namespace,
            pod: victim.pod,
            uid: victim.uid,
            operationId: operation('evict'),
            dryRun: settings.dryRun,
            ...limits,
          },
        ],
      );
      await note(op, {
        attempt: 1,
        policy: 'node_overload',
        decision: eviction.outcome === 'blocked' ? 'refused' : 'applied',
        why: eviction.summary,
        reason: eviction.outcome === 'blocked' ? 'TalonChangeRefused' : 'TalonApplied',
        warning: eviction.outcome === 'blocked',
      });
      attempts.push({
        attempt: 1,
        policy: 'node_overload',
        magnitude: 1,
        summary: eviction.summary,
        applied: eviction.outcome === 'evicted',
        detail: eviction.blockedBy ?? eviction.outcome,
      });
      if (eviction.outcome === 'blocked')
        reason = `eviction of ${name} blocked: ${eviction.blockedBy ?? 'PodDisruptionBudget'}`;
      else {
        evicted = name;
        reason = `${eviction.outcome === 'dry-run' ? 'would evict' : 'evicted'} ${name}`;
      }
    }
    step = 'cooldown';
    // A durable timer: a worker restart during the wait resumes it, it does not restart it.
    await condition(() => cancelled, settings.untaintAfterSeconds * 1000, {
      summary: `keep ${node} tainted ${settings.untaintAfterSeconds}s so the evicted work lands elsewhere`,
    });
  } finally {
    await CancellationScope.nonCancellable(async () => {
      step = 'verify';
      const untaint = await kube.untaintNode.executeWithOptions(
        { startToCloseTimeout: '1m', summary: `untaint ${node}` },
        [{ node, operationId: operation('untaint'), dryRun: settings.dryRun, ...limits }],
      );
      await note(op, {
        attempt: 1,
        policy: 'node_overload',
        decision: 'applied',
        why: untaint.summary,
        reason: 'TalonApplied',
      });
      attempts.push({
        attempt: 1,
        policy: 'node_overload',
        magnitude: 1,
        summary: untaint.summary,
        applied: untaint.applied || untaint.alreadyApplied,
      });
    });
  }
  const final: RemediationOutcome = cancelled ? 'cancelled' : evicted || !firing ? 'resolved' : 'needs_human';
  const result = await finish(final, reason);
  return { ...result, ...(evicted ? { evicted } : {}) };
}
