import { cachedNodeUsage } from '../../src/metrics/node-usage';
import { retier } from '../../src/kube/workloads';

describe('cachedNodeUsage', () => {
  it('answers from the last refresh while it is fresh, refreshes once when stale, shares one refresh', async () => {
    let now = 0;
    let calls = 0;
    const fetchUsage = async () => {
      calls += 1;
      return [{ node: `n${calls}`, cpuCores: calls, memoryBytes: 0 }];
    };
    const cache = cachedNodeUsage(fetchUsage, { refreshMs: 60_000, maxAgeMs: 10_000, clock: () => now });
    try {
      const [a, b] = await Promise.all([cache.usage(), cache.usage()]);
      expect(a).toEqual([{ node: 'n1', cpuCores: 1, memoryBytes: 0 }]);
      expect(b).toBe(a);
      expect(calls).toBe(1);
      now = 9_000;
      expect(await cache.usage()).toBe(a);
      expect(calls).toBe(1);
      now = 10_001;
      expect((await cache.usage())[0]?.node).toBe('n2');
      expect(calls).toBe(2);
    } finally {
      cache.stop();
    }
  });

  it('passes a failed refresh to the caller that waits for it', async () => {
    const cache = cachedNodeUsage(async () => Promise.reject(new Error('prometheus down')), { refreshMs: 60_000 });
    try {
      await expect(cache.usage()).rejects.toThrow('prometheus down');
    } finally {
      cache.stop();
    }
  });
});

describe('retier', () => {
  it('moves the tier label of nodeSelector and drops tier expressions from required terms', () => {
    const spec = retier(
      {
        containers: [],
        nodeSelector: { 'talon.io/tier': 'edge', disk: 'ssd' },
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                {
                  matchExpressions: [
                    { key: 'talon.io/tier', operator: 'In', values: ['edge'] },
                    { key: 'zone', operator: 'Exists' },
                  ],
                },
              ],
            },
          },
        },
      },
      'talon.io/tier',
      'cloud',
    );
    expect(spec.nodeSelector).toEqual({ 'talon.io/tier': 'cloud', disk: 'ssd' });
    expect(spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms).toEqual([
      { matchExpressions: [{ key: 'zone', operator: 'Exists' }] },
    ]);
    expect(retier({ containers: [] }, 'talon.io/tier', 'cloud')).toEqual({ containers: [] });
  });
});
