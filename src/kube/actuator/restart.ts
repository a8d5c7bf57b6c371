/**
 * container_restart (D3.6 2.6 "restarts malfunctioning containers", 3.2): replaces the pod of a crash-looping
 * or stuck container. A pod run by a controller is evicted through the Eviction API, so PodDisruptionBudgets
 * decide whether it may go now (a refusal is a `disruption_budget` guard refusal, never forced), and its
 * controller creates the replacement; a standalone pod is recreated from its own spec after a dry-run eviction
 * has asked the PDBs. Either way the write counts against the namespace's write budget, and only the pod
 * instance that was seen malfunctioning is touched (uid precondition). A retry after the pod went finds the
 * checkpoint (the workload, or the recreate manifest) and reports the restart instead of doing it again.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { GUARDS, GuardRefusedError } from '../../domain/errors';
import { checkNamespace } from '../../domain/guards';
import { malfunctionOf, type MalfunctionRules } from '../../domain/workload-context';
import { UnsupportedTargetError } from '../errors';
import { describeWorkload, type ActionResult, type Expectation, type WorkloadRef } from '../types';
import { containerHealth } from '../workload-context';
import { operationAnnotation, ownerCandidate, podManifestForRecreate, readOwningController } from '../workloads';
import { evictPod } from './node';
import type { ActuatorCore } from './operation';
import { finishCheckpoint, recreate } from './recreate';
import type { OperationContext } from './requests';

const POLICY = 'container_restart';

export interface RestartRequest {
  readonly namespace: string;
  readonly pod: string;
  /** Restart only if this container malfunctions; any container of the pod otherwise. */
  readonly container?: string;
  /** What counts as crash-looping or stuck (the rules' thresholds). */
  readonly rules?: MalfunctionRules;
}

/** The workload that replaces an evicted pod, or undefined for a standalone pod. */
async function replacingWorkload(core: ActuatorCore, pod: V1Pod): Promise<WorkloadRef | undefined> {
  const owner = ownerCandidate(pod);
  const namespace = pod.metadata?.namespace ?? '';
  if (owner.kind === 'Pod') return undefined;
  if (owner.kind === 'Job') return { kind: 'Job', namespace, name: owner.name };
  const read = await readOwningController(core.clients, pod, { ...owner, kind: owner.kind });
  return read.ref;
}

export async function restartContainer(
  core: ActuatorCore,
  req: RestartRequest,
  ctx: OperationContext,
): Promise<ActionResult> {
  core.checkOperation(ctx);
  checkNamespace(core.options.guards, req.namespace);
  const found = await core.readPodOrCheckpoint(req.namespace, req.pod, ctx);
  if ('checkpoint' in found) return finishCheckpoint(core, POLICY, found.checkpoint, ctx);
  const where = `Pod ${req.namespace}/${req.pod}`;
  if ('workload' in found) {
    // Evicted by an earlier attempt of this operation; its controller replaces it.
    return core.result(POLICY, ctx, {
      alreadyApplied: true,
      target: where,
      mechanism: 'evict',
      summary: `${where} was replaced by this operation before`,
      changes: [],
      expect: { kind: 'restarted', namespace: req.namespace, pod: req.pod, oldUid: '', workload: found.workload },
    });
  }
  const pod = found.pod;
  const uid = pod.metadata?.uid ?? '';
  const health = containerHealth(pod, core.clock()).filter((c) => !req.container || c.name === req.container);
  const broken = malfunctionOf(health, req.rules);
  const workload = await replacingWorkload(core, pod);
  const restored = ctx.restored?.operationId === ctx.operationId ? ctx.restored : undefined;
  if (!broken) {
    if (restored) {
      // An earlier attempt evicted the broken instance; this healthy one (same name) is its replacement.
      return core.result(POLICY, ctx, {
        alreadyApplied: true,
        target: where,
        mechanism: 'evict',
        summary: `${where} was replaced by this operation before`,
        changes: [],
        expect: {
          kind: 'restarted',
          namespace: req.namespace,
          pod: req.pod,
          oldUid: '',
          ...(workload ? { workload } : {}),
        },
      });
    }
    throw new UnsupportedTargetError(
      `no container of ${where}${req.container ? ` named ${req.container}` : ''} is crash-looping or stuck: nothing to restart`,
    );
  }
  if (!workload) return recreateStandalone(core, pod, broken.detail, ctx);

  // A retry whose pod is gone finds the controller that replaces it (a Job's pods are replaced by the Job).
  if (workload.kind !== 'Job') await core.rememberWorkload(workload, ctx);
  // evictPod admits the write against the budget, with the uid precondition; PDBs answer for the controller.
  const eviction = await evictPod(core, { namespace: req.namespace, pod: req.pod, uid }, ctx, POLICY);
  if (eviction.outcome === 'blocked') {
    throw new GuardRefusedError(
      GUARDS.disruptionBudget,
      `${where} (${broken.detail}) may not be taken down now: ${eviction.blockedBy ?? 'a PodDisruptionBudget'}`,
      { pod: req.pod, namespace: req.namespace },
    );
  }
  const expect: Expectation = { kind: 'restarted', namespace: req.namespace, pod: req.pod, oldUid: uid, workload };
  return core.result(POLICY, ctx, {
    target: where,
    mechanism: 'evict',
    summary: `${where} evicted because ${broken.detail}; ${describeWorkload(workload)} replaces it`,
    changes: [{ path: 'pod', from: uid, to: 'replaced by its controller' }],
    applied: eviction.outcome === 'evicted',
    alreadyApplied: eviction.outcome === 'already-gone',
    expect: core.dry(ctx) ? { kind: 'none', reason: 'dry run' } : expect,
  });
}

/** A standalone pod has no controller to replace it: ask the PDBs (dry-run eviction), then recreate it. */
async function recreateStandalone(
  core: ActuatorCore,
  pod: V1Pod,
  why: string,
  ctx: OperationContext,
): Promise<ActionResult> {
  const namespace = pod.metadata?.namespace ?? '';
  const name = pod.metadata?.name ?? '';
  const uid = pod.metadata?.uid ?? '';
  const where = `Pod ${namespace}/${name}`;
  const probe = await evictPod(core, { namespace, pod: name, uid }, { ...ctx, dryRun: true }, POLICY);
  if (probe.outcome === 'blocked') {
    throw new GuardRefusedError(
      GUARDS.disruptionBudget,
      `${where} (${why}) may not be taken down now: ${probe.blockedBy ?? 'a PodDisruptionBudget'}`,
      { pod: name, namespace },
    );
  }
  await core.admit(namespace, ctx);
  const manifest = podManifestForRecreate(pod);
  manifest.metadata = {
    ...manifest.metadata,
    annotations: { ...manifest.metadata?.annotations, ...operationAnnotation(core.record(ctx, POLICY, undefined)) },
  };
  const created = await recreate(core, 'Pod', pod, manifest, ctx);
  return core.result(POLICY, ctx, {
    target: where,
    mechanism: 'recreate',
    summary: `${where} recreated because ${why}`,
    changes: [{ path: 'pod', from: uid, to: created.metadata?.uid ?? '' }],
    expect: { kind: 'restarted', namespace, pod: name, oldUid: uid },
  });
}
