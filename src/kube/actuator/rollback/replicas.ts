/** Replica scaling undone: spec.replicas back to the count recorded before the change. */
import { PatchStrategy } from '../../client';
import { describeWorkload, type WorkloadRef } from '../../types';
import { operationAnnotation, operationOf, readController } from '../../workloads';
import type { ActuatorCore, ControllerRef } from '../operation';
import type { OperationContext } from '../requests';
import { judge, POLICY, refused, result, type RollbackRequest, type RollbackResult } from './common';

/** spec.replicas back to the count before the change. */
export async function restoreReplicas(
  core: ActuatorCore,
  ref: WorkloadRef,
  req: RollbackRequest,
  ctx: OperationContext,
): Promise<RollbackResult> {
  const where = describeWorkload(ref);
  if (ref.kind !== 'Deployment' && ref.kind !== 'StatefulSet') {
    return refused(core, ctx, where, 'not-undoable', `${ref.kind} has no replicas`);
  }
  const controller = { ...ref, kind: ref.kind } as ControllerRef;
  const object = await readController(core.clients, ref.kind, ref.namespace, ref.name);
  const prior = operationOf(object.metadata);
  const verdict = judge(core, prior, req, ctx);
  if (typeof verdict === 'object') return refused(core, ctx, where, 'changed-since', verdict.refuse);
  const generation = object.metadata?.generation ?? 0;
  if (verdict === 'already') {
    const restored = prior?.id === ctx.operationId ? prior.replicas : undefined;
    return result(core, ctx, {
      alreadyApplied: true,
      outcome: 'already-rolled-back',
      target: where,
      mechanism: 'scale',
      summary: `${req.policy} (${req.undo}) on ${where} was rolled back by this operation before`,
      changes: [],
      expect:
        restored === undefined
          ? { kind: 'none', reason: 'a later operation has changed the workload since' }
          : { kind: 'replicas', workload: ref, replicas: restored, generation },
    });
  }
  const fromChange = req.changes.find((c) => c.path === 'spec.replicas')?.from;
  const previous = prior?.previousReplicas ?? (fromChange === undefined ? undefined : Number(fromChange));
  if (previous === undefined || !Number.isInteger(previous) || previous < 0) {
    return refused(core, ctx, where, 'not-undoable', `${req.undo} left no replica count to restore`);
  }
  const current = (object.spec as { replicas?: number } | undefined)?.replicas ?? 1;
  await core.rememberWorkload(ref, ctx);
  const patched = await core.patchController(
    controller,
    {
      metadata: {
        resourceVersion: object.metadata?.resourceVersion,
        annotations: operationAnnotation(core.record(ctx, POLICY, prior, { replicas: previous, undoes: req.undo })),
      },
      spec: { replicas: previous },
    },
    PatchStrategy.MergePatch,
    ctx,
  );
  return result(core, ctx, {
    outcome: 'rolled-back',
    target: where,
    mechanism: 'scale',
    summary: `rolled back ${req.policy} on ${where}: replicas ${current}→${previous}`,
    changes: [{ path: 'spec.replicas', from: String(current), to: String(previous) }],
    expect: { kind: 'replicas', workload: ref, replicas: previous, generation: patched.metadata?.generation ?? 0 },
  });
}
