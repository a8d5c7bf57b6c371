import { GUARDS, GuardRefusedError } from '../../src/domain/errors';
import {
  budgetRefusal,
  checkMagnitude,
  checkNamespace,
  checkResultQuantity,
  DEFAULT_GUARD_CONFIG,
  guardConfig,
  magnitudeRange,
  plannedReplicas,
  reserveWrite,
  type BudgetEntry,
} from '../../src/domain/guards';

function refusal(fn: () => unknown): GuardRefusedError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GuardRefusedError) return err;
    throw err;
  }
  throw new Error('expected a GuardRefusedError');
}

describe('guard configuration', () => {
  it('protects kube-system, kube-public, kube-node-lease and Talon’s own namespace by default', () => {
    const c = guardConfig();
    expect(c.protectedNamespaces).toEqual(['kube-system', 'kube-public', 'kube-node-lease', 'talon-system']);
    expect(guardConfig({ talonNamespace: 'talon-ops' }).protectedNamespaces).toContain('talon-ops');
    expect(c.dryRun).toBe(false);
  });

  it('refuses nonsense configuration with the invalid_request guard', () => {
    expect(refusal(() => guardConfig({ containerCpu: { min: '2', max: '1' } })).guard).toBe(GUARDS.invalidRequest);
    expect(refusal(() => guardConfig({ containerMemory: { min: 'lots', max: '1Gi' } })).message).toContain(
      'containerMemory',
    );
    expect(() => guardConfig({ replicas: { min: 3, max: 2 } })).toThrow('replicas');
    expect(() => guardConfig({ writeBudget: { windowSeconds: 0 } })).toThrow('writeBudget');
    expect(() => guardConfig({ magnitudeBounds: { cpu_scale_up: { min: 2, max: 1.5 } } })).toThrow('magnitudeBounds');
  });
});

describe('checkNamespace', () => {
  const c = guardConfig({ protectedNamespaces: ['kube-system', 'openshift-*'] });

  it('refuses protected namespaces, exact or by prefix, naming the rule', () => {
    const err = refusal(() => checkNamespace(c, 'kube-system'));
    expect(err.guard).toBe('protected_namespace');
    expect(err.name).toBe('GuardRefusedError');
    expect(err.details).toEqual({ namespace: 'kube-system', rule: 'kube-system' });
    expect(refusal(() => checkNamespace(c, 'openshift-monitoring')).details.rule).toBe('openshift-*');
    expect(refusal(() => checkNamespace(c, 'talon-system')).guard).toBe('protected_namespace');
  });

  it('lets ordinary namespaces through', () => {
    expect(() => checkNamespace(c, 'talon')).not.toThrow();
    expect(() => checkNamespace(c, 'kube-systemx')).not.toThrow();
  });
});

describe('checkMagnitude', () => {
  it('accepts the guide’s range and refuses outside it, without clamping', () => {
    const c = DEFAULT_GUARD_CONFIG;
    expect(() => checkMagnitude(c, 'cpu_scale_up', 1.5)).not.toThrow();
    expect(() => checkMagnitude(c, 'cpu_scale_down', 0.7)).not.toThrow();
    const err = refusal(() => checkMagnitude(c, 'cpu_scale_up', 10));
    expect(err.guard).toBe('factor_bounds');
    expect(err.details).toMatchObject({ policy: 'cpu_scale_up', magnitude: 10, min: 1.05, max: 3 });
    expect(refusal(() => checkMagnitude(c, 'cpu_scale_up', 0.5)).guard).toBe('factor_bounds');
    expect(refusal(() => checkMagnitude(c, 'memory_scale_down', NaN)).guard).toBe('factor_bounds');
  });

  it('narrows but never widens the guide', () => {
    const c = guardConfig({
      magnitudeBounds: { cpu_scale_up: { min: 1, max: 1.5 }, memory_scale_up: { min: 1, max: 9 } },
    });
    expect(magnitudeRange(c, 'cpu_scale_up')).toEqual({ min: 1.05, max: 1.5 });
    expect(magnitudeRange(c, 'memory_scale_up')).toEqual({ min: 1.05, max: 3 });
    expect(() => checkMagnitude(c, 'cpu_scale_up', 2)).toThrow('outside [1.05, 1.5]');
  });
});

describe('checkResultQuantity', () => {
  const c = guardConfig({ containerCpu: { min: '50m', max: '2' }, containerMemory: { min: '32Mi', max: '4Gi' } });

  it('accepts values inside the bounds, inclusive, in any notation', () => {
    expect(() => checkResultQuantity(c, 'cpu', '50m', 'c')).not.toThrow();
    expect(() => checkResultQuantity(c, 'cpu', '2', 'c')).not.toThrow();
    expect(() => checkResultQuantity(c, 'cpu', '2000m', 'c')).not.toThrow();
    expect(() => checkResultQuantity(c, 'memory', '4096Mi', 'c')).not.toThrow();
  });

  it('refuses values outside, saying which container and bound', () => {
    const err = refusal(() => checkResultQuantity(c, 'cpu', '2001m', 'Deployment shop/web container app limit'));
    expect(err.guard).toBe('result_bounds');
    expect(err.message).toContain('Deployment shop/web container app limit: cpu would become 2001m, outside [50m, 2]');
    expect(refusal(() => checkResultQuantity(c, 'memory', '31Mi', 'x')).details).toMatchObject({ min: '32Mi' });
  });
});

describe('plannedReplicas', () => {
  const c = guardConfig({ replicas: { min: 1, max: 10 } });

  it('moves at least one replica in the asked direction', () => {
    expect(plannedReplicas(c, 3, 0.9, 'd')).toBe(2);
    expect(plannedReplicas(c, 10, 0.5, 'd')).toBe(5);
    expect(plannedReplicas(c, 3, 1.05, 'd')).toBe(4);
    expect(plannedReplicas(c, 3, 2, 'd')).toBe(6);
  });

  it('stays inside the bounds and refuses when it cannot move', () => {
    expect(plannedReplicas(c, 2, 0.1, 'd')).toBe(1);
    expect(plannedReplicas(c, 8, 4, 'd')).toBe(10);
    expect(refusal(() => plannedReplicas(c, 1, 0.5, 'd')).guard).toBe('replica_bounds');
    expect(refusal(() => plannedReplicas(c, 10, 1.5, 'd')).message).toContain('cannot be scaled up within [1, 10]');
    expect(refusal(() => plannedReplicas(c, 12, 1.5, 'd')).guard).toBe('replica_bounds');
  });
});

describe('reserveWrite (sliding window, counted once per id)', () => {
  const budget = { maxWrites: 2, windowSeconds: 60 };

  it('counts writes until the budget is spent, then says when it frees up', () => {
    let entries: readonly BudgetEntry[] = [];
    const a = reserveWrite(entries, 'wf-1:act-1', 1_000, budget);
    expect(a).toMatchObject({ allowed: true, duplicate: false, used: 1 });
    entries = a.entries;
    const b = reserveWrite(entries, 'wf-2:act-1', 2_000, budget);
    expect(b.allowed).toBe(true);
    entries = b.entries;
    const c = reserveWrite(entries, 'wf-3:act-1', 3_000, budget);
    expect(c).toMatchObject({ allowed: false, used: 2, retryAfterMs: 58_000 });
    expect(c.entries).toEqual(entries);
    const err = budgetRefusal('shop', c, budget);
    expect(err.guard).toBe('write_budget');
    expect(err.message).toContain('next write allowed in 58s');
  });

  it('counts a retried write once', () => {
    const first = reserveWrite([], 'wf-1:act-1', 1_000, budget);
    const again = reserveWrite(first.entries, 'wf-1:act-1', 5_000, budget);
    expect(again).toMatchObject({ allowed: true, duplicate: true, used: 1 });
    expect(again.entries).toEqual(first.entries);
  });

  it('forgets writes older than the window', () => {
    const old: BudgetEntry[] = [
      { id: 'a', at: 0 },
      { id: 'b', at: 10_000 },
    ];
    const d = reserveWrite(old, 'c', 60_001, budget);
    expect(d.allowed).toBe(true);
    expect(d.entries.map((e) => e.id)).toEqual(['b', 'c']);
  });

  it('a zero budget refuses everything', () => {
    expect(reserveWrite([], 'x', 0, { maxWrites: 0, windowSeconds: 10 })).toMatchObject({
      allowed: false,
      retryAfterMs: 10_000,
    });
  });
});
