/** Opening a run: checks the alert, answers the signals, the approval updates and the `state` query. */
import { patched, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  alertFiredSignal,
  alertResolvedSignal,
  cancelSignal,
  stateQuery,
  type RemediationState,
} from '../../src/contracts/alert-episode';
import { DEFAULT_NODE_OVERLOAD_SETTINGS, type NodeOverloadInput } from '../../src/contracts/node-overload';
import { approveUpdate, rejectUpdate, type ApprovalInput } from '../../src/contracts/remediate-alert';
import { checkApprover, openOperator } from '../operator';
import { NODE_VERIFY_PATCH, talonMetrics, TYPE } from './proxies';
import type { NodeRun } from './run';

export function openRun(input: NodeOverloadInput): NodeRun {
  const { alert } = input;
  const settings = { ...DEFAULT_NODE_OVERLOAD_SETTINGS, ...input.settings };
  if (alert.target.kind !== 'node') throw new Error('nodeOverload handles node alerts');
  const node = alert.target.node;
  const verifying = patched(NODE_VERIFY_PATCH);
  const info = workflowInfo();
  const op = openOperator({ kind: 'Node', name: node });
  const run: NodeRun = {
    alert,
    settings,
    node,
    verifying,
    info,
    step: 'starting',
    firing: alert.status === 'firing',
    notifications: 0,
    cancelled: false,
    attempts: [],
    ...(op ? { operator: op } : {}),
  };

  talonMetrics.workflowStarted(TYPE);
  setHandler(alertFiredSignal, () => {
    run.notifications += 1;
    if (run.notifications > 1) talonMetrics.alertDeduplicated(TYPE);
    run.firing = true;
  });
  setHandler(alertResolvedSignal, () => {
    run.firing = false;
  });
  setHandler(cancelSignal, () => {
    run.cancelled = true;
  });
  // Approvals (autonomy approve, or node_overload in requireApproval): only registered under the operator policy.
  if (op) {
    const answer =
      (approved: boolean) =>
      (request: ApprovalInput): { accepted: boolean; message: string } => {
        const approval = {
          approved,
          by: request.by,
          ...(request.identity ? { identity: request.identity } : {}),
          ...(request.comment ? { comment: request.comment } : {}),
        };
        run.approval = approval;
        return {
          accepted: true,
          message: `${approved ? 'approved' : 'rejected'} ${run.awaitingApproval ?? ''} by ${approval.by}`,
        };
      };
    const validator = (request: ApprovalInput): void => {
      if (!request.by || request.by.length > 200) throw new Error('approval needs who ("by"), at most 200 characters');
      if (run.awaitingApproval === undefined) throw new Error('nothing is waiting for approval');
      checkApprover(op, request.identity ?? request.by);
    };
    setHandler(approveUpdate, answer(true), { validator });
    setHandler(rejectUpdate, answer(false), { validator });
  }
  setHandler(stateQuery, (): RemediationState => ({
    workflowId: info.workflowId,
    alert,
    step: run.step,
    firing: run.firing,
    notifications: run.notifications,
    attempts: [...run.attempts],
    ...(run.outcome ? { outcome: run.outcome } : {}),
    ...(run.awaitingApproval ? { awaitingApprovalFor: run.awaitingApproval } : {}),
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
  return run;
}
