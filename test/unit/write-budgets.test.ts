/**
 * Write budgets as the policy file sets them: every write counts against its namespace's budget and, when one is
 * configured, the cluster-wide budget too; the cluster budget is asked first, so a write it refuses is not counted
 * in the namespace. The durable store is the Lease store's logic (reserveWrite) kept in memory here.
 */
import { ActuatorCore } from '../../src/kube/actuator/operation';
import { guardConfig, reserveWrite, type BudgetEntry, type WriteBudget } from '../../src/domain/guards';
import { GuardRefusedError } from '../../src/domain/errors';
import { CLUSTER_WIDE_SCOPE, type WriteBudgetStore } from '../../src/kube/budget';

class MemoryBudget implements WriteBudgetStore {
  readonly entries = new Map<string, BudgetEntry[]>();
  now = 1_000_000;
  async reserve(scope: string, id: string, budget: WriteBudget) {
    const decision = reserveWrite(this.entries.get(scope) ?? [], id, this.now, budget);
    if (decision.allowed) this.entries.set(scope, [...decision.entries]);
    return decision;
  }
  async peek(scope: string, id: string, budget: WriteBudget) {
    return reserveWrite(this.entries.get(scope) ?? [], id, this.now, budget);
  }
}

function core(store: MemoryBudget, cluster?: WriteBudget) {
  const seen: string[] = [];
  const c = new ActuatorCore({} as never, {
    guards: guardConfig({
      writeBudget: { maxWrites: 2, windowSeconds: 60 },
      ...(cluster ? { clusterWriteBudget: cluster } : {}),
    }),
    budget: store,
    onBudget: (scope, used, max) => seen.push(`${scope} ${used}/${max}`),
  });
  return { c, seen };
}

describe('write budgets', () => {
  it('count a write against the namespace and the cluster, once per operation id', async () => {
    const store = new MemoryBudget();
    const { c, seen } = core(store, { maxWrites: 3, windowSeconds: 60 });
    await c.admit('shop', { operationId: 'op-1' });
    await c.admit('shop', { operationId: 'op-1' }); // a retry of the same write
    await c.admit('web', { operationId: 'op-2' });
    expect(store.entries.get('shop')).toHaveLength(1);
    expect(store.entries.get(CLUSTER_WIDE_SCOPE)).toHaveLength(2);
    expect(seen).toEqual(['-cluster 1/3', 'shop 1/2', '-cluster 1/3', 'shop 1/2', '-cluster 2/3', 'web 1/2']);
  });

  it('refuse at the cluster budget before counting the namespace', async () => {
    const store = new MemoryBudget();
    const { c } = core(store, { maxWrites: 1, windowSeconds: 60 });
    await c.admit('shop', { operationId: 'op-1' });
    const refused = c.admit('web', { operationId: 'op-2' });
    await expect(refused).rejects.toThrow(GuardRefusedError);
    await expect(c.admit('web', { operationId: 'op-3' })).rejects.toThrow(/the whole cluster already had 1 writes/);
    expect(store.entries.get('web')).toBeUndefined();
  });

  it('refuse at the namespace budget as before when no cluster budget is set', async () => {
    const store = new MemoryBudget();
    const { c } = core(store);
    await c.admit('shop', { operationId: 'a' });
    await c.admit('shop', { operationId: 'b' });
    await expect(c.admit('shop', { operationId: 'c' })).rejects.toThrow(/namespace shop already had 2 writes/);
    expect(store.entries.has(CLUSTER_WIDE_SCOPE)).toBe(false);
  });
});
