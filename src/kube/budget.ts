/**
 * The write budget's durable store: one coordination.k8s.io Lease per guarded namespace, in Talon's own
 * namespace, holding the sliding window of recent writes in an annotation. Reads and writes use the Lease's
 * resourceVersion (optimistic concurrency), so several worker replicas share one budget and a restarted
 * worker finds it intact; a write id counted once stays counted once across retries and replays.
 */
import type { V1Lease } from '@kubernetes/client-node';
import type { BudgetDecision, BudgetEntry, WriteBudget } from '../domain/guards';
import { reserveWrite } from '../domain/guards';
import type { KubeClients } from './client';
import { KubeConflictError, isNotFound, kubeCall } from './errors';

export const BUDGET_ANNOTATION = 'talon.io/write-budget';
/** Budget key for cluster-scoped writes (node taints): not a valid namespace name, so no collision. */
export const CLUSTER_SCOPE = '-nodes';
/** Budget key of the cluster-wide budget, which every write counts against as well (when configured). */
export const CLUSTER_WIDE_SCOPE = '-cluster';

export interface WriteBudgetStore {
  /** Counts the write `id` against `scope` if the budget allows; never counts one id twice. */
  reserve(scope: string, id: string, budget: WriteBudget): Promise<BudgetDecision>;
  /** What `reserve` would answer, without counting (dry runs). */
  peek(scope: string, id: string, budget: WriteBudget): Promise<BudgetDecision>;
}

export interface LeaseWriteBudgetOptions {
  /** Namespace holding the Leases (Talon's own). */
  readonly namespace: string;
  readonly clock?: () => number;
  /** Read-modify-write attempts when other replicas race for the same Lease. */
  readonly maxAttempts?: number;
}

export function leaseNameFor(scope: string): string {
  return `talon-write-budget-${scope}`;
}

function parseEntries(lease: V1Lease | undefined): BudgetEntry[] {
  const raw = lease?.metadata?.annotations?.[BUDGET_ANNOTATION];
  if (!raw) return [];
  try {
    const value = JSON.parse(raw) as unknown;
    if (!Array.isArray(value)) return [];
    return value.filter(
      (e): e is BudgetEntry =>
        typeof e === 'object' &&
        e !== null &&
        typeof (e as BudgetEntry).id === 'string' &&
        Number.isFinite((e as BudgetEntry).at),
    );
  } catch {
    return [];
  }
}

export class LeaseWriteBudget implements WriteBudgetStore {
  private readonly clock: () => number;
  private readonly maxAttempts: number;

  constructor(
    private readonly clients: Pick<KubeClients, 'coordination'>,
    private readonly options: LeaseWriteBudgetOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.maxAttempts = options.maxAttempts ?? 5;
  }

  private async read(scope: string): Promise<V1Lease | undefined> {
    const name = leaseNameFor(scope);
    try {
      return await kubeCall(`read Lease ${this.options.namespace}/${name}`, () =>
        this.clients.coordination.readNamespacedLease({ name, namespace: this.options.namespace }),
      );
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async peek(scope: string, id: string, budget: WriteBudget): Promise<BudgetDecision> {
    return reserveWrite(parseEntries(await this.read(scope)), id, this.clock(), budget);
  }

  async reserve(scope: string, id: string, budget: WriteBudget): Promise<BudgetDecision> {
    const name = leaseNameFor(scope);
    const namespace = this.options.namespace;
    let lastConflict: unknown;
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const lease = await this.read(scope);
      const decision = reserveWrite(parseEntries(lease), id, this.clock(), budget);
      if (!decision.allowed || decision.duplicate) return decision;
      const body: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          name,
          namespace,
          labels: { 'app.kubernetes.io/managed-by': 'talon', 'talon.io/budget-scope': scope.replace(/^-/, 'x-') },
          annotations: { [BUDGET_ANNOTATION]: JSON.stringify(decision.entries) },
          ...(lease?.metadata?.resourceVersion ? { resourceVersion: lease.metadata.resourceVersion } : {}),
        },
        spec: { holderIdentity: 'talon-write-budget', leaseDurationSeconds: Math.ceil(budget.windowSeconds) },
      };
      try {
        if (lease) {
          await kubeCall(`update Lease ${namespace}/${name}`, () =>
            this.clients.coordination.replaceNamespacedLease({ name, namespace, body, fieldManager: 'talon' }),
          );
        } else {
          await kubeCall(`create Lease ${namespace}/${name}`, () =>
            this.clients.coordination.createNamespacedLease({ namespace, body, fieldManager: 'talon' }),
          );
        }
        return decision;
      } catch (err) {
        if (!(err instanceof KubeConflictError)) throw err;
        lastConflict = err;
      }
    }
    throw new KubeConflictError(
      `reserve a write in Lease ${namespace}/${name}`,
      { code: 409 },
      `the write budget Lease ${namespace}/${name} kept changing under ${this.maxAttempts} attempts`,
      lastConflict,
    );
  }
}
