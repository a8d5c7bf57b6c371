/**
 * What a workload is asked to do at a moment of its scenario: the demand curve, bent by the faults active at
 * that moment. Pure functions of (scenario, seconds since the scenario started).
 */
import type { Curve, Fault, WorkloadModel } from '../scenario/model';

/** The curve's value at `t` seconds (never negative). */
export function curveValue(curve: Curve, t: number): number {
  switch (curve.type) {
    case 'constant':
      return curve.value;
    case 'ramp': {
      if (t <= curve.start) return curve.from;
      if (t >= curve.end) return curve.to;
      return curve.from + ((curve.to - curve.from) * (t - curve.start)) / (curve.end - curve.start);
    }
    case 'spike':
      return t >= curve.at && t < curve.at + curve.duration ? curve.peak : curve.base;
    case 'sine':
      return Math.max(0, curve.base + curve.amplitude * Math.sin(2 * Math.PI * (t / curve.period + curve.phase)));
    case 'step': {
      let value = curve.initial;
      for (const s of curve.steps) if (t >= s.at) value = s.value;
      return value;
    }
    case 'trace':
      return traceValue(curve.points, curve.loop, t);
  }
}

/** Linear interpolation between points; before the first its value, after the last its value or a loop. */
export function traceValue(points: readonly (readonly [number, number])[], loop: boolean, t: number): number {
  const first = points[0];
  const last = points.at(-1);
  if (!first || !last) return 0;
  let x = t;
  if (loop && last[0] > 0 && x > last[0]) x %= last[0];
  if (x <= first[0]) return first[1];
  if (x >= last[0]) return last[1];
  for (let i = 1; i < points.length; i++) {
    const [t1, v1] = points[i]!;
    const [t0, v0] = points[i - 1]!;
    if (x <= t1) return v0 + ((v1 - v0) * (x - t0)) / (t1 - t0);
  }
  return last[1];
}

export function faultActive(fault: Pick<Fault, 'at' | 'duration'>, t: number): boolean {
  return t >= fault.at && t < fault.at + fault.duration;
}

/** The demand and conditions of one workload at one moment (before it is split over its pods). */
export interface WorkloadConditions {
  /** Demand in the workload's own unit (cores, or requests/s). */
  readonly units: number;
  /** CPU cores the demand costs, spikes included. */
  readonly cores: number;
  /** Multiplier of the data part (I/O bytes and the CPU spent on them); 1 without an I/O storm. */
  readonly ioFactor: number;
  /** Extra egress per pod (a backup upload, a bulk transfer), Mbit/s. */
  readonly extraMbpsPerPod: number;
  /** Working-set growth per second of container uptime while a leak is active, per pod. */
  readonly leakBytesPerSecond: number;
}

/** Applies the workload's active faults to its curve at `t`. */
export function workloadConditions(w: WorkloadModel, faults: readonly Fault[], t: number): WorkloadConditions {
  let units = curveValue(w.demand.curve, t);
  let extraCores = 0;
  let ioFactor = 1;
  let extraMbpsPerPod = 0;
  let leakBytesPerSecond = 0;
  for (const f of faults) {
    if (f.workload !== w.name || !faultActive(f, t)) continue;
    switch (f.type) {
      case 'cpu_spike':
      case 'noisy_neighbour':
        extraCores += f.cores;
        break;
      case 'flapping':
        // On for the first half of each period: the textbook alert that fires and resolves and fires again.
        if ((t - f.at) % f.period < f.period / 2) extraCores += f.cores;
        break;
      case 'memory_leak':
        leakBytesPerSecond += f.bytesPerMinute / 60;
        break;
      case 'io_storm':
        ioFactor *= f.factor;
        break;
      case 'network_burst':
        extraMbpsPerPod += f.mbps;
        break;
      case 'demand_scale':
        units *= f.factor;
        break;
    }
  }
  return {
    units,
    cores: units * w.demand.cpuPerRequest + extraCores,
    ioFactor,
    extraMbpsPerPod,
    leakBytesPerSecond,
  };
}

/**
 * CPU a pod wants for its share of the demand: the compute part, plus the data part scaled by an I/O storm and
 * reduced by the share a data offload has moved elsewhere.
 */
export function podCpuDemand(
  shareCores: number,
  io: { readonly cpuShare: number },
  ioFactor: number,
  offloadedShare: number,
): number {
  const compute = shareCores * (1 - io.cpuShare);
  const data = shareCores * io.cpuShare * ioFactor * (1 - offloadedShare);
  return compute + data;
}
