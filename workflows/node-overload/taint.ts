/**
 * apply and undo: the NoSchedule taint that keeps evicted work off the node, and its removal, which runs exactly
 * once (the caller puts it in a non-cancellable scope).
 */
import { note, type operatorLimits } from '../operator';
import { kube } from './proxies';
import { operation, type NodeRun } from './run';

/** The operator policy's limits that go with every write (operatorLimits). */
export type Limits = ReturnType<typeof operatorLimits>;

export async function taint(run: NodeRun, limits: Limits): Promise<void> {
  const { node, settings } = run;
  run.step = 'apply';
  const taint = await kube.taintNode.executeWithOptions(
    { startToCloseTimeout: '1m', summary: `taint ${node} NoSchedule (talon.io/overloaded)` },
    [{ node, operationId: operation(run, 'taint'), dryRun: settings.dryRun, ...limits }],
  );
  await note(run.operator, {
    attempt: 1,
    policy: 'node_overload',
    decision: 'applied',
    why: taint.summary,
    reason: 'TalonApplied',
  });
  run.attempts.push({
    attempt: 1,
    policy: 'node_overload',
    magnitude: 1,
    summary: taint.summary,
    applied: taint.applied || taint.alreadyApplied,
  });
}

export async function untaint(run: NodeRun, limits: Limits): Promise<void> {
  const { node, settings } = run;
  run.step = 'verify';
  const untaint = await kube.untaintNode.executeWithOptions({ startToCloseTimeout: '1m', summary: `untaint ${node}` }, [
    { node, operationId: operation(run, 'untaint'), dryRun: settings.dryRun, ...limits },
  ]);
  await note(run.operator, {
    attempt: 1,
    policy: 'node_overload',
    decision: 'applied',
    why: untaint.summary,
    reason: 'TalonApplied',
  });
  run.attempts.push({
    attempt: 1,
    policy: 'node_overload',
    magnitude: 1,
    summary: untaint.summary,
    applied: untaint.applied || untaint.alreadyApplied,
  });
}
