import { MODEL_FEATURES, WINDOW_STEPS, featureIndex } from '../../src/domain/features';
import { MAGNITUDE_GUIDE, MODEL_POLICIES } from '../../src/domain/policy';
import {
  DECISION_STEP,
  SCENARIOS,
  TOTAL_STEPS,
  makeEpisode,
  observe,
  rollout,
  type Episode,
} from '../../training/cluster';
import { generateSamples, splitSeed } from '../../training/dataset';
import { outcomeLabel } from '../../training/outcome-labels';
import { fitThresholds, thresholdLabel, type ThresholdConfig } from '../../training/threshold-labels';

const F = MODEL_FEATURES.length;

/** A hand-made episode: constant demand and neighbours on an 8-core node, no noise. */
function handMade(o: {
  demand?: number;
  neighbour?: number;
  otherCpuRequests?: number;
  otherMemRequests?: number;
  workingSet?: number;
  io?: number;
  leakRate?: number;
  leakAge0?: number;
}): Episode {
  const base = makeEpisode(1, 'steady');
  const fill = (v: number): Float64Array => new Float64Array(TOTAL_STEPS).fill(v);
  return {
    ...base,
    node: {
      cores: 8,
      memGiB: 32,
      otherCpuRequests: o.otherCpuRequests ?? 4,
      otherMemRequests: o.otherMemRequests ?? 16,
      pIdleCore: 4,
      pDynCore: 10,
      pUncoreCore: 2,
      pDramGiB: 0.35,
      pDramIdleGiB: 0.08,
      pDramIo: 4,
    },
    cpuLimit: 2,
    memLimit: 4,
    demand: fill(o.demand ?? 1),
    neighbour: fill(o.neighbour ?? 3),
    quietNeighbour: fill(2.5),
    memBase: fill(o.workingSet ?? 2),
    io: fill(o.io ?? 0.2),
    leakRate: o.leakRate ?? 0,
    leakAge0: o.leakAge0 ?? 0,
    kernelBase: 0.1,
    noise: new Float64Array(TOTAL_STEPS * F).fill(1),
  };
}

function label(ep: Episode): { policy: string; magnitude: number } {
  return outcomeLabel(ep, observe(ep).state);
}

describe('telemetry generator', () => {
  it('is deterministic per seed and differs between seeds', () => {
    const a = observe(makeEpisode(42));
    const b = observe(makeEpisode(42));
    const c = observe(makeEpisode(43));
    expect(b.window).toEqual(a.window);
    expect(c.window).not.toEqual(a.window);
    expect(generateSamples(7, 20)).toEqual(generateSamples(7, 20));
  });

  it('keeps the held-out splits apart', () => {
    const seeds = (split: 'train' | 'validation' | 'test') =>
      new Set(generateSamples(splitSeed(0, split), 60).map((s) => s.seed));
    const train = seeds('train');
    for (const s of seeds('test')) expect(train.has(s)).toBe(false);
    for (const s of seeds('validation')) expect(train.has(s)).toBe(false);
  });

  it('produces windows of 10 steps of the Kepler features, finite and non-negative, energy consistent', () => {
    for (let seed = 0; seed < 100; seed++) {
      const { window } = observe(makeEpisode(seed));
      expect(window).toHaveLength(WINDOW_STEPS);
      for (const row of window) {
        expect(row).toHaveLength(F);
        for (const v of row) expect(Number.isFinite(v) && v >= 0).toBe(true);
        const pkg = row[featureIndex('package_joules')]!;
        const dram = row[featureIndex('dram_joules')]!;
        expect(row[featureIndex('total_joules')]).toBeCloseTo(pkg + dram, 6);
        expect(row[featureIndex('user_cpu_usage')]!).toBeLessThanOrEqual(row[featureIndex('cpu_usage')]! * 1.1);
        expect(row[featureIndex('system_cpu_usage')]!).toBeLessThanOrEqual(1);
      }
    }
  });

  it('draws every scenario and makes energy follow CPU', () => {
    const seen = new Set(Array.from({ length: 400 }, (_, s) => makeEpisode(s).scenario));
    expect([...seen].sort()).toEqual([...SCENARIOS].sort());
    const busy = observe(handMade({ demand: 1.8 })).window.at(-1)!;
    const quiet = observe(handMade({ demand: 0.4 })).window.at(-1)!;
    expect(busy[featureIndex('core_joules')]!).toBeGreaterThan(quiet[featureIndex('core_joules')]! * 1.5);
  });

  it('shows the hidden cause in the window: a leak grows memory, a noisy neighbour fills the node', () => {
    const leak = observe(handMade({ workingSet: 1, leakRate: 0.01, leakAge0: 200 })).window;
    const mem = featureIndex('memory_usage');
    expect(leak.at(-1)![mem]!).toBeGreaterThan(leak[0]![mem]!);
    const noisy = observe(handMade({ demand: 1.2, neighbour: 7.9 })).window.at(-1)!;
    expect(noisy[featureIndex('system_cpu_usage')]).toBeCloseTo(1, 5);
  });
});

describe('threshold labels (D3.3)', () => {
  const cfg: ThresholdConfig = {
    cpuHigh: 0.9,
    cpuWarn: 0.8,
    cpuLow: 0.2,
    memHigh: 0.9,
    memWarn: 0.8,
    memLow: 0.2,
    energyHigh: 1000,
    targetUtilisation: 0.7,
  };
  const windowWith = (cpu: number, mem: number, totalJ: number): number[][] =>
    Array.from({ length: WINDOW_STEPS }, () => {
      const row = new Array<number>(F).fill(0.5);
      row[featureIndex('cpu_usage')] = cpu;
      row[featureIndex('memory_usage')] = mem;
      row[featureIndex('total_joules')] = totalJ;
      return row;
    });

  it('labels each band with its policy and a magnitude aimed at 70 %', () => {
    const up = thresholdLabel(windowWith(0.98, 0.5, 500), cfg);
    expect(up.policy).toBe('cpu_scale_up');
    expect(up.magnitude).toBeCloseTo(0.98 / 0.7, 9);
    expect(thresholdLabel(windowWith(0.5, 0.95, 500), cfg).policy).toBe('memory_scale_up');
    const offload = thresholdLabel(windowWith(0.85, 0.5, 500), cfg);
    expect(offload.policy).toBe('task_offloading');
    expect(offload.magnitude).toBeCloseTo(0.15 / 0.85, 6);
    expect(thresholdLabel(windowWith(0.5, 0.5, 1500), cfg).policy).toBe('data_offloading');
    expect(thresholdLabel(windowWith(0.1, 0.5, 500), cfg)).toMatchObject({ policy: 'cpu_scale_down', magnitude: 0.3 });
    expect(thresholdLabel(windowWith(0.5, 0.1, 500), cfg).policy).toBe('memory_scale_down');
    expect(thresholdLabel(windowWith(0.5, 0.5, 500), cfg)).toMatchObject({ policy: 'no_action', magnitude: 1 });
  });

  it('fits the percentiles on the last step of each window', () => {
    const windows = Array.from({ length: 101 }, (_, i) => windowWith(i / 100, 1 - i / 100, i * 10));
    const fitted = fitThresholds(windows);
    expect(fitted.cpuHigh).toBeCloseTo(0.9, 6);
    expect(fitted.cpuWarn).toBeCloseTo(0.8, 6);
    expect(fitted.cpuLow).toBeCloseTo(0.2, 6);
    expect(fitted.memHigh).toBeCloseTo(0.9, 6);
    expect(fitted.energyHigh).toBeCloseTo(950, 6);
  });
});

describe('outcome labels (each policy played forward)', () => {
  it('scales CPU up when the pod is throttled and the node has room', () => {
    const l = label(handMade({ demand: 2.6, otherCpuRequests: 2 }));
    expect(l.policy).toBe('cpu_scale_up');
    expect(l.magnitude).toBeGreaterThanOrEqual(2.6 / 2);
  });

  it('offloads instead when the node has no room for the resize', () => {
    const ep = handMade({ demand: 2.6, otherCpuRequests: 6 });
    expect(rollout(ep, observe(ep).state, { policy: 'cpu_scale_up', magnitude: 1.5 }).applied).toBe(false);
    expect(label(ep).policy).toBe('task_offloading');
  });

  it('moves the pod away from a noisy neighbour rather than buying more slow CPU', () => {
    expect(label(handMade({ demand: 1.2, neighbour: 7.9 })).policy).toBe('task_offloading');
  });

  it('offloads data when I/O is saturated', () => {
    expect(label(handMade({ io: 1.5 })).policy).toBe('data_offloading');
  });

  it('buys memory for a leak when the node has room, restarts it elsewhere when it has not', () => {
    expect(label(handMade({ workingSet: 1, leakRate: 0.01, leakAge0: 250 })).policy).toBe('memory_scale_up');
    expect(label(handMade({ workingSet: 1, leakRate: 0.01, leakAge0: 250, otherMemRequests: 28 })).policy).toBe(
      'task_offloading',
    );
  });

  it('leaves a healthy pod alone and shrinks an over-provisioned one', () => {
    expect(label(handMade({ demand: 1.8 })).policy).toBe('no_action');
    const over = label(handMade({ demand: 0.2, workingSet: 0.5 }));
    expect(over.policy).toBe('cpu_scale_down');
    expect(over.magnitude).toBeGreaterThanOrEqual(MAGNITUDE_GUIDE.cpu_scale_down.min);
  });

  it('gives every policy a cost and a magnitude inside the guide', () => {
    const ep = makeEpisode(5);
    const l = outcomeLabel(ep, observe(ep).state);
    expect(l.costs).toHaveLength(MODEL_POLICIES.length);
    MODEL_POLICIES.forEach((p, i) => {
      expect(l.magnitudes[i]!).toBeGreaterThanOrEqual(MAGNITUDE_GUIDE[p].min);
      expect(l.magnitudes[i]!).toBeLessThanOrEqual(MAGNITUDE_GUIDE[p].max);
    });
    expect(Math.min(...l.costs)).toBe(l.costs[MODEL_POLICIES.indexOf(l.policy)]);
    expect(DECISION_STEP).toBeLessThan(TOTAL_STEPS);
  });
});
