/**
 * An approval of node_overload (autonomy approve, or node_overload in requireApproval): waits for an
 * approve/reject update, then checks the storm brake again. Undefined lets the run go on.
 */
import { condition } from '@temporalio/workflow';
import type { NodeOverloadResult } from '../../src/contracts/node-overload';
import { note, recheckBrake } from '../operator';
import { finish } from './finish';
import type { NodeRun } from './run';

export async function awaitApproval(
  run: NodeRun,
  timeout: number,
  label: string,
  record: (detail: string) => void,
): Promise<NodeOverloadResult | undefined> {
  const op = run.operator;
  run.awaitingApproval = label;
  run.step = 'awaiting_approval';
  await note(op, {
    attempt: 1,
    policy: 'node_overload',
    decision: 'approval_requested',
    why: `${label} waits up to ${timeout}s for an approval (talon approve ${run.info.workflowId})`,
    reason: 'TalonApprovalRequested',
  });
  await condition(() => run.approval !== undefined || run.cancelled || !run.firing, timeout * 1000, {
    summary: `wait up to ${timeout}s for approval of ${label}`,
  });
  run.awaitingApproval = undefined;
  const answered = run.approval;
  if (run.cancelled || !run.firing)
    return finish(
      run,
      run.cancelled ? 'cancelled' : 'resolved',
      `${run.cancelled ? 'cancelled' : 'resolved'} while awaiting approval`,
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
    return finish(run, answered ? 'rejected' : 'needs_human', why);
  }
  const held = await recheckBrake(op, {
    attempt: 1,
    policy: 'node_overload',
    label,
    kind: 'node',
    done: () => run.cancelled || !run.firing,
  });
  if (held?.kind === 'skip')
    return finish(
      run,
      run.cancelled ? 'cancelled' : 'resolved',
      `${run.cancelled ? 'cancelled' : 'resolved'} while held by the storm brake`,
    );
  if (held?.kind === 'verdict') {
    record(held.reason);
    return finish(run, held.outcome, held.reason);
  }
  return undefined;
}
