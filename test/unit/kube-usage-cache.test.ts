import { cachedNodeUsage, prometheusPodUsage } from '../../src/metrics/node-usage';
import { PrometheusClient } from '../../src/metrics/prometheus';
import { DEFAULT_METRICS_CONFIG } from '../../src/metrics/queries';
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

describe('prometheusPodUsage', () => {
  it("asks for the CPU rate of the node's containers by pod and keeps only well-formed rows", async () => {
    const queries: string[] = [];
    const fetch = async (_input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      queries.push((init?.body as URLSearchParams).get('query') ?? '');
      return Response.json({
        status: 'success',
        data: {
          resultType: 'vector',
          result: [
            { metric: { namespace: 'shop', pod: 'hog-b' }, value: [1, '1.8'] },
            { metric: { namespace: 'shop', pod: 'hog-a' }, value: [1, '1.5'] },
            { metric: { namespace: 'shop' }, value: [1, '0.4'] },
          ],
        },
      });
    };
    const usage = prometheusPodUsage(
      new PrometheusClient({ url: 'http://prom.test', fetch, retries: 0 }),
      DEFAULT_METRICS_CONFIG,
      10,
    );
    expect(await usage('edge-1')).toEqual([
      { namespace: 'shop', pod: 'hog-b', cpuCores: 1.8 },
      { namespace: 'shop', pod: 'hog-a', cpuCores: 1.5 },
    ]);
    expect(queries).toEqual([
      'sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{node="edge-1",container!~"|POD"}[10s]))',
    ]);
  });
});
