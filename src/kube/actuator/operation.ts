/**
 * The operation core every action is built on: one call = one operation, identified by an id that survives
 * retries. It knows how to recognise an operation already applied (the `talon.io/operation` record on the
 * object, with the ids it superseded), how to admit a write against the durable budget, how to checkpoint
 * through the caller before a write, how to repeat a read-modify-write that lost a race, and how every
 * action reports (dry run and "already applied" marked in one place).
 */
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { GUARDS, GuardRefusedError } from '../../domain/errors';
import { budgetRefusal } from '../../domain/guards';
import { CLUSTER_SCOPE, CLUSTER_WIDE_SCOPE } from '../budget';
import { patchAs, type KubeClients, type PatchStrategy } from '../client';
import { isNotFound, KubeConflictError, kubeCall } from '../errors';
import {
  describeWorkload,
  FIELD_MANAGER,
  type ActionResult,
  type Change,
  type ControllerKind,
  type Expectation,
  type OperationRecord,
  type RecreateCheckpoint,
  type WorkloadCheckpoint,
  type WorkloadRef,
} from '../types';
import type { Controller } from '../workloads';
import type { ActuatorOptions, OperationContext } from './requests';

/** What an action reports, before the core adds policy, operation id, dry-run and applied flags. */
export type ResultFields = Omit<ActionResult, 'policy' | 'operationId' | 'dryRun' | 'applied' | 'alreadyApplied'> & {
  applied?: boolean;
  alreadyApplied?: boolean;
};

export type ControllerRef = WorkloadRef & { kind: ControllerKind };

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function dryRunOf(dry: boolean): { dryRun?: string } {
  return dry ? { dryRun: 'All' } : {};
}

export function describeChanges(changes: readonly Change[]): string {
  return changes.map((c) => `${c.path} ${c.from ?? '∅'}→${c.to ?? '∅'}`).join(', ');
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

/** The pod an action is about, or what an earlier attempt of the same operation left to resume from. */
export type FoundPod =
  | { readonly pod: V1Pod }
  | { readonly checkpoint: RecreateCheckpoint }
  | { readonly workload: WorkloadCheckpoint['workload'] };

export class ActuatorCore {
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;

  constructor(
    readonly clients: KubeClients,
    readonly options: ActuatorOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.sleep = options.sleep ?? defaultSleep;
  }

  dry(ctx: OperationContext): boolean {
    return ctx.dryRun ?? this.options.guards.dryRun;
  }

  checkOperation(ctx: OperationContext): void {
    if (!ctx.operationId || ctx.operationId.length > 256) {
      throw new GuardRefusedError(GUARDS.invalidRequest, 'an operation id of 1 to 256 characters is required');
    }
  }

  /** The record a write leaves on the object, carrying the ids of the operations before it. */
  record(
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
  superseded(prior: OperationRecord | undefined, ctx: OperationContext): boolean {
    return prior !== undefined && prior.id !== ctx.operationId && (prior.history ?? []).includes(ctx.operationId);
  }

  supersededResult(
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

  /** Every action's answer: dry run and "already applied" are marked here, once. */
  result(policy: string, ctx: OperationContext, fields: ResultFields): ActionResult {
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

  /**
   * Runs a read-modify-write step again when its write lost a race (409 on the resourceVersion
   * precondition): the step re-reads, re-checks its operation record and re-plans from the new state.
   */
  async retryOnConflict<T>(step: () => Promise<T>, attempts = 4): Promise<T> {
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
  async admit(scope: string, ctx: OperationContext): Promise<void> {
    const store = this.options.budget;
    if (!store) return;
    const { writeBudget, clusterWriteBudget } = this.options.guards;
    // The cluster-wide budget first: a refusal there leaves the scope's budget untouched (the reverse order
    // would count a write the cluster budget then refused).
    const checks: [string, string, typeof writeBudget][] = [
      ...(clusterWriteBudget
        ? [[CLUSTER_WIDE_SCOPE, 'the whole cluster', clusterWriteBudget] as [string, string, typeof writeBudget]]
        : []),
      [scope, scope === CLUSTER_SCOPE ? 'cluster scope (nodes)' : scope, writeBudget],
    ];
    for (const [key, name, budget] of checks) {
      const decision = this.dry(ctx)
        ? await store.peek(key, ctx.operationId, budget)
        : await store.reserve(key, ctx.operationId, budget);
      this.options.onBudget?.(key, decision.used, budget.maxWrites);
      if (!decision.allowed) throw budgetRefusal(name, decision, budget);
    }
  }

  /** Remembers (through the caller) which controller this operation is about to change. */
  async rememberWorkload(ref: WorkloadRef, ctx: OperationContext): Promise<void> {
    if (this.dry(ctx)) return;
    await ctx.checkpoint?.({ operationId: ctx.operationId, kind: 'Workload', workload: ref });
  }

  async readPod(namespace: string, name: string): Promise<V1Pod> {
    return kubeCall(`read Pod ${namespace}/${name}`, () => this.clients.core.readNamespacedPod({ name, namespace }));
  }

  async readJob(namespace: string, name: string): Promise<V1Job> {
    return kubeCall(`read Job ${namespace}/${name}`, () => this.clients.batch.readNamespacedJob({ name, namespace }));
  }

  /** The pod, or — when it is gone because an earlier attempt deleted or replaced it — what to resume from. */
  async readPodOrCheckpoint(namespace: string, name: string, ctx: OperationContext): Promise<FoundPod> {
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

  async patchController(
    ref: ControllerRef,
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

  async patchPod(
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
}
