/**
 * The actuator: every remediation policy as one idempotent change to the cluster, behind the guards.
 *
 * Idempotency: each call carries an operation id (the activity derives it from the workflow and activity ids,
 * which survive retries). The absolute target of a relative step (×1.5 of what is there now) is computed once
 * and recorded on the changed object in the same write (`talon.io/operation`); a retry finds the record and
 * does not multiply again. Two-step changes record their intent first (in-place resize) or checkpoint the
 * manifest through the caller (delete-and-recreate), so a crash between the steps is finished, not repeated.
 * Writes use the object's resourceVersion as a precondition, so a concurrent change is a 409 (retry), never
 * a lost update. Dry-run mode sends every write with `dryRun=All` and reports what would change.
 */
import type { V1Job, V1Node, V1Pod, V1PodSpec } from '@kubernetes/client-node';
import { GUARDS, GuardRefusedError } from '../domain/errors';
import {
  budgetRefusal,
  checkMagnitude,
  checkNamespace,
  plannedReplicas,
  type BoundedResource,
  type GuardConfig,
} from '../domain/guards';
import type { NodeLoad } from '../domain/node-load';
import { chooseOffloadTarget, describeChoice, type NodeInfo, type NodeSelectorTerm } from '../domain/offload-target';
import type { PolicyName } from '../domain/policy';
import { parseQuantity } from '../domain/quantity';
import { containerMatches, planResourceScaling, type ContainerTarget } from '../domain/resource-plan';
import { CLUSTER_SCOPE, type WriteBudgetStore } from './budget';
import type { ClusterCapabilities } from './capabilities';
import { ApiNodeSource, type NodeSource } from './node-cache';
import { patchAs, PatchStrategy, type KubeClients } from './client';
import {
  isNotFound,
  KubeConflictError,
  KubeInvalidError,
  KubeNotFoundError,
  KubeUnavailableError,
  kubeCall,
  NoEligibleNodeError,
  UnsupportedTargetError,
} from './errors';
import {
  ANNOTATIONS,
  describeWorkload,
  FIELD_MANAGER,
  OVERLOAD_TAINT,
  type ActionResult,
  type Change,
  type Checkpoint,
  type ControllerKind,
  type EvictionResult,
  type Expectation,
  type OperationRecord,
  type RecreateCheckpoint,
  type WorkloadCheckpoint,
  type WorkloadRef,
} from './types';
import {
  containersOf,
  jobManifestForRecreate,
  operationAnnotation,
  operationOf,
  ownerCandidate,
  pinToNode,
  podManifestForRecreate,
  readController,
  readOwningController,
  retier,
  type Controller,
} from './workloads';

export type ResourcePolicy = 'cpu_scale_up' | 'cpu_scale_down' | 'memory_scale_up' | 'memory_scale_down';
export type ReplicaPolicy = 'replica_scale_up' | 'replica_scale_down';

export interface ActuatorOptions {
  readonly guards: GuardConfig;
  /** Durable write budget; without one the budget guard is off (tests only). */
  readonly budget?: WriteBudgetStore;
  /** Resize discovery; without one in-place resize is never attempted. */
  readonly capabilities?: ClusterCapabilities;
  /** Node label carrying the tier (edge/cloud). */
  readonly tierLabel?: string;
  /** Candidate nodes for offloading: a {@link NodeCache} in workers, a LIST per decision by default. */
  readonly nodeSource?: NodeSource;
  /** Bandwidth a network_qos share of 1.0 allows, in Mbit/s (Kube-OVN's unit). */
  readonly networkCeilingMbps?: number;
  /** How long a deleted object may take to disappear before recreation gives up (retryable). */
  readonly deletionTimeoutMs?: number;
  readonly clock?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Per call: the operation's identity and hooks into the caller's durability. */
export interface OperationContext {
  /** Stable across retries of the same step; different for a new step. */
  readonly operationId: string;
  /**
   * Called before the first write: with the controller about to change, or with the manifest before a
   * delete-and-recreate deletes anything. The activity saves it as heartbeat details.
   */
  readonly checkpoint?: (checkpoint: Checkpoint) => void | Promise<void>;
  /** The checkpoint a previous attempt saved, if any. */
  readonly restored?: Checkpoint;
  /** Called while waiting (deletions), so a long wait is not mistaken for a hang. */
  readonly heartbeat?: () => void;
  /** Overrides the configured dry-run mode for this call. */
  readonly dryRun?: boolean;
}

export interface ScaleResourcesRequest {
  readonly policy: ResourcePolicy;
  readonly namespace: string;
  readonly pod: string;
  /** D3.6 scales every container that sets the resource; a name narrows it to one. */
  readonly container?: string;
  readonly factor: number;
}

export interface ScaleReplicasRequest {
  readonly policy: ReplicaPolicy;
  readonly namespace: string;
  /** The pod whose owner is scaled, or the workload itself. */
  readonly pod?: string;
  readonly workload?: { readonly kind: 'Deployment' | 'StatefulSet'; readonly name: string };
  readonly factor: number;
}

export interface OffloadTaskRequest {
  readonly namespace: string;
  readonly pod: string;
  /** Wanted tier (`edge`/`cloud`); any tier when absent. */
  readonly tier?: string;
  /** The policy magnitude (share of tasks); checked against the guide, otherwise informative. */
  readonly magnitude?: number;
  /** Destinations above this load are not considered. */
  readonly maxLoad?: number;
}

export interface DataOffloadRequest {
  readonly namespace: string;
  readonly pod: string;
  /** Share of data to offload, 0.1–0.9 (the magnitude guide). */
  readonly share: number;
}

export interface NetworkQosRequest {
  readonly namespace: string;
  readonly pod: string;
  /** Share of the configured ceiling to allow in both directions (the policy magnitude). */
  readonly share?: number;
  readonly ingressMbps?: number;
  readonly egressMbps?: number;
}

export interface TaintNodeRequest {
  readonly node: string;
  readonly key?: string;
  readonly value?: string;
  readonly effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export interface EvictPodRequest {
  readonly namespace: string;
  readonly pod: string;
  /** Evict only this instance (a StatefulSet's replacement keeps the name). */
  readonly uid?: string;
}

export interface PodUsage {
  readonly namespace: string;
  readonly pod: string;
  readonly cpuCores: number;
}

export interface EvictionCandidate {
  readonly namespace: string;
  readonly pod: string;
  readonly uid: string;
  /** CPU cores used (Prometheus) or requested (fallback). */
  readonly cpuCores: number;
  readonly basis: 'usage' | 'requests';
}

const RESOURCE_OF: Readonly<Record<ResourcePolicy, BoundedResource>> = {
  cpu_scale_up: 'cpu',
  cpu_scale_down: 'cpu',
  memory_scale_up: 'memory',
  memory_scale_down: 'memory',
};

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function replicaWorkload(ref: WorkloadRef): { kind: 'Deployment' | 'StatefulSet'; name: string } {
  if (ref.kind !== 'Deployment' && ref.kind !== 'StatefulSet') {
    throw new UnsupportedTargetError(`${describeWorkload(ref)} has no replicas to change`);
  }
  return { kind: ref.kind, name: ref.name };
}

function dryRunOf(dry: boolean): { dryRun?: string } {
  return dry ? { dryRun: 'All' } : {};
}

function resourcesPatch(resource: string, targets: readonly ContainerTarget[]): Record<string, unknown>[] {
  return targets.map((t) => ({
    name: t.container,
    resources: {
      ...(t.requests === undefined ? {} : { requests: { [resource]: t.requests } }),
      ...(t.limits === undefined ? {} : { limits: { [resource]: t.limits } }),
    },
  }));
}

function applyTargets(spec: V1PodSpec, resource: string, targets: readonly ContainerTarget[]): void {
  for (const t of targets) {
    const c = spec.containers.find((x) => x.name === t.container);
    if (!c) continue;
    c.resources ??= {};
    if (t.requests !== undefined) c.resources.requests = { ...c.resources.requests, [resource]: t.requests };
    if (t.limits !== undefined) c.resources.limits = { ...c.resources.limits, [resource]: t.limits };
  }
}

function describeChanges(changes: readonly Change[]): string {
  return changes.map((c) => `${c.path} ${c.from ?? '∅'}→${c.to ?? '∅'}`).join(', ');
}

function resourceChanges(
  plan: { changes: readonly { container: string; field: string; from: string; to: string }[] },
  resource: string,
): Change[] {
  return plan.changes.map((c) => ({ path: `container ${c.container} ${c.field}.${resource}`, from: c.from, to: c.to }));
}

function isWorkloadCheckpoint(value: unknown): value is WorkloadCheckpoint {
  const v = value as Partial<WorkloadCheckpoint> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    v.kind === 'Workload' &&
    typeof v.operationId === 'string' &&
    typeof v.workload === 'object' &&
    v.workload !== null &&
    (v.workload.kind === 'Deployment' || v.workload.kind === 'StatefulSet' || v.workload.kind === 'DaemonSet')
  );
}

function isRecreateCheckpoint(value: unknown): value is RecreateCheckpoint {
  const v = value as Partial<RecreateCheckpoint> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.operationId === 'string' &&
    (v.kind === 'Pod' || v.kind === 'Job') &&
    typeof v.name === 'string' &&
    typeof v.namespace === 'string' &&
    typeof v.manifest === 'object'
  );
}

export class KubeActuator {
  private readonly clock: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    readonly clients: KubeClients,
    readonly options: ActuatorOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.sleep = options.sleep ?? defaultSleep;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Shared steps

  private dry(ctx: OperationContext): boolean {
    return ctx.dryRun ?? this.options.guards.dryRun;
  }

  /** The record a write leaves on the object, carrying the ids of the operations before it. */
  private record(
    ctx: OperationContext,
    policy: string,
    prior: OperationRecord | undefined,
    extra: Partial<OperationRecord> = {},
  ): OperationRecord {
    const history = prior
      ? [prior.id, ...(prior.history ?? [])].filter((id) => id !== ctx.operationId).slice(0, 10)
      : [];
    return {
      id: ctx.operationId,
      policy,
      at: new Date(this.clock()).toISOString(),
      ...extra,
      ...(history.length ? { history } : {}),
    };
  }

  /** This operation was applied and another one has changed the object since: nothing to do again. */
  private superseded(prior: OperationRecord | undefined, ctx: OperationContext): boolean {
    return prior !== undefined && prior.id !== ctx.operationId && (prior.history ?? []).includes(ctx.operationId);
  }

  private supersededResult(
    policy: string,
    ctx: OperationContext,
    where: string,
    prior: OperationRecord,
    mechanism: ActionResult['mechanism'],
    expect: Expectation,
  ): ActionResult {
    return this.result(policy, ctx, {
      alreadyApplied: true,
      target: where,
      mechanism,
      summary: `${policy} on ${where} was applied by this operation before; ${prior.policy} (${prior.id}) changed it since`,
      changes: [],
      expect,
    });
  }

  private checkOperation(ctx: OperationContext): void {
    if (!ctx.operationId || ctx.operationId.length > 256) {
      throw new GuardRefusedError(GUARDS.invalidRequest, 'an operation id of 1 to 256 characters is required');
    }
  }

  /**
   * Runs a read-modify-write step again when its write lost a race (409 on the resourceVersion
   * precondition): the step re-reads, re-checks its operation record and re-plans from the new state.
   */
  private async retryOnConflict<T>(step: () => Promise<T>, attempts = 4): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await step();
      } catch (err) {
        if (!(err instanceof KubeConflictError) || attempt >= attempts) throw err;
        await this.sleep(25 * attempt);
      }
    }
  }

  /** Counts this operation's write against the scope's budget (peeks only in dry runs). */
  private async admit(scope: string, ctx: OperationContext): Promise<void> {
    const store = this.options.budget;
    if (!store) return;
    const budget = this.options.guards.writeBudget;
    const decision = this.dry(ctx)
      ? await store.peek(scope, ctx.operationId, budget)
      : await store.reserve(scope, ctx.operationId, budget);
    if (!decision.allowed)
      throw budgetRefusal(scope === CLUSTER_SCOPE ? 'cluster scope (nodes)' : scope, decision, budget);
  }

  private result(
    policy: string,
    ctx: OperationContext,
    fields: Omit<ActionResult, 'policy' | 'operationId' | 'dryRun' | 'applied' | 'alreadyApplied'> & {
      applied?: boolean;
      alreadyApplied?: boolean;
    },
  ): ActionResult {
    const dryRun = this.dry(ctx);
    const alreadyApplied = fields.alreadyApplied ?? false;
    return {
      policy,
      operationId: ctx.operationId,
      ...fields,
      applied: fields.applied ?? (!dryRun && !alreadyApplied),
      alreadyApplied,
      dryRun,
      expect: dryRun ? { kind: 'none', reason: 'dry run: nothing was changed' } : fields.expect,
      summary: `${dryRun ? '[dry run] ' : ''}${alreadyApplied ? '[already applied] ' : ''}${fields.summary}`,
    };
  }

  async readPod(namespace: string, name: string): Promise<V1Pod> {
    return kubeCall(`read Pod ${namespace}/${name}`, () => this.clients.core.readNamespacedPod({ name, namespace }));
  }

  /** The pod, or — when it is gone because an earlier attempt deleted it — the checkpoint to finish. */
  private async readPodOrCheckpoint(
    namespace: string,
    name: string,
    ctx: OperationContext,
  ): Promise<{ pod: V1Pod } | { checkpoint: RecreateCheckpoint } | { workload: WorkloadCheckpoint['workload'] }> {
    try {
      return { pod: await this.readPod(namespace, name) };
    } catch (err) {
      const saved = ctx.restored;
      if (isNotFound(err) && saved?.operationId === ctx.operationId) {
        if (isRecreateCheckpoint(saved)) return { checkpoint: saved };
        if (isWorkloadCheckpoint(saved)) return { workload: saved.workload };
      }
      throw err;
    }
  }

  /** Remembers (through the caller) which controller this operation is about to change. */
  private async rememberWorkload(ref: WorkloadRef, ctx: OperationContext): Promise<void> {
    if (this.dry(ctx)) return;
    await ctx.checkpoint?.({ operationId: ctx.operationId, kind: 'Workload', workload: ref });
  }

  private async patchController(
    ref: WorkloadRef & { kind: ControllerKind },
    body: Record<string, unknown>,
    strategy: PatchStrategy,
    ctx: OperationContext,
  ): Promise<Controller> {
    const params = {
      name: ref.name,
      namespace: ref.namespace,
      body,
      fieldManager: FIELD_MANAGER,
      ...dryRunOf(this.dry(ctx)),
    };
    const options = patchAs(strategy);
    const op = `patch ${describeWorkload(ref)}`;
    switch (ref.kind) {
      case 'Deployment':
        return kubeCall(op, () => this.clients.apps.patchNamespacedDeployment(params, options));
      case 'StatefulSet':
        return kubeCall(op, () => this.clients.apps.patchNamespacedStatefulSet(params, options));
      case 'DaemonSet':
        return kubeCall(op, () => this.clients.apps.patchNamespacedDaemonSet(params, options));
    }
  }

  private async patchPod(
    namespace: string,
    name: string,
    body: Record<string, unknown>,
    strategy: PatchStrategy,
    ctx: OperationContext,
  ): Promise<V1Pod> {
    return kubeCall(`patch Pod ${namespace}/${name}`, () =>
      this.clients.core.patchNamespacedPod(
        { name, namespace, body, fieldManager: FIELD_MANAGER, ...dryRunOf(this.dry(ctx)) },
        patchAs(strategy),
      ),
    );
  }

  /** Waits until `probe` says the old object is gone (404, or a new instance under the same name). */
  private async waitGone(what: string, probe: () => Promise<boolean>, ctx: OperationContext): Promise<void> {
    const deadline = this.clock() + (this.options.deletionTimeoutMs ?? 60_000);
    let delay = 50;
    for (;;) {
      if (await probe()) return;
      ctx.heartbeat?.();
      if (this.clock() > deadline) {
        throw new KubeUnavailableError(
          `wait for ${what} to be deleted`,
          {},
          `${what} was still being deleted after the timeout`,
        );
      }
      await this.sleep(delay);
      delay = Math.min(1_000, delay * 2);
    }
  }

  /** Deletes a pod (this instance only) and creates `manifest` under the same name. */
  private async recreatePod(old: V1Pod, manifest: V1Pod, ctx: OperationContext): Promise<V1Pod> {
    const namespace = old.metadata?.namespace ?? '';
    const name = old.metadata?.name ?? '';
    const uid = old.metadata?.uid ?? '';
    const dry = this.dry(ctx);
    if (dry) {
      await kubeCall(`delete Pod ${namespace}/${name} (dry run)`, () =>
        this.clients.core.deleteNamespacedPod({
          name,
          namespace,
          dryRun: 'All',
          // With a body, the apiserver reads the options from it and ignores the query: dryRun goes in both.
          body: { preconditions: { uid }, dryRun: ['All'] },
        }),
      );
      const trial = { ...manifest, metadata: { ...manifest.metadata, name: `${name.slice(0, 40)}-talon-dry-run` } };
      return kubeCall(`create Pod ${namespace}/${name} (dry run)`, () =>
        this.clients.core.createNamespacedPod({ namespace, body: trial, dryRun: 'All', fieldManager: FIELD_MANAGER }),
      );
    }
    await ctx.checkpoint?.({
      operationId: ctx.operationId,
      kind: 'Pod',
      namespace,
      name,
      manifest: JSON.parse(JSON.stringify(manifest)) as Record<string, unknown>,
    });
    await this.deleteInstance(`Pod ${namespace}/${name}`, () =>
      this.clients.core.deleteNamespacedPod({ name, namespace, body: { preconditions: { uid } } }),
    );
    await this.waitGone(
      `Pod ${namespace}/${name}`,
      async () => {
        try {
          return (await this.readPod(namespace, name)).metadata?.uid !== uid;
        } catch (err) {
          if (isNotFound(err)) return true;
          throw err;
        }
      },
      ctx,
    );
    return (await this.createPod(manifest, ctx)).object;
  }

  private async deleteInstance(what: string, call: () => Promise<unknown>): Promise<void> {
    try {
      await kubeCall(`delete ${what}`, call);
    } catch (err) {
      // Gone already, or the name now belongs to a new instance (precondition failed): nothing to delete.
      if (isNotFound(err) || err instanceof KubeConflictError) return;
      throw err;
    }
  }

  /** Creates the pod; one this operation created before (a retry) is returned as `existed`. */
  private async createPod(manifest: V1Pod, ctx: OperationContext): Promise<{ object: V1Pod; existed: boolean }> {
    const namespace = manifest.metadata?.namespace ?? '';
    const name = manifest.metadata?.name ?? '';
    try {
      const object = await kubeCall(`create Pod ${namespace}/${name}`, () =>
        this.clients.core.createNamespacedPod({ namespace, body: manifest, fieldManager: FIELD_MANAGER }),
      );
      return { object, existed: false };
    } catch (err) {
      if (!(err instanceof KubeConflictError)) throw err;
      const existing = await this.readPod(namespace, name);
      if (operationOf(existing.metadata)?.id === ctx.operationId) return { object: existing, existed: true };
      throw err;
    }
  }

  private async readJob(namespace: string, name: string): Promise<V1Job> {
    return kubeCall(`read Job ${namespace}/${name}`, () => this.clients.batch.readNamespacedJob({ name, namespace }));
  }

  /** Creates the Job; one this operation created before (a retry) is returned as `existed`. */
  private async createJob(manifest: V1Job, ctx: OperationContext): Promise<{ object: V1Job; existed: boolean }> {
    const namespace = manifest.metadata?.namespace ?? '';
    const name = manifest.metadata?.name ?? '';
    try {
      const object = await kubeCall(`create Job ${namespace}/${name}`, () =>
        this.clients.batch.createNamespacedJob({ namespace, body: manifest, fieldManager: FIELD_MANAGER }),
      );
      return { object, existed: false };
    } catch (err) {
      if (!(err instanceof KubeConflictError)) throw err;
      const existing = await this.readJob(namespace, name);
      if (operationOf(existing.metadata)?.id === ctx.operationId) return { object: existing, existed: true };
      throw err;
    }
  }

  /** Deletes a Job with its pods (foreground) and creates `manifest` under the same name (D3.6 Figure 11). */
  private async recreateJob(old: V1Job, manifest: V1Job, ctx: OperationContext): Promise<V1Job> {
    const namespace = old.metadata?.namespace ?? '';
    const name = old.metadata?.name ?? '';
    const uid = old.metadata?.uid ?? '';
    if (this.dry(ctx)) {
      await kubeCall(`delete Job ${namespace}/${name} (dry run)`, () =>
        this.clients.batch.deleteNamespacedJob({
          name,
          namespace,
          dryRun: 'All',
          propagationPolicy: 'Foreground',
          body: { preconditions: { uid }, dryRun: ['All'], propagationPolicy: 'Foreground' },
        }),
      );
      const trial = { ...manifest, metadata: { ...manifest.metadata, name: `${name.slice(0, 40)}-talon-dry-run` } };
      return kubeCall(`create Job ${namespace}/${name} (dry run)`, () =>
        this.clients.batch.createNamespacedJob({ namespace, body: trial, dryRun: 'All', fieldManager: FIELD_MANAGER }),
      );
    }
    await ctx.checkpoint?.({
      operationId: ctx.operationId,
      kind: 'Job',
      namespace,
      name,
      manifest: JSON.parse(JSON.stringify(manifest)) as Record<string, unknown>,
    });
    await this.deleteInstance(`Job ${namespace}/${name}`, () =>
      this.clients.batch.deleteNamespacedJob({
        name,
        namespace,
        propagationPolicy: 'Foreground',
        body: { preconditions: { uid }, propagationPolicy: 'Foreground' },
      }),
    );
    await this.waitGone(
      `Job ${namespace}/${name}`,
      async () => {
        try {
          return (await this.readJob(namespace, name)).metadata?.uid !== uid;
        } catch (err) {
          if (isNotFound(err)) return true;
          throw err;
        }
      },
      ctx,
    );
    return (await this.createJob(manifest, ctx)).object;
  }

  /** Finishes a delete-and-recreate whose delete happened in an earlier attempt. */
  private async finishCheckpoint(
    policy: string,
    checkpoint: RecreateCheckpoint,
    ctx: OperationContext,
  ): Promise<ActionResult> {
    const record = operationOf((checkpoint.manifest as { metadata?: V1Pod['metadata'] }).metadata);
    const where = `${checkpoint.kind} ${checkpoint.namespace}/${checkpoint.name}`;
    const targets = record?.targets;
    const resource = record?.resource;
    const node = record?.node;
    const common = {
      ...(resource ? { resource } : {}),
      ...(targets ? { targets } : {}),
      ...(node ? { node } : {}),
    };
    if (checkpoint.kind === 'Pod') {
      const { object, existed } = await this.createPod(checkpoint.manifest, ctx);
      return this.result(policy, ctx, {
        alreadyApplied: existed,
        target: where,
        mechanism: 'recreate',
        summary: existed
          ? `${policy} on ${where} was applied by this operation before`
          : `${policy} on ${where}: recreated from the checkpoint of an interrupted attempt`,
        changes: [],
        expect: {
          kind: 'pod',
          namespace: checkpoint.namespace,
          pod: checkpoint.name,
          uid: object.metadata?.uid ?? '',
          ...common,
        },
      });
    }
    const { object, existed } = await this.createJob(checkpoint.manifest, ctx);
    return this.result(policy, ctx, {
      alreadyApplied: existed,
      target: where,
      mechanism: 'recreate',
      summary: existed
        ? `${policy} on ${where} was applied by this operation before`
        : `${policy} on ${where}: recreated from the checkpoint of an interrupted attempt`,
      changes: [],
      expect: {
        kind: 'job',
        namespace: checkpoint.namespace,
        job: checkpoint.name,
        uid: object.metadata?.uid ?? '',
        ...common,
      },
    });
  }

  // ---------------------------------------------------------------------------------------------------------
  // cpu_scale_up / cpu_scale_down / memory_scale_up / memory_scale_down

  /**
   * Multiplies the target containers' requests and limits by the factor. Deployment/StatefulSet/DaemonSet:
   * patch the pod template (rolling update). Standalone pod: in-place resize when the apiserver serves
   * `pods/resize` and the pod's node reports container resources, else delete and recreate. Job: recreate.
   */
  async scaleResources(req: ScaleResourcesRequest, ctx: OperationContext): Promise<ActionResult> {
    const g = this.options.guards;
    const resource = RESOURCE_OF[req.policy];
    this.checkOperation(ctx);
    if (!resource) throw new GuardRefusedError(GUARDS.invalidRequest, `${String(req.policy)} is not a resource policy`);
    checkNamespace(g, req.namespace);
    checkMagnitude(g, req.policy, req.factor);
    const found = await this.readPodOrCheckpoint(req.namespace, req.pod, ctx);
    if ('checkpoint' in found) return this.finishCheckpoint(req.policy, found.checkpoint, ctx);
    if ('workload' in found) {
      const ref = found.workload as WorkloadRef & { kind: ControllerKind };
      return this.retryOnConflict(async () => {
        const object = await readController(this.clients, ref.kind, ref.namespace, ref.name);
        return this.scaleControllerResources(req, resource, { ref, object }, ctx);
      });
    }
    const pod = found.pod;
    const owner = ownerCandidate(pod);
    switch (owner.kind) {
      case 'Deployment':
      case 'StatefulSet':
      case 'DaemonSet': {
        const kind = owner.kind;
        const read = await readOwningController(this.clients, pod, { ...owner, kind });
        const ref = { ...read.ref, kind };
        let fresh: Controller | undefined = read.object;
        return this.retryOnConflict(async () => {
          const object = fresh ?? (await readController(this.clients, kind, ref.namespace, ref.name));
          fresh = undefined; // a retry after a conflict reads the controller again
          return this.scaleControllerResources(req, resource, { ref, object }, ctx);
        });
      }
      case 'Job':
        return this.scaleJobResources(req, resource, owner.name, ctx);
      case 'Pod':
        return this.scalePodResources(req, resource, pod, ctx);
    }
  }

  private async scaleControllerResources(
    req: ScaleResourcesRequest,
    resource: BoundedResource,
    { ref, object }: { ref: WorkloadRef & { kind: ControllerKind }; object: Controller },
    ctx: OperationContext,
  ): Promise<ActionResult> {
    const where = describeWorkload(ref);
    const controllerRef = ref;
    const prior = operationOf(object.metadata);
    if (prior && this.superseded(prior, ctx)) {
      return this.supersededResult(req.policy, ctx, where, prior, 'rolling-update', {
        kind: 'rollout',
        workload: ref,
        generation: object.metadata?.generation ?? 0,
      });
    }
    if (prior?.id === ctx.operationId && prior.targets) {
      return this.result(req.policy, ctx, {
        alreadyApplied: true,
        target: where,
        mechanism: 'rolling-update',
        summary: `${req.policy} ×${req.factor} on ${where} was applied by this operation before`,
        changes: [],
        expect: {
          kind: 'rollout',
          workload: ref,
          generation: object.metadata?.generation ?? 0,
          resource,
          targets: prior.targets,
        },
      });
    }
    const plan = planResourceScaling(
      this.options.guards,
      containersOf(object.spec?.template.spec),
      resource,
      req.factor,
      {
        ...(req.container ? { container: req.container } : {}),
        where,
      },
    );
    await this.admit(req.namespace, ctx);
    await this.rememberWorkload(ref, ctx);
    const body = {
      metadata: {
        resourceVersion: object.metadata?.resourceVersion,
        annotations: operationAnnotation(this.record(ctx, req.policy, prior, { resource, targets: plan.targets })),
      },
      spec: { template: { spec: { containers: resourcesPatch(resource, plan.targets) } } },
    };
    const patched = await this.patchController(controllerRef, body, PatchStrategy.StrategicMergePatch, ctx);
    const changes = resourceChanges(plan, resource);
    return this.result(req.policy, ctx, {
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

  private async scaleJobResources(
    req: ScaleResourcesRequest,
    resource: BoundedResource,
    jobName: string,
    ctx: OperationContext,
  ): Promise<ActionResult> {
    const job = await this.readJob(req.namespace, jobName);
    const where = `Job ${req.namespace}/${jobName}`;
    const prior = operationOf(job.metadata);
    if (prior && this.superseded(prior, ctx)) {
      return this.supersededResult(req.policy, ctx, where, prior, 'recreate', {
        kind: 'job',
        namespace: req.namespace,
        job: jobName,
        uid: job.metadata?.uid ?? '',
      });
    }
    if (prior?.id === ctx.operationId && prior.targets) {
      return this.result(req.policy, ctx, {
        alreadyApplied: true,
        target: where,
        mechanism: 'recreate',
        summary: `${req.policy} ×${req.factor} on ${where} was applied by this operation before`,
        changes: [],
        expect: {
          kind: 'job',
          namespace: req.namespace,
          job: jobName,
          uid: job.metadata?.uid ?? '',
          resource,
          targets: prior.targets,
        },
      });
    }
    const plan = planResourceScaling(this.options.guards, containersOf(job.spec?.template.spec), resource, req.factor, {
      ...(req.container ? { container: req.container } : {}),
      where,
    });
    await this.admit(req.namespace, ctx);
    const manifest = jobManifestForRecreate(job);
    if (manifest.spec) applyTargets(manifest.spec.template.spec ?? { containers: [] }, resource, plan.targets);
    manifest.metadata = {
      ...manifest.metadata,
      annotations: {
        ...manifest.metadata?.annotations,
        ...operationAnnotation(this.record(ctx, req.policy, prior, { resource, targets: plan.targets })),
      },
    };
    const created = await this.recreateJob(job, manifest, ctx);
    const changes = resourceChanges(plan, resource);
    return this.result(req.policy, ctx, {
      target: where,
      mechanism: 'recreate',
      summary: `${resource} ×${req.factor} on ${where}: ${describeChanges(changes)} (Job recreated)`,
      changes,
      expect: {
        kind: 'job',
        namespace: req.namespace,
        job: jobName,
        uid: created.metadata?.uid ?? '',
        resource,
        targets: plan.targets,
      },
    });
  }

  /** Resize is possible when the apiserver serves it and the pod's node reports container resources. */
  private async canResizeInPlace(pod: V1Pod): Promise<boolean> {
    const caps = this.options.capabilities;
    if (!caps || !(await caps.podResize())) return false;
    const running = (pod.status?.containerStatuses ?? []).filter((s) => s.state?.running);
    return running.length > 0 && running.every((s) => s.resources !== undefined && s.resources !== null);
  }

  private async scalePodResources(
    req: ScaleResourcesRequest,
    resource: BoundedResource,
    pod: V1Pod,
    ctx: OperationContext,
  ): Promise<ActionResult> {
    const where = `Pod ${req.namespace}/${req.pod}`;
    const containers = containersOf(pod.spec);
    const prior = operationOf(pod.metadata);
    if (prior && this.superseded(prior, ctx)) {
      return this.supersededResult(req.policy, ctx, where, prior, prior.mechanism ?? 'in-place-resize', {
        kind: 'pod',
        namespace: req.namespace,
        pod: req.pod,
        uid: pod.metadata?.uid ?? '',
      });
    }
    const resumed = prior?.id === ctx.operationId && prior.targets !== undefined;
    let targets: readonly ContainerTarget[];
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
        return this.result(req.policy, ctx, {
          alreadyApplied: true,
          target: where,
          mechanism: prior.mechanism ?? 'in-place-resize',
          summary: `${req.policy} ×${req.factor} on ${where} was applied by this operation before`,
          changes: [],
          expect: {
            kind: 'pod',
            namespace: req.namespace,
            pod: req.pod,
            uid: pod.metadata?.uid ?? '',
            resource,
            targets,
            ...(prior.mechanism === 'recreate' ? {} : { resized: true }),
          },
        });
      }
    } else {
      const plan = planResourceScaling(this.options.guards, containers, resource, req.factor, {
        ...(req.container ? { container: req.container } : {}),
        where,
      });
      targets = plan.targets;
      changes = resourceChanges(plan, resource);
    }
    await this.admit(req.namespace, ctx);
    const record = this.record(ctx, req.policy, resumed ? undefined : prior, {
      resource,
      targets,
      mechanism: 'in-place-resize',
      ...(resumed && prior?.history ? { history: prior.history } : {}),
    });
    let fallback = '';
    if (await this.canResizeInPlace(pod)) {
      try {
        if (!resumed) {
          // Intent first: a retry after a crash between the two writes resizes to the same absolute values.
          await this.patchPod(
            req.namespace,
            req.pod,
            { metadata: { resourceVersion: pod.metadata?.resourceVersion, annotations: operationAnnotation(record) } },
            PatchStrategy.MergePatch,
            ctx,
          );
        }
        await kubeCall(`resize Pod ${req.namespace}/${req.pod}`, () =>
          this.clients.core.patchNamespacedPodResize(
            {
              name: req.pod,
              namespace: req.namespace,
              body: { spec: { containers: resourcesPatch(resource, targets) } },
              fieldManager: FIELD_MANAGER,
              ...dryRunOf(this.dry(ctx)),
            },
            patchAs(PatchStrategy.StrategicMergePatch),
          ),
        );
        return this.result(req.policy, ctx, {
          target: where,
          mechanism: 'in-place-resize',
          summary: `${resource} ×${req.factor} on ${where}: ${describeChanges(changes)} (resized in place)`,
          changes,
          expect: {
            kind: 'pod',
            namespace: req.namespace,
            pod: req.pod,
            uid: pod.metadata?.uid ?? '',
            resource,
            targets,
            resized: true,
          },
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
    const created = await this.recreatePod(pod, manifest, ctx);
    return this.result(req.policy, ctx, {
      target: where,
      mechanism: 'recreate',
      summary: `${resource} ×${req.factor} on ${where}: ${describeChanges(changes)} (pod recreated)${fallback}`,
      changes,
      expect: {
        kind: 'pod',
        namespace: req.namespace,
        pod: req.pod,
        uid: created.metadata?.uid ?? '',
        resource,
        targets,
      },
    });
  }

  // ---------------------------------------------------------------------------------------------------------
  // replica_scale_up / replica_scale_down (D3.6 Rule 1)

  async scaleReplicas(req: ScaleReplicasRequest, ctx: OperationContext): Promise<ActionResult> {
    const g = this.options.guards;
    this.checkOperation(ctx);
    checkNamespace(g, req.namespace);
    checkMagnitude(g, req.policy, req.factor);
    return this.retryOnConflict(() => this.scaleReplicasOnce(req, ctx));
  }

  private async scaleReplicasOnce(req: ScaleReplicasRequest, ctx: OperationContext): Promise<ActionResult> {
    const g = this.options.guards;
    let ref: WorkloadRef & { kind: ControllerKind };
    let object: Controller;
    if (req.workload) {
      ref = { kind: req.workload.kind, namespace: req.namespace, name: req.workload.name };
      object = await readController(this.clients, ref.kind, req.namespace, req.workload.name);
    } else if (req.pod) {
      const found = await this.readPodOrCheckpoint(req.namespace, req.pod, ctx);
      if ('checkpoint' in found)
        throw new UnsupportedTargetError('a recreate checkpoint cannot resume replica scaling');
      if ('workload' in found)
        return this.scaleReplicasOnce({ ...req, pod: undefined, workload: replicaWorkload(found.workload) }, ctx);
      const pod = found.pod;
      const owner = ownerCandidate(pod);
      if (owner.kind !== 'Deployment' && owner.kind !== 'StatefulSet') {
        throw new UnsupportedTargetError(
          `pod ${req.namespace}/${req.pod} is ${owner.kind === 'Pod' ? 'standalone' : `run by a ${owner.kind}`}: ` +
            'only Deployments and StatefulSets have replicas to change',
        );
      }
      const read = await readOwningController(this.clients, pod, { ...owner, kind: owner.kind });
      ref = { ...read.ref, kind: owner.kind };
      object = read.object;
    } else {
      throw new GuardRefusedError(GUARDS.invalidRequest, 'replica scaling needs a pod or a workload');
    }
    const where = describeWorkload(ref);
    const prior = operationOf(object.metadata);
    if (prior && this.superseded(prior, ctx)) {
      return this.supersededResult(req.policy, ctx, where, prior, 'scale', {
        kind: 'none',
        reason: 'a later operation has changed the workload since',
      });
    }
    if (prior?.id === ctx.operationId && prior.replicas !== undefined) {
      return this.result(req.policy, ctx, {
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
    const current = (object.spec as { replicas?: number } | undefined)?.replicas ?? 1;
    const replicas = plannedReplicas(g, current, req.factor, where);
    await this.admit(req.namespace, ctx);
    await this.rememberWorkload(ref, ctx);
    const patched = await this.patchController(
      ref,
      {
        metadata: {
          resourceVersion: object.metadata?.resourceVersion,
          annotations: operationAnnotation(this.record(ctx, req.policy, prior, { replicas })),
        },
        spec: { replicas },
      },
      PatchStrategy.MergePatch,
      ctx,
    );
    const changes = [{ path: 'spec.replicas', from: String(current), to: String(replicas) }];
    return this.result(req.policy, ctx, {
      target: where,
      mechanism: 'scale',
      summary: `replicas of ${where}: ${current}→${replicas}`,
      changes,
      expect: { kind: 'replicas', workload: ref, replicas, generation: patched.metadata?.generation ?? 0 },
    });
  }

  // ---------------------------------------------------------------------------------------------------------
  // task_offloading (D3.6 3.1.2, Figure 11)

  /** Nodes (only the wanted tier's when a tier is given) as placement sees them. */
  async listNodes(tier?: string): Promise<readonly NodeInfo[]> {
    const source = this.options.nodeSource ?? new ApiNodeSource(this.clients, this.options.tierLabel);
    return source.list(tier);
  }

  /**
   * Moves the pod's workload to the least-loaded eligible node of the wanted tier with required node affinity:
   * a controller's template is patched (rolling update), a Job or standalone pod is recreated.
   */
  async offloadTask(
    req: OffloadTaskRequest,
    ctx: OperationContext,
    usage: () => Promise<readonly NodeLoad[]>,
  ): Promise<ActionResult> {
    const g = this.options.guards;
    const policy: PolicyName = 'task_offloading';
    this.checkOperation(ctx);
    checkNamespace(g, req.namespace);
    if (req.magnitude !== undefined) checkMagnitude(g, policy, req.magnitude);
    const found = await this.readPodOrCheckpoint(req.namespace, req.pod, ctx);
    if ('checkpoint' in found) return this.finishCheckpoint(policy, found.checkpoint, ctx);
    if ('workload' in found) {
      // The pod was replaced by the rollout this operation started: report that rollout.
      const ref = found.workload as WorkloadRef & { kind: ControllerKind };
      const object = await readController(this.clients, ref.kind, ref.namespace, ref.name);
      const prior = operationOf(object.metadata);
      const applied = prior?.id === ctx.operationId || this.superseded(prior, ctx);
      if (!applied)
        throw new KubeNotFoundError(
          `read Pod ${req.namespace}/${req.pod}`,
          { code: 404 },
          `pod ${req.namespace}/${req.pod} is gone`,
        );
      return this.result(policy, ctx, {
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
    const pod = found.pod;
    const owner = ownerCandidate(pod);
    if (owner.kind === 'DaemonSet') {
      throw new UnsupportedTargetError(
        `pod ${req.namespace}/${req.pod} is run by a DaemonSet, which runs on every node`,
      );
    }

    let controller: { ref: WorkloadRef & { kind: ControllerKind }; object: Controller } | undefined;
    let job: V1Job | undefined;
    let templateSpec: V1PodSpec | undefined = pod.spec;
    let where = `Pod ${req.namespace}/${req.pod}`;
    if (owner.kind === 'Deployment' || owner.kind === 'StatefulSet') {
      const read = await readOwningController(this.clients, pod, { ...owner, kind: owner.kind });
      controller = { ref: { ...read.ref, kind: owner.kind }, object: read.object };
      templateSpec = read.object.spec?.template.spec;
      where = describeWorkload(read.ref);
    } else if (owner.kind === 'Job') {
      job = await this.readJob(req.namespace, owner.name);
      templateSpec = job.spec?.template.spec;
      where = `Job ${req.namespace}/${owner.name}`;
    }
    const priorMeta = controller?.object.metadata ?? job?.metadata ?? pod.metadata;
    const prior = operationOf(priorMeta);
    if (prior && this.superseded(prior, ctx)) {
      return this.supersededResult(policy, ctx, where, prior, controller ? 'rolling-update' : 'recreate', {
        kind: 'none',
        reason: 'a later operation has changed the workload since',
      });
    }
    if (prior?.id === ctx.operationId && prior.node) {
      const expect: Expectation = controller
        ? { kind: 'rollout', workload: controller.ref, generation: priorMeta?.generation ?? 0, node: prior.node }
        : job
          ? { kind: 'job', namespace: req.namespace, job: owner.name, uid: job.metadata?.uid ?? '', node: prior.node }
          : { kind: 'pod', namespace: req.namespace, pod: req.pod, uid: pod.metadata?.uid ?? '', node: prior.node };
      return this.result(policy, ctx, {
        alreadyApplied: true,
        target: where,
        mechanism: controller ? 'rolling-update' : 'recreate',
        summary: `${where} was offloaded to ${prior.node} by this operation before`,
        changes: [],
        expect,
      });
    }

    const [nodes, loads] = await Promise.all([this.listNodes(req.tier), usage()]);
    const tierLabel = this.options.tierLabel ?? 'talon.io/tier';
    const original: V1PodSpec = templateSpec ?? { containers: [] };
    const constraints = req.tier ? retier(original, tierLabel, req.tier) : original;
    const required = constraints.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    const request = {
      ...(req.tier ? { tier: req.tier } : {}),
      ...(this.options.tierLabel ? { tierLabel: this.options.tierLabel } : {}),
      exclude: pod.spec?.nodeName ? [pod.spec.nodeName] : [],
      tolerations: (templateSpec?.tolerations ?? []).map((t) => ({
        ...(t.key ? { key: t.key } : {}),
        ...(t.operator ? { operator: t.operator } : {}),
        ...(t.value ? { value: t.value } : {}),
        ...(t.effect ? { effect: t.effect } : {}),
      })),
      ...(constraints.nodeSelector ? { nodeSelector: constraints.nodeSelector } : {}),
      ...(required ? { nodeSelectorTerms: required.nodeSelectorTerms as NodeSelectorTerm[] } : {}),
      ...(req.maxLoad === undefined ? {} : { maxLoad: req.maxLoad }),
    };
    const choice = chooseOffloadTarget(nodes, loads, request);
    if (!choice.best) {
      throw new NoEligibleNodeError(`cannot offload ${where}: ${describeChoice(choice, request)}`, choice.excluded);
    }
    const node = choice.best.node;
    await this.admit(req.namespace, ctx);
    if (controller) await this.rememberWorkload(controller.ref, ctx);
    const record = this.record(ctx, policy, prior, { node });
    const annotations = { ...operationAnnotation(record), [ANNOTATIONS.offloadedTo]: node };
    const changes: Change[] = [{ path: 'node', ...(pod.spec?.nodeName ? { from: pod.spec.nodeName } : {}), to: node }];
    const summary = `${where} offloaded to ${describeChoice(choice, request)}`;

    if (controller) {
      const ref = controller.ref;
      let object: Controller | undefined = controller.object;
      // The node is chosen; only the write is repeated when the controller changed under it (its status
      // moves during rollouts): re-read, re-derive the constraints, patch again.
      const patched = await this.retryOnConflict(async () => {
        const current = object ?? (await readController(this.clients, ref.kind, ref.namespace, ref.name));
        object = undefined;
        const currentSpec: V1PodSpec = current.spec?.template.spec ?? { containers: [] };
        const retiered = req.tier ? retier(currentSpec, tierLabel, req.tier) : currentSpec;
        const latest = operationOf(current.metadata);
        return this.patchController(
          ref,
          {
            metadata: {
              resourceVersion: current.metadata?.resourceVersion,
              annotations: {
                ...operationAnnotation(
                  this.record(ctx, policy, latest?.id === ctx.operationId ? prior : latest, { node }),
                ),
                [ANNOTATIONS.offloadedTo]: node,
              },
            },
            spec: {
              template: {
                spec: {
                  affinity: pinToNode(retiered, node),
                  ...(retiered.nodeSelector?.[tierLabel] === undefined
                    ? {}
                    : { nodeSelector: { [tierLabel]: retiered.nodeSelector[tierLabel] } }),
                },
              },
            },
          },
          PatchStrategy.StrategicMergePatch,
          ctx,
        );
      });
      return this.result(policy, ctx, {
        target: where,
        mechanism: 'rolling-update',
        summary: `${summary} (rolling update)`,
        changes,
        expect: { kind: 'rollout', workload: controller.ref, generation: patched.metadata?.generation ?? 0, node },
      });
    }
    if (job) {
      const manifest = jobManifestForRecreate(job);
      if (manifest.spec) {
        const spec = req.tier
          ? retier(manifest.spec.template.spec ?? original, tierLabel, req.tier)
          : manifest.spec.template.spec;
        if (spec) manifest.spec.template.spec = { ...spec, affinity: pinToNode(spec, node) };
      }
      manifest.metadata = { ...manifest.metadata, annotations: { ...manifest.metadata?.annotations, ...annotations } };
      const created = await this.recreateJob(job, manifest, ctx);
      return this.result(policy, ctx, {
        target: where,
        mechanism: 'recreate',
        summary: `${summary} (Job recreated with node affinity)`,
        changes,
        expect: { kind: 'job', namespace: req.namespace, job: owner.name, uid: created.metadata?.uid ?? '', node },
      });
    }
    const manifest = podManifestForRecreate(pod);
    if (manifest.spec) {
      const spec = req.tier ? retier(manifest.spec, tierLabel, req.tier) : manifest.spec;
      manifest.spec = { ...spec, affinity: pinToNode(spec, node) };
    }
    manifest.metadata = { ...manifest.metadata, annotations: { ...manifest.metadata?.annotations, ...annotations } };
    const created = await this.recreatePod(pod, manifest, ctx);
    return this.result(policy, ctx, {
      target: where,
      mechanism: 'recreate',
      summary: `${summary} (pod recreated with node affinity)`,
      changes,
      expect: { kind: 'pod', namespace: req.namespace, pod: req.pod, uid: created.metadata?.uid ?? '', node },
    });
  }

  // ---------------------------------------------------------------------------------------------------------
  // data_offloading and network_qos: annotations on the pod

  private async annotatePod(
    policy: PolicyName,
    namespace: string,
    name: string,
    annotations: Record<string, string>,
    describe: string,
    ctx: OperationContext,
  ): Promise<ActionResult> {
    this.checkOperation(ctx);
    checkNamespace(this.options.guards, namespace);
    return this.retryOnConflict(() => this.annotatePodOnce(policy, namespace, name, annotations, describe, ctx));
  }

  private async annotatePodOnce(
    policy: PolicyName,
    namespace: string,
    name: string,
    annotations: Record<string, string>,
    describe: string,
    ctx: OperationContext,
  ): Promise<ActionResult> {
    const where = `Pod ${namespace}/${name}`;
    const pod = await this.readPod(namespace, name);
    const current = pod.metadata?.annotations ?? {};
    const prior = operationOf(pod.metadata);
    const expect: Expectation = { kind: 'annotations', namespace, pod: name, annotations };
    if (prior && this.superseded(prior, ctx)) {
      return this.supersededResult(policy, ctx, where, prior, 'annotate', {
        kind: 'none',
        reason: 'a later operation has changed the annotations since',
      });
    }
    if (prior?.id === ctx.operationId) {
      return this.result(policy, ctx, {
        alreadyApplied: true,
        target: where,
        mechanism: 'annotate',
        summary: `${describe} on ${where} was applied by this operation before`,
        changes: [],
        expect: {
          ...expect,
          annotations: Object.fromEntries(Object.keys(annotations).map((k) => [k, current[k] ?? ''])),
        },
      });
    }
    await this.admit(namespace, ctx);
    const changes = Object.entries(annotations).map(([k, v]) => ({
      path: `annotation ${k}`,
      ...(current[k] === undefined ? {} : { from: current[k] }),
      to: v,
    }));
    await this.patchPod(
      namespace,
      name,
      {
        metadata: {
          resourceVersion: pod.metadata?.resourceVersion,
          annotations: { ...annotations, ...operationAnnotation(this.record(ctx, policy, prior)) },
        },
      },
      PatchStrategy.MergePatch,
      ctx,
    );
    return this.result(policy, ctx, {
      target: where,
      mechanism: 'annotate',
      summary: `${describe} on ${where}: ${describeChanges(changes)}`,
      changes,
      expect,
    });
  }

  /** Marks the pod for a data-offload workflow (D3.6 Table 1: annotate to trigger data offload). */
  async requestDataOffload(req: DataOffloadRequest, ctx: OperationContext): Promise<ActionResult> {
    checkMagnitude(this.options.guards, 'data_offloading', req.share);
    return this.annotatePod(
      'data_offloading',
      req.namespace,
      req.pod,
      {
        [ANNOTATIONS.dataOffload]: String(req.share),
        [ANNOTATIONS.dataOffloadRequestedAt]: new Date(this.clock()).toISOString(),
      },
      `data offload of ${Math.round(req.share * 100)}%`,
      ctx,
    );
  }

  /** Sets Kube-OVN's ingress/egress rate annotations (Mbit/s) on the pod (D3.3 1.7.2, Figure 6). */
  async setNetworkQos(req: NetworkQosRequest, ctx: OperationContext): Promise<ActionResult> {
    const ceiling = this.options.networkCeilingMbps ?? 1000;
    if (req.share !== undefined) checkMagnitude(this.options.guards, 'network_qos', req.share);
    const fromShare = req.share === undefined ? undefined : Math.max(1, Math.round(req.share * ceiling));
    const ingress = req.ingressMbps ?? fromShare;
    const egress = req.egressMbps ?? fromShare;
    for (const [what, v] of [
      ['ingress', ingress],
      ['egress', egress],
    ] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > ceiling)) {
        throw new GuardRefusedError(GUARDS.resultBounds, `${what} rate ${v} Mbit/s is outside [1, ${ceiling}]`, {
          direction: what,
          value: v,
          max: ceiling,
        });
      }
    }
    if (ingress === undefined && egress === undefined) {
      throw new GuardRefusedError(GUARDS.invalidRequest, 'network_qos needs a share or an ingress/egress rate');
    }
    const annotations: Record<string, string> = {
      ...(ingress === undefined ? {} : { [ANNOTATIONS.ovnIngressRate]: String(ingress) }),
      ...(egress === undefined ? {} : { [ANNOTATIONS.ovnEgressRate]: String(egress) }),
    };
    return this.annotatePod('network_qos', req.namespace, req.pod, annotations, 'network QoS', ctx);
  }

  /** no_action: nothing to write, nothing to verify. */
  noAction(ctx: OperationContext, reason = 'the policy chose no action'): ActionResult {
    return this.result('no_action', ctx, {
      applied: false,
      target: '-',
      mechanism: 'none',
      summary: `no action: ${reason}`,
      changes: [],
      expect: { kind: 'none', reason },
    });
  }

  // ---------------------------------------------------------------------------------------------------------
  // node_overload building blocks (D3.6 Rule 2): taint, evict, untaint

  private async readNode(name: string): Promise<V1Node> {
    return kubeCall(`read Node ${name}`, () => this.clients.core.readNode({ name }));
  }

  private async patchNode(node: V1Node, taints: unknown[], ctx: OperationContext): Promise<V1Node> {
    const name = node.metadata?.name ?? '';
    return kubeCall(`patch Node ${name}`, () =>
      this.clients.core.patchNode(
        {
          name,
          body: { metadata: { resourceVersion: node.metadata?.resourceVersion }, spec: { taints } },
          fieldManager: FIELD_MANAGER,
          ...dryRunOf(this.dry(ctx)),
        },
        patchAs(PatchStrategy.MergePatch),
      ),
    );
  }

  /** Adds Talon's NoSchedule taint so nothing new lands on an overloaded node; a second call changes nothing. */
  async taintNode(req: TaintNodeRequest, ctx: OperationContext): Promise<ActionResult> {
    this.checkOperation(ctx);
    return this.retryOnConflict(() => this.taintNodeOnce(req, ctx));
  }

  private async taintNodeOnce(req: TaintNodeRequest, ctx: OperationContext): Promise<ActionResult> {
    const taint = {
      key: req.key ?? OVERLOAD_TAINT.key,
      value: req.value ?? OVERLOAD_TAINT.value,
      effect: req.effect ?? OVERLOAD_TAINT.effect,
    };
    const where = `Node ${req.node}`;
    const expect: Expectation = { kind: 'taint', node: req.node, key: taint.key, effect: taint.effect, present: true };
    const node = await this.readNode(req.node);
    const taints = node.spec?.taints ?? [];
    if (taints.some((t) => t.key === taint.key && t.effect === taint.effect)) {
      return this.result('node_overload', ctx, {
        alreadyApplied: true,
        target: where,
        mechanism: 'taint',
        summary: `${where} already carries ${taint.key}:${taint.effect}`,
        changes: [],
        expect,
      });
    }
    await this.admit(CLUSTER_SCOPE, ctx);
    await this.patchNode(node, [...taints, taint], ctx);
    return this.result('node_overload', ctx, {
      target: where,
      mechanism: 'taint',
      summary: `${where} tainted ${taint.key}=${taint.value}:${taint.effect}`,
      changes: [{ path: `taint ${taint.key}`, to: `${taint.value}:${taint.effect}` }],
      expect,
    });
  }

  /**
   * Removes Talon's taint. Never refused by the write budget: an untaint restores capacity, and a budget
   * that could keep a node tainted would be a hazard of its own.
   */
  async untaintNode(req: TaintNodeRequest, ctx: OperationContext): Promise<ActionResult> {
    this.checkOperation(ctx);
    return this.retryOnConflict(() => this.untaintNodeOnce(req, ctx));
  }

  private async untaintNodeOnce(req: TaintNodeRequest, ctx: OperationContext): Promise<ActionResult> {
    const key = req.key ?? OVERLOAD_TAINT.key;
    const effect = req.effect ?? OVERLOAD_TAINT.effect;
    const where = `Node ${req.node}`;
    const expect: Expectation = { kind: 'taint', node: req.node, key, effect, present: false };
    const node = await this.readNode(req.node);
    const taints = node.spec?.taints ?? [];
    const kept = taints.filter((t) => !(t.key === key && t.effect === effect));
    if (kept.length === taints.length) {
      return this.result('node_overload', ctx, {
        alreadyApplied: true,
        target: where,
        mechanism: 'untaint',
        summary: `${where} does not carry ${key}:${effect}`,
        changes: [],
        expect,
      });
    }
    await this.patchNode(node, kept, ctx);
    return this.result('node_overload', ctx, {
      target: where,
      mechanism: 'untaint',
      summary: `${where} untainted ${key}:${effect}`,
      changes: [{ path: `taint ${key}`, from: effect }],
      expect,
    });
  }

  /**
   * Evicts the pod through the Eviction API, so PodDisruptionBudgets are respected: a blocked eviction is
   * reported as `blocked`, never forced. Only the given instance is evicted (uid precondition), so a retry
   * cannot evict its replacement.
   */
  async evictPod(req: EvictPodRequest, ctx: OperationContext): Promise<EvictionResult> {
    this.checkOperation(ctx);
    checkNamespace(this.options.guards, req.namespace);
    const where = `Pod ${req.namespace}/${req.pod}`;
    const base = { target: where, mechanism: 'evict' as const, changes: [] };
    let uid = req.uid;
    if (!uid) {
      try {
        uid = (await this.readPod(req.namespace, req.pod)).metadata?.uid ?? '';
      } catch (err) {
        if (!isNotFound(err)) throw err;
        return {
          ...this.result('node_overload', ctx, {
            ...base,
            applied: false,
            alreadyApplied: true,
            summary: `${where} is already gone`,
            expect: { kind: 'none', reason: 'the pod no longer exists' },
          }),
          outcome: 'already-gone',
        };
      }
    }
    const expect: Expectation = { kind: 'evicted', namespace: req.namespace, pod: req.pod, uid };
    await this.admit(req.namespace, ctx);
    const dry = this.dry(ctx);
    try {
      await kubeCall(`evict ${where}`, () =>
        this.clients.core.createNamespacedPodEviction({
          name: req.pod,
          namespace: req.namespace,
          body: {
            apiVersion: 'policy/v1',
            kind: 'Eviction',
            metadata: { name: req.pod, namespace: req.namespace },
            deleteOptions: { preconditions: { uid }, ...(dry ? { dryRun: ['All'] } : {}) },
          },
          ...dryRunOf(dry),
        }),
      );
    } catch (err) {
      if (isNotFound(err) || err instanceof KubeConflictError) {
        return {
          ...this.result('node_overload', ctx, {
            ...base,
            applied: false,
            alreadyApplied: true,
            summary: `${where} (uid ${uid}) is already gone`,
            expect,
          }),
          outcome: 'already-gone',
        };
      }
      const status = (err as { status?: { code?: number; message?: string } }).status;
      const pdb = status?.code === 429 || (status?.code === 500 && /disruption budget/i.test(status.message ?? ''));
      if (err instanceof KubeUnavailableError && pdb && /disruption budget/i.test(status?.message ?? '')) {
        return {
          ...this.result('node_overload', ctx, {
            ...base,
            applied: false,
            summary: `eviction of ${where} blocked: ${status?.message ?? 'PodDisruptionBudget'}`,
            expect: { kind: 'none', reason: 'eviction blocked by a PodDisruptionBudget' },
          }),
          outcome: 'blocked',
          blockedBy: status?.message ?? 'PodDisruptionBudget',
        };
      }
      throw err;
    }
    return {
      ...this.result('node_overload', ctx, {
        ...base,
        summary: `${where} evicted`,
        changes: [{ path: 'pod', from: uid }],
        expect,
      }),
      outcome: dry ? 'dry-run' : 'evicted',
    };
  }

  /**
   * The pod to evict from an overloaded node: the heaviest by CPU usage when usage is known, else by CPU
   * requests. DaemonSet and mirror pods, pods already terminating or finished, and pods in protected
   * namespaces are never candidates.
   */
  async selectPodToEvict(node: string, usage?: readonly PodUsage[]): Promise<EvictionCandidate | undefined> {
    const list = await kubeCall(`list Pods on Node ${node}`, () =>
      this.clients.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` }),
    );
    const used = new Map((usage ?? []).map((u) => [`${u.namespace}/${u.pod}`, u.cpuCores]));
    const candidates: EvictionCandidate[] = [];
    for (const pod of list.items) {
      const meta = pod.metadata;
      if (!meta?.name || !meta.namespace || !meta.uid || meta.deletionTimestamp) continue;
      if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
      if (meta.annotations?.['kubernetes.io/config.mirror']) continue;
      if (meta.ownerReferences?.some((o) => o.controller && o.kind === 'DaemonSet')) continue;
      try {
        checkNamespace(this.options.guards, meta.namespace);
      } catch {
        continue;
      }
      const key = `${meta.namespace}/${meta.name}`;
      const measured = used.get(key);
      const requested = containersOf(pod.spec).reduce((sum, c) => {
        const cpu = c.requests?.cpu;
        return sum + (cpu ? parseQuantity(cpu).asApproximateFloat64() : 0);
      }, 0);
      candidates.push({
        namespace: meta.namespace,
        pod: meta.name,
        uid: meta.uid,
        cpuCores: measured ?? requested,
        basis: measured === undefined ? 'requests' : 'usage',
      });
    }
    candidates.sort((a, b) => {
      if (a.basis !== b.basis) return a.basis === 'usage' ? -1 : 1;
      return b.cpuCores - a.cpuCores || `${a.namespace}/${a.pod}`.localeCompare(`${b.namespace}/${b.pod}`);
    });
    return candidates[0];
  }

  /** Whether a pod exists (used by callers that only need presence). */
  async podExists(namespace: string, name: string): Promise<boolean> {
    try {
      await this.readPod(namespace, name);
      return true;
    } catch (err) {
      if (err instanceof KubeNotFoundError) return false;
      throw err;
    }
  }
}
