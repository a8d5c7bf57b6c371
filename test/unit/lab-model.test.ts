/** The incident lab's load model (tools/lab/model): pure maths, checked against hand-computed values. */
import { p95Latency, queueStep, shareNodeCpu, throttledFraction, MAX_QUEUE_SECONDS } from '../../tools/lab/model/cpu';
import { curveValue, traceValue, workloadConditions } from '../../tools/lab/model/demand';
import { attributePower, nodePower, POWER_PROFILES } from '../../tools/lab/model/energy';
import { memoryStep } from '../../tools/lab/model/memory';
import {
  DATA_OFFLOAD_DELAY_SECONDS,
  networkLatency,
  offloadedShare,
  qosRate,
  shareLink,
} from '../../tools/lab/model/network';
import { tick, type PodState, type PodView, type TickInput } from '../../tools/lab/model/workload';
import { parseScenario } from '../../tools/lab/scenario/load';
import type { Scenario } from '../../tools/lab/scenario/model';

const MI = 1024 * 1024;

describe('demand curves', () => {
  it('ramps linearly between start and end and holds outside', () => {
    const ramp = { type: 'ramp', from: 1, to: 3, start: 10, end: 20 } as const;
    expect(curveValue(ramp, 0)).toBe(1);
    expect(curveValue(ramp, 15)).toBe(2);
    expect(curveValue(ramp, 99)).toBe(3);
  });

  it('spikes only inside [at, at + duration)', () => {
    const spike = { type: 'spike', base: 1, peak: 5, at: 10, duration: 5 } as const;
    expect([9.9, 10, 14.9, 15].map((t) => curveValue(spike, t))).toEqual([1, 5, 5, 1]);
  });

  it('follows a sine around its base and never goes negative', () => {
    const sine = { type: 'sine', base: 1, amplitude: 1, period: 40, phase: 0 } as const;
    expect(curveValue(sine, 10)).toBeCloseTo(2);
    expect(curveValue(sine, 30)).toBeCloseTo(0);
    expect(curveValue({ ...sine, phase: 0.25 }, 0)).toBeCloseTo(2);
  });

  it('takes the value of the last step reached', () => {
    const step = {
      type: 'step',
      initial: 1,
      steps: [
        { at: 10, value: 2 },
        { at: 20, value: 0.5 },
      ],
    } as const;
    expect([0, 10, 19, 25].map((t) => curveValue(step, t))).toEqual([1, 2, 2, 0.5]);
  });

  it('interpolates a trace, holds its last value or loops', () => {
    const points = [
      [0, 0],
      [10, 10],
      [20, 0],
    ] as const;
    expect(traceValue(points, false, 5)).toBe(5);
    expect(traceValue(points, false, 30)).toBe(0);
    expect(traceValue(points, true, 25)).toBe(5);
  });
});

const BASE_YAML = `
name: unit
description: model test
duration: 5m
tick: 2s
cluster:
  nodes:
    - { name: edge-a, tier: edge }
    - { name: edge-b, tier: edge }
workloads:
  - name: web
    replicas: 1
    node: edge-a
    resources: { requests: { cpu: 500m, memory: 256Mi }, limits: { cpu: '1', memory: 512Mi } }
    demand: { curve: { type: constant, value: 0.5 } }
    latency: { base: 50ms, network: 5ms }
    memory: { base: 200Mi }
    io: { cpuShare: 0.5 }
    startup: 10s
slo: { kind: latency_p95, threshold: 300ms }
`;

function scenario(patch: (yaml: string) => string = (y) => y): Scenario {
  return parseScenario(patch(BASE_YAML), 'test.yaml', '/tmp');
}

describe('faults bend the demand', () => {
  const s = parseScenario(
    `${BASE_YAML}
faults:
  - { type: cpu_spike, at: 60s, duration: 30s, workload: web, cores: 1 }
  - { type: flapping, at: 120s, duration: 60s, workload: web, cores: 2, period: 20s }
  - { type: io_storm, at: 200s, workload: web, factor: 3 }
  - { type: demand_scale, at: 250s, workload: web, factor: 2 }
`,
    'faults.yaml',
    '/tmp',
  );
  const web = s.workloads[0]!;
  it('adds a spike for its duration only', () => {
    expect(workloadConditions(web, s.faults, 59).cores).toBe(0.5);
    expect(workloadConditions(web, s.faults, 60).cores).toBe(1.5);
    expect(workloadConditions(web, s.faults, 90).cores).toBe(0.5);
  });
  it('flaps on for the first half of each period', () => {
    expect(workloadConditions(web, s.faults, 125).cores).toBe(2.5);
    expect(workloadConditions(web, s.faults, 135).cores).toBe(0.5);
    expect(workloadConditions(web, s.faults, 145).cores).toBe(2.5);
  });
  it('scales the data part in a storm and the whole demand with demand_scale', () => {
    expect(workloadConditions(web, s.faults, 210).ioFactor).toBe(3);
    expect(workloadConditions(web, s.faults, 260).units).toBe(1);
  });
});

describe('CPU: limits, contention, queue', () => {
  it('throttles no period at 90 % of the quota and every period at 110 %', () => {
    expect(throttledFraction(0.9, 1, false)).toBe(0);
    expect(throttledFraction(1, 1, false)).toBeCloseTo(0.5);
    expect(throttledFraction(1.1, 1, false)).toBe(1);
    expect(throttledFraction(0.5, 1, true)).toBe(1);
  });

  it('gives everyone what they ask while the node has room, else proportional shares', () => {
    expect(shareNodeCpu(4, [1, 2])).toEqual([1, 2]);
    expect(shareNodeCpu(4, [2, 6])).toEqual([1, 3]);
  });

  it('queues the excess, drains it when capacity returns, and drops what would wait over the timeout', () => {
    const over = queueStep(0, 2, 1, 2);
    expect(over).toEqual({ backlog: 2, usedCores: 1, dropped: 0 });
    const drain = queueStep(2, 0.5, 1, 2);
    expect(drain.backlog).toBeCloseTo(1);
    expect(drain.usedCores).toBe(1);
    const flood = queueStep(MAX_QUEUE_SECONDS, 10, 1, 1);
    expect(flood.backlog).toBe(MAX_QUEUE_SECONDS);
    expect(flood.dropped).toBeCloseTo(10 - 1);
  });

  it('stretches latency with utilisation and adds the queue wait', () => {
    const idle = p95Latency({ baseSeconds: 0.05, utilisation: 0, backlog: 0, availableCores: 1, networkSeconds: 0 });
    const busy = p95Latency({ baseSeconds: 0.05, utilisation: 0.9, backlog: 0, availableCores: 1, networkSeconds: 0 });
    const queued = p95Latency({
      baseSeconds: 0.05,
      utilisation: 0.9,
      backlog: 2,
      availableCores: 1,
      networkSeconds: 0,
    });
    expect(idle).toBeCloseTo(0.05);
    expect(busy).toBeGreaterThan(0.3);
    expect(queued - busy).toBeCloseTo(2);
  });
});

describe('memory', () => {
  const profile = { baseBytes: 100 * MI, perCoreBytes: 0, cacheBytes: 1000 * MI, cacheFillBytesPerSecond: 10 * MI };
  it('fills the cache as it runs, only up to 95 % of the limit: cache alone never kills', () => {
    const opts = { usedCores: 0, leakBytesPerSecond: 0, dt: 2, limitBytes: 200 * MI };
    const first = memoryStep(profile, { leakBytes: 0, cacheBytes: 0 }, opts);
    expect(first.workingSetBytes).toBeCloseTo(120 * MI);
    let state = { leakBytes: 0, cacheBytes: first.cacheBytes };
    for (let i = 0; i < 10; i++) state = memoryStep(profile, state, opts);
    const full = memoryStep(profile, state, opts);
    expect(full.oomKilled).toBe(false);
    expect(full.workingSetBytes).toBeCloseTo(190 * MI);
  });
  it('OOM-kills when resident memory (base + leak) passes the limit, and restarts with the leak reset', () => {
    const near = memoryStep(
      profile,
      { leakBytes: 95 * MI, cacheBytes: 0 },
      { usedCores: 0, leakBytesPerSecond: MI, dt: 2, limitBytes: 200 * MI },
    );
    expect(near.oomKilled).toBe(false);
    const over = memoryStep(
      profile,
      { leakBytes: 99 * MI, cacheBytes: 0 },
      { usedCores: 0, leakBytesPerSecond: MI, dt: 2, limitBytes: 200 * MI },
    );
    expect(over.oomKilled).toBe(true);
    expect(over.leakBytes).toBe(0);
  });
});

describe('annotation contracts', () => {
  const now = Date.parse('2030-01-01T00:00:30Z') / 1000;
  it('moves the data-offload share only after the delay from its request time', () => {
    const early = { 'talon.io/data-offload': '0.4', 'talon.io/data-offload-requested-at': '2030-01-01T00:00:20Z' };
    const late = { ...early, 'talon.io/data-offload-requested-at': '2030-01-01T00:00:00Z' };
    expect(DATA_OFFLOAD_DELAY_SECONDS).toBeGreaterThan(10);
    expect(offloadedShare(early, now)).toBe(0);
    expect(offloadedShare(late, now)).toBe(0.4);
    expect(offloadedShare({ 'talon.io/data-offload': 'lots' }, now)).toBe(0);
  });
  it("reads Kube-OVN's rates and caps a pod's share of the link, relieving its neighbours", () => {
    expect(qosRate({ 'ovn.kubernetes.io/egress_rate': '100' }, 'egress')).toBe(100);
    expect(qosRate({ 'ovn.kubernetes.io/egress_rate': '0' }, 'egress')).toBeUndefined();
    const congested = shareLink(1000, [200, 1800], [undefined, undefined]);
    expect(congested.utilisation).toBe(2);
    expect(congested.granted[0]).toBe(100);
    const capped = shareLink(1000, [200, 1800], [undefined, 300]);
    expect(capped.utilisation).toBe(0.5);
    expect(capped.granted).toEqual([200, 300]);
    expect(networkLatency(0.005, 2)).toBeGreaterThan(networkLatency(0.005, 0.5) * 10);
  });
});

describe('energy (Kepler ratio model)', () => {
  it('draws idle power at 0 % and more with activity', () => {
    const idle = nodePower(POWER_PROFILES.edge, 0);
    const busy = nodePower(POWER_PROFILES.edge, 1);
    expect(idle.dynamic.total).toBe(0);
    expect(idle.idle.total).toBeCloseTo(7.5);
    expect(busy.idle.total + busy.dynamic.total).toBeCloseTo(32);
    expect(busy.dynamic.core).toBeLessThan(busy.dynamic.package);
  });
  it('attributes idle and dynamic power by CPU-time share, nothing when the node is idle', () => {
    const p = nodePower(POWER_PROFILES.cloud, 0.5);
    const [a, b] = attributePower(p, [1, 3]);
    expect(a!.idle.total).toBeCloseTo(p.idle.total / 4);
    expect(b!.dynamic.package).toBeCloseTo((p.dynamic.package * 3) / 4);
    expect(a!.idle.total + b!.idle.total).toBeCloseTo(p.idle.total);
    expect(attributePower(p, [0, 0])[0]!.idle.total).toBe(0);
  });
});

const NOW = 1_900_000_000;
const NODES = [
  { name: 'n-edge-a', tier: 'edge' as const, cpuCores: 4, networkMbps: 1000 },
  { name: 'n-edge-b', tier: 'edge' as const, cpuCores: 4, networkMbps: 1000 },
];

function pod(over: Partial<PodView> = {}): PodView {
  return {
    uid: 'u1',
    name: 'web-1',
    workload: 'web',
    node: 'n-edge-a',
    running: true,
    startedAt: NOW - 60,
    cpuLimitCores: 1,
    memoryLimitBytes: 512 * MI,
    annotations: {},
    ...over,
  };
}

/** Runs `n` ticks of 2 s, carrying the state, and returns the last result. */
function run(s: Scenario, pods: readonly PodView[], n = 10, start = 100, states = new Map<string, PodState>()) {
  let result = undefined as unknown as ReturnType<typeof tick>;
  for (let i = 0; i < n; i++) {
    const input: TickInput = { scenario: s, t: start + i * 2, now: NOW + i * 2, dt: 2, pods, nodes: NODES, states };
    result = tick(input);
    for (const p of result.pods) states.set(p.uid, p.state);
  }
  return { result, states };
}

describe('one scenario copy, tick by tick', () => {
  it('serves demand below the limit without throttling and within the SLO', () => {
    const { result } = run(scenario(), [pod()]);
    const web = result.workloads[0]!;
    expect(web.usedCores).toBeCloseTo(0.5);
    expect(web.throttled).toBe(0);
    expect(web.availability).toBeCloseTo(1);
    expect(result.slo.violated).toBe(false);
  });

  it('caps usage by the current limit, throttles and violates the SLO; a raised limit takes effect next tick', () => {
    const s = scenario((y) => y.replace('value: 0.5', 'value: 1.4'));
    const capped = run(s, [pod()]);
    expect(capped.result.pods[0]!.usedCores).toBeCloseTo(1);
    expect(capped.result.pods[0]!.throttled).toBe(1);
    expect(capped.result.slo.violated).toBe(true);
    const raised = run(s, [pod({ cpuLimitCores: 2 })], 1, 120, capped.states);
    expect(raised.result.pods[0]!.usedCores).toBeGreaterThan(1.4);
    const settled = run(s, [pod({ cpuLimitCores: 2 })], 30, 122, raised.states);
    expect(settled.result.pods[0]!.usedCores).toBeCloseTo(1.4);
    expect(settled.result.slo.violated).toBe(false);
  });

  it('splits demand across serving replicas; a new pod serves nothing during its start-up', () => {
    const s = scenario((y) => y.replace('value: 0.5', 'value: 1.6'));
    const fresh = pod({ uid: 'u2', name: 'web-2', node: 'n-edge-b', startedAt: NOW - 2 });
    const { result } = run(s, [pod(), fresh], 1);
    expect(result.pods.find((p) => p.uid === 'u2')!.serving).toBe(false);
    expect(result.pods.find((p) => p.uid === 'u1')!.usedCores).toBeCloseTo(1);
    const later = run(s, [pod(), { ...fresh, startedAt: NOW - 60 }], 10);
    expect(later.result.workloads[0]!.servingPods).toBe(2);
    expect(later.result.pods.every((p) => Math.abs(p.usedCores - 0.8) < 1e-6)).toBe(true);
  });

  it('slows every pod on an over-committed node; moving one to a quiet node relieves both', () => {
    const s = scenario((y) =>
      y
        .replace('value: 0.5', 'value: 3')
        .replace(
          'slo:',
          '  - { name: batch, node: edge-a, resources: { requests: { cpu: 1, memory: 256Mi }, limits: { cpu: 4, memory: 512Mi } }, demand: { curve: { type: constant, value: 3 } } }\nslo:',
        ),
    );
    const web = pod({ cpuLimitCores: 4 });
    const batch = pod({ uid: 'b1', name: 'batch-1', workload: 'batch', cpuLimitCores: 4 });
    const shared = run(s, [web, batch]);
    expect(shared.result.nodes[0]!.usedCores).toBeCloseTo(4);
    expect(shared.result.pods[0]!.usedCores).toBeLessThan(3);
    const moved = run(s, [web, { ...batch, node: 'n-edge-b' }], 40, 120, shared.states);
    expect(moved.result.pods.every((p) => Math.abs(p.usedCores - 3) < 1e-6)).toBe(true);
  });

  it('OOM-kills a leaking container at its limit and resets its working set', () => {
    const s = scenario((y) => `${y}faults:\n  - { type: memory_leak, at: 0s, workload: web, perMinute: 600Mi }\n`);
    const states = new Map<string, PodState>();
    let killed = false;
    for (let i = 0; i < 40 && !killed; i++) {
      const r = tick({ scenario: s, t: i * 2, now: NOW + i * 2, dt: 2, pods: [pod()], nodes: NODES, states });
      killed = r.pods[0]!.oomKilled;
      if (killed) expect(r.pods[0]!.workingSetBytes).toBe(200 * MI);
      else expect(r.pods[0]!.workingSetBytes).toBeLessThanOrEqual(512 * MI);
      states.set('u1', r.pods[0]!.state);
    }
    expect(killed).toBe(true);
  });

  it('a data offload moves the data share of CPU and I/O after its delay', () => {
    const s = scenario();
    const before = run(s, [pod()]).result.pods[0]!;
    const annotated = pod({
      annotations: {
        'talon.io/data-offload': '0.5',
        'talon.io/data-offload-requested-at': new Date((NOW - 60) * 1000).toISOString(),
      },
    });
    const after = run(s, [annotated]).result.pods[0]!;
    expect(after.usedCores).toBeCloseTo(before.usedCores * 0.75);
    expect(after.ioWriteBytesPerSecond).toBeLessThan(before.ioWriteBytesPerSecond * 0.5);
  });

  it('a network QoS cap on a noisy neighbour restores the victim latency', () => {
    const s = scenario(
      (y) =>
        y.replace(
          'slo:',
          '  - { name: backup, node: edge-a, resources: { requests: { cpu: 100m, memory: 128Mi }, limits: { cpu: 1, memory: 256Mi } }, demand: { curve: { type: constant, value: 0.1 } }, network: { mbpsPerCore: 0 } }\nslo:',
        ) + 'faults:\n  - { type: network_burst, at: 0s, workload: backup, mbps: 2000 }\n',
    );
    const web = pod();
    const backup = pod({ uid: 'k1', name: 'backup-1', workload: 'backup' });
    const congested = run(s, [web, backup]).result;
    expect(congested.slo.violated).toBe(true);
    const limited = run(s, [web, { ...backup, annotations: { 'ovn.kubernetes.io/egress_rate': '300' } }]).result;
    expect(limited.slo.violated).toBe(false);
    expect(limited.pods[1]!.egressMbps).toBeCloseTo(300);
  });

  it('attributes node power to the containers that run, and energy grows with CPU', () => {
    const low = run(scenario(), [pod()]).result;
    const high = run(
      scenario((y) => y.replace('value: 0.5', 'value: 0.9')),
      [pod()],
    ).result;
    expect(low.pods[0]!.power.idle.total).toBeCloseTo(7.5);
    expect(high.workloads[0]!.watts).toBeGreaterThan(low.workloads[0]!.watts);
  });
});

describe('a busy node slows its pods before it is over-committed', () => {
  it('stretches latency with the node’s utilisation, and moving the pod away relieves it', () => {
    const s = scenario((y) =>
      y.replace(
        'slo:',
        '  - { name: etl, node: edge-a, resources: { requests: { cpu: 1, memory: 256Mi }, limits: { cpu: 4, memory: 512Mi } }, demand: { curve: { type: constant, value: 3.2 } } }\nslo:',
      ),
    );
    const web = pod();
    const etl = pod({ uid: 'e1', name: 'etl-1', workload: 'etl', cpuLimitCores: 4 });
    const busy = run(s, [web, etl]).result;
    const alone = run(s, [{ ...web, node: 'n-edge-b' }, etl]).result;
    expect(busy.nodes[0]!.usedCores).toBeCloseTo(3.7);
    expect(busy.pods[0]!.usedCores).toBeCloseTo(0.5);
    expect(busy.pods[0]!.latencySeconds).toBeGreaterThan(alone.pods[0]!.latencySeconds * 3);
  });
});
