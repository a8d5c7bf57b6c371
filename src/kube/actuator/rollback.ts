/**
 * Rollback: restores what one operation changed to the pre-change snapshot that operation recorded with its
 * change (`previous` / `previousReplicas` on the `talon.io/operation` record), when verification failed or the
 * change made things worse. Same discipline as every other write: the rollback is an operation of its own, its
 * record travels in the same write as the restore, so a retry (a worker killed mid-rollback) finds it and does
 * not restore twice; a two-step restore (in-place resize, recreate) records its intent or checkpoints first.
 *
 * It undoes only its own change: when another operation (or a person's edit that left a different record)
 * changed the object since, nothing is written and the result says why. Resource scaling (every owner kind) and
 * replica scaling are undone; other policies report that they have no automatic undo. Never counted against the
 * write budget: an undo must not be refused for the change it undoes.
 */
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { containerMatches, type ContainerTarget } from '../../domain/resource-plan';
import { PatchStrategy, patchAs } from '../client';
import { isNotFound, kubeCall } from '../errors';
import {
  describeWorkload,
  FIELD_MANAGER,
  type ActionResult,
  type Change,
  type Expectation,
  type OperationRecord,
  type RecreateCheckpoint,
  type WorkloadRef,
} from '../types';
import {
  containersOf,
  jobManifestForRecreate,
  operationAnnotation,
  operationOf,
  podManifestForRecreate,
  readController,
} from '../workloads';
import { describeChanges, dryRunOf, type ActuatorCore, type ControllerRef } from './operation';
import { finishCheckpoint, recreate } from './recreate';
import type { OperationContext } from './requests';
import { applyTargets, canResizeInPlace, resourcesPatch } from './resources';

const POLICY = 'rollback';

export interface RollbackRequest {
  /** The operation whose change is undone. */
  readonly undo: string;
  /** The policy that operation applied (for the summary and the "no automatic undo" answer). */
  readonly policy: string;
  /** Where that change is, as its apply reported it. */
  readonly expect: Expectation;
  /** The apply's reported changes: the snapshot for records written before `previous` existed. */
  readonly changes: readonly Change[];
}

export interface RollbackResult extends ActionResult {
  /** What the call found: restored now, restored by an earlier attempt, or why nothing was restored. */
  readonly outcome: 'rolled-back' | 'already-rolled-back' | 'not-undoable' | 'changed-since';
  readonly reason?: string;
}

type Judgement = 'undo' | 'already' | { readonly refuse: string };

/** Whether this rollback should write: the record must still be the undone operation's, or already its own. */
function judge(
  core: ActuatorCore,
  prior: OperationRecord | undefined,
  req: RollbackRequest,
  ctx: OperationContext,
): Judgement {
  if (!prior)
    return { refuse: `no Talon operation record is left, so ${req.undo} cannot be told apart from other edits` };
  if (prior.id === ctx.operationId || core.superseded(prior, ctx)) return 'already';
  if (prior.id === req.undo) return 'undo';
  return { refuse: `changed since by ${prior.policy} (${prior.id}); ${req.policy} is not undone over it` };
}

/** `container app limits.cpu` from 500m → the target restoring 500m, for records without `previous`. */
function previousFromChanges(changes: readonly Change[], resource: string): ContainerTarget[] {
  const byContainer = new Map<string, { container: string; requests?: string; limits?: string }>();
  for (const c of changes) {
    const m = /^container (\S+) (requests|limits)\.(\S+)$/.exec(c.path);
    if (!m || m[3] !== resource || c.from === undefined) continue;
    const target = byContainer.get(m[1]!) ?? { container: m[1]! };
    target[m[2] as 'requests' | 'limits'] = c.from;
    byContainer.set(m[1]!, target);
  }
  return [...byContainer.values()];
}

function restoreChanges(resource: string, from: readonly ContainerTarget[], to: readonly ContainerTarget[]): Change[] {
  return to.flatMap((t) =>
    (['requests', 'limits'] as const).flatMap((field) => {
      const value = t[field];
      if (value === undefined) return [];
      const now = from.find((f) => f.container === t.container)?.[field];
      return [{ path: `container ${t.container} ${field}.${resource}`, ...(now ? { from: now } : {}), to: value }];
    }),
  );
}

function result(
  core: ActuatorCore,
  ctx: OperationContext,
  fields: Omit<RollbackResult, 'policy' | 'operationId' | 'dryRun' | 'applied' | 'alreadyApplied'> & {
    alreadyApplied?: boolean;
    applied?: boolean;
  },
): RollbackResult {
  const { outcome, reason, ...rest } = fields;
  return { ...core.result(POLICY, ctx, rest), outcome, ...(reason ? { reason } : {}) };
}

function refused(
  core: ActuatorCore,
  ctx: OperationContext,
  where: string,
  outcome: 'not-undoable' | 'changed-since',
  reason: string,
): RollbackResult {
  return result(core, ctx, {
    applied: false,
    outcome,
    reason,
    target: where,
    mechanism: 'none',
    summary: `not rolled back on ${where}: ${reason}`,
    changes: [],
    expect: { kind: 'none', reason },
  });
}

export async function rollback(
  core: ActuatorCore,
  req: RollbackRequest,
  ctx: OperationContext,
): Promise<RollbackResult> {
  core.checkOperation(ctx);
  const e = req.expect;
  switch (e.kind) {
    case 'rollout':
      if (e.resource && e.targets && e.workload.kind !== 'Job' && e.workload.kind !== 'Pod') {
        const ref = { ...e.workload, kind: e.workload.kind } as ControllerRef;
        return core.retryOnConflict(() => restoreController(core, ref, e.resource!, req, ctx));
      }
      break;
    case 'pod':
      if (e.resource) return restorePod(core, e.namespace, e.pod, e.resource, req, ctx);
      break;
    case 'job':
      if (e.resource) return restoreJob(core, e.namespace, e.job, e.resource, req, ctx);
      break;
    case 'replicas':
      return core.retryOnConflict(() => restoreReplicas(core, e.workload, req, ctx));
    default:
      break;
  }
  return refused(core, ctx, describeWhere(e), 'not-undoable', `${req.policy} has no automatic undo`);
}

function describeWhere(e: Expectation): string {
  switch (e.kind) {
    case 'rollout':
    case 'replicas':
    case 'offload':
      return describeWorkload(e.workload);
    case 'pod':
    case 'annotations':
    case 'evicted':
    case 'restarted':
    case 'io-drop':
    case 'rate-cap':
      return `Pod ${e.namespace}/${e.pod}`;
    case 'job':
      return `Job ${e.namespace}/${e.job}`;
    case 'taint':
      return `Node ${e.node}`;
    case 'none':
      return 'nothing';
  }
}

/** A controller's pod template back to the snapshot: one strategic-merge patch, rolled out by the controller. */
async function restoreController(
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

/** spec.replicas back to the count before the change. */
async function restoreReplicas(
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

function isOwnCheckpoint(saved: unknown, ctx: OperationContext): saved is RecreateCheckpoint {
  const c = saved as Partial<RecreateCheckpoint> | undefined;
  return c?.operationId === ctx.operationId && (c.kind === 'Pod' || c.kind === 'Job') && typeof c.manifest === 'object';
}

/** A standalone pod: resized back in place where the cluster can, recreated with the old values otherwise. */
async function restorePod(
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
async function restoreJob(
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

/** Finishes a recreate an earlier attempt of this rollback started (the object was deleted, not yet created). */
async function finished(
  core: ActuatorCore,
  checkpoint: RecreateCheckpoint,
  req: RollbackRequest,
  ctx: OperationContext,
): Promise<RollbackResult> {
  const done = await finishCheckpoint(core, POLICY, checkpoint, ctx);
  return {
    ...done,
    outcome: done.alreadyApplied ? 'already-rolled-back' : 'rolled-back',
    summary: `${done.summary} (rolling back ${req.policy})`,
  };
}
