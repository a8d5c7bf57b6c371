/**
 * From a file that passed the schema to the {@link Scenario} the lab runs: units resolved, defaults filled in,
 * and the checks a schema cannot express (names that must refer to each other, times inside the run,
 * requests not above limits). Every problem is reported with the field's path, all at once. Pure: a CSV trace
 * is read through the injected `readText`.
 */
import { parseQuantity } from '../../../src/domain/quantity';
import {
  UNTIL_THE_END,
  type Curve,
  type Fault,
  type NodeModel,
  type Scenario,
  type Tier,
  type WorkloadModel,
} from './model';
import type { CurveSpec, FaultSpec, ScenarioFile, WorkloadSpec } from './schema';

export interface Issue {
  /** `workloads[1].demand.curve.type`, or '' for the file as a whole. */
  readonly path: string;
  readonly message: string;
}

/** Node sizes by tier: the local stack's own edge and cloud shapes (tools/stack/kube.ts NODE_SHAPES). */
export const TIER_DEFAULTS: Readonly<
  Record<Tier, { readonly cpuCores: number; readonly memory: string; readonly networkMbps: number }>
> = {
  edge: { cpuCores: 4, memory: '8Gi', networkMbps: 1000 },
  cloud: { cpuCores: 16, memory: '64Gi', networkMbps: 10000 },
};

/** Defaults of a workload's profile when the file leaves a part out (docs/LAB.md lists them). */
export const WORKLOAD_DEFAULTS = {
  latencySeconds: 0.05,
  networkLatencySeconds: 0.005,
  memoryBase: '100Mi',
  cacheFill: '8Mi',
  ioBytesPerCoreSecond: '2Mi',
  ioCpuShare: 0.2,
  mbpsPerCore: 10,
  startupSeconds: 10,
  tickSeconds: 2,
} as const;

const MAX_TICK_SECONDS = 5;
const MIN_DURATION = 30;
const MAX_DURATION = 3600;

export function seconds(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value);
  if (!m) throw new Error(`not a duration: ${value}`);
  const n = Number(m[1]);
  const unit = m[2];
  return unit === 'ms' ? n / 1000 : unit === 's' ? n : unit === 'm' ? n * 60 : n * 3600;
}

export function quantity(value: number | string): number {
  return typeof value === 'number' ? value : parseQuantity(value).asApproximateFloat64();
}

function text(value: number | string): string {
  return typeof value === 'number' ? String(value) : value;
}

/** `seconds,value` lines; a first line that is not numbers is a header. */
export function parseTrace(csv: string): [number, number][] {
  const points: [number, number][] = [];
  const lines = csv.split(/\r?\n/).map((l) => l.trim());
  lines.forEach((line, i) => {
    if (line === '' || line.startsWith('#')) return;
    const cells = line.split(',').map((c) => c.trim());
    const t = Number(cells[0]);
    const v = Number(cells[1]);
    if (cells.length < 2 || !Number.isFinite(t) || !Number.isFinite(v)) {
      if (points.length === 0 && i === lines.findIndex((l) => l !== '' && !l.startsWith('#'))) return; // header
      throw new Error(`line ${i + 1}: expected "seconds,value", got "${line}"`);
    }
    if (t < 0 || v < 0) throw new Error(`line ${i + 1}: seconds and value must not be negative`);
    const last = points.at(-1);
    if (last && t <= last[0]) throw new Error(`line ${i + 1}: seconds must increase (${t} after ${last[0]})`);
    points.push([t, v]);
  });
  if (points.length === 0) throw new Error('no data points');
  return points;
}

interface Context {
  readonly issues: Issue[];
  readonly durationSeconds: number;
  readonly readText: (relativePath: string) => string;
}

function problem(ctx: Context, path: string, message: string): void {
  ctx.issues.push({ path, message });
}

function curve(ctx: Context, spec: CurveSpec, path: string): Curve {
  switch (spec.type) {
    case 'constant':
      return spec;
    case 'ramp': {
      const start = seconds(spec.start);
      const end = seconds(spec.end);
      if (end < start) problem(ctx, `${path}.end`, `must not be before start (${start}s)`);
      return { type: 'ramp', from: spec.from, to: spec.to, start, end };
    }
    case 'spike':
      return {
        type: 'spike',
        base: spec.base,
        peak: spec.peak,
        at: seconds(spec.at),
        duration: seconds(spec.duration),
      };
    case 'sine': {
      const period = seconds(spec.period);
      if (period <= 0) problem(ctx, `${path}.period`, 'must be longer than 0s');
      if (spec.amplitude > spec.base)
        problem(ctx, `${path}.amplitude`, `must not exceed base (${spec.base}): demand cannot be negative`);
      return { type: 'sine', base: spec.base, amplitude: spec.amplitude, period, phase: spec.phase ?? 0 };
    }
    case 'step': {
      const steps = spec.steps.map((s) => ({ at: seconds(s.at), value: s.value }));
      steps.forEach((s, i) => {
        if (i > 0 && s.at <= steps[i - 1]!.at)
          problem(ctx, `${path}.steps[${i}].at`, 'steps must be in increasing time order');
      });
      return { type: 'step', initial: spec.initial, steps };
    }
    case 'trace': {
      if ((spec.csv === undefined) === (spec.points === undefined)) {
        problem(ctx, path, 'a trace needs exactly one of `csv` (a file) or `points` (inline)');
        return { type: 'trace', points: [[0, 0]], loop: false };
      }
      let points: [number, number][] = [[0, 0]];
      if (spec.csv !== undefined) {
        try {
          points = parseTrace(ctx.readText(spec.csv));
        } catch (err) {
          problem(ctx, `${path}.csv`, `cannot use ${spec.csv}: ${err instanceof Error ? err.message : String(err)}`);
        }
      } else {
        points = spec.points!.map(([t, v]) => [t, v]);
        points.forEach((p, i) => {
          if (i > 0 && p[0] <= points[i - 1]![0]) problem(ctx, `${path}.points[${i}]`, 'times must increase');
        });
      }
      return { type: 'trace', points, loop: spec.loop ?? false };
    }
  }
}

function workload(ctx: Context, w: WorkloadSpec, i: number, nodes: readonly NodeModel[]): WorkloadModel {
  const path = `workloads[${i}]`;
  const req = { cpuCores: quantity(w.resources.requests.cpu), memoryBytes: quantity(w.resources.requests.memory) };
  const lim = { cpuCores: quantity(w.resources.limits.cpu), memoryBytes: quantity(w.resources.limits.memory) };
  if (lim.cpuCores <= 0) problem(ctx, `${path}.resources.limits.cpu`, 'must be above 0 (the lab caps usage by it)');
  if (lim.memoryBytes <= 0)
    problem(ctx, `${path}.resources.limits.memory`, 'must be above 0 (the lab OOM-kills above it)');
  if (req.cpuCores > lim.cpuCores) problem(ctx, `${path}.resources.requests.cpu`, 'must not exceed limits.cpu');
  if (req.memoryBytes > lim.memoryBytes)
    problem(ctx, `${path}.resources.requests.memory`, 'must not exceed limits.memory');
  if (w.demand.unit === 'rps' && w.demand.cpuPerRequest === undefined)
    problem(ctx, `${path}.demand.cpuPerRequest`, 'is required when demand.unit is rps');
  if (w.demand.unit === 'cores' && w.demand.cpuPerRequest !== undefined)
    problem(ctx, `${path}.demand.cpuPerRequest`, 'only applies when demand.unit is rps');
  if (w.kind === 'Pod' && w.replicas !== 1) problem(ctx, `${path}.replicas`, 'a bare Pod has exactly 1 replica');
  if (w.pinned && w.node === undefined) problem(ctx, `${path}.pinned`, 'needs `node` to pin to');
  const node = w.node === undefined ? undefined : nodes.find((n) => n.name === w.node);
  if (w.node !== undefined && !node) {
    problem(ctx, `${path}.node`, `no node "${w.node}" in cluster.nodes (${nodes.map((n) => n.name).join(', ')})`);
  }
  if (node && w.tier !== undefined && node.tier !== w.tier)
    problem(ctx, `${path}.tier`, `node "${node.name}" is ${node.tier}, not ${w.tier}`);
  if (w.tier !== undefined && !nodes.some((n) => n.tier === w.tier))
    problem(ctx, `${path}.tier`, `no ${w.tier} node in cluster.nodes`);
  return {
    name: w.name,
    kind: w.kind,
    replicas: w.replicas,
    ...(w.node === undefined ? {} : { node: w.node }),
    pinned: w.pinned ?? false,
    ...(w.tier === undefined ? {} : { tier: w.tier }),
    namespace: w.namespace,
    trap: w.trap,
    requests: req,
    limits: lim,
    quantities: {
      requests: { cpu: text(w.resources.requests.cpu), memory: text(w.resources.requests.memory) },
      limits: { cpu: text(w.resources.limits.cpu), memory: text(w.resources.limits.memory) },
    },
    demand: {
      unit: w.demand.unit,
      cpuPerRequest: w.demand.unit === 'rps' ? (w.demand.cpuPerRequest ?? 1) : 1,
      curve: curve(ctx, w.demand.curve, `${path}.demand.curve`),
    },
    latency: {
      baseSeconds: w.latency ? seconds(w.latency.base) : WORKLOAD_DEFAULTS.latencySeconds,
      networkSeconds:
        w.latency?.network === undefined ? WORKLOAD_DEFAULTS.networkLatencySeconds : seconds(w.latency.network),
    },
    memory: {
      baseBytes: quantity(w.memory?.base ?? WORKLOAD_DEFAULTS.memoryBase),
      perCoreBytes: w.memory?.perCore === undefined ? 0 : quantity(w.memory.perCore),
      cacheBytes: w.memory?.cache === undefined ? 0 : quantity(w.memory.cache),
      cacheFillBytesPerSecond: quantity(w.memory?.cacheFill ?? WORKLOAD_DEFAULTS.cacheFill),
    },
    io: {
      bytesPerCoreSecond: quantity(w.io?.bytesPerCoreSecond ?? WORKLOAD_DEFAULTS.ioBytesPerCoreSecond),
      cpuShare: w.io?.cpuShare ?? WORKLOAD_DEFAULTS.ioCpuShare,
    },
    network: { mbpsPerCore: w.network?.mbpsPerCore ?? WORKLOAD_DEFAULTS.mbpsPerCore },
    startupSeconds: w.startup === undefined ? WORKLOAD_DEFAULTS.startupSeconds : seconds(w.startup),
  };
}

function fault(ctx: Context, f: FaultSpec, i: number, names: ReadonlySet<string>): Fault {
  const path = `faults[${i}]`;
  const at = seconds(f.at);
  const duration = f.duration === undefined ? UNTIL_THE_END : seconds(f.duration);
  if (at >= ctx.durationSeconds)
    problem(ctx, `${path}.at`, `${at}s is not before the end of the scenario (${ctx.durationSeconds}s)`);
  if (duration <= 0) problem(ctx, `${path}.duration`, 'must be longer than 0s');
  if (!names.has(f.workload))
    problem(ctx, `${path}.workload`, `no workload "${f.workload}" (${[...names].join(', ')})`);
  const timing = { at, duration };
  switch (f.type) {
    case 'cpu_spike':
    case 'noisy_neighbour':
      return { ...timing, type: f.type, workload: f.workload, cores: f.cores };
    case 'flapping': {
      const period = seconds(f.period);
      if (period <= 0) problem(ctx, `${path}.period`, 'must be longer than 0s');
      return { ...timing, type: 'flapping', workload: f.workload, cores: f.cores, period };
    }
    case 'memory_leak':
      return { ...timing, type: 'memory_leak', workload: f.workload, bytesPerMinute: quantity(f.perMinute) };
    case 'io_storm':
      return { ...timing, type: 'io_storm', workload: f.workload, factor: f.factor };
    case 'network_burst':
      return { ...timing, type: 'network_burst', workload: f.workload, mbps: f.mbps };
    case 'demand_scale':
      return { ...timing, type: 'demand_scale', workload: f.workload, factor: f.factor };
  }
}

function duplicates(names: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const n of names) (seen.has(n) ? twice : seen).add(n);
  return twice;
}

/** The scenario, or every problem found (with field paths). */
export function normaliseScenario(
  file: ScenarioFile,
  source: string,
  readText: (relativePath: string) => string,
): { scenario: Scenario } | { issues: Issue[] } {
  const durationSeconds = seconds(file.duration);
  const ctx: Context = { issues: [], durationSeconds, readText };
  if (durationSeconds < MIN_DURATION || durationSeconds > MAX_DURATION)
    problem(ctx, 'duration', `must be between ${MIN_DURATION}s and ${MAX_DURATION}s, got ${durationSeconds}s`);
  const tickSeconds = file.tick === undefined ? WORKLOAD_DEFAULTS.tickSeconds : seconds(file.tick);
  if (tickSeconds <= 0 || tickSeconds > MAX_TICK_SECONDS)
    problem(ctx, 'tick', `must be above 0s and at most ${MAX_TICK_SECONDS}s, got ${tickSeconds}s`);

  for (const name of duplicates(file.cluster.nodes.map((n) => n.name))) {
    problem(ctx, 'cluster.nodes', `node name "${name}" is used twice`);
  }
  const nodes: NodeModel[] = file.cluster.nodes.map((n) => {
    const d = TIER_DEFAULTS[n.tier];
    return {
      name: n.name,
      tier: n.tier,
      cpuCores: n.cpu === undefined ? d.cpuCores : quantity(n.cpu),
      memoryBytes: quantity(n.memory ?? d.memory),
      networkMbps: n.networkMbps ?? d.networkMbps,
    };
  });
  nodes.forEach((n, i) => {
    if (n.cpuCores <= 0) problem(ctx, `cluster.nodes[${i}].cpu`, 'must be above 0');
    if (n.memoryBytes <= 0) problem(ctx, `cluster.nodes[${i}].memory`, 'must be above 0');
  });

  for (const name of duplicates(file.workloads.map((w) => w.name))) {
    problem(ctx, 'workloads', `workload name "${name}" is used twice`);
  }
  const workloads = file.workloads.map((w, i) => workload(ctx, w, i, nodes));
  const names = new Set(workloads.map((w) => w.name));
  const faults = file.faults.map((f, i) => fault(ctx, f, i, names));

  const sloWorkloads = file.slo.workloads ?? workloads.filter((w) => !w.trap).map((w) => w.name);
  file.slo.workloads?.forEach((name, i) => {
    if (!names.has(name)) problem(ctx, `slo.workloads[${i}]`, `no workload "${name}"`);
  });
  if (sloWorkloads.length === 0)
    problem(ctx, 'slo.workloads', 'every workload is a trap: name the ones the SLO measures');
  let threshold = 0;
  if (file.slo.kind === 'latency_p95') {
    threshold = seconds(file.slo.threshold);
    if (threshold <= 0) problem(ctx, 'slo.threshold', 'a latency threshold must be longer than 0s');
  } else if (typeof file.slo.threshold !== 'number' || file.slo.threshold > 1) {
    problem(ctx, 'slo.threshold', `${file.slo.kind} needs a share between 0 and 1`);
  } else threshold = file.slo.threshold;

  const a = file.alerts;
  const alerts = {
    rules: [...new Set(a.rules)],
    forSeconds: seconds(a.for),
    rateWindowSeconds: seconds(a.rateWindow),
    cpuLimitShare: a.cpuLimitShare,
    memoryLimitShare: a.memoryLimitShare,
    nodeCpuShare: a.nodeCpuShare,
  };
  if (alerts.rateWindowSeconds < 10)
    problem(ctx, 'alerts.rateWindow', 'must span at least two scrapes (10s on the local stack)');

  if (ctx.issues.length > 0) return { issues: ctx.issues };
  return {
    scenario: {
      name: file.name,
      description: file.description,
      ...(file.expect === undefined ? {} : { expect: file.expect }),
      source,
      durationSeconds,
      tickSeconds,
      nodes,
      workloads,
      faults,
      alerts,
      slo: { kind: file.slo.kind, threshold, workloads: sloWorkloads },
    },
  };
}
