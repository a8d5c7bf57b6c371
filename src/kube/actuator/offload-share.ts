/**
 * task_offloading of a Deployment moves the share of its replicas the magnitude names, not all of them
 * (D3.6 Figure 11 pins a Job; a Deployment has many tasks): k = round(share × replicas), at least one. The k
 * moved replicas run in an offload ReplicaSet pinned to the chosen node — same pod template and labels, plus
 * `talon.io/offload`, so Services keep routing to them — and the Deployment runs k fewer, the ones on the
 * source node going first (pod-deletion-cost). The rest keep the scheduler's spreading. Releasing (after a
 * configurable time, or once the source node has recovered; the offloadRelease workflow) scales the
 * Deployment back up by k and deletes the offload ReplicaSet.
 *
 * Both directions are make-before-break, so a one-replica Deployment never has no pod serving: the Deployment
 * gives up its k replicas only once the offload ReplicaSet's k are Ready (not Ready in time, the offload is
 * withdrawn and fails as NoEligibleNode, so escalation goes on with nothing taken away), and a release deletes
 * the offload ReplicaSet only once the Deployment's returned replicas are Ready (not in time, the release fails
 * retryably and the pinned replicas keep serving).
 *
 * The offload ReplicaSet is owned (not controlled) by the Deployment, so deleting the Deployment removes it,
 * and its labels keep the Deployment from adopting it. Under a HorizontalPodAutoscaler the Deployment is not
 * scaled down (the HPA owns its count and would undo it): the moved replicas are added, and the HPA sees the
 * lower load. Every write carries the operation record; a retry finds it and writes nothing twice.
 */
import type { V1Deployment, V1Pod, V1PodSpec, V1ReplicaSet } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import { PatchStrategy } from '../client';
import { isNotFound, KubeConflictError, kubeCall, KubeUnavailableError, NoEligibleNodeError } from '../errors';
import { ANNOTATIONS, describeWorkload, FIELD_MANAGER, type ActionResult, type Change } from '../types';
import { owningHpa } from '../workload-context';
import { operationAnnotation, operationOf, pinToNode } from '../workloads';
import type { ActuatorCore, ControllerRef } from './operation';
import { podRequests } from './offload-fit';
import type { OperationContext, PodUsage } from './requests';

const POLICY = 'task_offloading';
/** The label on an offload ReplicaSet and its pods: its own name. */
export const OFFLOAD_LABEL = 'talon.io/offload';
/** On an offload ReplicaSet: the Deployment it took replicas from. */
export const OFFLOAD_OF_LABEL = 'talon.io/offload-of';
export const OFFLOAD_SOURCE_ANNOTATION = 'talon.io/offload-source-node';
const DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';

/** How many of `replicas` a share moves: round(share × replicas), at least one, at most all. */
export function replicasToMove(share: number | undefined, replicas: number): number {
  if (replicas <= 0) return 0;
  if (share === undefined) return replicas;
  return Math.min(replicas, Math.max(1, Math.round(share * replicas)));
}

/** The offload ReplicaSet's name: the Deployment's, a marker and a hash of the operation (≤ 63 characters). */
export function offloadName(deployment: string, operationId: string): string {
  const hash = createHash('sha256').update(operationId).digest('hex').slice(0, 8);
  return `${deployment.slice(0, 63 - '-offload-'.length - hash.length)}-offload-${hash}`;
}

function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

function matchLabels(selector: Record<string, string> | undefined): string {
  return Object.entries(selector ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** The Deployment's own pods (not an offload ReplicaSet's) that are alive. */
export async function deploymentPods(core: ActuatorCore, deployment: V1Deployment): Promise<V1Pod[]> {
  const namespace = deployment.metadata?.namespace ?? '';
  const selector = [matchLabels(deployment.spec?.selector.matchLabels), `!${OFFLOAD_LABEL}`].filter(Boolean).join(',');
  const list = await kubeCall(`list Pods of Deployment ${namespace}/${deployment.metadata?.name}`, () =>
    core.clients.core.listNamespacedPod({ namespace, labelSelector: selector }),
  );
  return list.items.filter(
    (p) => !p.metadata?.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed',
  );
}

export interface ShareOffload {
  readonly ref: ControllerRef;
  readonly deployment: V1Deployment;
  /** The node the alerting pod runs on: its pods leave first, its recovery ends the offload. */
  readonly sourceNode?: string;
  readonly node: string;
  readonly share?: number;
  /** The placement summary ("edge-2: cpu 0.21, …") for the result. */
  readonly described: string;
  readonly retier: (spec: V1PodSpec) => V1PodSpec;
}

/** Moves `share` of the Deployment's replicas to `node`; see the module comment. */
export async function offloadShare(core: ActuatorCore, o: ShareOffload, ctx: OperationContext): Promise<ActionResult> {
  const { ref, deployment, node } = o;
  const where = describeWorkload(ref);
  const replicas = deployment.spec?.replicas ?? 1;
  const moved = replicasToMove(o.share, replicas);
  const name = offloadName(ref.name, ctx.operationId);
  const hpa = await owningHpa(core.clients, ref);
  const remaining = hpa ? replicas : replicas - moved;
  const onSource = o.sourceNode
    ? (await deploymentPods(core, deployment)).filter((p) => p.spec?.nodeName === o.sourceNode)
    : [];
  await core.admit(ref.namespace, ctx);
  await core.rememberWorkload(ref, ctx);
  // The snapshot an undo restores: the replica count (when Talon changes it) and `talon.io/offloaded-to`.
  const record = core.record(ctx, POLICY, operationOf(deployment.metadata), {
    node,
    offload: { replicaSet: name, moved, ...(o.sourceNode ? { sourceNode: o.sourceNode } : {}) },
    ...(hpa ? {} : { previousReplicas: replicas }),
    annotations: { [ANNOTATIONS.offloadedTo]: node },
    previousAnnotations: {
      [ANNOTATIONS.offloadedTo]: deployment.metadata?.annotations?.[ANNOTATIONS.offloadedTo] ?? null,
    },
  });
  const created = await createOffloadReplicaSet(core, o, name, moved, record, ctx);
  if (!hpa && !core.dry(ctx)) await handOver(core, o, name, moved, replicas, ctx);
  // The source node's pods go first when the Deployment shrinks (only as many as are to leave).
  if (!hpa) {
    for (const pod of onSource.filter(isReady).slice(0, moved)) {
      await core.patchPod(
        ref.namespace,
        pod.metadata?.name ?? '',
        { metadata: { annotations: { [DELETION_COST]: '-1000' } } },
        PatchStrategy.MergePatch,
        ctx,
      );
    }
  }
  const patched = await core.retryOnConflict(async () => {
    const current = await core.clients.apps.readNamespacedDeployment({
      name: ref.name,
      namespace: ref.namespace,
    });
    return core.patchController(
      ref,
      {
        metadata: {
          resourceVersion: current.metadata?.resourceVersion,
          annotations: { ...operationAnnotation(record), [ANNOTATIONS.offloadedTo]: node },
        },
        ...(hpa ? {} : { spec: { replicas: remaining } }),
      },
      PatchStrategy.MergePatch,
      ctx,
    );
  });
  const changes: Change[] = [
    { path: `ReplicaSet ${name} (pinned to ${node}) replicas`, from: '0', to: String(moved) },
    ...(hpa ? [] : [{ path: 'spec.replicas', from: String(replicas), to: String(remaining) }]),
  ];
  return core.result(POLICY, ctx, {
    target: where,
    mechanism: 'scale',
    summary:
      `${moved} of ${replicas} replicas of ${where} offloaded to ${o.described} (ReplicaSet ${name}` +
      `${hpa ? `; HPA ${hpa.metadata?.name} keeps the Deployment's count` : `; the Deployment runs ${remaining}`})`,
    changes,
    expect: {
      kind: 'offload',
      workload: ref,
      replicaSet: name,
      moved,
      remaining,
      node,
      generation: patched.metadata?.generation ?? 0,
      ...(o.sourceNode ? { sourceNode: o.sourceNode, sourceBefore: onSource.length } : {}),
      ...(created.metadata?.uid ? { replicaSetUid: created.metadata.uid } : {}),
    },
  });
}

/** Deletes an offload ReplicaSet (its pods with it); false when it was gone already. */
export async function deleteOffloadReplicaSet(
  core: ActuatorCore,
  namespace: string,
  name: string,
  ctx: OperationContext,
): Promise<boolean> {
  try {
    await kubeCall(`delete ReplicaSet ${namespace}/${name}`, () =>
      core.clients.apps.deleteNamespacedReplicaSet({
        name,
        namespace,
        propagationPolicy: 'Background',
        ...(core.dry(ctx) ? { dryRun: 'All' } : {}),
      }),
    );
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** How many of a ReplicaSet's (or Deployment's) pods are Ready, as its controller reports them. */
function readyOf(status: { readyReplicas?: number } | undefined): number {
  return status?.readyReplicas ?? 0;
}

/**
 * Polls `ready` until it reaches `want` or `timeoutMs` passes (heartbeating, so the wait is not taken for a
 * hang); returns the last count seen.
 */
async function waitReady(
  core: ActuatorCore,
  ready: () => Promise<number>,
  want: number,
  timeoutMs: number,
  ctx: OperationContext,
): Promise<number> {
  const deadline = core.clock() + timeoutMs;
  let delay = 100;
  for (;;) {
    const seen = await ready();
    if (seen >= want || core.clock() >= deadline) return seen;
    ctx.heartbeat?.();
    await core.sleep(delay);
    delay = Math.min(1_000, delay * 2);
  }
}

/**
 * Waits until the offload ReplicaSet's moved replicas are Ready; otherwise deletes it (nothing else was
 * changed yet) and fails: the chosen node could not run them.
 */
async function handOver(
  core: ActuatorCore,
  o: ShareOffload,
  name: string,
  moved: number,
  replicas: number,
  ctx: OperationContext,
): Promise<void> {
  const { ref, node } = o;
  const timeoutMs = core.options.handoverTimeoutMs?.offload ?? 120_000;
  const readRs = () =>
    kubeCall(`read ReplicaSet ${ref.namespace}/${name}`, () =>
      core.clients.apps.readNamespacedReplicaSet({ name, namespace: ref.namespace }),
    );
  const ready = await waitReady(core, async () => readyOf((await readRs()).status), moved, timeoutMs, ctx);
  if (ready >= moved) return;
  await deleteOffloadReplicaSet(core, ref.namespace, name, ctx);
  throw new NoEligibleNodeError(
    `cannot offload ${describeWorkload(ref)}: ${ready} of its ${moved} moved replicas were Ready on ${node} after ` +
      `${Math.round(timeoutMs / 1000)}s; the offload ReplicaSet ${name} was withdrawn and the Deployment keeps its ` +
      `${replicas} replicas`,
    [{ node, reason: `the moved replicas were not Ready within ${Math.round(timeoutMs / 1000)}s` }],
  );
}

async function createOffloadReplicaSet(
  core: ActuatorCore,
  o: ShareOffload,
  name: string,
  moved: number,
  record: ReturnType<ActuatorCore['record']>,
  ctx: OperationContext,
): Promise<V1ReplicaSet> {
  const { ref, deployment, node } = o;
  const template = JSON.parse(JSON.stringify(deployment.spec?.template ?? {})) as NonNullable<
    V1Deployment['spec']
  >['template'];
  const spec = o.retier(template.spec ?? { containers: [] });
  // A template that names its node would ignore the pin: the scheduler places the moved replicas.
  delete spec.nodeName;
  const selector = deployment.spec?.selector ?? {};
  const body: V1ReplicaSet = {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name,
      namespace: ref.namespace,
      labels: { [OFFLOAD_OF_LABEL]: ref.name, [OFFLOAD_LABEL]: name },
      annotations: {
        ...operationAnnotation(record),
        [ANNOTATIONS.offloadedTo]: node,
        ...(o.sourceNode ? { [OFFLOAD_SOURCE_ANNOTATION]: o.sourceNode } : {}),
      },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: ref.name,
          uid: deployment.metadata?.uid ?? '',
          controller: false,
          blockOwnerDeletion: false,
        },
      ],
    },
    spec: {
      replicas: moved,
      selector: { ...selector, matchLabels: { ...selector.matchLabels, [OFFLOAD_LABEL]: name } },
      template: {
        metadata: { ...template.metadata, labels: { ...template.metadata?.labels, [OFFLOAD_LABEL]: name } },
        spec: { ...spec, affinity: pinToNode(spec, node) },
      },
    },
  };
  try {
    return await kubeCall(`create ReplicaSet ${ref.namespace}/${name}`, () =>
      core.clients.apps.createNamespacedReplicaSet({
        namespace: ref.namespace,
        body,
        fieldManager: FIELD_MANAGER,
        ...(core.dry(ctx) ? { dryRun: 'All' } : {}),
      }),
    );
  } catch (err) {
    if (!(err instanceof KubeConflictError)) throw err;
    // A retry of this operation: the ReplicaSet it created is there (its name is derived from the operation).
    return kubeCall(`read ReplicaSet ${ref.namespace}/${name}`, () =>
      core.clients.apps.readNamespacedReplicaSet({ name, namespace: ref.namespace }),
    );
  }
}

/** What releasing an offload asks: which Deployment gets its replicas back, which ReplicaSet goes. */
export interface ReleaseRequest {
  readonly namespace: string;
  readonly deployment: string;
  readonly replicaSet: string;
  readonly moved: number;
}

/**
 * Ends an offload: the Deployment scaled back up by the moved replicas (not under an HPA), the offload
 * ReplicaSet deleted. Idempotent: the release records its own operation on the Deployment, and a ReplicaSet
 * already gone is released. Never refused by the write budget (it restores the workload's own placement).
 */
export async function releaseOffload(
  core: ActuatorCore,
  req: ReleaseRequest,
  ctx: OperationContext,
): Promise<ActionResult> {
  core.checkOperation(ctx);
  const ref: ControllerRef = { kind: 'Deployment', namespace: req.namespace, name: req.deployment };
  const where = describeWorkload(ref);
  let replicaSet: V1ReplicaSet | undefined;
  try {
    replicaSet = await kubeCall(`read ReplicaSet ${req.namespace}/${req.replicaSet}`, () =>
      core.clients.apps.readNamespacedReplicaSet({ name: req.replicaSet, namespace: req.namespace }),
    );
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const changes: Change[] = [];
  const deployment = await core.retryOnConflict(async () => {
    const current = await core.clients.apps.readNamespacedDeployment({
      name: req.deployment,
      namespace: req.namespace,
    });
    const prior = operationOf(current.metadata);
    const hpa = await owningHpa(core.clients, ref);
    // The replicas come back while the offload exists, or when the Deployment's last change is that offload
    // (its ReplicaSet deleted by someone else); never twice (this release's own record, or the offload's rollback
    // gave them back already), never under an HPA.
    const ours = prior?.offload?.replicaSet === req.replicaSet;
    const given = prior?.id === ctx.operationId || prior?.releases === req.replicaSet || core.superseded(prior, ctx);
    if (given || hpa || (!replicaSet && !ours)) return current;
    const from = current.spec?.replicas ?? 0;
    const to = Math.min(core.options.guards.replicas.max, from + req.moved);
    changes.push({ path: 'spec.replicas', from: String(from), to: String(to) });
    return core.patchController(
      ref,
      {
        metadata: {
          resourceVersion: current.metadata?.resourceVersion,
          annotations: {
            ...operationAnnotation(core.record(ctx, POLICY, prior, { replicas: to, releases: req.replicaSet })),
            [ANNOTATIONS.offloadedTo]: null,
          },
        },
        spec: { replicas: to },
      },
      PatchStrategy.MergePatch,
      ctx,
    );
  });
  if (replicaSet) await awaitReturned(core, { namespace: req.namespace, name: req.deployment }, req.replicaSet, ctx);
  if (replicaSet) {
    await deleteOffloadReplicaSet(core, req.namespace, req.replicaSet, ctx);
    changes.push({ path: `ReplicaSet ${req.replicaSet}`, from: String(replicaSet.spec?.replicas ?? 0), to: 'deleted' });
  }
  const released: V1Deployment = deployment;
  return core.result(POLICY, ctx, {
    target: where,
    mechanism: 'scale',
    alreadyApplied: changes.length === 0,
    summary:
      changes.length === 0
        ? `the offload ${req.replicaSet} of ${where} was released before`
        : `offload ${req.replicaSet} of ${where} released: the scheduler places all its replicas again`,
    changes,
    expect: {
      kind: 'replicas',
      workload: ref,
      replicas: released.spec?.replicas ?? 0,
      generation: released.metadata?.generation ?? 0,
    },
  });
}

/**
 * Before an offload ReplicaSet goes (release or undo), the Deployment's own replicas, the returned ones
 * included, must be Ready. Otherwise this fails retryably and the pinned replicas keep serving until a retry
 * finds them Ready.
 */
export async function awaitReturned(
  core: ActuatorCore,
  ref: { readonly namespace: string; readonly name: string },
  replicaSet: string,
  ctx: OperationContext,
): Promise<void> {
  if (core.dry(ctx)) return;
  const timeoutMs = core.options.handoverTimeoutMs?.release ?? 40_000;
  const where = `Deployment ${ref.namespace}/${ref.name}`;
  let want = 0;
  const ready = await waitReady(
    core,
    async () => {
      const d = await kubeCall(`read ${where}`, () =>
        core.clients.apps.readNamespacedDeployment({ name: ref.name, namespace: ref.namespace }),
      );
      want = d.spec?.replicas ?? 0;
      // Ready counted by a controller that has seen the new count; before that the old figure would pass.
      const seen = (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
      return seen ? readyOf(d.status) - want : -1;
    },
    0,
    timeoutMs,
    ctx,
  );
  if (ready >= 0) return;
  throw new KubeUnavailableError(
    `release offload ${replicaSet}`,
    {},
    `${where} does not have its ${want} replicas Ready after ${Math.round(timeoutMs / 1000)}s; the offload ` +
      `ReplicaSet ${replicaSet} keeps serving until it does`,
  );
}

/**
 * The CPU an offload's moved pods use now, in cores: what goes back to the source node when it is released.
 * Measured where `usageOn` knows the pod, else its CPU requests (the basis says which decided).
 */
export async function offloadedCpu(
  core: ActuatorCore,
  namespace: string,
  replicaSet: string,
  usageOn?: (node: string) => Promise<readonly PodUsage[]>,
): Promise<{ readonly cores: number; readonly pods: number; readonly basis: 'usage' | 'requests' }> {
  const list = await kubeCall(`list Pods of ReplicaSet ${namespace}/${replicaSet}`, () =>
    core.clients.core.listNamespacedPod({ namespace, labelSelector: `${OFFLOAD_LABEL}=${replicaSet}` }),
  );
  const pods = list.items.filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase === 'Running');
  const nodes = [...new Set(pods.map((p) => p.spec?.nodeName).filter((n): n is string => !!n))];
  const measured = new Map<string, number>();
  if (usageOn) {
    for (const node of nodes) {
      for (const u of await usageOn(node)) measured.set(`${u.namespace}/${u.pod}`, u.cpuCores);
    }
  }
  let cores = 0;
  let allMeasured = true;
  for (const pod of pods) {
    const used = measured.get(`${namespace}/${pod.metadata?.name}`);
    if (used === undefined) allMeasured = false;
    cores += used ?? podRequests(pod.spec).cpuCores;
  }
  return { cores, pods: pods.length, basis: allMeasured ? 'usage' : 'requests' };
}

export function isOffloadPod(pod: V1Pod): boolean {
  return pod.metadata?.labels?.[OFFLOAD_LABEL] !== undefined;
}
