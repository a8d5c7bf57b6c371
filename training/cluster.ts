/**
 * A small cluster model that produces Kepler-like telemetry and lets every policy be played forward from
 * the same moment. Each episode is one container on one node with a hidden cause (a burst, a leak, a noisy
 * neighbour, ...); everything outside the container (its demand, the neighbours' load, the leak) is drawn
 * up front, so all policies face exactly the same future and their outcomes can be compared fairly.
 *
 * The model is deliberately simple but keeps the mechanics that make the threshold rules wrong in
 * practice: a resize needs free capacity on the node (Kubernetes leaves an infeasible resize pending), a
 * saturated node makes every core slower (so more CPU does not buy back the SLO), a restart resets a
 * leak but costs a disruption, and reserved capacity costs idle energy that Kepler attributes to the pod.
 */
import { MODEL_FEATURES, WINDOW_STEPS, WINDOW_STEP_SECONDS } from '../src/domain/features';
import { type ModelPolicy } from '../src/domain/policy';
import { Rng } from './rng';
import { BASE_FAMILY, type Range, type SimFamily } from './sim-family';

export const SCENARIOS = [
  'steady',
  'over_provisioned',
  'idle',
  'burst',
  'ramp',
  'noisy_neighbour',
  'memory_leak',
  'memory_growth',
  'io_heavy',
] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** How often each hidden cause occurs; roughly what an on-call rotation sees, not a balanced benchmark. */
export const SCENARIO_WEIGHTS: Readonly<Record<Scenario, number>> = {
  steady: 0.2,
  over_provisioned: 0.1,
  idle: 0.03,
  burst: 0.13,
  ramp: 0.14,
  noisy_neighbour: 0.12,
  memory_leak: 0.1,
  memory_growth: 0.08,
  io_heavy: 0.1,
};

/** Steps simulated before the window so backlogs and leaks have a history. */
export const WARMUP_STEPS = 20;
/** Steps after the decision over which outcomes are scored (10 minutes). */
export const HORIZON_STEPS = 20;
/** The SLO must hold this many consecutive steps for the pod to count as recovered. */
export const SETTLE_STEPS = 3;
/** Index of the first step the chosen action can affect; the window is the WINDOW_STEPS before it. */
export const DECISION_STEP = WARMUP_STEPS + WINDOW_STEPS;
/** Steps an episode spans: warm-up, window, horizon and the settling tail. */
export const TOTAL_STEPS = DECISION_STEP + HORIZON_STEPS + SETTLE_STEPS;
const DT = WINDOW_STEP_SECONDS;
/** Steps of a day: the period of the diurnal load. */
const DAY_STEPS = (24 * 3600) / DT;

export interface NodeSpec {
  readonly cores: number;
  readonly memGiB: number;
  /** CPU and memory the other pods request: what the scheduler sees as taken. */
  readonly otherCpuRequests: number;
  readonly otherMemRequests: number;
  /** Watts per reserved core while idle (Kepler splits idle power by reservation in this model). */
  readonly pIdleCore: number;
  /** Watts per busy core above idle. */
  readonly pDynCore: number;
  readonly pUncoreCore: number;
  readonly pDramGiB: number;
  readonly pDramIdleGiB: number;
  /** Watts of DRAM traffic at full I/O load. */
  readonly pDramIo: number;
}

export interface Episode {
  readonly seed: number;
  /** The parameter ranges it was drawn from (BASE_FAMILY unless a held-out family was asked for). */
  readonly family: SimFamily;
  readonly scenario: Scenario;
  readonly node: NodeSpec;
  readonly cpuLimit: number;
  readonly memLimit: number;
  /** CPU work the container is asked to do per step, in cores. */
  readonly demand: Float64Array;
  /** CPU the other pods on the original node use, in cores. */
  readonly neighbour: Float64Array;
  /** CPU the other pods use on the node a moved pod lands on. */
  readonly quietNeighbour: Float64Array;
  /** Working set without the leak, GiB. */
  readonly memBase: Float64Array;
  readonly leakRate: number;
  /** Steps since the last restart at step 0 (the leak's age). */
  readonly leakAge0: number;
  /** I/O demand as a share of the pod's bandwidth. */
  readonly io: Float64Array;
  readonly kernelBase: number;
  /** Multiplicative measurement noise, one per step and feature. */
  readonly noise: Float64Array;
}

export interface PodState {
  cpuLimit: number;
  memLimit: number;
  /** Queued CPU work, core-steps. */
  backlog: number;
  /** CPU work dropped because the queue was full, core-steps; clients retry it, so it is charged as energy. */
  dropped: number;
  ioBacklog: number;
  age: number;
  /** Steps the pod is still down (restarting). */
  down: number;
  moved: boolean;
  taskShare: number;
  dataShare: number;
}

export interface Action {
  readonly policy: ModelPolicy;
  readonly magnitude: number;
}

export interface StepResult {
  readonly ok: boolean;
  /** Joules attributed to the pod on its node. */
  readonly localJ: number;
  /** Joules spent elsewhere because of offloading (remote pool, network). */
  readonly remoteJ: number;
  readonly oom: boolean;
  readonly features: number[];
}

export interface Outcome {
  /** Steps from the decision until the SLO holds for SETTLE_STEPS in a row (HORIZON_STEPS if never). */
  readonly ttrSteps: number;
  readonly violationSteps: number;
  readonly energyJ: number;
  /** The action restarted or moved the pod. */
  readonly disruptive: boolean;
  /** The action took effect (a resize without room on the node stays pending). */
  readonly applied: boolean;
  readonly ooms: number;
}

export interface Observation {
  /** WINDOW_STEPS × MODEL_FEATURES.length, oldest first. */
  readonly window: number[][];
  /** The SLO was violated in the last observed step: an alert would be firing. */
  readonly incident: boolean;
  readonly state: PodState;
}

function ar1(rng: Rng, n: number, sd: number, phi = 0.7): Float64Array {
  const out = new Float64Array(n);
  let x = 0;
  for (let t = 0; t < n; t++) {
    x = phi * x + rng.normal(0, sd * Math.sqrt(1 - phi * phi));
    out[t] = x;
  }
  return out;
}

const at = (a: Float64Array, t: number): number => a[t] ?? 0;

/** Draws one episode; the same seed (and family) always gives the same episode. */
export function makeEpisode(seed: number, forced?: Scenario, family: SimFamily = BASE_FAMILY): Episode {
  const r = new Rng(seed);
  const draw = (range: Range): number => r.uniform(range[0], range[1]);
  const scenario = forced ?? r.weighted(SCENARIO_WEIGHTS);
  const cores = r.pick(family.nodeCores);
  const memGiB = cores * family.memGiBPerCore;
  const cpuLimit = Math.round(r.uniform(0.5, Math.min(4, cores / 2)) * 20) / 20;
  const memLimit = Math.round(r.uniform(0.5, Math.min(8, memGiB / 4)) * 8) / 8;
  const node: NodeSpec = {
    cores,
    memGiB,
    otherCpuRequests: (cores - cpuLimit) * draw(family.otherRequestsShare),
    otherMemRequests: (memGiB - memLimit) * draw(family.otherRequestsShare),
    pIdleCore: draw(family.power.idleCore),
    pDynCore: draw(family.power.dynCore),
    pUncoreCore: draw(family.power.uncoreCore),
    pDramGiB: draw(family.power.dramGiB),
    pDramIdleGiB: draw(family.power.dramIdleGiB),
    pDramIo: draw(family.power.dramIo),
  };
  const phase = r.uniform(0, DAY_STEPS);
  const amp = r.uniform(0.1, 0.35);
  const diurnal = (t: number): number => 1 + amp * Math.sin((2 * Math.PI * (t + phase)) / DAY_STEPS);
  const demandNoise = ar1(r, TOTAL_STEPS, family.demandNoise);
  const neighbourNoise = ar1(r, TOTAL_STEPS, 0.05);
  const memNoise = ar1(r, TOTAL_STEPS, 0.01, 0.9);
  const ioNoise = ar1(r, TOTAL_STEPS, 0.08);

  let u0 = r.uniform(0.3, 0.75);
  let memFrac0 = r.uniform(0.3, 0.7);
  let ioLevel = r.uniform(0.05, 0.5);
  let kernelBase = r.uniform(0.05, 0.15);
  if (scenario === 'over_provisioned') {
    u0 = r.uniform(0.04, 0.25);
    memFrac0 = r.uniform(0.1, 0.3);
  } else if (scenario === 'idle') {
    u0 = r.uniform(0, 0.02);
    memFrac0 = r.uniform(0.02, 0.1);
    ioLevel = r.uniform(0, 0.02);
  } else if (scenario === 'noisy_neighbour') {
    u0 = r.uniform(0.35, 0.8);
  } else if (scenario === 'memory_leak') {
    memFrac0 = r.uniform(0.15, 0.4);
  } else if (scenario === 'io_heavy') {
    u0 = r.uniform(0.3, 0.6);
    kernelBase = r.uniform(0.1, 0.2);
  }

  const demand = new Float64Array(TOTAL_STEPS);
  const neighbour = new Float64Array(TOTAL_STEPS);
  const quietNeighbour = new Float64Array(TOTAL_STEPS);
  const memBase = new Float64Array(TOTAL_STEPS);
  const io = new Float64Array(TOTAL_STEPS);
  const neighbourUtil = r.uniform(0.3, 0.85);
  const quietLevel = r.uniform(0.25, 0.5);
  for (let t = 0; t < TOTAL_STEPS; t++) {
    demand[t] = Math.max(0, cpuLimit * u0 * diurnal(t) * (1 + at(demandNoise, t)));
    neighbour[t] = Math.max(0, node.otherCpuRequests * neighbourUtil * diurnal(t) * (1 + at(neighbourNoise, t)));
    quietNeighbour[t] = Math.max(0, cores * quietLevel * (1 + at(neighbourNoise, t)));
    io[t] = Math.max(0, ioLevel * (1 + at(ioNoise, t)));
  }

  // Short spikes in the past happen to every workload; only the burst scenario has one at the decision.
  if (scenario !== 'idle' && r.bool(0.3)) {
    const start = r.int(0, WARMUP_STEPS + 2);
    const amplitude = r.uniform(1.2, 2);
    for (let t = start; t < start + r.int(1, 2); t++) demand[t] = at(demand, t) * amplitude;
  }

  let leakRate = 0;
  let leakAge0 = 0;
  switch (scenario) {
    case 'burst': {
      const start = DECISION_STEP - r.int(1, 4);
      const end = start + r.int(1, 6);
      const level = cpuLimit * draw(family.burstLevel);
      for (let t = start; t < end; t++) demand[t] = level * (1 + at(demandNoise, t));
      break;
    }
    case 'ramp': {
      const start = DECISION_STEP - r.int(5, 12);
      const length = r.int(6, 16);
      const target = cpuLimit * draw(family.rampTarget);
      for (let t = start; t < TOTAL_STEPS; t++) {
        const base = at(demand, t);
        const progress = Math.min(1, (t - start) / length);
        demand[t] = base + (target - cpuLimit * u0) * progress * (1 + at(demandNoise, t) / 2);
      }
      break;
    }
    case 'noisy_neighbour': {
      const start = DECISION_STEP - r.int(1, 8);
      const end = r.bool(0.8) ? TOTAL_STEPS : start + r.int(3, 8);
      const level = cores * r.uniform(0.95, 1.05);
      for (let t = start; t < end; t++) {
        neighbour[t] = Math.max(at(neighbour, t), level - cpuLimit * u0) * (1 + at(neighbourNoise, t) / 3);
      }
      break;
    }
    case 'memory_leak': {
      leakAge0 = r.int(20, 200);
      const oomStep = DECISION_STEP + r.int(-1, 14);
      leakRate = Math.max(0, (memLimit * 0.99 - memLimit * memFrac0) / (leakAge0 + oomStep));
      break;
    }
    case 'io_heavy': {
      const start = DECISION_STEP - r.int(1, 8);
      const end = r.bool(0.8) ? TOTAL_STEPS : start + r.int(2, 6);
      const level = draw(family.ioLevel);
      for (let t = start; t < end; t++) io[t] = level * (1 + at(ioNoise, t));
      break;
    }
    default:
      break;
  }

  let growth: ((t: number) => number) | undefined;
  if (scenario === 'memory_growth') {
    memFrac0 = r.uniform(0.5, 0.7);
    const start = DECISION_STEP - r.int(4, 10);
    const length = r.int(8, 20);
    const plateau = r.uniform(1, 1.6);
    growth = (t) => (plateau - memFrac0) * Math.min(1, Math.max(0, (t - start) / length));
    for (let t = start; t < TOTAL_STEPS; t++) demand[t] = at(demand, t) * 1.2;
  }
  for (let t = 0; t < TOTAL_STEPS; t++) {
    const loadTerm = 0.08 * (at(demand, t) / cpuLimit - u0);
    const frac = memFrac0 + (growth ? growth(t) : 0) + loadTerm + at(memNoise, t);
    memBase[t] = Math.max(0.005, memLimit * frac);
  }

  const noise = new Float64Array(TOTAL_STEPS * MODEL_FEATURES.length);
  for (let i = 0; i < noise.length; i++) noise[i] = 1 + r.normal(0, family.measurementNoise);

  return {
    seed,
    family,
    scenario,
    node,
    cpuLimit,
    memLimit,
    demand,
    neighbour,
    quietNeighbour,
    memBase,
    leakRate,
    leakAge0,
    io,
    kernelBase,
    noise,
  };
}

export function initialState(ep: Episode): PodState {
  return {
    cpuLimit: ep.cpuLimit,
    memLimit: ep.memLimit,
    backlog: 0,
    dropped: 0,
    ioBacklog: 0,
    age: ep.leakAge0,
    down: 0,
    moved: false,
    taskShare: 0,
    dataShare: 0,
  };
}

function workingSet(ep: Episode, s: PodState, t: number): number {
  return at(ep.memBase, t) + ep.leakRate * s.age;
}

/** Advances the pod by one step in place. */
export function step(ep: Episode, s: PodState, t: number): StepResult {
  const n = ep.node;
  const cores = n.cores;
  const neighbour = s.moved ? at(ep.quietNeighbour, t) : at(ep.neighbour, t);
  const demandLocal = at(ep.demand, t) * (1 - s.taskShare);
  const remoteWork = at(ep.demand, t) * s.taskShare;
  // About 30 s of queued work: beyond that, requests of a latency-bound service time out and are retried.
  const backlogCap = Math.max(demandLocal, 0.05);
  let ws = workingSet(ep, s, t);
  let oom = false;
  let cpuTime: number;
  let ioServed = 0;
  let pressure = false;
  if (s.down === 0 && ws >= s.memLimit) {
    oom = true;
    s.down = 1;
  }
  const restarting = s.down > 0;
  if (restarting) {
    s.down -= 1;
    s.age = 0;
    ws = at(ep.memBase, t) * 0.5;
    cpuTime = 0.5 * s.cpuLimit;
    s.dropped += Math.max(0, s.backlog + demandLocal - backlogCap);
    s.backlog = Math.min(s.backlog + demandLocal, backlogCap);
    s.ioBacklog = Math.min(s.ioBacklog + at(ep.io, t) * (1 - s.dataShare), 2);
  } else {
    pressure = ws >= 0.95 * s.memLimit;
    const want = demandLocal + s.backlog;
    const util = Math.min(1, (neighbour + Math.min(want, s.cpuLimit)) / cores);
    // A saturated node slows every core (cache, memory bandwidth, SMT siblings): the same work needs more CPU.
    let efficiency = util > 0.8 ? 1 - (0.6 * (util - 0.8)) / 0.2 : 1;
    if (pressure) efficiency *= 0.7;
    cpuTime = Math.min(want / efficiency, s.cpuLimit);
    const work = cpuTime * efficiency;
    s.dropped += Math.max(0, want - work - backlogCap);
    s.backlog = Math.min(Math.max(0, want - work), backlogCap);
    const ioWant = at(ep.io, t) * (1 - s.dataShare) + s.ioBacklog;
    ioServed = Math.min(ioWant, 1);
    s.ioBacklog = Math.min(ioWant - ioServed, 2);
    s.age += 1;
  }
  const ok = !restarting && !pressure && s.backlog <= 0.1 * Math.max(demandLocal, 0.05) && s.ioBacklog <= 0.05;

  // Kepler splits a node's idle power among pods by what they reserve (base) or, in some set-ups, by use.
  const idleCores = ep.family.idleAttribution === 'reserved' ? s.cpuLimit : cpuTime;
  const core = (cpuTime * n.pDynCore + idleCores * n.pIdleCore) * DT;
  const uncore = cpuTime * n.pUncoreCore * DT;
  const dram = (ws * n.pDramGiB + s.memLimit * n.pDramIdleGiB + ioServed * n.pDramIo) * DT;
  const pkg = core + uncore;
  const total = pkg + dram;
  // The remote pool is a little less efficient per unit of work (network stack, cold caches) and reserves
  // capacity of its own; offloaded data pays for the network transfer.
  const remoteJ =
    (remoteWork * (n.pDynCore + n.pUncoreCore) * 1.15 +
      s.taskShare * s.cpuLimit * n.pIdleCore +
      s.dataShare * at(ep.io, t) * 4) *
    DT;

  const kernelShare = Math.min(0.75, ep.kernelBase + 0.45 * ioServed);
  const base = t * MODEL_FEATURES.length;
  const noise = (i: number): number => ep.noise[base + i] ?? 1;
  // Hosts without core/DRAM RAPL zones: Kepler still exports those series, at 0 (and no Kepler reads 0 too;
  // the window marks those absent). The energy spent is the same, only the readout differs.
  const zones = ep.family.kepler === 'full' ? 1 : 0;
  const features = [
    (cpuTime / s.cpuLimit) * noise(0),
    (ws / s.memLimit) * noise(1),
    Math.min(1, ((neighbour + cpuTime) / cores) * noise(2)),
    ((cpuTime * (1 - kernelShare)) / s.cpuLimit) * noise(3),
    zones * core * noise(4),
    zones * dram * noise(5),
    (ep.family.kepler === 'absent' ? 0 : 1) * pkg * noise(6),
    // Total is package + DRAM as measured, so the four energy features stay consistent with each other.
    (ep.family.kepler === 'absent' ? 0 : 1) * pkg * noise(6) + zones * dram * noise(5),
  ];
  return { ok, localJ: total, remoteJ, oom, features };
}

/** Runs the episode up to the decision and returns what the orchestrator would see. */
export function observe(ep: Episode): Observation {
  const s = initialState(ep);
  const window: number[][] = [];
  let lastOk = true;
  for (let t = 0; t < DECISION_STEP; t++) {
    const res = step(ep, s, t);
    if (t >= DECISION_STEP - WINDOW_STEPS) window.push(res.features);
    lastOk = res.ok;
  }
  return { window, incident: !lastOk, state: s };
}

/** Applies an action to a copy of the state at the decision; reports whether it took effect. */
export function applyAction(
  ep: Episode,
  state: PodState,
  action: Action,
): { state: PodState; applied: boolean; disruptive: boolean } {
  const s = { ...state };
  const m = action.magnitude;
  const n = ep.node;
  // A moved pod lands on a node picked for its headroom, so resizes there always fit.
  const freeCpu = s.moved ? n.cores : n.cores - n.otherCpuRequests - s.cpuLimit;
  const freeMem = s.moved ? n.memGiB : n.memGiB - n.otherMemRequests - s.memLimit;
  switch (action.policy) {
    case 'cpu_scale_up': {
      const extra = s.cpuLimit * (m - 1);
      if (extra > freeCpu + 1e-9) return { state: s, applied: false, disruptive: false };
      s.cpuLimit *= m;
      return { state: s, applied: true, disruptive: false };
    }
    case 'cpu_scale_down':
      s.cpuLimit *= m;
      return { state: s, applied: true, disruptive: false };
    case 'memory_scale_up': {
      const extra = s.memLimit * (m - 1);
      if (extra > freeMem + 1e-9) return { state: s, applied: false, disruptive: false };
      s.memLimit *= m;
      return { state: s, applied: true, disruptive: false };
    }
    case 'memory_scale_down': {
      // The kubelet will not shrink a memory limit below what the container already uses.
      const ws = workingSet(ep, s, DECISION_STEP);
      if (ws >= s.memLimit * m) return { state: s, applied: false, disruptive: false };
      s.memLimit *= m;
      return { state: s, applied: true, disruptive: false };
    }
    case 'task_offloading':
      // D3.6 Table 1: delete + create on another node; a share of the tasks goes to the remote pool.
      s.moved = true;
      s.down = 1;
      s.age = 0;
      s.taskShare = m;
      return { state: s, applied: true, disruptive: true };
    case 'data_offloading':
      s.dataShare = m;
      return { state: s, applied: true, disruptive: false };
    case 'no_action':
      return { state: s, applied: true, disruptive: false };
  }
}

/** Plays an action forward from the decision over the scoring horizon. */
export function rollout(ep: Episode, decisionState: PodState, action: Action): Outcome {
  const { state: s, applied, disruptive } = applyAction(ep, { ...decisionState, dropped: 0 }, action);
  const oks: boolean[] = [];
  let energyJ = 0;
  let ooms = 0;
  for (let k = 0; k < HORIZON_STEPS + SETTLE_STEPS; k++) {
    const res = step(ep, s, DECISION_STEP + k);
    oks.push(res.ok);
    if (k < HORIZON_STEPS) {
      energyJ += res.localJ + res.remoteJ;
      if (res.oom) ooms += 1;
    }
  }
  // Work still queued at the end, or dropped and retried by clients, must be done anyway: charge it so a
  // policy cannot look frugal by stalling or shedding load.
  energyJ += (s.backlog + s.dropped) * (ep.node.pDynCore + ep.node.pUncoreCore) * DT;
  let ttrSteps = HORIZON_STEPS;
  for (let k = 0; k < HORIZON_STEPS; k++) {
    if (oks.slice(k, k + SETTLE_STEPS).every(Boolean)) {
      ttrSteps = k;
      break;
    }
  }
  const violationSteps = oks.slice(0, HORIZON_STEPS).filter((ok) => !ok).length;
  return { ttrSteps, violationSteps, energyJ, disruptive, applied, ooms };
}
