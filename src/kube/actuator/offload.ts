/**
 * task_offloading (D3.6 3.1.2, Figure 11): moves the pod's workload to the least-loaded eligible node of the
 * wanted tier (Prometheus usage over the apiserver's allocatable, ranked in src/domain/offload-target) with
 * required node affinity: a controller's template is patched (rolling update), a Job or standalone pod is
 * recreated. The chosen node is recorded with the change, so a retry reports it instead of choosing again.
 */
import type { V1Job, V1ObjectMeta, V1PodSpec } from '@kubernetes/client-node';
import { checkMagnitude, checkNamespace } from '../../domain/guards';
import type { NodeLoad } from '../../domain/node-load';
import {
  chooseOffloadTarget,
  describeChoice,
  type NodeInfo,
  type NodeSelectorTerm,
  type OffloadTargetChoice,
} from '../../domain/offload-target';
import type { PolicyName } from '../../domain/policy';
import { PatchStrategy } from '../client';
import { KubeNotFoundError, NoEligibleNodeError, UnsupportedTargetError } from '../errors';
import { ApiNodeSource } from '../node-cache';
import { ANNOTATIONS, describeWorkload, type ActionResult, type Change, type Expectation } from '../types';
import {
  jobManifestForRecreate,
  operationAnnotation,
  operationOf,
  ownerCandidate,
  pinToNode,
  placementOf,
  podManifestForRecreate,
  readController,
  readOwningController,
  retier,
  type Controller,
} from '../workloads';
import type { ActuatorCore, ControllerRef } from './operation';
import { finishCheckpoint, recreate } from './recreate';
import { firstWithRoom } from './offload-fit';
import { offloadShare, replicasToMove } from './offload-share';
import type { V1Deployment } from '@kubernetes/client-node';
import type { OperationRecord } from '../types';
import type { OffloadTaskRequest, OperationContext } from './requests';

const POLICY: PolicyName = 'task_offloading';
const DEFAULT_TIER_LABEL = 'talon.io/tier';

/** Nodes (only the wanted tier's when a tier is given) as placement sees them. */
export async function listNodes(core: ActuatorCore, tier?: string): Promise<readonly NodeInfo[]> {
  const source = core.options.nodeSource ?? new ApiNodeSource(core.clients, core.options.tierLabel);
  return source.list(tier);
}

export async function offloadTask(
  core: ActuatorCore,
  req: OffloadTaskRequest,
  ctx: OperationContext,
  usage: () => Promise<readonly NodeLoad[]>,
): Promise<ActionResult> {
  const g = core.options.guards;
  core.checkOperation(ctx);
  checkNamespace(g, req.namespace);
  if (req.magnitude !== undefined) checkMagnitude(g, POLICY, req.magnitude);
  const found = await core.readPodOrCheckpoint(req.namespace, req.pod, ctx);
  if ('checkpoint' in found) return finishCheckpoint(core, POLICY, found.checkpoint, ctx);
  if ('workload' in found) return rolledOut(core, req, found.workload as ControllerRef, ctx);
  const pod = found.pod;
  const owner = ownerCandidate(pod);
  if (owner.kind === 'DaemonSet') {
    throw new UnsupportedTargetError(`pod ${req.namespace}/${req.pod} is run by a DaemonSet, which runs on every node`);
  }

  let controller: { ref: ControllerRef; object: Controller } | undefined;
  let job: V1Job | undefined;
  let templateSpec: V1PodSpec | undefined = pod.spec;
  let where = `Pod ${req.namespace}/${req.pod}`;
  if (owner.kind === 'Deployment' || owner.kind === 'StatefulSet') {
    const read = await readOwningController(core.clients, pod, { ...owner, kind: owner.kind });
    controller = { ref: { ...read.ref, kind: owner.kind }, object: read.object };
    templateSpec = read.object.spec?.template.spec;
    where = describeWorkload(read.ref);
  } else if (owner.kind === 'Job') {
    job = await core.readJob(req.namespace, owner.name);
    templateSpec = job.spec?.template.spec;
    where = `Job ${req.namespace}/${owner.name}`;
  }
  const priorMeta = controller?.object.metadata ?? job?.metadata ?? pod.metadata;
  const prior = operationOf(priorMeta);
  if (prior && core.superseded(prior, ctx)) {
    return core.supersededResult(POLICY, ctx, where, prior, controller ? 'rolling-update' : 'recreate', {
      kind: 'none',
      reason: 'a later operation has changed the workload since',
    });
  }
  if (prior?.id === ctx.operationId && prior.node) {
    const shared = controller ? shareExpectation(controller.ref, controller.object, prior) : undefined;
    const expect: Expectation =
      shared ??
      (controller
        ? { kind: 'rollout', workload: controller.ref, generation: priorMeta?.generation ?? 0, node: prior.node }
        : job
          ? { kind: 'job', namespace: req.namespace, job: owner.name, uid: job.metadata?.uid ?? '', node: prior.node }
          : { kind: 'pod', namespace: req.namespace, pod: req.pod, uid: pod.metadata?.uid ?? '', node: prior.node });
    return core.result(POLICY, ctx, {
      alreadyApplied: true,
      target: where,
      mechanism: shared ? 'scale' : controller ? 'rolling-update' : 'recreate',
      summary: `${where} was offloaded to ${prior.node} by this operation before`,
      changes: [],
      expect,
    });
  }

  if (controller?.ref.kind === 'StatefulSet') refuseStatefulShare(controller.ref, controller.object, req.magnitude);

  const [nodes, loads] = await Promise.all([listNodes(core, req.tier), usage()]);
  const tierLabel = core.options.tierLabel ?? DEFAULT_TIER_LABEL;
  const original: V1PodSpec = templateSpec ?? { containers: [] };
  const constraints = req.tier ? retier(original, tierLabel, req.tier) : original;
  const required = constraints.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  const request = {
    ...(req.tier ? { tier: req.tier } : {}),
    ...(core.options.tierLabel ? { tierLabel: core.options.tierLabel } : {}),
    exclude: pod.spec?.nodeName ? [pod.spec.nodeName] : [],
    tolerations: (templateSpec?.tolerations ?? []).map((t) => ({
      ...(t.key ? { key: t.key } : {}),
      ...(t.operator ? { operator: t.operator } : {}),
      ...(t.value ? { value: t.value } : {}),
      ...(t.effect ? { effect: t.effect } : {}),
    })),
    ...(constraints.nodeSelector ? { nodeSelector: constraints.nodeSelector } : {}),
    ...(required ? { nodeSelectorTerms: required.nodeSelectorTerms as NodeSelectorTerm[] } : {}),
  };
  const ranking = chooseOffloadTarget(nodes, loads, request);
  // The moved pods must also fit by requests, or the scheduler leaves them Pending on the least-loaded node.
  const spec = controller?.object.spec;
  const replicas = spec && 'replicas' in spec ? (spec.replicas ?? 1) : 1;
  const moving = controller?.ref.kind === 'Deployment' ? replicasToMove(req.magnitude, replicas) : replicas;
  const room = ranking.best
    ? await firstWithRoom(core, ranking.ranked, nodes, constraints, moving)
    : { excluded: [] as { node: string; reason: string }[] };
  const choice: OffloadTargetChoice = {
    ...(room.best ? { best: room.best } : {}),
    ranked: ranking.ranked,
    excluded: [...ranking.excluded, ...room.excluded],
  };
  if (!choice.best) {
    throw new NoEligibleNodeError(`cannot offload ${where}: ${describeChoice(choice, request)}`, choice.excluded);
  }
  const node = choice.best.node;
  if (controller?.ref.kind === 'Deployment') {
    // A Deployment has many tasks: the magnitude's share of them moves, the rest stay with the scheduler.
    return offloadShare(
      core,
      {
        ref: controller.ref,
        deployment: controller.object,
        ...(pod.spec?.nodeName ? { sourceNode: pod.spec.nodeName } : {}),
        node,
        ...(req.magnitude !== undefined ? { share: req.magnitude } : {}),
        described: describeChoice(choice, request),
        retier: (spec) => (req.tier ? retier(spec, tierLabel, req.tier) : spec),
      },
      ctx,
    );
  }
  await core.admit(req.namespace, ctx);
  if (controller) await core.rememberWorkload(controller.ref, ctx);
  const changes: Change[] = [{ path: 'node', ...(pod.spec?.nodeName ? { from: pod.spec.nodeName } : {}), to: node }];
  const summary = `${where} offloaded to ${describeChoice(choice, request)}`;
  const retiered = (spec: V1PodSpec) => (req.tier ? retier(spec, tierLabel, req.tier) : spec);

  if (controller) {
    const ref = controller.ref;
    let object: Controller | undefined = controller.object;
    // The node is chosen; only the write is repeated when the controller changed under it (its status
    // moves during rollouts): re-read, re-derive the constraints, patch again.
    const patched = await core.retryOnConflict(async () => {
      const current = object ?? (await readController(core.clients, ref.kind, ref.namespace, ref.name));
      object = undefined;
      const spec = retiered(current.spec?.template.spec ?? { containers: [] });
      const latest = operationOf(current.metadata);
      const affinity = pinToNode(spec, node);
      const own = latest?.id === ctx.operationId;
      return core.patchController(
        ref,
        {
          metadata: {
            resourceVersion: current.metadata?.resourceVersion,
            annotations: pinAnnotations(core, ctx, own ? prior : latest, node, {
              before: current.spec?.template.spec,
              after: { ...spec, affinity },
              meta: current.metadata,
              ...(own ? { own: latest } : {}),
            }),
          },
          spec: {
            template: {
              spec: {
                affinity,
                ...(spec.nodeSelector?.[tierLabel] === undefined
                  ? {}
                  : { nodeSelector: { [tierLabel]: spec.nodeSelector[tierLabel] } }),
              },
            },
          },
        },
        PatchStrategy.StrategicMergePatch,
        ctx,
      );
    });
    return core.result(POLICY, ctx, {
      target: where,
      mechanism: 'rolling-update',
      summary: `${summary} (rolling update)`,
      changes,
      expect: { kind: 'rollout', workload: ref, generation: patched.metadata?.generation ?? 0, node },
    });
  }
  if (job) {
    const manifest = jobManifestForRecreate(job);
    if (manifest.spec) {
      const spec = req.tier ? retiered(manifest.spec.template.spec ?? original) : manifest.spec.template.spec;
      if (spec) manifest.spec.template.spec = { ...spec, affinity: pinToNode(spec, node) };
    }
    const annotations = pinAnnotations(core, ctx, prior, node, {
      before: job.spec?.template.spec,
      after: manifest.spec?.template.spec,
      meta: job.metadata,
    });
    manifest.metadata = { ...manifest.metadata, annotations: { ...manifest.metadata?.annotations, ...annotations } };
    const created = await recreate(core, 'Job', job, manifest, ctx);
    return core.result(POLICY, ctx, {
      target: where,
      mechanism: 'recreate',
      summary: `${summary} (Job recreated with node affinity)`,
      changes,
      expect: { kind: 'job', namespace: req.namespace, job: owner.name, uid: created.metadata?.uid ?? '', node },
    });
  }
  const manifest = podManifestForRecreate(pod);
  if (manifest.spec) {
    const spec = retiered(manifest.spec);
    manifest.spec = { ...spec, affinity: pinToNode(spec, node) };
  }
  const annotations = pinAnnotations(core, ctx, prior, node, {
    before: pod.spec,
    after: manifest.spec,
    meta: pod.metadata,
  });
  manifest.metadata = { ...manifest.metadata, annotations: { ...manifest.metadata?.annotations, ...annotations } };
  const created = await recreate(core, 'Pod', pod, manifest, ctx);
  return core.result(POLICY, ctx, {
    target: where,
    mechanism: 'recreate',
    summary: `${summary} (pod recreated with node affinity)`,
    changes,
    expect: { kind: 'pod', namespace: req.namespace, pod: req.pod, uid: created.metadata?.uid ?? '', node },
  });
}

/**
 * The annotations a pin writes: `talon.io/offloaded-to` and the operation record, which carries the snapshot an
 * undo restores (the node constraints and `talon.io/offloaded-to` before) and the constraints as the pin left
 * them. A write repeated after this operation's own (`own`) keeps that write's snapshot.
 */
function pinAnnotations(
  core: ActuatorCore,
  ctx: OperationContext,
  prior: OperationRecord | undefined,
  node: string,
  pin: { before?: V1PodSpec; after?: V1PodSpec; meta?: V1ObjectMeta; own?: OperationRecord },
): Record<string, string> {
  const record = core.record(ctx, POLICY, prior, {
    node,
    previousPlacement: pin.own?.previousPlacement ?? placementOf(pin.before),
    placement: placementOf(pin.after),
    annotations: { [ANNOTATIONS.offloadedTo]: node },
    previousAnnotations: pin.own?.previousAnnotations ?? {
      [ANNOTATIONS.offloadedTo]: pin.meta?.annotations?.[ANNOTATIONS.offloadedTo] ?? null,
    },
  });
  return { ...operationAnnotation(record), [ANNOTATIONS.offloadedTo]: node };
}

/** The pod was replaced by the rollout this operation started: report that rollout. */
async function rolledOut(
  core: ActuatorCore,
  req: OffloadTaskRequest,
  ref: ControllerRef,
  ctx: OperationContext,
): Promise<ActionResult> {
  const object = await readController(core.clients, ref.kind, ref.namespace, ref.name);
  const prior = operationOf(object.metadata);
  if (prior?.id !== ctx.operationId && !core.superseded(prior, ctx)) {
    throw new KubeNotFoundError(
      `read Pod ${req.namespace}/${req.pod}`,
      { code: 404 },
      `pod ${req.namespace}/${req.pod} is gone`,
    );
  }
  const shared = prior?.id === ctx.operationId ? shareExpectation(ref, object, prior) : undefined;
  if (shared) {
    return core.result(POLICY, ctx, {
      alreadyApplied: true,
      target: describeWorkload(ref),
      mechanism: 'scale',
      summary: `${describeWorkload(ref)} was offloaded by this operation before`,
      changes: [],
      expect: shared,
    });
  }
  return core.result(POLICY, ctx, {
    alreadyApplied: true,
    target: describeWorkload(ref),
    mechanism: 'rolling-update',
    summary: `${describeWorkload(ref)} was offloaded by this operation before`,
    changes: [],
    expect: {
      kind: 'rollout',
      workload: ref,
      generation: object.metadata?.generation ?? 0,
      ...(prior?.id === ctx.operationId && prior.node ? { node: prior.node } : {}),
    },
  });
}

/** The expectation of a share offload this operation recorded on the Deployment, if it was one. */
function shareExpectation(
  ref: ControllerRef,
  object: Controller,
  prior: OperationRecord | undefined,
): Expectation | undefined {
  if (ref.kind !== 'Deployment' || !prior?.offload || !prior.node) return undefined;
  const deployment: V1Deployment = object;
  return {
    kind: 'offload',
    workload: ref,
    replicaSet: prior.offload.replicaSet,
    moved: prior.offload.moved,
    remaining: deployment.spec?.replicas ?? 0,
    node: prior.node,
    generation: object.metadata?.generation ?? 0,
  };
}

/**
 * A StatefulSet's replicas share one pod template and keep their identities, so a pin on the template moves all
 * of them: Talon cannot move a share of them the way it does for a Deployment. When the magnitude asks for fewer
 * than all replicas, pinning every replica would be a bigger change than the one decided, so the attempt is
 * refused (escalation goes on to the next policy) instead.
 */
function refuseStatefulShare(ref: ControllerRef, object: Controller, share: number | undefined): void {
  const spec = object.spec;
  const replicas = spec && 'replicas' in spec ? (spec.replicas ?? 1) : 1;
  const moved = replicasToMove(share, replicas);
  if (moved < replicas) {
    throw new UnsupportedTargetError(
      `cannot offload ${moved} of the ${replicas} replicas of ${describeWorkload(ref)}: a StatefulSet's replicas ` +
        `share one pod template, so a node pin would move all ${replicas}; only a share that rounds to all of them is taken`,
    );
  }
}
