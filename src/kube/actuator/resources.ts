/**
 * cpu_scale_up / cpu_scale_down / memory_scale_up / memory_scale_down: the target containers' requests and
 * limits × factor, applied according to the pod's owner. Deployment/StatefulSet/DaemonSet: patch the pod
 * template (rolling update). Standalone pod: in-place resize when the apiserver serves `pods/resize` and the
 * pod's node reports container resources, else delete and recreate. Job: recreate.
 *
 * The absolute targets are planned once and recorded with the change, so a retry never multiplies again; an
 * in-place resize records its intent on the pod before resizing, so a crash between the two writes resizes to
 * the same values.
 */
import type { V1Pod, V1PodSpec } from '@kubernetes/client-node';
import { GUARDS, GuardRefusedError } from '../../domain/errors';
import { checkMagnitude, checkNamespace, type BoundedResource } from '../../domain/guards';
import {
  containerMatches,
  planResourceScaling,
  previousTargets,
  type ContainerTarget,
} from '../../domain/resource-plan';
import { patchAs, PatchStrategy } from '../client';
import { KubeInvalidError, kubeCall } from '../errors';
import { describeWorkload, FIELD_MANAGER, type ActionResult, type Change } from '../types';
import {
  containersOf,
  jobManifestForRecreate,
  operationAnnotation,
  operationOf,
  ownerCandidate,
  podManifestForRecreate,
  readController,
  readOwningController,
  type Controller,
} from '../workloads';
import { describeChanges, dryRunOf, type ActuatorCore, type ControllerRef } from './operation';
import { finishCheckpoint, recreate } from './recreate';
import type { OperationContext, ResourcePolicy, ScaleResourcesRequest } from './requests';

const RESOURCE_OF: Readonly<Record<ResourcePolicy, BoundedResource>> = {
  cpu_scale_up: 'cpu',
  cpu_scale_down: 'cpu',
  memory_scale_up: 'memory',
  memory_scale_down: 'memory',
};

export function resourcesPatch(resource: string, targets: readonly ContainerTarget[]): Record<string, unknown>[] {
  return targets.map((t) => ({
    name: t.container,
    resources: {
      ...(t.requests === undefined ? {} : { requests: { [resource]: t.requests } }),
      ...(t.limits === undefined ? {} : { limits: { [resource]: t.limits } }),
    },
  }));
}

export function applyTargets(spec: V1PodSpec, resource: string, targets: readonly ContainerTarget[]): void {
  for (const t of targets) {
    const c = spec.containers.find((x) => x.name === t.container);
    if (!c) continue;
    c.resources ??= {};
    if (t.requests !== undefined) c.resources.requests = { ...c.resources.requests, [resource]: t.requests };
    if (t.limits !== undefined) c.resources.limits = { ...c.resources.limits, [resource]: t.limits };
  }
}

function resourceChanges(
  plan: { changes: readonly { container: string; field: string; from: string; to: string }[] },
  resource: string,
): Change[] {
  return plan.changes.map((c) => ({ path: `container ${c.container} ${c.field}.${resource}`, from: c.from, to: c.to }));
}

export async function scaleResources(
  core: ActuatorCore,
  req: ScaleResourcesRequest,
  ctx: OperationContext,
): Promise<ActionResult> {
  const g = core.options.guards;
  const resource = RESOURCE_OF[req.policy];
  core.checkOperation(ctx);
  if (!resource) throw new GuardRefusedError(GUARDS.invalidRequest, `${String(req.policy)} is not a resource policy`);
  checkNamespace(g, req.namespace);
  checkMagnitude(g, req.policy, req.factor);
  const found = await core.readPodOrCheckpoint(req.namespace, req.pod, ctx);
  if ('checkpoint' in found) return finishCheckpoint(core, req.policy, found.checkpoint, ctx);
  if ('workload' in found) {
    const ref = found.workload as ControllerRef;
    return core.retryOnConflict(async () => {
      const object = await readController(core.clients, ref.kind, ref.namespace, ref.name);
      return scaleController(core, req, resource, { ref, object }, ctx);
    });
  }
  const pod = found.pod;
  const owner = ownerCandidate(pod);
  switch (owner.kind) {
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet': {
      const kind = owner.kind;
      const read = await readOwningController(core.clients, pod, { ...owner, kind });
      const ref = { ...read.ref, kind };
      let fresh: Controller | undefined = read.object;
      return core.retryOnConflict(async () => {
        const object = fresh ?? (await readController(core.clients, kind, ref.namespace, ref.name));
        fresh = undefined; // a retry after a conflict reads the controller again
        return scaleController(core, req, resource, { ref, object }, ctx);
      });
    }
    case 'Job':
      return scaleJob(core, req, resource, owner.name, ctx);
    case 'Pod':
      return scalePod(core, req, resource, pod, ctx);
  }
}

/** A controller's pod template: one strategic-merge patch, rolled out by the controller. */
async function scaleController(
  core: ActuatorCore,
  req: ScaleResourcesRequest,
  resource: BoundedResource,
  { ref, object }: { ref: ControllerRef; object: Controller },
  ctx: OperationContext,
): Promise<ActionResult> {
  const where = describeWorkload(ref);
  const prior = operationOf(object.metadata);
  const generation = object.metadata?.generation ?? 0;
  if (prior && core.superseded(prior, ctx)) {
    return core.supersededResult(req.policy, ctx, where, prior, 'rolling-update', {
      kind: 'rollout',
      workload: ref,
      generation,
    });
  }
  if (prior?.id === ctx.operationId && prior.targets) {
    return core.result(req.policy, ctx, {
      alreadyApplied: true,
      target: where,
      mechanism: 'rolling-update',
      summary: `${req.policy} ×${req.factor} on ${where} was applied by this operation before`,
      changes: [],
      expect: { kind: 'rollout', workload: ref, generation, resource, targets: prior.targets },
    });
  }
  const plan = planResourceScaling(
    core.options.guards,
    containersOf(object.spec?.template.spec),
    resource,
    req.factor,
    {
      ...(req.container ? { container: req.container } : {}),
      where,
    },
  );
  await core.admit(req.namespace, ctx);
  await core.rememberWorkload(ref, ctx);
  const body = {
    metadata: {
      resourceVersion: object.metadata?.resourceVersion,
      annotations: operationAnnotation(
        core.record(ctx, req.policy, prior, { resource, targets: plan.targets, previous: previousTargets(plan) }),
      ),
    },
    spec: { template: { spec: { containers: resourcesPatch(resource, plan.targets) } } },
  };
  const patched = await core.patchController(ref, body, PatchStrategy.StrategicMergePatch, ctx);
  const changes = resourceChanges(plan, resource);
  return core.result(req.policy, ctx, {
    target: where,
    mechanism: 'rolling-update',
    summary: `${resource} ×${req.factor} on ${where}: ${describeChanges(changes)} (rolling update)`,
    changes,
    expect: {
      kind: 'rollout',
      workload: ref,
      generation: patched.metadata?.generation ?? 0,
      resource,
      targets: plan.targets,
    },
  });
}

/** A Job's template is immutable: the Job is recreated with the new values (D3.6 Figure 11). */
async function scaleJob(
  core: ActuatorCore,
  req: ScaleResourcesRequest,
  resource: BoundedResource,
  jobName: string,
  ctx: OperationContext,
): Promise<ActionResult> {
  const job = await core.readJob(req.namespace, jobName);
  const where = `Job ${req.namespace}/${jobName}`;
  const prior = operationOf(job.metadata);
  const current = { kind: 'job', namespace: req.namespace, job: jobName, uid: job.metadata?.uid ?? '' } as const;
  if (prior && core.superseded(prior, ctx)) {
    return core.supersededResult(req.policy, ctx, where, prior, 'recreate', current);
  }
  if (prior?.id === ctx.operationId && prior.targets) {
    return core.result(req.policy, ctx, {
      alreadyApplied: true,
      target: where,
      mechanism: 'recreate',
      summary: `${req.policy} ×${req.factor} on ${where} was applied by this operation before`,
      changes: [],
      expect: { ...current, resource, targets: prior.targets },
    });
  }
  const plan = planResourceScaling(core.options.guards, containersOf(job.spec?.template.spec), resource, req.factor, {
    ...(req.container ? { container: req.container } : {}),
    where,
  });
  await core.admit(req.namespace, ctx);
  const manifest = jobManifestForRecreate(job);
  if (manifest.spec) applyTargets(manifest.spec.template.spec ?? { containers: [] }, resource, plan.targets);
  manifest.metadata = {
    ...manifest.metadata,
    annotations: {
      ...manifest.metadata?.annotations,
      ...operationAnnotation(
        core.record(ctx, req.policy, prior, { resource, targets: plan.targets, previous: previousTargets(plan) }),
      ),
    },
  };
  const created = await recreate(core, 'Job', job, manifest, ctx);
  const changes = resourceChanges(plan, resource);
  return core.result(req.policy, ctx, {
    target: where,
    mechanism: 'recreate',
    summary: `${resource} ×${req.factor} on ${where}: ${describeChanges(changes)} (Job recreated)`,
    changes,
    expect: { ...current, uid: created.metadata?.uid ?? '', resource, targets: plan.targets },
  });
}

/** Resize is possible when the apiserver serves it and the pod's node reports container resources. */
export async function canResizeInPlace(core: ActuatorCore, pod: V1Pod): Promise<boolean> {
  const caps = core.options.capabilities;
  if (!caps || !(await caps.podResize())) return false;
  const running = (pod.status?.containerStatuses ?? []).filter((s) => s.state?.running);
  return running.length > 0 && running.every((s) => s.resources !== undefined && s.resources !== null);
}

/** A standalone pod: resized in place where the cluster can, recreated otherwise. */
async function scalePod(
  core: ActuatorCore,
  req: ScaleResourcesRequest,
  resource: BoundedResource,
  pod: V1Pod,
  ctx: OperationContext,
): Promise<ActionResult> {
  const where = `Pod ${req.namespace}/${req.pod}`;
  const containers = containersOf(pod.spec);
  const prior = operationOf(pod.metadata);
  const current = { kind: 'pod', namespace: req.namespace, pod: req.pod, uid: pod.metadata?.uid ?? '' } as const;
  if (prior && core.superseded(prior, ctx)) {
    return core.supersededResult(req.policy, ctx, where, prior, prior.mechanism ?? 'in-place-resize', current);
  }
  const resumed = prior?.id === ctx.operationId && prior.targets !== undefined;
  let targets: readonly ContainerTarget[];
  let previous: readonly ContainerTarget[] | undefined = resumed ? prior.previous : undefined;
  let changes: Change[] = [];
  if (resumed && prior.targets) {
    targets = prior.targets;
    if (
      targets.every((t) =>
        containerMatches(
          containers.find((c) => c.name === t.container),
          resource,
          t,
        ),
      )
    ) {
      return core.result(req.policy, ctx, {
        alreadyApplied: true,
        target: where,
        mechanism: prior.mechanism ?? 'in-place-resize',
        summary: `${req.policy} ×${req.factor} on ${where} was applied by this operation before`,
        changes: [],
        expect: { ...current, resource, targets, ...(prior.mechanism === 'recreate' ? {} : { resized: true }) },
      });
    }
  } else {
    const plan = planResourceScaling(core.options.guards, containers, resource, req.factor, {
      ...(req.container ? { container: req.container } : {}),
      where,
    });
    targets = plan.targets;
    previous = previousTargets(plan);
    changes = resourceChanges(plan, resource);
  }
  await core.admit(req.namespace, ctx);
  const record = core.record(ctx, req.policy, resumed ? undefined : prior, {
    resource,
    targets,
    ...(previous ? { previous } : {}),
    mechanism: 'in-place-resize',
    ...(resumed && prior?.history ? { history: prior.history } : {}),
  });
  let fallback = '';
  if (await canResizeInPlace(core, pod)) {
    try {
      if (!resumed) {
        // Intent first: a retry after a crash between the two writes resizes to the same absolute values.
        await core.patchPod(
          req.namespace,
          req.pod,
          { metadata: { resourceVersion: pod.metadata?.resourceVersion, annotations: operationAnnotation(record) } },
          PatchStrategy.MergePatch,
          ctx,
        );
      }
      await kubeCall(`resize Pod ${req.namespace}/${req.pod}`, () =>
        core.clients.core.patchNamespacedPodResize(
          {
            name: req.pod,
            namespace: req.namespace,
            body: { spec: { containers: resourcesPatch(resource, targets) } },
            fieldManager: FIELD_MANAGER,
            ...dryRunOf(core.dry(ctx)),
          },
          patchAs(PatchStrategy.StrategicMergePatch),
        ),
      );
      return core.result(req.policy, ctx, {
        target: where,
        mechanism: 'in-place-resize',
        summary: `${resource} ×${req.factor} on ${where}: ${describeChanges(changes)} (resized in place)`,
        changes,
        expect: { ...current, resource, targets, resized: true },
      });
    } catch (err) {
      if (!(err instanceof KubeInvalidError)) throw err;
      fallback = ` (in-place resize refused: ${err.status.message ?? err.message}; recreated instead)`;
    }
  }
  const manifest = podManifestForRecreate(pod);
  if (manifest.spec) applyTargets(manifest.spec, resource, targets);
  manifest.metadata = {
    ...manifest.metadata,
    annotations: { ...manifest.metadata?.annotations, ...operationAnnotation({ ...record, mechanism: 'recreate' }) },
  };
  const created = await recreate(core, 'Pod', pod, manifest, ctx);
  return core.result(req.policy, ctx, {
    target: where,
    mechanism: 'recreate',
    summary: `${resource} ×${req.factor} on ${where}: ${describeChanges(changes)} (pod recreated)${fallback}`,
    changes,
    expect: { ...current, uid: created.metadata?.uid ?? '', resource, targets },
  });
}
