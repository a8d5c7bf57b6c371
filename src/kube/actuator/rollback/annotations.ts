/**
 * data_offloading and network_qos undone: the pod's annotations back to the values its change recorded before it
 * (`previousAnnotations`), the ones that were absent removed — the data-offload request withdrawn (the application
 * may take its data back), Kube-OVN's ingress/egress rates as they were. One merge patch carries the restore and
 * the rollback's record, so a retry finds the record and writes nothing. Refused when someone changed those
 * annotations after Talon (their values are not what the change set) or the pod is another instance now.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { PatchStrategy } from '../../client';
import { isNotFound } from '../../errors';
import type { Change, OperationRecord } from '../../types';
import { operationAnnotation, operationOf } from '../../workloads';
import { describeChanges, type ActuatorCore } from '../operation';
import type { OperationContext } from '../requests';
import { judge, POLICY, refused, result, type RollbackRequest, type RollbackResult } from './common';

export interface AnnotatedPod {
  readonly namespace: string;
  readonly pod: string;
  /** The instance the change was written to, when the apply knew it. */
  readonly uid?: string;
}

/** The annotations a change set that hold something else now ("" when none): someone changed them since. */
export function changedAnnotations(
  current: Readonly<Record<string, string>>,
  written: Readonly<Record<string, string | null>>,
): string {
  return Object.entries(written)
    .filter(([k, v]) => (current[k] ?? null) !== v)
    .map(([k, v]) => `${k} is ${current[k] ?? 'absent'}, not ${v ?? 'absent'}`)
    .join(', ');
}

/** The changes restoring `previous` over `current` (only the keys that differ). */
export function annotationChanges(
  current: Readonly<Record<string, string>>,
  previous: Readonly<Record<string, string | null>>,
): Change[] {
  return Object.entries(previous)
    .filter(([k, v]) => (current[k] ?? null) !== v)
    .map(([k, v]) => ({
      path: `annotation ${k}`,
      ...(current[k] === undefined ? {} : { from: current[k] }),
      ...(v === null ? {} : { to: v }),
    }));
}

/** The restored values an earlier attempt of this rollback wrote (its own record), for the "already" answer. */
function restoredBy(record: OperationRecord | undefined, ctx: OperationContext) {
  return record?.id === ctx.operationId ? record.annotations : undefined;
}

export async function restoreAnnotations(
  core: ActuatorCore,
  target: AnnotatedPod,
  req: RollbackRequest,
  ctx: OperationContext,
): Promise<RollbackResult> {
  const { namespace, pod: name } = target;
  const where = `Pod ${namespace}/${name}`;
  let pod: V1Pod;
  try {
    pod = await core.readPod(namespace, name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    return refused(core, ctx, where, 'changed-since', `${where} is gone, and what ${req.policy} set went with it`);
  }
  const current = pod.metadata?.annotations ?? {};
  const prior = operationOf(pod.metadata);
  const verdict = judge(core, prior, req, ctx);
  if (verdict === 'already') {
    const restored = restoredBy(prior, ctx);
    return result(core, ctx, {
      alreadyApplied: true,
      outcome: 'already-rolled-back',
      target: where,
      mechanism: 'annotate',
      summary: `${req.policy} (${req.undo}) on ${where} was rolled back by this operation before`,
      changes: [],
      expect: restored
        ? { kind: 'annotations', namespace, pod: name, annotations: restored }
        : { kind: 'none', reason: 'a later operation has changed the pod since' },
    });
  }
  if (target.uid && pod.metadata?.uid !== target.uid) {
    return refused(
      core,
      ctx,
      where,
      'changed-since',
      `${where} is another instance now; ${req.policy} set nothing on it`,
    );
  }
  if (typeof verdict === 'object') return refused(core, ctx, where, 'changed-since', verdict.refuse);
  const previous = prior?.previousAnnotations;
  if (!previous || !prior?.annotations) {
    return refused(
      core,
      ctx,
      where,
      'not-undoable',
      `${req.undo} was applied before Talon recorded the annotations it replaced, so there is nothing to restore from`,
    );
  }
  const changedSince = changedAnnotations(current, prior.annotations);
  if (changedSince) {
    return refused(core, ctx, where, 'changed-since', `changed since by someone else: ${changedSince}`);
  }
  const changes = annotationChanges(current, previous);
  const record = core.record(ctx, POLICY, prior, {
    undoes: req.undo,
    annotations: previous,
    previousAnnotations: Object.fromEntries(Object.keys(previous).map((k) => [k, current[k] ?? null])),
  });
  await core.patchPod(
    namespace,
    name,
    {
      metadata: {
        resourceVersion: pod.metadata?.resourceVersion,
        annotations: { ...previous, ...operationAnnotation(record) },
      },
    },
    PatchStrategy.MergePatch,
    ctx,
  );
  return result(core, ctx, {
    outcome: 'rolled-back',
    target: where,
    mechanism: 'annotate',
    summary: `rolled back ${req.policy} on ${where}: ${describeChanges(changes) || 'the annotations were as before'}`,
    changes,
    expect: { kind: 'annotations', namespace, pod: name, annotations: previous },
  });
}
