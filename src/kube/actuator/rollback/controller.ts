/** Resource scaling of a Deployment, StatefulSet or DaemonSet undone: its pod template back to the snapshot. */
import { PatchStrategy } from '../../client';
import { describeWorkload } from '../../types';
import { operationAnnotation, operationOf, readController } from '../../workloads';
import { describeChanges, type ActuatorCore, type ControllerRef } from '../operation';
import type { OperationContext } from '../requests';
import { resourcesPatch } from '../resources';
import {
  judge,
  POLICY,
  previousFromChanges,
  refused,
  restoreChanges,
  result,
  type RollbackRequest,
  type RollbackResult,
} from './common';

/** A controller's pod template back to the snapshot: one strategic-merge patch, rolled out by the controller. */
export async function restoreController(
  core: ActuatorCore,
  ref: ControllerRef,
  resource: string,
  req: RollbackRequest,
  ctx: OperationContext,
): Promise<RollbackResult> {
  const object = await readController(core.clients, ref.kind, ref.namespace, ref.name);
  const where = describeWorkload(ref);
  const prior = operationOf(object.metadata);
  const generation = object.metadata?.generation ?? 0;
  const verdict = judge(core, prior, req, ctx);
  if (typeof verdict === 'object') return refused(core, ctx, where, 'changed-since', verdict.refuse);
  if (verdict === 'already') {
    const restored = prior?.id === ctx.operationId ? prior.targets : undefined;
    return result(core, ctx, {
      alreadyApplied: true,
      outcome: 'already-rolled-back',
      target: where,
      mechanism: 'rolling-update',
      summary: `${req.policy} (${req.undo}) on ${where} was rolled back by this operation before`,
      changes: [],
      expect: { kind: 'rollout', workload: ref, generation, ...(restored ? { resource, targets: restored } : {}) },
    });
  }
  const previous = prior?.previous ?? previousFromChanges(req.changes, resource);
  if (previous.length === 0)
    return refused(core, ctx, where, 'not-undoable', `${req.undo} left no pre-change snapshot`);
  await core.rememberWorkload(ref, ctx);
  const body = {
    metadata: {
      resourceVersion: object.metadata?.resourceVersion,
      annotations: operationAnnotation(
        core.record(ctx, POLICY, prior, { resource, targets: previous, undoes: req.undo }),
      ),
    },
    spec: { template: { spec: { containers: resourcesPatch(resource, previous) } } },
  };
  const patched = await core.patchController(ref, body, PatchStrategy.StrategicMergePatch, ctx);
  const changes = restoreChanges(resource, prior?.targets ?? [], previous);
  return result(core, ctx, {
    outcome: 'rolled-back',
    target: where,
    mechanism: 'rolling-update',
    summary: `rolled back ${req.policy} on ${where}: ${describeChanges(changes)} (rolling update)`,
    changes,
    expect: {
      kind: 'rollout',
      workload: ref,
      generation: patched.metadata?.generation ?? 0,
      resource,
      targets: previous,
    },
  });
}
