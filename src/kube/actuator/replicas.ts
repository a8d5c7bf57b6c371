/**
 * replica_scale_up / replica_scale_down (D3.6 Rule 1): `spec.replicas` of the pod's Deployment or StatefulSet
 * × factor, within the replica bounds. The new count is recorded with the change, so a retry (whose pod the
 * scale-down may well have removed: the checkpoint names the workload) reports it instead of scaling again.
 *
 * A workload scaled by a HorizontalPodAutoscaler is not written to (the HPA would undo it within seconds):
 * its bounds move instead — scaling up raises minReplicas to the new count (and maxReplicas if needed),
 * scaling down lowers maxReplicas (and minReplicas if needed) — and the HPA's own controller brings the
 * workload there. The HPA's bounds before the change are recorded with it, so it can be undone.
 */
import type { V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { checkMagnitude, checkNamespace, plannedReplicas } from '../../domain/guards';
import { FIELD_MANAGER } from '../types';
import { patchAs, PatchStrategy } from '../client';
import { kubeCall } from '../errors';
import { owningHpa } from '../workload-context';
import { dryRunOf } from './operation';
import { UnsupportedTargetError } from '../errors';
import { describeWorkload, type ActionResult } from '../types';
import {
  operationAnnotation,
  operationOf,
  ownerCandidate,
  readController,
  readOwningController,
  type Controller,
} from '../workloads';
import type { ActuatorCore, ControllerRef } from './operation';
import type { OperationContext, ScaleReplicasRequest } from './requests';

export async function scaleReplicas(
  core: ActuatorCore,
  req: ScaleReplicasRequest,
  ctx: OperationContext,
): Promise<ActionResult> {
  const g = core.options.guards;
  core.checkOperation(ctx);
  checkNamespace(g, req.namespace);
  checkMagnitude(g, req.policy, req.factor);
  return core.retryOnConflict(async () => scaleOnce(core, req, await replicatedOwner(core, req, ctx), ctx));
}

/** The Deployment or StatefulSet to scale: the pod's owner, or the one this operation's checkpoint names. */
async function replicatedOwner(
  core: ActuatorCore,
  req: ScaleReplicasRequest,
  ctx: OperationContext,
): Promise<{ ref: ControllerRef; object: Controller }> {
  const found = await core.readPodOrCheckpoint(req.namespace, req.pod, ctx);
  if ('checkpoint' in found) throw new UnsupportedTargetError('a recreate checkpoint cannot resume replica scaling');
  if ('workload' in found) {
    const { kind, name } = found.workload;
    if (kind !== 'Deployment' && kind !== 'StatefulSet') {
      throw new UnsupportedTargetError(`${describeWorkload(found.workload)} has no replicas to change`);
    }
    return {
      ref: { kind, namespace: req.namespace, name },
      object: await readController(core.clients, kind, req.namespace, name),
    };
  }
  const owner = ownerCandidate(found.pod);
  if (owner.kind !== 'Deployment' && owner.kind !== 'StatefulSet') {
    throw new UnsupportedTargetError(
      `pod ${req.namespace}/${req.pod} is ${owner.kind === 'Pod' ? 'standalone' : `run by a ${owner.kind}`}: ` +
        'only Deployments and StatefulSets have replicas to change',
    );
  }
  const read = await readOwningController(core.clients, found.pod, { ...owner, kind: owner.kind });
  return { ref: { ...read.ref, kind: owner.kind }, object: read.object };
}

async function scaleOnce(
  core: ActuatorCore,
  req: ScaleReplicasRequest,
  { ref, object }: { ref: ControllerRef; object: Controller },
  ctx: OperationContext,
): Promise<ActionResult> {
  const where = describeWorkload(ref);
  const prior = operationOf(object.metadata);
  if (prior && core.superseded(prior, ctx)) {
    return core.supersededResult(req.policy, ctx, where, prior, 'scale', {
      kind: 'none',
      reason: 'a later operation has changed the workload since',
    });
  }
  if (prior?.id === ctx.operationId && prior.replicas !== undefined) {
    return core.result(req.policy, ctx, {
      alreadyApplied: true,
      target: where,
      mechanism: 'scale',
      summary: `${req.policy} on ${where} to ${prior.replicas} replicas was applied by this operation before`,
      changes: [],
      expect: {
        kind: 'replicas',
        workload: ref,
        replicas: prior.replicas,
        generation: object.metadata?.generation ?? 0,
      },
    });
  }
  const hpa = await owningHpa(core.clients, ref);
  if (hpa) return scaleThroughHpa(core, req, ref, object, hpa, ctx);
  const current = (object.spec as { replicas?: number } | undefined)?.replicas ?? 1;
  const replicas = plannedReplicas(core.options.guards, current, req.factor, where);
  await core.admit(req.namespace, ctx);
  await core.rememberWorkload(ref, ctx);
  const patched = await core.patchController(
    ref,
    {
      metadata: {
        resourceVersion: object.metadata?.resourceVersion,
        annotations: operationAnnotation(core.record(ctx, req.policy, prior, { replicas, previousReplicas: current })),
      },
      spec: { replicas },
    },
    PatchStrategy.MergePatch,
    ctx,
  );
  return core.result(req.policy, ctx, {
    target: where,
    mechanism: 'scale',
    summary: `replicas of ${where}: ${current}→${replicas}`,
    changes: [{ path: 'spec.replicas', from: String(current), to: String(replicas) }],
    expect: { kind: 'replicas', workload: ref, replicas, generation: patched.metadata?.generation ?? 0 },
  });
}

/** The HPA's bounds moved so that its controller brings the workload to the planned count. */
async function scaleThroughHpa(
  core: ActuatorCore,
  req: ScaleReplicasRequest,
  ref: ControllerRef,
  object: Controller,
  hpa: V2HorizontalPodAutoscaler,
  ctx: OperationContext,
): Promise<ActionResult> {
  const name = hpa.metadata?.name ?? '';
  const where = `${describeWorkload(ref)} (through HorizontalPodAutoscaler ${name})`;
  const prior = operationOf(hpa.metadata);
  const min = hpa.spec?.minReplicas ?? 1;
  const max = hpa.spec?.maxReplicas ?? min;
  if (prior && core.superseded(prior, ctx)) {
    return core.supersededResult(req.policy, ctx, where, prior, 'scale', {
      kind: 'none',
      reason: 'a later operation has changed the HPA since',
    });
  }
  if (prior?.id === ctx.operationId && prior.replicas !== undefined) {
    return core.result(req.policy, ctx, {
      alreadyApplied: true,
      target: where,
      mechanism: 'scale',
      summary: `${req.policy} on ${where} to ${prior.replicas} replicas was applied by this operation before`,
      changes: [],
      expect: { kind: 'replicas', workload: ref, replicas: prior.replicas, generation: 0, hpa: name },
    });
  }
  // The count the HPA keeps now (its status), else the workload's spec.
  const current = hpa.status?.currentReplicas ?? (object.spec as { replicas?: number } | undefined)?.replicas ?? min;
  const replicas = plannedReplicas(core.options.guards, current, req.factor, where);
  const up = replicas > current;
  const minReplicas = up ? Math.max(min, replicas) : Math.min(min, replicas);
  const maxReplicas = up ? Math.max(max, replicas) : Math.min(max, replicas);
  await core.admit(req.namespace, ctx);
  await kubeCall(`patch HorizontalPodAutoscaler ${req.namespace}/${name}`, () =>
    core.clients.autoscaling.patchNamespacedHorizontalPodAutoscaler(
      {
        name,
        namespace: req.namespace,
        body: {
          metadata: {
            resourceVersion: hpa.metadata?.resourceVersion,
            annotations: operationAnnotation(
              core.record(ctx, req.policy, prior, { replicas, hpaBefore: { minReplicas: min, maxReplicas: max } }),
            ),
          },
          spec: { minReplicas, maxReplicas },
        },
        fieldManager: FIELD_MANAGER,
        ...dryRunOf(core.dry(ctx)),
      },
      patchAs(PatchStrategy.MergePatch),
    ),
  );
  const changes = [
    ...(minReplicas !== min
      ? [{ path: `HPA ${name} spec.minReplicas`, from: String(min), to: String(minReplicas) }]
      : []),
    ...(maxReplicas !== max
      ? [{ path: `HPA ${name} spec.maxReplicas`, from: String(max), to: String(maxReplicas) }]
      : []),
  ];
  return core.result(req.policy, ctx, {
    target: where,
    mechanism: 'scale',
    summary: `replicas of ${where}: ${current}→${replicas} (HPA bounds ${min}–${max} → ${minReplicas}–${maxReplicas})`,
    changes,
    expect: { kind: 'replicas', workload: ref, replicas, generation: 0, hpa: name },
  });
}
