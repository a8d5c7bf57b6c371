/**
 * Where task offloading sends a workload (D3.6 3.1.2, Figure 11): the least-loaded eligible node of the
 * wanted tier. Eligibility is what the scheduler would also demand: the node is Ready, not cordoned, and
 * every NoSchedule/NoExecute taint is tolerated; the source node is never a destination. Load is usage
 * (Prometheus) over allocatable (the apiserver), ranked by {@link rankNodesForOffloading}. Pure.
 */
import { rankNodesForOffloading, type NodeLoad, type RankedNode } from './node-load';

export interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: string;
}

export interface Toleration {
  readonly key?: string;
  readonly operator?: string;
  readonly value?: string;
  readonly effect?: string;
}

/** A node as the apiserver describes it, reduced to what placement needs. */
export interface NodeInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly Taint[];
  readonly unschedulable: boolean;
  readonly ready: boolean;
  readonly allocatable: { readonly cpuCores: number; readonly memoryBytes: number };
}

/** A node selector requirement (matchExpressions / matchFields entries). */
export interface NodeSelectorRequirement {
  readonly key: string;
  readonly operator: string;
  readonly values?: readonly string[];
}

export interface NodeSelectorTerm {
  readonly matchExpressions?: readonly NodeSelectorRequirement[];
  readonly matchFields?: readonly NodeSelectorRequirement[];
}

export interface OffloadTargetRequest {
  /** Wanted tier; any tier when absent. */
  readonly tier?: string;
  /** Label that carries the tier. */
  readonly tierLabel?: string;
  /** Nodes that must not receive the workload, usually the one it runs on. */
  readonly exclude?: readonly string[];
  /** The workload's tolerations: a tolerated taint does not make a node ineligible. */
  readonly tolerations?: readonly Toleration[];
  /** The workload's `nodeSelector`: a destination must carry these labels. */
  readonly nodeSelector?: Readonly<Record<string, string>>;
  /**
   * The workload's required node affinity terms (ORed). `metadata.name` field pins are ignored: offloading
   * replaces them, so a workload pinned by an earlier offload can move again.
   */
  readonly nodeSelectorTerms?: readonly NodeSelectorTerm[];
  /** Weight of CPU in the load mix (memory gets the rest); default 0.5. */
  readonly cpuWeight?: number;
  /** Nodes whose load is above this are not destinations. */
  readonly maxLoad?: number;
}

export interface OffloadTargetChoice {
  /** The destination; absent when no node qualifies. */
  readonly best?: RankedNode;
  /** Eligible nodes, least loaded first. */
  readonly ranked: readonly RankedNode[];
  /** Nodes left out and why, for the "no node" explanation. */
  readonly excluded: readonly { readonly node: string; readonly reason: string }[];
}

export const DEFAULT_TIER_LABEL = 'talon.io/tier';

/** Kubernetes' toleration matching (k8s.io/api/core/v1 Toleration.ToleratesTaint). */
export function tolerates(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  const operator = toleration.operator ?? 'Equal';
  if (operator === 'Exists') return true;
  if (!toleration.key) return false;
  return operator === 'Equal' && (toleration.value ?? '') === (taint.value ?? '');
}

/** Kubernetes' NodeSelectorRequirement semantics for one requirement against a value (absent = undefined). */
export function requirementMatches(req: NodeSelectorRequirement, value: string | undefined): boolean {
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      const have = Number.parseInt(value ?? '', 10);
      const want = Number.parseInt(values[0] ?? '', 10);
      if (!Number.isFinite(have) || !Number.isFinite(want)) return false;
      return req.operator === 'Gt' ? have > want : have < want;
    }
    default:
      return false;
  }
}

/** Whether the node satisfies the workload's nodeSelector and required affinity (ignoring name pins). */
export function nodeMatchesWorkload(node: NodeInfo, request: OffloadTargetRequest): boolean {
  for (const [k, v] of Object.entries(request.nodeSelector ?? {})) if (node.labels[k] !== v) return false;
  const terms = request.nodeSelectorTerms ?? [];
  if (terms.length === 0) return true;
  return terms.some((term) => {
    const expressions = term.matchExpressions ?? [];
    const fields = (term.matchFields ?? []).filter((f) => f.key !== 'metadata.name');
    if (expressions.length === 0 && (term.matchFields ?? []).length === 0) return false;
    return (
      expressions.every((e) => requirementMatches(e, node.labels[e.key])) &&
      fields.every((f) => requirementMatches(f, undefined))
    );
  });
}

function untoleratedTaint(node: NodeInfo, tolerations: readonly Toleration[]): Taint | undefined {
  return node.taints.find(
    (t) => (t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !tolerations.some((tol) => tolerates(tol, t)),
  );
}

/** Picks the least-loaded eligible node; nodes without a usage figure count as idle. */
export function chooseOffloadTarget(
  nodes: readonly NodeInfo[],
  usage: readonly NodeLoad[],
  request: OffloadTargetRequest = {},
): OffloadTargetChoice {
  const tierLabel = request.tierLabel ?? DEFAULT_TIER_LABEL;
  const exclude = new Set(request.exclude ?? []);
  const tolerations = request.tolerations ?? [];
  const usageByNode = new Map(usage.map((u) => [u.node, u]));
  const excluded: { node: string; reason: string }[] = [];
  const loads: NodeLoad[] = [];
  for (const node of nodes) {
    let reason: string | undefined;
    if (exclude.has(node.name)) reason = 'excluded (the workload runs there)';
    else if (request.tier !== undefined && node.labels[tierLabel] !== request.tier) {
      reason = `tier ${node.labels[tierLabel] ?? '(none)'} is not ${request.tier}`;
    } else if (!node.ready) reason = 'not Ready';
    else if (node.unschedulable) reason = 'cordoned';
    else if (!nodeMatchesWorkload(node, request)) reason = "does not match the workload's node selector or affinity";
    else if (!(node.allocatable.cpuCores > 0) || !(node.allocatable.memoryBytes > 0))
      reason = 'no allocatable CPU or memory';
    else {
      const taint = untoleratedTaint(node, tolerations);
      if (taint) reason = `taint ${taint.key}${taint.value ? `=${taint.value}` : ''}:${taint.effect} not tolerated`;
    }
    if (reason !== undefined) {
      excluded.push({ node: node.name, reason });
      continue;
    }
    const u = usageByNode.get(node.name);
    loads.push({
      node: node.name,
      cpuCores: u?.cpuCores ?? 0,
      memoryBytes: u?.memoryBytes ?? 0,
      cpuAllocatableCores: node.allocatable.cpuCores,
      memoryAllocatableBytes: node.allocatable.memoryBytes,
    });
  }
  const ranked = rankNodesForOffloading(loads, {
    ...(request.cpuWeight === undefined ? {} : { cpuWeight: request.cpuWeight }),
    ...(request.maxLoad === undefined ? {} : { maxLoad: request.maxLoad }),
  });
  if (request.maxLoad !== undefined) {
    const kept = new Set(ranked.map((r) => r.node));
    for (const l of loads) {
      if (!kept.has(l.node)) excluded.push({ node: l.node, reason: `load above ${request.maxLoad}` });
    }
  }
  const best = ranked[0];
  return { ...(best ? { best } : {}), ranked, excluded };
}

/** One line for logs and failures: "edge-1 (load 0.12)" or why nothing qualified. */
export function describeChoice(choice: OffloadTargetChoice, request: OffloadTargetRequest = {}): string {
  if (choice.best) {
    return `${choice.best.node} (load ${(choice.best.load ?? 0).toFixed(3)}, ${choice.ranked.length} eligible)`;
  }
  const why = choice.excluded.map((e) => `${e.node}: ${e.reason}`).join('; ');
  return `no eligible node${request.tier ? ` in tier ${request.tier}` : ''}${why ? ` (${why})` : ''}`;
}
