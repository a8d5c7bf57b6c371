/**
 * Identical copies start identically: a scenario's `node:` is a scheduling preference (so engines can move the pod
 * later), and a preference only holds if the node can take pods when the pod is scheduled. A KWOK node is created
 * with the `node.kubernetes.io/not-ready` taint until the node controller sees it Ready; a pod scheduled in that
 * moment lands on another node of the copy, and that copy runs a different incident from its siblings. So the
 * runner creates the nodes first, waits for these checks, and reports any pod that still starts elsewhere. Pure.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { LAB_LABELS, type CopyPlan } from '../plan';

/** Taints the node lifecycle controller sets on a node that is not (yet) usable. */
const NOT_USABLE_TAINTS = new Set(['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']);

/** Why some copy's node cannot take pods yet (missing, not Ready, still tainted), or undefined when all can. */
export function copyNodesWaiting(
  nodes: readonly V1Node[],
  copies: readonly Pick<CopyPlan, 'nodes'>[],
): string | undefined {
  const byName = new Map(nodes.map((n) => [n.metadata?.name ?? '', n]));
  for (const copy of copies) {
    for (const name of Object.values(copy.nodes)) {
      const node = byName.get(name);
      if (!node) return `${name}: not created yet`;
      const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
      if (!ready) return `${name}: not Ready`;
      const taint = node.spec?.taints?.find((t) => NOT_USABLE_TAINTS.has(t.key));
      if (taint) return `${name}: still tainted ${taint.key}`;
    }
  }
  return undefined;
}

/** One line per running pod of these copies that is not on the node its scenario places its workload on. */
export function misplacedPods(
  pods: readonly V1Pod[],
  copies: readonly Pick<CopyPlan, 'id' | 'nodes' | 'scenario'>[],
): string[] {
  const byId = new Map(copies.map((c) => [c.id, c]));
  const out: string[] = [];
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp) continue;
    const copy = byId.get(pod.metadata?.labels?.[LAB_LABELS.copy] ?? '');
    const workload = copy?.scenario.workloads.find((w) => w.name === pod.metadata?.labels?.[LAB_LABELS.workload]);
    if (!copy || workload?.node === undefined) continue;
    const want = copy.nodes[workload.node];
    const at = pod.spec?.nodeName;
    if (want !== undefined && at !== want) {
      out.push(`${copy.id}: ${workload.name} started on ${at ?? 'no node'}, not on its scenario node ${want}`);
    }
  }
  return out;
}
