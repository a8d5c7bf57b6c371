/**
 * guard: under the operator policy, the policy file decides whether node_overload may run at all, the storm brake
 * may hold it, and an approval may be needed. Undefined lets the run go on; a result means it finished here.
 */
import type { NodeOverloadResult } from '../../src/contracts/node-overload';
import { gate, note, resolveOperator } from '../operator';
import { awaitApproval } from './approval';
import { finish } from './finish';
import type { NodeRun } from './run';

export async function guard(run: NodeRun): Promise<NodeOverloadResult | undefined> {
  const op = run.operator;
  run.step = 'guard';
  const policy = await resolveOperator(op, run.alert, 1);
  if (!policy) return undefined;
  run.settings = { ...run.settings, untaintAfterSeconds: policy.settings.untaintAfterSeconds };
  const label = `node_overload on ${run.node}`;
  const record = (detail: string): void => {
    run.attempts.push({
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
    return finish(run, 'no_action', why);
  }
  const gated = await gate(op, {
    attempt: 1,
    policy: 'node_overload',
    label,
    kind: 'node',
    done: () => run.cancelled || !run.firing,
  });
  if (gated.kind === 'skip')
    return finish(
      run,
      run.cancelled ? 'cancelled' : 'resolved',
      `${run.cancelled ? 'cancelled' : 'resolved'} while held by the storm brake`,
    );
  if (gated.kind === 'verdict') {
    record(gated.reason);
    return finish(run, gated.outcome, gated.reason);
  }
  if (gated.action === 'approve') return awaitApproval(run, policy.settings.approvalTimeoutSeconds, label, record);
  return undefined;
}
