/** The pricing adapters' pure parts: Job usage from Job objects, power, PromQL, configuration, the SVG picture. */
import type { V1Job } from '@kubernetes/client-node';
import { DEFAULT_PRICING_CONFIG, pricingConfigFromEnv } from '../../src/pricing/config';
import { alignSteps, demandQueries } from '../../src/pricing/demand';
import { combinePower, keplerPower, keplerQueries, profilePower } from '../../src/pricing/energy';
import { readJobUsage } from '../../src/pricing/job-usage';
import { isUserOwned, pricingNode } from '../../src/pricing/nodes';
import { priceDemandSvg } from '../../src/pricing/chart-svg';
import { optimalPrice } from '../../src/domain/pricing/stackelberg';

function job(over: { status?: V1Job['status']; cpu?: string; memory?: string } = {}): V1Job {
  return {
    metadata: { name: 'talon-t-1', namespace: 'default', uid: 'u-1' },
    spec: {
      template: {
        spec: {
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['edge-1'] }] }],
              },
            },
          },
          containers: [
            {
              name: 'task',
              image: 'x',
              resources: { requests: { cpu: over.cpu ?? '250m', memory: over.memory ?? '512Mi' } },
            },
          ],
        },
      },
    },
    status: over.status ?? {
      startTime: new Date('2025-03-03T10:00:00Z'),
      completionTime: new Date('2025-03-03T10:01:30Z'),
      conditions: [{ type: 'Complete', status: 'True' }],
    },
  };
}

describe('readJobUsage', () => {
  it('reads requests, the pinned node and the observed run time of a finished Job', () => {
    expect(readJobUsage(job())).toEqual({
      finished: true,
      usage: {
        uid: 'u-1',
        job: 'talon-t-1',
        namespace: 'default',
        node: 'edge-1',
        vcpus: 0.25,
        memoryGb: 0.5,
        seconds: 90,
        startedAt: '2025-03-03T10:00:00.000Z',
        finishedAt: '2025-03-03T10:01:30.000Z',
      },
    });
  });

  it('a failed Job ran until its Failed condition', () => {
    const r = readJobUsage(
      job({
        status: {
          startTime: new Date('2025-03-03T10:00:00Z'),
          conditions: [
            {
              type: 'Failed',
              status: 'True',
              reason: 'DeadlineExceeded',
              lastTransitionTime: new Date('2025-03-03T10:00:45Z'),
            },
          ],
        },
      }),
    );
    expect(r).toMatchObject({ finished: true, usage: { seconds: 45 } });
  });

  it('a running Job has no usage yet', () => {
    expect(readJobUsage(job({ status: { startTime: new Date(), active: 1 } }))).toEqual({
      finished: false,
      job: 'talon-t-1',
    });
  });
});

describe('nodes and power', () => {
  const node = (name: string, labels: Record<string, string>, cpu: string, memory: string) =>
    pricingNode({ metadata: { name, labels }, status: { allocatable: { cpu, memory } } });

  it('reads tier, size, energy label and the user-owned label', () => {
    expect(
      node(
        'home-1',
        { 'talon.io/tier': 'edge', 'talon.io/user-owned': 'true', 'talon.io/energy-per-core-watts': '2.5' },
        '4',
        '8Gi',
      ),
    ).toEqual({
      name: 'home-1',
      tier: 'edge',
      userOwned: true,
      cpuCores: 4,
      memoryGb: 8,
      wattsPerCore: 2.5,
    });
    expect(isUserOwned({ 'talon.io/user-owned': 'false' })).toBe(false);
    expect(isUserOwned(undefined)).toBe(false);
  });

  it('mixes the tier profiles by allocatable CPU, a node label overriding its tier', () => {
    const nodes = [
      node('cloud-0', { 'talon.io/tier': 'cloud' }, '12', '48Gi'),
      node('edge-0', { 'talon.io/tier': 'edge' }, '4', '16Gi'),
    ];
    const p = profilePower(nodes, DEFAULT_PRICING_CONFIG.powerProfiles);
    expect(p.wattsPerVcpu).toBeCloseTo(0.75 * 10 + 0.25 * 3, 12);
    expect(p.pue).toBeCloseTo(0.75 * 1.5 + 0.25 * 1, 12);
    expect(p.wattsPerGb).toBeCloseTo(0.75 * 0.375 + 0.25 * 0.3, 12);
    expect(p.detail).toMatch(/cloud 75 %, edge 25 %/);
    const labelled = profilePower(
      [node('edge-0', { 'talon.io/tier': 'edge', 'talon.io/energy-per-core-watts': '6' }, '4', '16Gi')],
      DEFAULT_PRICING_CONFIG.powerProfiles,
    );
    expect(labelled.wattsPerVcpu).toBe(6);
  });

  it('uses Kepler when its series are there, with the profiles’ PUE', async () => {
    const answers: Record<string, number | undefined> = {};
    const q = keplerQueries('1h');
    answers[q.cpuWatts] = 120;
    answers[q.busyCores] = 8;
    answers[q.dramWatts] = 6;
    answers[q.memoryGb] = 30;
    const prometheus = {
      query: async (promql: string) =>
        answers[promql] === undefined ? [] : [{ metric: {}, sample: { t: 0, v: answers[promql] } }],
    };
    const measured = await keplerPower(prometheus, '1h');
    expect(measured).toMatchObject({ wattsPerVcpu: 15, wattsPerGb: 0.2 });
    const combined = combinePower(
      'unavailable' in measured ? undefined : measured,
      profilePower([], DEFAULT_PRICING_CONFIG.powerProfiles),
    );
    expect(combined).toMatchObject({ source: 'kepler', wattsPerVcpu: 15, wattsPerGb: 0.2, pue: 1.5 });
    expect(await keplerPower({ query: async () => [] }, '1h')).toEqual({
      unavailable: 'no Kepler series in Prometheus',
    });
    expect(q.cpuWatts).toContain('kepler_container_joules_total');
  });
});

describe('demand queries', () => {
  it('ask for requests and usage of real containers, averaged over each step', () => {
    const q = demandQueries(3600);
    expect(q.cpu).toContain('kube_pod_container_resource_requests{resource="cpu"}');
    expect(q.cpu).toContain('container!=""');
    expect(q.cpu).toContain('container!="POD"');
    expect(q.cpu).toMatch(/^avg_over_time\(.*\[3600s:60s\]\)$/);
    expect(q.capacityRam).toContain('kube_node_status_allocatable{resource="memory"}');
  });

  it('align samples to steps, fill gaps with the previous value and drop leading gaps', () => {
    const start = 1_000_000;
    const series = [
      {
        metric: {},
        samples: [
          { t: 1060, v: 2 },
          { t: 1180, v: 5 },
        ],
      },
    ];
    expect(alignSteps(series, start, 4, 60)).toEqual([2, 2, 5]);
    expect(alignSteps([], start, 4, 60)).toEqual([]);
  });
});

describe('pricing configuration', () => {
  it('reads the environment over the defaults, and names a bad variable', () => {
    const c = pricingConfigFromEnv({
      TALON_PRICING_MARKET_CPU: '0.05',
      TALON_PRICING_PERIOD_HOURS: '24',
      TALON_PRICING_POWER_PROFILES: '{"edge":{"wattsPerVcpu":2}}',
    });
    expect(c.marketPrice.cpu).toBe(0.05);
    expect(c.periodHours).toBe(24);
    expect(c.powerProfiles.edge).toEqual({ wattsPerVcpu: 2, wattsPerGb: 0.3, pue: 1 });
    expect(() => pricingConfigFromEnv({ TALON_PRICING_STEP_SECONDS: '1' })).toThrow(/TALON_PRICING_STEP_SECONDS/);
    expect(() => pricingConfigFromEnv({ TALON_PRICING_POWER_PROFILES: '{"gpu":{}}' })).toThrow(/POWER_PROFILES/);
  });
});

describe('price–demand picture', () => {
  it('draws each resource and marks the optimum at the Stackelberg price', () => {
    const game = { marketPrice: 0.04, elasticity: 0.5, unitCost: 0.004, demand: 1000 };
    const svg = priceDemandSvg([{ title: 'vCPU', unit: 'vCPU-hour', game }], { title: 'Price & demand' });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('Price &amp; demand');
    expect(svg.match(/<path /g)).toHaveLength(3);
    expect(svg).toContain(`optimum ${Number(optimalPrice(game).price.toFixed(4))} €`);
    expect(svg).toContain('market 0.04');
  });
});
