import {
  chooseOffloadTarget,
  describeChoice,
  requirementMatches,
  tolerates,
  type NodeInfo,
} from '../../src/domain/offload-target';

function node(name: string, tier: string, extra: Partial<NodeInfo> = {}): NodeInfo {
  return {
    name,
    labels: { 'talon.io/tier': tier },
    taints: [],
    unschedulable: false,
    ready: true,
    allocatable: { cpuCores: tier === 'edge' ? 4 : 16, memoryBytes: (tier === 'edge' ? 8 : 64) * 2 ** 30 },
    ...extra,
  };
}

const GiB = 2 ** 30;

describe('chooseOffloadTarget', () => {
  it('picks the least-loaded node of the wanted tier, load = usage / allocatable', () => {
    const nodes = [node('edge-0', 'edge'), node('edge-1', 'edge'), node('cloud-0', 'cloud')];
    const usage = [
      { node: 'edge-0', cpuCores: 3, memoryBytes: 4 * GiB },
      { node: 'edge-1', cpuCores: 1, memoryBytes: 2 * GiB },
      { node: 'cloud-0', cpuCores: 0.1, memoryBytes: 1 * GiB },
    ];
    const choice = chooseOffloadTarget(nodes, usage, { tier: 'edge' });
    expect(choice.best?.node).toBe('edge-1');
    expect(choice.best?.load).toBeCloseTo(0.5 * 0.25 + 0.5 * 0.25);
    expect(choice.ranked.map((r) => r.node)).toEqual(['edge-1', 'edge-0']);
    expect(choice.excluded).toEqual([{ node: 'cloud-0', reason: 'tier cloud is not edge' }]);
    expect(chooseOffloadTarget(nodes, usage).best?.node).toBe('cloud-0');
  });

  it('uses allocatable as the denominator: the same usage is lighter on a bigger node', () => {
    const nodes = [
      node('small', 'edge'),
      node('big', 'edge', { allocatable: { cpuCores: 32, memoryBytes: 64 * GiB } }),
    ];
    const usage = [
      { node: 'small', cpuCores: 2, memoryBytes: 2 * GiB },
      { node: 'big', cpuCores: 2, memoryBytes: 2 * GiB },
    ];
    expect(chooseOffloadTarget(nodes, usage, { tier: 'edge' }).best?.node).toBe('big');
  });

  it('excludes the source node, NotReady, cordoned and untolerated-taint nodes, saying why', () => {
    const nodes = [
      node('src', 'edge'),
      node('down', 'edge', { ready: false }),
      node('cordoned', 'edge', { unschedulable: true }),
      node('tainted', 'edge', { taints: [{ key: 'talon.io/overloaded', value: 'true', effect: 'NoSchedule' }] }),
      node('soft', 'edge', { taints: [{ key: 'x', effect: 'PreferNoSchedule' }] }),
      node('empty', 'edge', { allocatable: { cpuCores: 0, memoryBytes: 0 } }),
    ];
    const choice = chooseOffloadTarget(nodes, [], { tier: 'edge', exclude: ['src'] });
    expect(choice.best?.node).toBe('soft');
    expect(Object.fromEntries(choice.excluded.map((e) => [e.node, e.reason]))).toEqual({
      src: 'excluded (the workload runs there)',
      down: 'not Ready',
      cordoned: 'cordoned',
      tainted: 'taint talon.io/overloaded=true:NoSchedule not tolerated',
      empty: 'no allocatable CPU or memory',
    });
  });

  it('lets a tolerated taint through', () => {
    const nodes = [node('gpu', 'cloud', { taints: [{ key: 'gpu', value: 'yes', effect: 'NoSchedule' }] })];
    expect(chooseOffloadTarget(nodes, [], { tolerations: [{ key: 'gpu', operator: 'Exists' }] }).best?.node).toBe(
      'gpu',
    );
    expect(chooseOffloadTarget(nodes, [], { tolerations: [{ key: 'gpu', value: 'no' }] }).best).toBeUndefined();
  });

  it('leaves out nodes above maxLoad and explains an empty choice', () => {
    const nodes = [node('edge-0', 'edge')];
    const usage = [{ node: 'edge-0', cpuCores: 3.8, memoryBytes: 7 * GiB }];
    const choice = chooseOffloadTarget(nodes, usage, { tier: 'edge', maxLoad: 0.8 });
    expect(choice.best).toBeUndefined();
    expect(describeChoice(choice, { tier: 'edge' })).toBe('no eligible node in tier edge (edge-0: load above 0.8)');
    expect(describeChoice(chooseOffloadTarget([node('a', 'edge')], []))).toMatch(/^a \(load 0\.000, 1 eligible\)$/);
  });

  it('breaks ties by name, so the choice is deterministic', () => {
    const nodes = [node('b', 'edge'), node('a', 'edge'), node('c', 'edge')];
    expect(chooseOffloadTarget(nodes, []).ranked.map((r) => r.node)).toEqual(['a', 'b', 'c']);
  });

  it('ranks 1,000 nodes well within 50 ms', () => {
    const nodes = Array.from({ length: 1000 }, (_, i) => node(`n-${i}`, i % 2 ? 'edge' : 'cloud'));
    const usage = nodes.map((n, i) => ({
      node: n.name,
      cpuCores: (i * 7919) % 4,
      memoryBytes: ((i * 104729) % 8) * GiB,
    }));
    chooseOffloadTarget(nodes, usage, { tier: 'edge' });
    const started = performance.now();
    const choice = chooseOffloadTarget(nodes, usage, { tier: 'edge' });
    expect(performance.now() - started).toBeLessThan(50);
    expect(choice.ranked).toHaveLength(500);
    const loads = choice.ranked.map((r) => r.load ?? 0);
    expect(loads).toEqual([...loads].sort((x, y) => x - y));
  });
});

describe('tolerates (Kubernetes semantics)', () => {
  const taint = { key: 'k', value: 'v', effect: 'NoSchedule' };
  it.each([
    [{ key: 'k', operator: 'Equal', value: 'v', effect: 'NoSchedule' }, true],
    [{ key: 'k', value: 'v' }, true],
    [{ key: 'k', operator: 'Exists' }, true],
    [{ operator: 'Exists' }, true],
    [{ key: 'k', value: 'w' }, false],
    [{ key: 'k', operator: 'Exists', effect: 'NoExecute' }, false],
    [{ key: 'other', operator: 'Exists' }, false],
    [{ value: 'v' }, false],
  ])('%j tolerates k=v:NoSchedule: %s', (toleration, expected) => {
    expect(tolerates(toleration, taint)).toBe(expected);
  });
});

describe('the workload’s own node constraints', () => {
  const nodes = [
    node('edge-0', 'edge', { labels: { 'talon.io/tier': 'edge', disk: 'ssd', cores: '8' } }),
    node('edge-1', 'edge', { labels: { 'talon.io/tier': 'edge', disk: 'hdd', cores: '2' } }),
  ];

  it('honours nodeSelector and required affinity, but not an earlier name pin', () => {
    expect(chooseOffloadTarget(nodes, [], { nodeSelector: { disk: 'hdd' } }).best?.node).toBe('edge-1');
    const terms = [
      {
        matchExpressions: [{ key: 'cores', operator: 'Gt', values: ['4'] }],
        matchFields: [{ key: 'metadata.name', operator: 'In', values: ['edge-1'] }],
      },
    ];
    const choice = chooseOffloadTarget(nodes, [], { nodeSelectorTerms: terms });
    expect(choice.best?.node).toBe('edge-0');
    expect(choice.excluded).toEqual([
      { node: 'edge-1', reason: "does not match the workload's node selector or affinity" },
    ]);
  });

  it.each([
    [{ key: 'disk', operator: 'In', values: ['ssd'] }, 'disk', 'ssd', true],
    [{ key: 'disk', operator: 'NotIn', values: ['ssd'] }, 'disk', 'ssd', false],
    [{ key: 'disk', operator: 'NotIn', values: ['ssd'] }, 'other', 'x', true],
    [{ key: 'disk', operator: 'Exists' }, 'disk', 'x', true],
    [{ key: 'disk', operator: 'DoesNotExist' }, 'disk', 'x', false],
    [{ key: 'cores', operator: 'Lt', values: ['4'] }, 'cores', '2', true],
    [{ key: 'cores', operator: 'Gt', values: ['x'] }, 'cores', '2', false],
    [{ key: 'disk', operator: 'Bogus' }, 'disk', 'x', false],
  ])('%j on %s=%s → %s', (req, key, value, expected) => {
    expect(requirementMatches(req, key === req.key ? value : undefined)).toBe(expected);
  });
});
