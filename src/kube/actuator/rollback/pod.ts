/**
 * Resource scaling of a standalone pod or a Job undone: the pod resized back in place where the cluster can,
 * recreated with the old values otherwise; a Job recreated (its template is immutable). A retry after the delete
 * of a recreate finishes it from the checkpoint.
 */
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { containerMatches } from '../../../domain/resource-plan';
import { PatchStrategy, patchAs } from '../../client';
import { isNotFound, kubeCall } from '../../errors';
import { FIELD_MANAGER } from '../../types';
import {
  containersOf,
  jobManifestForRecreate,
  operationAnnotation,
  operationOf,
  podManifestForRecreate,
} from '../../workloads';
import { describeChanges, dryRunOf, type ActuatorCore } from '../operation';
import { recreate } from '../recreate';
import type { OperationContext } from '../requests';
import { applyTargets, canResizeInPlace, resourcesPatch } from '../resources';
import {
  finished,
  isOwnCheckpoint,
  judge,
  POLICY,
  previousFromChanges,
  refused,
  restoreChanges,
  result,
  type RollbackRequest,
  type RollbackResult,
} from './common';

/** A standalone pod: resized back in place where the cluster can, recreated with the old values otherwise. */
export async function restorePod(
  core: ActuatorCore,
  namespace: string,
  name: string,
  resource: string,
  req: RollbackRequest,
  ctx: OperationContext,
): Promise<RollbackResult> {
  const where = `Pod ${namespace}/${name}`;
  let pod: V1Pod;
  try {
    pod = await core.readPod(namespace, name);
  } catch (err) {
    // Gone because an earlier attempt of this rollback deleted it to recreate it: finish that.
    if (isNotFound(err) && isOwnCheckpoint(ctx.restored, ctx)) return finished(core, ctx.restored, req, ctx);
    throw err;
  }
  const prior = operationOf(pod.metadata);
  const containers = containersOf(pod.spec);
  const current = { kind: 'pod', namespace, pod: name, uid: pod.metadata?.uid ?? '' } as const;
  const verdict = judge(core, prior, req, ctx);
  if (typeof verdict === 'object') return refused(core, ctx, where, 'changed-since', verdict.refuse);
  const resumed = prior?.id === ctx.operationId && prior.targets !== undefined;
  if (verdict === 'already' && !resumed) {
    return result(core, ctx, {
      alreadyApplied: true,
      outcome: 'already-rolled-back',
      target: where,
      mechanism: 'none',
      summary: `${req.policy} (${req.undo}) on ${where} was rolled back before; another operation changed it since`,
      changes: [],
      expect: { kind: 'none', reason: 'a later operation has changed the pod since' },
    });
  }
  const previous = resumed ? prior.targets : (prior?.previous ?? previousFromChanges(req.changes, resource));
  if (previous.length === 0)
    return refused(core, ctx, where, 'not-undoable', `${req.undo} left no pre-change snapshot`);
  if (
    resumed &&
    previous.every((t) =>
      containerMatches(
        containers.find((c) => c.name === t.container),
        resource,
        t,
      ),
    )
  ) {
    return result(core, ctx, {
      alreadyApplied: true,
      outcome: 'already-rolled-back',
      target: where,
      mechanism: prior.mechanism ?? 'in-place-resize',
      summary: `${req.policy} (${req.undo}) on ${where} was rolled back by this operation before`,
      changes: [],
      expect: { ...current, resource, targets: previous, ...(prior.mechanism === 'recreate' ? {} : { resized: true }) },
    });
  }
  const changes = restoreChanges(resource, prior?.targets ?? [], previous);
  const record = core.record(ctx, POLICY, resumed ? undefined : prior, {
    resource,
    targets: previous,
    undoes: req.undo,
    mechanism: 'in-place-resize',
    ...(resumed && prior?.history ? { history: prior.history } : {}),
  });
  if (await canResizeInPlace(core, pod)) {
    if (!resumed) {
      // Intent first: a retry after a crash between the two writes resizes to the same values.
      await core.patchPod(
        namespace,
        name,
        { metadata: { resourceVersion: pod.metadata?.resourceVersion, annotations: operationAnnotation(record) } },
        PatchStrategy.MergePatch,
        ctx,
      );
    }
    await kubeCall(`resize Pod ${namespace}/${name}`, () =>
      core.clients.core.patchNamespacedPodResize(
        {
          name,
          namespace,
          body: { spec: { containers: resourcesPatch(resource, previous) } },
          fieldManager: FIELD_MANAGER,
          ...dryRunOf(core.dry(ctx)),
        },
        patchAs(PatchStrategy.StrategicMergePatch),
      ),
    );
    return result(core, ctx, {
      outcome: 'rolled-back',
      target: where,
      mechanism: 'in-place-resize',
      summary: `rolled back ${req.policy} on ${where}: ${describeChanges(changes)} (resized in place)`,
      changes,
      expect: { ...current, resource, targets: previous, resized: true },
    });
  }
  const manifest = podManifestForRecreate(pod);
  if (manifest.spec) applyTargets(manifest.spec, resource, previous);
  manifest.metadata = {
    ...manifest.metadata,
    annotations: { ...manifest.metadata?.annotations, ...operationAnnotation({ ...record, mechanism: 'recreate' }) },
  };
  const created = await recreate(core, 'Pod', pod, manifest, ctx);
  return result(core, ctx, {
    outcome: 'rolled-back',
    target: where,
    mechanism: 'recreate',
    summary: `rolled back ${req.policy} on ${where}: ${describeChanges(changes)} (pod recreated)`,
    changes,
    expect: { ...current, uid: created.metadata?.uid ?? '', resource, targets: previous },
  });
}

/** A Job is recreated with the old values, as its change was (its template is immutable). */
export async function restoreJob(
  core: ActuatorCore,
  namespace: string,
  name: string,
  resource: string,
  req: RollbackRequest,
  ctx: OperationContext,
): Promise<RollbackResult> {
  const where = `Job ${namespace}/${name}`;
  let job: V1Job;
  try {
    job = await core.readJob(namespace, name);
  } catch (err) {
    if (isNotFound(err) && isOwnCheckpoint(ctx.restored, ctx)) return finished(core, ctx.restored, req, ctx);
    throw err;
  }
  const prior = operationOf(job.metadata);
  const current = { kind: 'job', namespace, job: name, uid: job.metadata?.uid ?? '' } as const;
  const verdict = judge(core, prior, req, ctx);
  if (typeof verdict === 'object') return refused(core, ctx, where, 'changed-since', verdict.refuse);
  if (verdict === 'already') {
    const restored = prior?.id === ctx.operationId ? prior.targets : undefined;
    return result(core, ctx, {
      alreadyApplied: true,
      outcome: 'already-rolled-back',
      target: where,
      mechanism: 'recreate',
      summary: `${req.policy} (${req.undo}) on ${where} was rolled back by this operation before`,
      changes: [],
      expect: restored ? { ...current, resource, targets: restored } : { kind: 'none', reason: 'changed since' },
    });
  }
  const previous = prior?.previous ?? previousFromChanges(req.changes, resource);
  if (previous.length === 0)
    return refused(core, ctx, where, 'not-undoable', `${req.undo} left no pre-change snapshot`);
  const manifest = jobManifestForRecreate(job);
  if (manifest.spec) applyTargets(manifest.spec.template.spec ?? { containers: [] }, resource, previous);
  manifest.metadata = {
    ...manifest.metadata,
    annotations: {
      ...manifest.metadata?.annotations,
      ...operationAnnotation(core.record(ctx, POLICY, prior, { resource, targets: previous, undoes: req.undo })),
    },
  };
  const created = await recreate(core, 'Job', job, manifest, ctx);
  const changes = restoreChanges(resource, prior?.targets ?? [], previous);
  return result(core, ctx, {
    outcome: 'rolled-back',
    target: where,
    mechanism: 'recreate',
    summary: `rolled back ${req.policy} on ${where}: ${describeChanges(changes)} (Job recreated)`,
    changes,
    expect: { ...current, uid: created.metadata?.uid ?? '', resource, targets: previous },
  });
}
