import {
  computeRequests,
  demandFromMetrics,
  formatCpuMillicores,
  formatMemoryMi,
  GIB,
  MIB,
  placeTask,
  UNMEASURED_DEMAND,
  type NodeCandidate,
} from '../../src/domain/placement';
import { InvalidPlacementInputError, InvalidPrioritiesError, NoFeasibleNodeError } from '../../src/domain/task-errors';
import { planTask } from '../../src/domain/task-plan';
import { parseTaxonomy } from '../../src/domain/taxonomy-parse';

function node(
  name: string,
  tier: 'edge' | 'cloud',
  cores: number,
  memGi: number,
  usedCores: number,
  usedGi: number,
  extra: Partial<NodeCandidate> = {},
): NodeCandidate {
  return {
    name,
    tier,
    allocatable: { cpuCores: cores, memoryBytes: memGi * GIB },
    usage: { cpuCores: usedCores, memoryBytes: usedGi * GIB },
    ...extra,
  };
}

// 0.25 cores and 10 MiB measured → requests 250m and 10·1.25 + 64 = 76.5 → 77Mi.
const demand = { cpuCores: 0.25, memoryBytes: 10 * MIB, cpuSeconds: 0.5 };

describe('computeRequests', () => {
  it('turns measured demand into Kubernetes quantities', () => {
    expect(computeRequests(demand)).toEqual({
      cpu: '250m',
      memory: '77Mi',
      cpuMillicores: 250,
      memoryBytes: 77 * MIB,
    });
  });

  it('rounds CPU up to a whole millicore without float noise', () => {
    // 1.2345 cores → 1234.5m → 1235m; 0.3 cores (0.30000000000000004 after 0.1·3) → 300m, not 301m.
    expect(computeRequests({ cpuCores: 1.2345, memoryBytes: 0 }).cpu).toBe('1235m');
    expect(computeRequests({ cpuCores: 0.1 * 3, memoryBytes: 0 }).cpu).toBe('300m');
  });

  it('applies the minimums and the runtime overhead', () => {
    // 0.0001 cores → 0.1m, below the 10m minimum; 0 bytes → only the 64Mi runtime overhead.
    expect(computeRequests({ cpuCores: 0.0001, memoryBytes: 0 })).toMatchObject({ cpu: '10m', memory: '64Mi' });
    // 100 MiB · 1.25 + 64 = 189Mi; with no overhead and 1.0 headroom, 1 byte rounds up to the 16Mi floor.
    expect(computeRequests({ cpuCores: 1, memoryBytes: 100 * MIB }).memory).toBe('189Mi');
    expect(computeRequests({ cpuCores: 1, memoryBytes: 1 }, { memoryOverheadBytes: 0, memoryHeadroom: 1 }).memory).toBe(
      '16Mi',
    );
  });

  it('formats quantities', () => {
    expect(formatCpuMillicores(249.2)).toBe('250m');
    expect(formatMemoryMi(128 * MIB)).toBe('128Mi');
    expect(formatMemoryMi(128 * MIB + 1)).toBe('129Mi');
  });
});

describe('demandFromMetrics', () => {
  it('derives busy cores from CPU time over execution time', () => {
    // 0.002 CPU-s in 0.004 s of wall time → 0.5 cores
    expect(demandFromMetrics({ metrics: { cpu_time_s: 0.002, exec_time_s: 0.004, max_memory_bytes: 6232 } })).toEqual({
      cpuCores: 0.5,
      memoryBytes: 6232,
      cpuSeconds: 0.002,
    });
  });

  it('falls back to the unmeasured default when figures are N/A', () => {
    expect(demandFromMetrics({ metrics: { mae: 1, cpu_time_s: null } })).toEqual(UNMEASURED_DEMAND);
  });
});

describe('placeTask', () => {
  const edgeNear = node('edge-near', 'edge', 2, 4, 0.5, 1, { energyPerCoreWatts: 4, nearData: true });
  const edgeBusy = node('edge-busy', 'edge', 2, 4, 1.6, 1, { energyPerCoreWatts: 3 });
  const cloud = node('cloud-1', 'cloud', 16, 64, 4, 16, { energyPerCoreWatts: 12 });

  it('puts latency-sensitive work on the edge node near the data', () => {
    // edge-busy: CPU after = (1.6 + 0.25)/2 = 0.925 > 0.9 → out; 2·0.9 - 1.6 = 0.2 cores free → "200m".
    // Weights: speed 0.7, energy 0.3, headroom 0.25 (sum 1.25).
    // edge-near: proximity 1; energy 4 W vs 12 W → 1; CPU after 0.75/2 = 0.375, memory (1024+77)/4096
    //   = 0.269 → headroom 1 - 0.375 = 0.625. Coefficient (0.7 + 0.3 + 0.25·0.625)/1.25 = 0.925.
    // cloud-1: proximity 0, energy 0, CPU after 4.25/16 = 0.2656, memory (16384+77)/65536 = 0.2512
    //   → headroom 0.734375. Coefficient 0.25·0.734375/1.25 = 0.146875.
    const decision = placeTask([edgeNear, edgeBusy, cloud], demand, { speed: 70, energy: 30 });
    expect(decision.node).toBe('edge-near');
    expect(decision.tier).toBe('edge');
    expect(decision.requests).toMatchObject({ cpu: '250m', memory: '77Mi' });
    expect(decision.heavy).toBe(false);
    const [first, second, third] = decision.candidates;
    expect(first).toMatchObject({ name: 'edge-near', rank: 1, considered: true });
    expect(first!.coefficient).toBeCloseTo(0.925, 12);
    expect(first!.cpuUtilisationAfter).toBeCloseTo(0.375, 12);
    expect(first!.estimatedEnergyJ).toBe(2); // 4 W × 0.5 CPU-s
    expect(first!.factors.map((f) => [f.factor, f.weight, f.score])).toEqual([
      ['proximity', 0.7, 1],
      ['energy', 0.3, 1],
      ['cost', 0, null],
      ['headroom', 0.25, 0.625],
    ]);
    expect(second).toMatchObject({ name: 'cloud-1', rank: 2 });
    expect(second!.coefficient).toBeCloseTo(0.146875, 12);
    expect(third).toMatchObject({
      name: 'edge-busy',
      feasible: false,
      considered: false,
      reason: 'needs 250m CPU, 200m free below 90%',
    });
    expect(decision.explanation).toMatch(/^edge-near \(edge\) for speed 70%, energy 30%: coefficient 0\.925 of 2/);
    expect(decision.explanation).toMatch(/requests 250m CPU, 77Mi memory$/);
  });

  it('sends energy-weighted work to the node with the lowest energy per unit of work, even in the cloud', () => {
    // Three equal, idle nodes (4 cores, 8 GiB): headroom 1 - 0.25/4 = 0.9375 for all.
    // Energy per core: e1 5 W, c1 2 W, e2 unknown → c1 1, e1 0, e2 0 (unmeasured earns nothing).
    // c1 = (1·1 + 0.25·0.9375)/1.25 = 0.9875; e1 = e2 = 0.25·0.9375/1.25 = 0.1875.
    const nodes = [
      node('e1', 'edge', 4, 8, 0, 0, { energyPerCoreWatts: 5 }),
      node('c1', 'cloud', 4, 8, 0, 0, { energyPerCoreWatts: 2 }),
      node('e2', 'edge', 4, 8, 0, 0),
    ];
    const decision = placeTask(nodes, demand, { energy: 1 });
    expect(decision.node).toBe('c1');
    expect(decision.candidates.map((c) => [c.name, c.coefficient])).toEqual([
      ['c1', 0.9875],
      ['e1', 0.1875],
      ['e2', 0.1875],
    ]);
  });

  it('uses a tier figure for nodes without their own', () => {
    // edge defaults to 3 W, cloud node says 6 W → edge 1, cloud 0.
    const nodes = [node('e', 'edge', 4, 8, 0, 0), node('c', 'cloud', 4, 8, 0, 0, { energyPerCoreWatts: 6 })];
    const decision = placeTask(nodes, demand, { energy: 1 }, { tierEnergyPerCoreWatts: { edge: 3 } });
    expect(decision.node).toBe('e');
    expect(decision.candidates[0]!.factors.find((f) => f.factor === 'energy')!.detail).toBe('3 W per busy core');
  });

  it('says so when no node reports energy, and lets headroom decide', () => {
    // busy: CPU after (3 + 0.25)/4 = 0.8125 → headroom 0.1875; idle: 0.25/4 → 0.9375.
    const nodes = [node('busy', 'edge', 4, 8, 3, 0), node('idle', 'edge', 4, 8, 0, 0)];
    const decision = placeTask(nodes, demand, { energy: 1 });
    expect(decision.node).toBe('idle');
    expect(decision.notes).toContain('no node reports its energy per core: the energy share could not steer placement');
    expect(decision.candidates[0]!.coefficient).toBeCloseTo(0.9375, 12);
  });

  it('keeps heavy compute in the cloud even when speed is all that matters', () => {
    // 120 CPU-seconds per run ≥ the 60 s threshold → heavy.
    const heavy = { cpuCores: 1, memoryBytes: 100 * MIB, cpuSeconds: 120 };
    const decision = placeTask([edgeNear, cloud], heavy, { speed: 100 });
    expect(decision.heavy).toBe(true);
    expect(decision.node).toBe('cloud-1');
    expect(decision.candidates.find((c) => c.name === 'edge-near')).toMatchObject({
      feasible: true,
      considered: false,
      reason: 'heavy compute (120.0 CPU-seconds per run) goes to the cloud',
    });
    expect(decision.explanation).toMatch(/heavy compute \(120\.0 CPU-seconds per run\) kept in the cloud/);
  });

  it('falls back to the edge for heavy compute when no cloud node can take it', () => {
    // 3 GiB ≥ the 2 GiB threshold → heavy. cloud-full: CPU after (4 + 0.5)/4 > 0.9 → out.
    // edge-big: memory request 3·1.25 GiB + 64 MiB = 3904Mi, 3904/16384 = 0.238 → fits.
    const full = node('cloud-full', 'cloud', 4, 8, 4, 0);
    const edgeBig = node('edge-big', 'edge', 8, 16, 0, 0);
    const decision = placeTask([full, edgeBig], { cpuCores: 0.5, memoryBytes: 3 * GIB }, { quality: 1 });
    expect(decision.heavy).toBe(true);
    expect(decision.node).toBe('edge-big');
    expect(decision.requests).toMatchObject({ cpu: '500m', memory: '3904Mi' });
    expect(decision.notes).toContain('heavy compute (3072Mi memory) but no cloud node can take it: using the edge');
  });

  it('ranks by headroom alone when the user weighs quality and cost but no node carries an offer price', () => {
    // c-idle CPU after 2.25/16 = 0.140625, memory (8192+77)/65536 = 0.126 → headroom 0.859375;
    // c-busy CPU after 12.25/16 = 0.765625 → headroom 0.234375. Only the headroom weight is non-zero.
    const nodes = [node('c-busy', 'cloud', 16, 64, 12, 8), node('c-idle', 'cloud', 16, 64, 2, 8)];
    const decision = placeTask(nodes, demand, { quality: 70, cost: 30 });
    expect(decision.node).toBe('c-idle');
    expect(decision.candidates[0]!.coefficient).toBeCloseTo(0.859375, 12);
    expect(decision.candidates[1]!.coefficient).toBeCloseTo(0.234375, 12);
    expect(decision.notes).toContain('no node carries an offer price: the cost share could not steer placement');
    expect(decision.notes).toContain('quality was weighed when selecting the algorithm; it does not affect placement');
  });

  it('the cost share prefers the user-owned node the offer prices lower (Smart Pricing incentive)', () => {
    // Same load on both: headroom is equal, so only the price separates them. Commercial 0.04 €, user-owned
    // 0.034 € (15 % incentive): the cheaper scores 1, the dearer 0.
    const nodes = [
      node('commercial', 'edge', 4, 8, 1, 1, { pricePerVcpuHour: 0.04 }),
      node('user-box', 'edge', 4, 8, 1, 1, { pricePerVcpuHour: 0.034, userOwned: true }),
    ];
    const decision = placeTask(nodes, demand, { cost: 1 });
    expect(decision.node).toBe('user-box');
    const cost = decision.candidates[0]!.factors.find((f) => f.factor === 'cost');
    expect(cost).toEqual({
      factor: 'cost',
      weight: 1,
      score: 1,
      detail: '0.0340 €/vCPU-hour (user-owned, incentive price)',
    });
    expect(decision.explanation).toContain('user-owned, incentive price');
    // With no cost weight the price plays no part: the names break the tie.
    expect(placeTask(nodes, demand, { speed: 1 }).node).toBe('commercial');
  });

  it('headroom outweighs a small cost share, not a large one', () => {
    // Both edge (proximity 0.5). commercial: CPU after 0.25/4 → headroom 0.9375; user-box: 3.25/4 → 0.1875.
    // cost 10 %, speed 90 %: commercial (0.45 + 0 + 0.25·0.9375)/1.25 = 0.5475 beats
    //   user-box (0.45 + 0.1 + 0.25·0.1875)/1.25 = 0.4775.
    // cost 25 %, speed 75 %: commercial (0.375 + 0.234375)/1.25 = 0.4875 loses to
    //   user-box (0.375 + 0.25 + 0.046875)/1.25 = 0.5375.
    const nodes = [
      node('commercial', 'edge', 4, 8, 0, 0, { pricePerVcpuHour: 0.04 }),
      node('user-box', 'edge', 4, 8, 3, 0, { pricePerVcpuHour: 0.034, userOwned: true }),
    ];
    const small = placeTask(nodes, demand, { cost: 10, speed: 90 });
    expect(small.node).toBe('commercial');
    expect(small.candidates[0]!.coefficient).toBeCloseTo(0.5475, 12);
    expect(small.candidates[1]!.coefficient).toBeCloseTo(0.4775, 12);
    const large = placeTask(nodes, demand, { cost: 25, speed: 75 });
    expect(large.node).toBe('user-box');
    expect(large.candidates[0]!.coefficient).toBeCloseTo(0.5375, 12);
  });

  it('refuses a negative or non-numeric offer price', () => {
    const bad = [node('n', 'edge', 4, 8, 0, 0, { pricePerVcpuHour: -1 })];
    expect(() => placeTask(bad, demand, { cost: 1 })).toThrow(InvalidPlacementInputError);
    expect(() => placeTask(bad, demand, { cost: 1 })).toThrow(/pricePerVcpuHour must be a non-negative number/);
  });

  it('orders nodes with equal coefficients by name', () => {
    const nodes = [node('b', 'cloud', 4, 8, 0, 0), node('a', 'cloud', 4, 8, 0, 0)];
    expect(placeTask(nodes, demand, { speed: 1 }).node).toBe('a');
  });

  it('fails with every node’s reason when nothing fits', () => {
    const nodes = [node('tiny', 'edge', 0.2, 0.05, 0, 0), node('full', 'cloud', 8, 16, 7.5, 1)];
    try {
      placeTask(nodes, demand, { speed: 1 });
      throw new Error('expected a throw');
    } catch (error) {
      expect(error).toBeInstanceOf(NoFeasibleNodeError);
      const e = error as NoFeasibleNodeError;
      // tiny: 0.2·0.9 = 180m free; memory 0.05 GiB = 51.2 MiB · 0.9 = 46.08 → 46Mi (free rounds down).
      // full: 8·0.9 - 7.5 < 0 → 0m free.
      expect(e.reasons).toEqual({
        tiny: 'needs 250m CPU, 180m free below 90%; needs 77Mi memory, 46Mi free below 90%',
        full: 'needs 250m CPU, 0m free below 90%',
      });
      expect(e.message).toMatch(/^no node can take requests of 250m CPU and 77Mi memory:/);
    }
    expect(() => placeTask([], demand, { speed: 1 })).toThrow(/\(no nodes given\)/);
  });

  it('rejects malformed input', () => {
    expect(() => placeTask([edgeNear, edgeNear], demand, { speed: 1 })).toThrow(InvalidPlacementInputError);
    expect(() => placeTask([node('n', 'edge', 2, 4, -1, 0)], demand, { speed: 1 })).toThrow(
      /usage.cpuCores must be a non-negative number, got -1/,
    );
    expect(() => placeTask([{ ...edgeNear, tier: 'fog' as 'edge' }], demand, { speed: 1 })).toThrow(
      /tier must be edge or cloud, got fog/,
    );
    expect(() => placeTask([edgeNear], { cpuCores: Number.NaN, memoryBytes: 0 }, { speed: 1 })).toThrow(
      /demand.cpuCores must be a non-negative number/,
    );
    expect(() => placeTask([edgeNear], demand, { speed: 1 }, { maxUtilisation: 1.5 })).toThrow(
      InvalidPlacementInputError,
    );
    expect(() => placeTask([edgeNear], demand, { latency: 1 })).toThrow(InvalidPrioritiesError);
  });
});

describe('planTask', () => {
  it('selects by the priorities, then places with the selected algorithm’s measured demand', () => {
    // pad wins energy 80 / quality 20 (0.8 against 0.2). Its demand: 0.002 CPU-s in 0.004 s → 0.5 cores →
    // 500m; 1 MiB · 1.25 + 64 MiB = 65.25 → 66Mi. edge is near the data and reports the lower energy per core.
    const taxonomy = parseTaxonomy(
      {
        schemaVersion: 1,
        tasks: [{ id: 'interpolation', name: 'Interpolation' }],
        algorithms: [
          { id: 'linear', mae: 1, energy: 2, cpu: 0.004 },
          { id: 'pad', mae: 2, energy: 1, cpu: 0.002 },
        ].map((a) => ({
          id: a.id,
          task: 'interpolation',
          name: a.id,
          dataset: 'd',
          metrics: { mae: a.mae, energy_j: a.energy, cpu_time_s: a.cpu, exec_time_s: 0.004, max_memory_bytes: MIB },
          image: 'img',
          command: ['run', a.id],
        })),
      },
      'test',
    );
    const plan = planTask(taxonomy, 'interpolation', { quality: 20, energy: 80 }, [
      node('edge', 'edge', 4, 8, 0, 0, { energyPerCoreWatts: 3, nearData: true }),
      node('cloud', 'cloud', 4, 8, 0, 0, { energyPerCoreWatts: 9 }),
    ]);
    expect(plan.algorithm.id).toBe('pad');
    expect(plan.algorithm.command).toEqual(['run', 'pad']);
    expect(plan.placement.node).toBe('edge');
    expect(plan.placement.requests).toMatchObject({ cpu: '500m', memory: '66Mi' });
    expect(plan.summary).toMatch(/^pad selected for interpolation .*; placed on edge \(edge\)/);
  });
});
