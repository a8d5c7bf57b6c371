/**
 * task_offloading undone, from the snapshot the offload recorded with its change:
 * - a Deployment's share offload: the Deployment back to the replica count before (not under an HPA, which kept
 *   it), the pinned offload ReplicaSet deleted — what its release does (offload-share.ts), once: the rollback's
 *   record names the ReplicaSet it gave back (`releases`), so a later release gives nothing back again, and an
 *   offload its release already ended counts as rolled back;
 * - a pin on a StatefulSet's template: its node affinity and node selector back to what they were (a JSON merge
 *   patch from what is there to the snapshot), rolled out by the controller;
 * - a pin on a recreated Job or standalone pod: recreated again with the node constraints before.
 * `talon.io/offloaded-to` goes back to its value before (removed when there was none). Refused when another
 * operation changed the object since, or someone changed the node constraints or the replica count the offload
 * left; an offload recorded before these snapshots existed is not undone (its release still ends a share).
 */
import type { V1Deployment, V1Job, V1Pod, V1PodSpec } from '@kubernetes/client-node';
import { PatchStrategy } from '../../client';
import { isNotFound } from '../../errors';
import { describeWorkload, type Change, type Expectation, type OperationRecord, type Placement } from '../../types';
import {
  jobManifestForRecreate,
  operationAnnotation,
  operationOf,
  placementOf,
  podManifestForRecreate,
  readController,
} from '../../workloads';
import { describeChanges, type ActuatorCore, type ControllerRef } from '../operation';
import { awaitReturned, deleteOffloadReplicaSet } from '../offload-share';
import { recreate } from '../recreate';
import type { OperationContext } from '../requests';
import { annotationChanges } from './annotations';
import {
  finished,
  isOwnCheckpoint,
  judge,
  POLICY,
  refused,
  result,
  type RollbackRequest,
  type RollbackResult,
} from './common';
import { mergePatchBetween, sameJson } from './json';

type ShareExpectation = Extract<Expectation, { kind: 'offload' }>;

const NO_SNAPSHOT = 'was applied before Talon recorded what an offload replaces, so there is nothing to restore from';

/** `spec` with its node constraints replaced by `placement` (absent ones removed). */
export function withPlacement(spec: V1PodSpec, placement: Placement): V1PodSpec {
  const { affinity: _a, nodeSelector: _n, ...rest } = spec;
  return {
    ...rest,
    ...(placement.affinity ? { affinity: placement.affinity } : {}),
    ...(placement.nodeSelector ? { nodeSelector: { ...placement.nodeSelector } } : {}),
  };
}

/** The annotations that restore `previousAnnotations` (null removes) and carry the rollback's record. */
function restoringAnnotations(prior: OperationRecord, record: OperationRecord): Record<string, string | null> {
  return { ...prior.previousAnnotations, ...operationAnnotation(record) };
}

/** The rollback's record: what it restored, and what it replaced. */
function undoRecord(
  core: ActuatorCore,
  ctx: OperationContext,
  prior: OperationRecord,
  req: RollbackRequest,
  current: Readonly<Record<string, string>>,
  extra: Partial<OperationRecord> = {},
): OperationRecord {
  const previous = prior.previousAnnotations ?? {};
  return core.record(ctx, POLICY, prior, {
    undoes: req.undo,
    annotations: previous,
    previousAnnotations: Object.fromEntries(Object.keys(previous).map((k) => [k, current[k] ?? null])),
    ...extra,
  });
}

/** Why the pin cannot be undone (no snapshot, constraints changed by someone), or undefined. */
function pinRefusal(
  prior: OperationRecord,
  spec: V1PodSpec | undefined,
  req: RollbackRequest,
): { outcome: 'not-undoable' | 'changed-since'; reason: string } | undefined {
  if (!prior.previousPlacement || !prior.placement || !prior.previousAnnotations) {
    return { outcome: 'not-undoable', reason: `${req.undo} ${NO_SNAPSHOT}` };
  }
  if (!sameJson(placementOf(spec), prior.placement)) {
    const reason = `changed since by someone else: the node constraints are not the ones ${req.policy} left`;
    return { outcome: 'changed-since', reason };
  }
  return undefined;
}

/** The restore of the node constraints, for the summary: the pin lifted, a changed node selector back. */
function placementChanges(from: Placement, to: Placement, node: string | undefined): Change[] {
  const selector = (p: Placement) =>
    Object.entries(p.nodeSelector ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',') || '∅';
  return [
    ...(sameJson(from.affinity, to.affinity)
      ? []
      : [
          {
            path: 'node affinity',
            from: node ? `pinned to ${node}` : 'pinned',
            to: to.affinity ? 'as before' : 'none',
          },
        ]),
    ...(sameJson(from.nodeSelector, to.nodeSelector)
      ? []
      : [{ path: 'nodeSelector', from: selector(from), to: selector(to) }]),
  ];
}

export async function undoOffload(core: ActuatorCore, req: RollbackRequest, ctx: OperationContext) {
  const e = req.expect;
  switch (e.kind) {
    case 'offload':
      return core.retryOnConflict(() => undoShare(core, e, req, ctx));
    case 'rollout':
      if (e.workload.kind === 'Deployment' || e.workload.kind === 'StatefulSet') {
        const ref = { ...e.workload, kind: e.workload.kind } as ControllerRef;
        return core.retryOnConflict(() => undoControllerPin(core, ref, req, ctx));
      }
      break;
    case 'pod':
      return undoRecreatedPin(core, 'Pod', e.namespace, e.pod, req, ctx);
    case 'job':
      return undoRecreatedPin(core, 'Job', e.namespace, e.job, req, ctx);
    default:
      break;
  }
  return undefined;
}

/** A share offload undone: the Deployment's replica count and annotation back, the offload ReplicaSet deleted. */
async function undoShare(
  core: ActuatorCore,
  e: ShareExpectation,
  req: RollbackRequest,
  ctx: OperationContext,
): Promise<RollbackResult> {
  const ref: ControllerRef = { kind: 'Deployment', namespace: e.workload.namespace, name: e.workload.name };
  const where = describeWorkload(ref);
  let deployment: V1Deployment;
  try {
    deployment = await readController(core.clients, 'Deployment', ref.namespace, ref.name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    return refused(core, ctx, where, 'changed-since', `${where} is gone`);
  }
  const prior = operationOf(deployment.metadata);
  const replicas = deployment.spec?.replicas ?? 0;
  const generation = deployment.metadata?.generation ?? 0;
  const releasedBefore = prior?.releases === e.replicaSet && prior.id !== ctx.operationId;
  const verdict = releasedBefore ? 'already' : judge(core, prior, req, ctx);
  if (verdict === 'already') {
    // A retry after the Deployment's write: the ReplicaSet may still be there (the worker died before the delete).
    if (!releasedBefore) await awaitReturned(core, ref, e.replicaSet, ctx);
    const deleted = !releasedBefore && (await deleteOffloadReplicaSet(core, ref.namespace, e.replicaSet, ctx));
    const change: Change = { path: `ReplicaSet ${e.replicaSet}`, from: String(e.moved), to: 'deleted' };
    return result(core, ctx, {
      alreadyApplied: !deleted,
      outcome: deleted ? 'rolled-back' : 'already-rolled-back',
      target: where,
      mechanism: 'scale',
      summary: releasedBefore
        ? `${req.policy} (${req.undo}) on ${where} was ended by its release (${prior?.id}) before`
        : `${req.policy} (${req.undo}) on ${where} was rolled back by this operation before`,
      changes: deleted ? [change] : [],
      expect:
        (prior?.id === ctx.operationId || releasedBefore) && prior?.replicas !== undefined
          ? { kind: 'replicas', workload: ref, replicas: prior.replicas, generation }
          : { kind: 'none', reason: 'the replicas were given back before; the count is not Talon’s to judge now' },
    });
  }
  if (typeof verdict === 'object') return refused(core, ctx, where, 'changed-since', verdict.refuse);
  if (!prior?.previousAnnotations || prior.offload?.replicaSet !== e.replicaSet) {
    return refused(core, ctx, where, 'not-undoable', `${req.undo} ${NO_SNAPSHOT}; its offloadRelease ends it`);
  }
  const previous = prior.previousReplicas;
  if (previous !== undefined && replicas !== e.remaining) {
    return refused(
      core,
      ctx,
      where,
      'changed-since',
      `changed since by someone else: spec.replicas is ${replicas}, the offload left ${e.remaining}`,
    );
  }
  const current = deployment.metadata?.annotations ?? {};
  const record = undoRecord(core, ctx, prior, req, current, {
    releases: e.replicaSet,
    ...(previous === undefined ? {} : { replicas: previous }),
  });
  await core.rememberWorkload(ref, ctx);
  const patched = await core.patchController(
    ref,
    {
      metadata: {
        resourceVersion: deployment.metadata?.resourceVersion,
        annotations: restoringAnnotations(prior, record),
      },
      ...(previous === undefined ? {} : { spec: { replicas: previous } }),
    },
    PatchStrategy.MergePatch,
    ctx,
  );
  await awaitReturned(core, ref, e.replicaSet, ctx);
  const deleted = await deleteOffloadReplicaSet(core, ref.namespace, e.replicaSet, ctx);
  const changes: Change[] = [
    ...(previous === undefined ? [] : [{ path: 'spec.replicas', from: String(replicas), to: String(previous) }]),
    ...(deleted ? [{ path: `ReplicaSet ${e.replicaSet}`, from: String(e.moved), to: 'deleted' }] : []),
    ...annotationChanges(current, prior.previousAnnotations),
  ];
  return result(core, ctx, {
    outcome: 'rolled-back',
    target: where,
    mechanism: 'scale',
    summary: `rolled back ${req.policy} on ${where}: ${describeChanges(changes)} (the scheduler places all its replicas again)`,
    changes,
    expect:
      previous === undefined
        ? { kind: 'none', reason: 'a HorizontalPodAutoscaler keeps the count; the offload ReplicaSet is deleted' }
        : { kind: 'replicas', workload: ref, replicas: previous, generation: patched.metadata?.generation ?? 0 },
  });
}

/** A StatefulSet's (or an older offload's Deployment's) pinned template back to its node constraints before. */
async function undoControllerPin(
  core: ActuatorCore,
  ref: ControllerRef,
  req: RollbackRequest,
  ctx: OperationContext,
): Promise<RollbackResult> {
  const where = describeWorkload(ref);
  const object = await readController(core.clients, ref.kind, ref.namespace, ref.name);
  const prior = operationOf(object.metadata);
  const generation = object.metadata?.generation ?? 0;
  const verdict = judge(core, prior, req, ctx);
  if (verdict === 'already') {
    return result(core, ctx, {
      alreadyApplied: true,
      outcome: 'already-rolled-back',
      target: where,
      mechanism: 'rolling-update',
      summary: `${req.policy} (${req.undo}) on ${where} was rolled back by this operation before`,
      changes: [],
      expect: { kind: 'rollout', workload: ref, generation },
    });
  }
  if (typeof verdict === 'object') return refused(core, ctx, where, 'changed-since', verdict.refuse);
  const undone = prior!; // judge() refuses without a record
  const spec = object.spec?.template.spec;
  const refusal = pinRefusal(undone, spec, req);
  if (refusal) return refused(core, ctx, where, refusal.outcome, refusal.reason);
  const before = undone.previousPlacement!;
  const now = placementOf(spec);
  const current = object.metadata?.annotations ?? {};
  const record = undoRecord(core, ctx, undone, req, current, { previousPlacement: now, placement: before });
  await core.rememberWorkload(ref, ctx);
  const affinity = mergePatchBetween(now.affinity, before.affinity);
  const nodeSelector = mergePatchBetween(now.nodeSelector, before.nodeSelector);
  const patched = await core.patchController(
    ref,
    {
      metadata: {
        resourceVersion: object.metadata?.resourceVersion,
        annotations: restoringAnnotations(undone, record),
      },
      spec: {
        template: {
          spec: {
            ...(affinity === undefined ? {} : { affinity }),
            ...(nodeSelector === undefined ? {} : { nodeSelector }),
          },
        },
      },
    },
    PatchStrategy.MergePatch,
    ctx,
  );
  const changes = [
    ...placementChanges(now, before, undone.node),
    ...annotationChanges(current, undone.previousAnnotations ?? {}),
  ];
  return result(core, ctx, {
    outcome: 'rolled-back',
    target: where,
    mechanism: 'rolling-update',
    summary: `rolled back ${req.policy} on ${where}: ${describeChanges(changes)} (rolling update)`,
    changes,
    expect: { kind: 'rollout', workload: ref, generation: patched.metadata?.generation ?? 0 },
  });
}

/** A Job or standalone pod the offload recreated with a pin: recreated again with the node constraints before. */
async function undoRecreatedPin(
  core: ActuatorCore,
  kind: 'Pod' | 'Job',
  namespace: string,
  name: string,
  req: RollbackRequest,
  ctx: OperationContext,
): Promise<RollbackResult> {
  const where = `${kind} ${namespace}/${name}`;
  let object: V1Pod | V1Job;
  try {
    object = kind === 'Pod' ? await core.readPod(namespace, name) : await core.readJob(namespace, name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    // Gone because an earlier attempt of this rollback deleted it to recreate it: finish that.
    if (isOwnCheckpoint(ctx.restored, ctx)) return finished(core, ctx.restored, req, ctx);
    return refused(core, ctx, where, 'changed-since', `${where} is gone`);
  }
  const prior = operationOf(object.metadata);
  const uid = object.metadata?.uid ?? '';
  const same: Expectation =
    kind === 'Pod' ? { kind: 'pod', namespace, pod: name, uid } : { kind: 'job', namespace, job: name, uid };
  const verdict = judge(core, prior, req, ctx);
  if (verdict === 'already') {
    return result(core, ctx, {
      alreadyApplied: true,
      outcome: 'already-rolled-back',
      target: where,
      mechanism: 'recreate',
      summary: `${req.policy} (${req.undo}) on ${where} was rolled back by this operation before`,
      changes: [],
      expect: prior?.id === ctx.operationId ? same : { kind: 'none', reason: 'a later operation has changed it since' },
    });
  }
  if (typeof verdict === 'object') return refused(core, ctx, where, 'changed-since', verdict.refuse);
  const undone = prior!; // judge() refuses without a record
  const spec = kind === 'Pod' ? (object as V1Pod).spec : (object as V1Job).spec?.template.spec;
  const refusal = pinRefusal(undone, spec, req);
  if (refusal) return refused(core, ctx, where, refusal.outcome, refusal.reason);
  const before = undone.previousPlacement!;
  const now = placementOf(spec);
  const current = object.metadata?.annotations ?? {};
  const record = undoRecord(core, ctx, undone, req, current, { previousPlacement: now, placement: before });
  const annotations = Object.fromEntries(
    Object.entries({ ...current, ...restoringAnnotations(undone, record) }).filter(
      (e): e is [string, string] => e[1] !== null,
    ),
  );
  let created: V1Pod | V1Job;
  if (kind === 'Pod') {
    const manifest = podManifestForRecreate(object as V1Pod);
    manifest.spec = withPlacement(manifest.spec ?? { containers: [] }, before);
    manifest.metadata = { ...manifest.metadata, annotations };
    created = await recreate(core, 'Pod', object as V1Pod, manifest, ctx);
  } else {
    const manifest = jobManifestForRecreate(object as V1Job);
    if (manifest.spec)
      manifest.spec.template.spec = withPlacement(manifest.spec.template.spec ?? { containers: [] }, before);
    manifest.metadata = { ...manifest.metadata, annotations };
    created = await recreate(core, 'Job', object as V1Job, manifest, ctx);
  }
  const changes = [
    ...placementChanges(now, before, undone.node),
    ...annotationChanges(current, undone.previousAnnotations ?? {}),
  ];
  return result(core, ctx, {
    outcome: 'rolled-back',
    target: where,
    mechanism: 'recreate',
    summary: `rolled back ${req.policy} on ${where}: ${describeChanges(changes)} (${kind === 'Pod' ? 'pod' : 'Job'} recreated)`,
    changes,
    expect: { ...same, uid: created.metadata?.uid ?? '' },
  });
}
