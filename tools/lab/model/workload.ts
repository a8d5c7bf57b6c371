/**
 * One tick of one scenario copy: the demand of each workload split over its serving pods, each pod's CPU
 * capped by its current limit and by its node's capacity, its queue, memory (OOM kills), I/O, network share,
 * latency, and the SLO of the workloads it measures; then each node's power attributed to its containers.
 * Pure: the driver feeds in what the apiserver shows (pods, nodes, annotations) and the state it kept, and
 * writes out what this returns.
 */
import type { Scenario, WorkloadModel } from '../scenario/model';
import { sloViolated } from '../scenario/model';
import { p95Latency, queueStep, shareNodeCpu, throttledFraction, userShare, MAX_QUEUE_SECONDS } from './cpu';
import { podCpuDemand, workloadConditions } from './demand';
import { attributePower, nodePower, POWER_PROFILES, type NodePower } from './energy';
import { memoryStep } from './memory';
import { networkLatency, offloadedShare, qosRate, shareLink } from './network';

/** A pod as the apiserver shows it, reduced to what the model reads. */
export interface PodView {
  readonly uid: string;
  readonly name: string;
  readonly workload: string;
  /** The node it is bound to (the real node name); undefined while Pending. */
  readonly node?: string;
  /** Bound, Running, not terminating: it has a container that uses resources. */
  readonly running: boolean;
  /** Unix seconds the container last started (pod start, or the last restart the driver made). */
  readonly startedAt: number;
  readonly cpuLimitCores: number;
  readonly memoryLimitBytes: number;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface NodeView {
  readonly name: string;
  readonly tier: 'edge' | 'cloud';
  readonly cpuCores: number;
  readonly networkMbps: number;
}

/** What the driver remembers of a container between ticks. */
export interface PodState {
  readonly backlog: number;
  readonly leakBytes: number;
  readonly cacheBytes: number;
}

export const FRESH_POD: PodState = { backlog: 0, leakBytes: 0, cacheBytes: 0 };

export interface PodResult {
  readonly uid: string;
  readonly workload: string;
  readonly node?: string;
  readonly state: PodState;
  /** Past its start-up delay and running: it takes a share of the demand. */
  readonly serving: boolean;
  readonly wantedCores: number;
  readonly usedCores: number;
  readonly userCores: number;
  readonly throttled: number;
  readonly workingSetBytes: number;
  readonly oomKilled: boolean;
  readonly egressMbps: number;
  readonly ingressMbps: number;
  readonly ioReadBytesPerSecond: number;
  readonly ioWriteBytesPerSecond: number;
  readonly latencySeconds: number;
  /** Watts attributed to this container (Kepler's ratio model). */
  readonly power: NodePower;
}

export interface WorkloadResult {
  readonly name: string;
  readonly demandUnits: number;
  readonly demandCores: number;
  /** Units of demand served this tick (requests/s or cores), dropped work excluded. */
  readonly servedUnits: number;
  readonly servingPods: number;
  readonly usedCores: number;
  /** Limit of the first pod (what the picture shows), cores. */
  readonly cpuLimitCores: number;
  readonly memoryLimitBytes: number;
  readonly workingSetBytes: number;
  readonly latencySeconds: number;
  readonly throttled: number;
  readonly availability: number;
  /** The SLO's own measure for this workload (latency s, throttled share or availability). */
  readonly sloValue: number;
  readonly watts: number;
}

export interface NodeResult {
  readonly name: string;
  readonly usedCores: number;
  readonly power: NodePower;
  readonly linkUtilisation: number;
}

export interface TickResult {
  readonly pods: PodResult[];
  readonly workloads: WorkloadResult[];
  readonly nodes: NodeResult[];
  /** The scenario's SLO over its workloads: worst value and whether it is violated. */
  readonly slo: { readonly value: number; readonly violated: boolean };
}

export interface TickInput {
  readonly scenario: Scenario;
  /** Seconds since the copy's scenario started. */
  readonly t: number;
  /** Unix seconds now (annotation timestamps are compared with it). */
  readonly now: number;
  readonly dt: number;
  readonly pods: readonly PodView[];
  readonly nodes: readonly NodeView[];
  readonly states: ReadonlyMap<string, PodState>;
}

/** Latency when nothing serves (requests time out). */
export const TIMEOUT_SECONDS = MAX_QUEUE_SECONDS;

interface Working {
  readonly view: PodView;
  readonly workload: WorkloadModel;
  readonly serving: boolean;
  readonly prior: PodState;
  /** Units of demand (requests/s or cores) routed to this pod. */
  readonly shareUnits: number;
  /** CPU cores its share costs after I/O storms and data offload. */
  readonly wanted: number;
  readonly offloaded: number;
  readonly ioFactor: number;
  readonly extraMbps: number;
  readonly leakBytesPerSecond: number;
  /** Cores it may use this tick: its limit, or its share of an over-committed node. */
  available: number;
  /** What the pods on its node ask over the node's capacity (capped at 1): busy cores make requests wait. */
  nodeBusy: number;
}

const limitOf = (p: PodView, node: NodeView | undefined): number =>
  p.cpuLimitCores > 0 ? p.cpuLimitCores : (node?.cpuCores ?? Number.POSITIVE_INFINITY);

/** Demand of each workload split over its serving pods. */
function splitDemand(input: TickInput, running: readonly PodView[]): Working[] {
  const { scenario, t, now } = input;
  const out: Working[] = [];
  for (const w of scenario.workloads) {
    const c = workloadConditions(w, scenario.faults, t);
    const pods = running.filter((p) => p.workload === w.name);
    const serving = pods.filter((p) => now - p.startedAt >= w.startupSeconds);
    for (const view of pods) {
      const isServing = serving.includes(view);
      const share = isServing ? 1 / serving.length : 0;
      const offloaded = offloadedShare(view.annotations, now);
      out.push({
        view,
        workload: w,
        serving: isServing,
        prior: input.states.get(view.uid) ?? FRESH_POD,
        shareUnits: c.units * share,
        wanted: podCpuDemand(c.cores * share, w.io, c.ioFactor, offloaded),
        offloaded,
        ioFactor: c.ioFactor,
        extraMbps: isServing ? c.extraMbpsPerPod : 0,
        leakBytesPerSecond: c.leakBytesPerSecond,
        available: 0,
        nodeBusy: 0,
      });
    }
  }
  return out;
}

/** CPU each pod may use: its limit while its node has room, a proportional share when the node is over-committed. */
function shareCpu(working: readonly Working[], nodes: readonly NodeView[], dt: number): void {
  for (const node of nodes) {
    const on = working.filter((p) => p.view.node === node.name);
    const asks = on.map((p) => Math.min(limitOf(p.view, node), p.wanted + (dt > 0 ? p.prior.backlog / dt : 0)));
    const total = asks.reduce((a, b) => a + b, 0);
    const grants = shareNodeCpu(node.cpuCores, asks);
    on.forEach((p, i) => {
      p.available = total > node.cpuCores ? (grants[i] ?? 0) : Math.min(limitOf(p.view, node), node.cpuCores);
      p.nodeBusy = node.cpuCores > 0 ? Math.min(1, total / node.cpuCores) : 1;
    });
  }
}

interface Link {
  readonly granted: number;
  readonly asked: number;
  readonly utilisation: number;
}

/** Each node's link shared among its pods, their QoS caps first. */
function shareNetwork(working: readonly Working[], nodes: readonly NodeView[]): Map<string, Link> {
  const links = new Map<string, Link>();
  for (const node of nodes) {
    const on = working.filter((p) => p.view.node === node.name);
    const asks = on.map((p) => Math.min(p.wanted, p.available) * p.workload.network.mbpsPerCore + p.extraMbps);
    const link = shareLink(
      node.networkMbps,
      asks,
      on.map((p) => qosRate(p.view.annotations, 'egress')),
    );
    on.forEach((p, i) =>
      links.set(p.view.uid, { granted: link.granted[i] ?? 0, asked: asks[i] ?? 0, utilisation: link.utilisation }),
    );
  }
  return links;
}

interface PodStep extends Omit<PodResult, 'power'> {
  /** Units of this pod's share served this tick (dropped work excluded). */
  readonly servedUnits: number;
}

function stepPod(p: Working, link: Link, dt: number): PodStep {
  const limit = p.view.cpuLimitCores;
  // A pod whose traffic is capped below what it needs serves proportionally less.
  // The link is shared in proportion to what each flow asks: the service's part of the pod's grant, turned back
  // into the cores of work it can carry, bounds what the pod serves.
  const netServed = link.asked > 0 ? Math.min(1, link.granted / link.asked) : 1;
  const perCore = p.workload.network.mbpsPerCore;
  const serviceAsk = link.asked - p.extraMbps;
  const networkCores =
    perCore > 0 && serviceAsk > 0 && netServed < 1 ? (serviceAsk * netServed) / perCore : Number.POSITIVE_INFINITY;
  const available = Math.min(p.available, networkCores);
  const q = queueStep(p.prior.backlog, p.wanted, available, dt);
  const mem = memoryStep(p.workload.memory, p.prior, {
    usedCores: q.usedCores,
    leakBytesPerSecond: p.leakBytesPerSecond,
    dt,
    limitBytes: p.view.memoryLimitBytes,
  });
  const oom = mem.oomKilled;
  const demanded = p.wanted * dt;
  const lost = oom ? demanded + p.prior.backlog : q.dropped;
  const servedShare = demanded > 0 ? Math.max(0, 1 - lost / demanded) : 1;
  const used = oom ? 0 : q.usedCores;
  const dataShare = p.workload.io.cpuShare;
  const ioBytes = used * p.workload.io.bytesPerCoreSecond * p.ioFactor * (1 - p.offloaded);
  // A request waits for its own quota or for a free core of the node, whichever is scarcer: a busy node slows
  // its pods before it is over-committed (shared run queues, caches), which is what moving a pod relieves.
  const own = available > 0 ? p.wanted / available : p.wanted > 0 ? 1 : 0;
  const utilisation = p.wanted > 0 ? Math.max(own, p.nodeBusy) : own;
  const latency =
    p.serving && !oom
      ? p95Latency({
          baseSeconds: p.workload.latency.baseSeconds,
          utilisation,
          backlog: q.backlog,
          availableCores: available,
          networkSeconds: networkLatency(p.workload.latency.networkSeconds, link.utilisation),
        })
      : TIMEOUT_SECONDS;
  const limitBound = limit > 0 && available >= limit - 1e-9;
  return {
    uid: p.view.uid,
    workload: p.workload.name,
    ...(p.view.node === undefined ? {} : { node: p.view.node }),
    state: oom ? FRESH_POD : { backlog: q.backlog, leakBytes: mem.leakBytes, cacheBytes: mem.cacheBytes },
    serving: p.serving && !oom,
    wantedCores: p.wanted,
    usedCores: used,
    userCores: used * userShare(dataShare),
    throttled: oom ? 0 : throttledFraction(p.wanted, limit, q.backlog > 0 && limitBound),
    workingSetBytes: mem.workingSetBytes,
    oomKilled: oom,
    egressMbps: oom ? 0 : link.granted,
    ingressMbps: oom ? 0 : Math.min(link.granted, qosRate(p.view.annotations, 'ingress') ?? Number.POSITIVE_INFINITY),
    ioReadBytesPerSecond: ioBytes / 2,
    ioWriteBytesPerSecond: ioBytes / 2,
    latencySeconds: latency,
    servedUnits: p.serving ? p.shareUnits * servedShare : 0,
  };
}

export function tick(input: TickInput): TickResult {
  const { scenario, dt } = input;
  const names = new Set(scenario.workloads.map((w) => w.name));
  const running = input.pods.filter((p) => p.running && p.node !== undefined && names.has(p.workload));
  const working = splitDemand(input, running);
  shareCpu(working, input.nodes, dt);
  const links = shareNetwork(working, input.nodes);
  const steps = working.map((p) => stepPod(p, links.get(p.view.uid) ?? { granted: 0, asked: 0, utilisation: 0 }, dt));

  // Power per node, attributed to its containers by CPU time.
  const nodes: NodeResult[] = [];
  const power = new Map<string, NodePower>();
  for (const node of input.nodes) {
    const on = steps.filter((p) => p.node === node.name);
    const used = on.reduce((a, p) => a + p.usedCores, 0);
    const np = nodePower(POWER_PROFILES[node.tier], node.cpuCores > 0 ? used / node.cpuCores : 0);
    attributePower(
      np,
      on.map((p) => p.usedCores),
    ).forEach((share, i) => power.set(on[i]!.uid, share));
    const utilisation = on.length > 0 ? (links.get(on[0]!.uid)?.utilisation ?? 0) : 0;
    nodes.push({ name: node.name, usedCores: used, power: np, linkUtilisation: utilisation });
  }
  const idle = attributePower(nodePower(POWER_PROFILES.edge, 0), [0])[0]!;
  const pods: (PodResult & { servedUnits: number })[] = steps.map((p) => ({ ...p, power: power.get(p.uid) ?? idle }));

  const workloads: WorkloadResult[] = scenario.workloads.map((w) => {
    const c = workloadConditions(w, scenario.faults, input.t);
    const mine = pods.filter((p) => p.workload === w.name);
    const serving = mine.filter((p) => p.serving);
    const views = running.filter((p) => p.workload === w.name);
    const servedUnits = mine.reduce((a, p) => a + p.servedUnits, 0);
    const latency =
      serving.length === 0 ? (c.units > 0 ? TIMEOUT_SECONDS : 0) : Math.max(...serving.map((p) => p.latencySeconds));
    const availability = c.units > 0 ? Math.min(1, servedUnits / c.units) : 1;
    const throttled = serving.length === 0 ? 0 : Math.max(...serving.map((p) => p.throttled));
    const sloValue =
      scenario.slo.kind === 'latency_p95'
        ? latency
        : scenario.slo.kind === 'throttled_fraction'
          ? throttled
          : availability;
    return {
      name: w.name,
      demandUnits: c.units,
      demandCores: c.cores,
      servedUnits,
      servingPods: serving.length,
      usedCores: mine.reduce((a, p) => a + p.usedCores, 0),
      cpuLimitCores: views[0]?.cpuLimitCores ?? w.limits.cpuCores,
      memoryLimitBytes: views[0]?.memoryLimitBytes ?? w.limits.memoryBytes,
      workingSetBytes: mine.reduce((a, p) => a + p.workingSetBytes, 0),
      latencySeconds: latency,
      throttled,
      availability,
      sloValue,
      watts: mine.reduce((a, p) => a + p.power.idle.total + p.power.dynamic.total, 0),
    };
  });
  const values = workloads.filter((w) => scenario.slo.workloads.includes(w.name)).map((w) => w.sloValue);
  const value =
    values.length === 0 ? 0 : scenario.slo.kind === 'availability' ? Math.min(...values) : Math.max(...values);
  return { pods, workloads, nodes, slo: { value, violated: sloViolated(scenario.slo, value) } };
}
