/**
 * Where a selected algorithm runs: edge or cloud tier and the node, from the user's priorities and the
 * nodes' current load (D3.3 1.4 and 1.4.1: latency-sensitive work near the data on the edge, energy
 * efficiency on the nodes spending least energy per unit of work, heavy compute in the cloud), and the
 * Kubernetes resource requests derived from the algorithm's measured CPU and memory. Pure: the caller
 * gathers node capacity and usage (from Prometheus) and passes them in.
 */
import { describeWeights, formatPercent, normalisePriorities, type PriorityWeights } from './priorities';
import { normaliseMetric } from './selection';
import { InvalidPlacementInputError, NoFeasibleNodeError } from './task-errors';
import { METRIC, metricValue, type AlgorithmEntry } from './taxonomy';

export const TIERS = ['edge', 'cloud'] as const;
export type Tier = (typeof TIERS)[number];

export interface NodeResources {
  readonly cpuCores: number;
  readonly memoryBytes: number;
}

/** One node as placement sees it. */
export interface NodeCandidate {
  readonly name: string;
  readonly tier: Tier;
  /** What the node offers to pods (Kubernetes allocatable). */
  readonly allocatable: NodeResources;
  /** What is in use right now. */
  readonly usage: NodeResources;
  /** Watts drawn per busy core, i.e. joules per CPU-second: the energy of one unit of work. */
  readonly energyPerCoreWatts?: number;
  /** The node sits next to the task's data source (same site or gateway). */
  readonly nearData?: boolean;
  /**
   * What the user pays per vCPU-hour of work on this node under the current offer (Smart Pricing): lower on
   * user-owned (non-commercial) nodes, which carry the incentive. The cost share of the priorities steers by it.
   */
  readonly pricePerVcpuHour?: number;
  /** The node is user-owned (non-commercial); reported in the factor's detail. */
  readonly userOwned?: boolean;
}

/** What one run of the algorithm needs, from its measured metrics (see {@link demandFromMetrics}). */
export interface AlgorithmDemand {
  /** Cores a run keeps busy while it runs. */
  readonly cpuCores: number;
  /** Peak memory of a run, without the runtime's own baseline. */
  readonly memoryBytes: number;
  /** CPU time of one run: the work, used for the energy estimate and to spot heavy compute. */
  readonly cpuSeconds?: number;
}

export interface RequestPolicy {
  /** Added to the measured memory: the runtime (Node, interpreter) a container starts before any work. */
  readonly memoryOverheadBytes: number;
  /** Multiplier on the measured memory: inputs in production are larger than the benchmark's. */
  readonly memoryHeadroom: number;
  readonly minCpuMillicores: number;
  readonly minMemoryBytes: number;
}

export interface HeavyThresholds {
  readonly cpuCores: number;
  readonly memoryBytes: number;
  readonly cpuSeconds: number;
}

export interface PlacementOptions {
  /** Highest CPU or memory utilisation a node may reach with the task on it. */
  readonly maxUtilisation?: number;
  /** Weight of the headroom factor next to the priority shares (which sum to 1). */
  readonly loadWeight?: number;
  readonly heavy?: Partial<HeavyThresholds>;
  readonly requests?: Partial<RequestPolicy>;
  /** Energy per busy core for nodes that report none, per tier. */
  readonly tierEnergyPerCoreWatts?: Partial<Record<Tier, number>>;
}

export const MIB = 1024 * 1024;
export const GIB = 1024 * MIB;

export const DEFAULT_REQUEST_POLICY: RequestPolicy = {
  memoryOverheadBytes: 64 * MIB,
  memoryHeadroom: 1.25,
  minCpuMillicores: 10,
  minMemoryBytes: 16 * MIB,
};

export const DEFAULT_HEAVY_THRESHOLDS: HeavyThresholds = { cpuCores: 2, memoryBytes: 2 * GIB, cpuSeconds: 60 };
export const DEFAULT_MAX_UTILISATION = 0.9;
export const DEFAULT_LOAD_WEIGHT = 0.25;

/** Demand assumed for an algorithm that has no CPU or memory measurement (a fresh user registration). */
export const UNMEASURED_DEMAND: AlgorithmDemand = { cpuCores: 0.5, memoryBytes: 128 * MIB };

export interface ResourceRequests {
  /** Kubernetes quantity in millicores, e.g. "250m". */
  readonly cpu: string;
  /** Kubernetes quantity in mebibytes, e.g. "128Mi". */
  readonly memory: string;
  readonly cpuMillicores: number;
  readonly memoryBytes: number;
}

export type PlacementFactorName = 'proximity' | 'energy' | 'cost' | 'headroom';

export interface PlacementFactor {
  readonly factor: PlacementFactorName;
  readonly weight: number;
  /** In [0, 1], 1 = best; null when the factor could not be assessed (no energy or price figures at all). */
  readonly score: number | null;
  readonly detail: string;
}

export interface NodeAssessment {
  readonly name: string;
  readonly tier: Tier;
  readonly feasible: boolean;
  /** Considered for the ranking: feasible and of an allowed tier. */
  readonly considered: boolean;
  /** Why the node was not considered. */
  readonly reason?: string;
  /** CPU and memory utilisation the node would have with the task on it. */
  readonly cpuUtilisationAfter: number;
  readonly memoryUtilisationAfter: number;
  readonly rank?: number;
  readonly coefficient?: number;
  readonly factors: readonly PlacementFactor[];
  /** energyPerCoreWatts × cpuSeconds, when both are known. */
  readonly estimatedEnergyJ?: number;
}

export interface PlacementDecision {
  readonly node: string;
  readonly tier: Tier;
  readonly requests: ResourceRequests;
  readonly heavy: boolean;
  readonly weights: PriorityWeights;
  /** Every node, considered ones best first, then the rest in input order. */
  readonly candidates: readonly NodeAssessment[];
  readonly notes: readonly string[];
  readonly explanation: string;
}

/** Kubernetes CPU quantity in millicores. */
export function formatCpuMillicores(millicores: number): string {
  return `${Math.ceil(millicores)}m`;
}

/** Kubernetes memory quantity in whole mebibytes, rounded up so the request never undershoots. */
export function formatMemoryMi(bytes: number): string {
  return `${Math.ceil(bytes / MIB)}Mi`;
}

/**
 * Requests from measured demand: CPU is the cores a run kept busy (rounded up to a millicore), memory the
 * peak with headroom plus the runtime's baseline (rounded up to a MiB). Both respect the minimums.
 */
export function computeRequests(demand: AlgorithmDemand, policy: Partial<RequestPolicy> = {}): ResourceRequests {
  const p = { ...DEFAULT_REQUEST_POLICY, ...policy };
  const cpuMillicores = Math.max(p.minCpuMillicores, Math.ceil(demand.cpuCores * 1000 - 1e-9));
  const memoryBytes =
    Math.ceil(Math.max(p.minMemoryBytes, demand.memoryBytes * p.memoryHeadroom + p.memoryOverheadBytes) / MIB) * MIB;
  return {
    cpu: formatCpuMillicores(cpuMillicores),
    memory: formatMemoryMi(memoryBytes),
    cpuMillicores,
    memoryBytes,
  };
}

/**
 * An algorithm's demand from its taxonomy metrics: cores busy = CPU time / execution time (a
 * single-threaded run is about 1 core), memory = its measured peak. Missing figures fall back to
 * {@link UNMEASURED_DEMAND}.
 */
export function demandFromMetrics(algorithm: Pick<AlgorithmEntry, 'metrics'>): AlgorithmDemand {
  const cpuSeconds = metricValue(algorithm, METRIC.cpuTime);
  const execSeconds = metricValue(algorithm, METRIC.execTime);
  const memoryBytes = metricValue(algorithm, METRIC.maxMemory);
  const cpuCores =
    cpuSeconds !== undefined && execSeconds !== undefined && execSeconds > 0
      ? cpuSeconds / execSeconds
      : UNMEASURED_DEMAND.cpuCores;
  return {
    cpuCores,
    memoryBytes: memoryBytes ?? UNMEASURED_DEMAND.memoryBytes,
    ...(cpuSeconds === undefined ? {} : { cpuSeconds }),
  };
}

function isNonNegative(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function validate(nodes: readonly NodeCandidate[], demand: AlgorithmDemand): void {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const [i, node] of nodes.entries()) {
    const label = node.name ? `node "${node.name}"` : `node [${i}]`;
    if (!node.name) problems.push(`${label} has no name`);
    else if (seen.has(node.name)) problems.push(`${label} is listed more than once`);
    seen.add(node.name);
    if (!(TIERS as readonly string[]).includes(node.tier)) {
      problems.push(`${label}: tier must be edge or cloud, got ${String(node.tier)}`);
    }
    for (const [what, value] of [
      ['allocatable.cpuCores', node.allocatable.cpuCores],
      ['allocatable.memoryBytes', node.allocatable.memoryBytes],
      ['usage.cpuCores', node.usage.cpuCores],
      ['usage.memoryBytes', node.usage.memoryBytes],
    ] as const) {
      if (!isNonNegative(value)) problems.push(`${label}: ${what} must be a non-negative number, got ${String(value)}`);
    }
    if (node.energyPerCoreWatts !== undefined && !isNonNegative(node.energyPerCoreWatts)) {
      problems.push(
        `${label}: energyPerCoreWatts must be a non-negative number, got ${String(node.energyPerCoreWatts)}`,
      );
    }
    if (node.pricePerVcpuHour !== undefined && !isNonNegative(node.pricePerVcpuHour)) {
      problems.push(`${label}: pricePerVcpuHour must be a non-negative number, got ${String(node.pricePerVcpuHour)}`);
    }
  }
  for (const [what, value] of [
    ['cpuCores', demand.cpuCores],
    ['memoryBytes', demand.memoryBytes],
    ...(demand.cpuSeconds === undefined ? [] : [['cpuSeconds', demand.cpuSeconds] as const]),
  ] as const) {
    if (!isNonNegative(value)) problems.push(`demand.${what} must be a non-negative number, got ${String(value)}`);
  }
  if (problems.length > 0) throw new InvalidPlacementInputError(problems);
}

function utilisationAfter(used: number, request: number, allocatable: number): number {
  return allocatable > 0 ? (used + request) / allocatable : Infinity;
}

function pct(fraction: number): string {
  return Number.isFinite(fraction) ? `${Math.round(fraction * 100)}%` : 'no capacity';
}

/**
 * Chooses the node for a task. Nodes that cannot take the requests within `maxUtilisation` are out;
 * heavy compute is confined to cloud nodes when one can take it; the rest are ranked by a weighted
 * coefficient of proximity to the data (speed share), energy per unit of work (energy share, normalised
 * like selection's metrics), the offer's price per vCPU-hour on the node (cost share: user-owned nodes carry
 * the Smart Pricing incentive) and headroom after placement (fixed `loadWeight`, so current load always
 * counts). Quality is settled by algorithm selection and plays no part here.
 */
export function placeTask(
  nodes: readonly NodeCandidate[],
  demand: AlgorithmDemand,
  priorities: Readonly<Record<string, unknown>>,
  options: PlacementOptions = {},
): PlacementDecision {
  const weights = normalisePriorities(priorities);
  validate(nodes, demand);
  const maxUtilisation = options.maxUtilisation ?? DEFAULT_MAX_UTILISATION;
  const loadWeight = options.loadWeight ?? DEFAULT_LOAD_WEIGHT;
  if (!(maxUtilisation > 0 && maxUtilisation <= 1) || !isNonNegative(loadWeight)) {
    throw new InvalidPlacementInputError([
      `maxUtilisation must be in (0, 1] and loadWeight non-negative, got ${maxUtilisation} and ${loadWeight}`,
    ]);
  }
  const requests = computeRequests(demand, options.requests);
  const thresholds = { ...DEFAULT_HEAVY_THRESHOLDS, ...options.heavy };
  const heavyReasons = [
    demand.cpuCores >= thresholds.cpuCores ? `${demand.cpuCores.toFixed(2)} cores` : undefined,
    demand.memoryBytes >= thresholds.memoryBytes ? `${formatMemoryMi(demand.memoryBytes)} memory` : undefined,
    demand.cpuSeconds !== undefined && demand.cpuSeconds >= thresholds.cpuSeconds
      ? `${demand.cpuSeconds.toFixed(1)} CPU-seconds per run`
      : undefined,
  ].filter((r): r is string => r !== undefined);
  const heavy = heavyReasons.length > 0;
  const notes: string[] = [];

  const base = nodes.map((node) => {
    const cpuAfter = utilisationAfter(node.usage.cpuCores, requests.cpuMillicores / 1000, node.allocatable.cpuCores);
    const memAfter = utilisationAfter(node.usage.memoryBytes, requests.memoryBytes, node.allocatable.memoryBytes);
    // Free capacity is rounded down (requests round up): neither may promise more than there is.
    const short: string[] = [];
    if (cpuAfter > maxUtilisation) {
      const free = Math.max(0, node.allocatable.cpuCores * maxUtilisation - node.usage.cpuCores);
      short.push(`needs ${requests.cpu} CPU, ${Math.floor(free * 1000 + 1e-6)}m free below ${pct(maxUtilisation)}`);
    }
    if (memAfter > maxUtilisation) {
      const free = Math.max(0, node.allocatable.memoryBytes * maxUtilisation - node.usage.memoryBytes);
      short.push(`needs ${requests.memory} memory, ${Math.floor(free / MIB)}Mi free below ${pct(maxUtilisation)}`);
    }
    return { node, cpuAfter, memAfter, feasible: short.length === 0, reason: short.join('; ') };
  });
  if (!base.some((b) => b.feasible)) {
    throw new NoFeasibleNodeError(
      { cpu: requests.cpu, memory: requests.memory },
      Object.fromEntries(base.map((b) => [b.node.name, b.reason])),
    );
  }

  let allowedTier: Tier | undefined;
  if (heavy) {
    const cloudFits = base.some((b) => b.feasible && b.node.tier === 'cloud');
    if (cloudFits) allowedTier = 'cloud';
    else notes.push(`heavy compute (${heavyReasons.join(', ')}) but no cloud node can take it: using the edge`);
  }
  const considered = base.filter((b) => b.feasible && (allowedTier === undefined || b.node.tier === allowedTier));

  const energyOf = (node: NodeCandidate): number | undefined =>
    node.energyPerCoreWatts ?? options.tierEnergyPerCoreWatts?.[node.tier];
  const energyScores = normaliseMetric(
    considered.map((b) => energyOf(b.node)),
    'lower',
  );
  if (weights.energy > 0 && energyScores[0] === null) {
    notes.push('no node reports its energy per core: the energy share could not steer placement');
  }
  const costScores = normaliseMetric(
    considered.map((b) => b.node.pricePerVcpuHour),
    'lower',
  );
  if (weights.cost > 0 && costScores[0] === null) {
    notes.push('no node carries an offer price: the cost share could not steer placement');
  }
  if (weights.quality > 0) {
    notes.push('quality was weighed when selecting the algorithm; it does not affect placement');
  }

  const ranked = considered.map((b, i) => {
    const energy = energyOf(b.node);
    const energyScore = energyScores[i] ?? null;
    const price = b.node.pricePerVcpuHour;
    const costScore = costScores[i] ?? null;
    const proximity = b.node.nearData ? 1 : b.node.tier === 'edge' ? 0.5 : 0;
    const headroom = Math.min(1, Math.max(0, 1 - Math.max(b.cpuAfter, b.memAfter)));
    const factors: PlacementFactor[] = [
      {
        factor: 'proximity',
        weight: weights.speed,
        score: proximity,
        detail: b.node.nearData ? 'near the data' : b.node.tier === 'edge' ? 'edge, not at the data' : 'cloud',
      },
      {
        factor: 'energy',
        weight: energyScore === null ? 0 : weights.energy,
        score: energyScore,
        detail: energy === undefined ? 'energy per core unknown' : `${energy} W per busy core`,
      },
      {
        factor: 'cost',
        weight: costScore === null ? 0 : weights.cost,
        score: costScore,
        detail:
          price === undefined
            ? 'no offer price'
            : `${price.toFixed(4)} €/vCPU-hour${b.node.userOwned ? ' (user-owned, incentive price)' : ''}`,
      },
      {
        factor: 'headroom',
        weight: loadWeight,
        score: headroom,
        detail: `${pct(b.cpuAfter)} CPU, ${pct(b.memAfter)} memory after placement`,
      },
    ];
    const totalWeight = factors.reduce((sum, f) => sum + (f.score === null ? 0 : f.weight), 0);
    const coefficient =
      totalWeight === 0 ? 0 : factors.reduce((sum, f) => sum + f.weight * (f.score ?? 0), 0) / totalWeight;
    const estimatedEnergyJ =
      energy !== undefined && demand.cpuSeconds !== undefined ? energy * demand.cpuSeconds : undefined;
    return { b, factors, coefficient, estimatedEnergyJ };
  });
  ranked.sort((x, y) => {
    const kx = Math.round(x.coefficient * 1e12);
    const ky = Math.round(y.coefficient * 1e12);
    if (kx !== ky) return ky - kx;
    return x.b.node.name < y.b.node.name ? -1 : x.b.node.name > y.b.node.name ? 1 : 0;
  });

  const assessments: NodeAssessment[] = ranked.map((r, i) => ({
    name: r.b.node.name,
    tier: r.b.node.tier,
    feasible: true,
    considered: true,
    cpuUtilisationAfter: r.b.cpuAfter,
    memoryUtilisationAfter: r.b.memAfter,
    rank: i + 1,
    coefficient: r.coefficient,
    factors: r.factors,
    ...(r.estimatedEnergyJ === undefined ? {} : { estimatedEnergyJ: r.estimatedEnergyJ }),
  }));
  for (const b of base) {
    if (considered.includes(b)) continue;
    assessments.push({
      name: b.node.name,
      tier: b.node.tier,
      feasible: b.feasible,
      considered: false,
      reason: b.feasible ? `heavy compute (${heavyReasons.join(', ')}) goes to the cloud` : b.reason,
      cpuUtilisationAfter: b.cpuAfter,
      memoryUtilisationAfter: b.memAfter,
      factors: [],
    });
  }

  const best = ranked[0];
  if (best === undefined) throw new Error('unreachable: a feasible node exists');
  const why = best.factors
    .filter((f) => f.weight > 0 && f.score !== null)
    .map((f) => `${f.detail} (${f.factor}, weight ${formatPercent(f.weight)})`)
    .join('; ');
  const explanation =
    `${best.b.node.name} (${best.b.node.tier}) for ${describeWeights(weights)}` +
    `${heavy && allowedTier === 'cloud' ? `, heavy compute (${heavyReasons.join(', ')}) kept in the cloud` : ''}: ` +
    `coefficient ${best.coefficient.toFixed(3)} of ${considered.length} candidate node(s) — ${why}; ` +
    `requests ${requests.cpu} CPU, ${requests.memory} memory`;
  return {
    node: best.b.node.name,
    tier: best.b.node.tier,
    requests,
    heavy,
    weights,
    candidates: assessments,
    notes,
    explanation,
  };
}
