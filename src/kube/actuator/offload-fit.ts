/**
 * Room by requests: the least-loaded node (by usage) is only a destination if the scheduler can place the moved
 * pods there, i.e. its allocatable minus what its live pods request covers their requests. Otherwise the moved
 * pods would wait Pending on it (and a share offload would be withdrawn after its handover wait). The ranked
 * candidates are tried in order, one LIST of a node's pods each, until one has room.
 */
import type { V1Pod, V1PodSpec } from '@kubernetes/client-node';
import type { NodeInfo } from '../../domain/offload-target';
import type { RankedNode } from '../../domain/node-load';
import { parseQuantity } from '../../domain/quantity';
import { kubeCall } from '../errors';
import type { ActuatorCore } from './operation';

export interface Requests {
  readonly cpuCores: number;
  readonly memoryBytes: number;
}

/** How many candidates are read before giving up: each costs one LIST of a node's pods. */
const MAX_CANDIDATES = 10;

function amount(text: unknown): number {
  if (typeof text !== 'string' && typeof text !== 'number') return 0;
  return parseQuantity(String(text)).asApproximateFloat64();
}

/** What a pod spec requests, as the scheduler counts it: its containers' sum, or its largest init container. */
export function podRequests(spec: V1PodSpec | undefined): Requests {
  const sum = (cs: V1PodSpec['containers'] | undefined, key: 'cpu' | 'memory') =>
    (cs ?? []).reduce((a, c) => a + amount(c.resources?.requests?.[key]), 0);
  const maxInit = (key: 'cpu' | 'memory') =>
    Math.max(0, ...(spec?.initContainers ?? []).map((c) => amount(c.resources?.requests?.[key])));
  return {
    cpuCores: Math.max(sum(spec?.containers, 'cpu'), maxInit('cpu')),
    memoryBytes: Math.max(sum(spec?.containers, 'memory'), maxInit('memory')),
  };
}

/** Why `count` pods requesting `need` each do not fit beside what is `requested` already; undefined when they do. */
export function noRoom(node: NodeInfo, requested: Requests, need: Requests, count: number): string | undefined {
  const free = {
    cpuCores: node.allocatable.cpuCores - requested.cpuCores,
    memoryBytes: node.allocatable.memoryBytes - requested.memoryBytes,
  };
  const short: string[] = [];
  // A thousandth of a core / a byte of slack: quantities are compared after float conversion.
  if (need.cpuCores * count > free.cpuCores + 1e-3) {
    short.push(`CPU: ${count} × ${need.cpuCores.toFixed(3)} requested, ${Math.max(0, free.cpuCores).toFixed(3)} free`);
  }
  if (need.memoryBytes * count > free.memoryBytes + 1) {
    const mib = (b: number) => `${Math.round(Math.max(0, b) / 2 ** 20)}Mi`;
    short.push(`memory: ${count} × ${mib(need.memoryBytes)} requested, ${mib(free.memoryBytes)} free`);
  }
  return short.length === 0 ? undefined : `no room by requests (${short.join('; ')})`;
}

function live(pod: V1Pod): boolean {
  return !pod.metadata?.deletionTimestamp && pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';
}

async function requestedOn(core: ActuatorCore, node: string): Promise<Requests> {
  const list = await kubeCall(`list Pods on Node ${node}`, () =>
    core.clients.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` }),
  );
  return list.items.filter(live).reduce(
    (a, p) => {
      const r = podRequests(p.spec);
      return { cpuCores: a.cpuCores + r.cpuCores, memoryBytes: a.memoryBytes + r.memoryBytes };
    },
    { cpuCores: 0, memoryBytes: 0 },
  );
}

/** The first of `ranked` with room for `count` pods of `spec`, and the ones passed over with why. */
export async function firstWithRoom(
  core: ActuatorCore,
  ranked: readonly RankedNode[],
  nodes: readonly NodeInfo[],
  spec: V1PodSpec | undefined,
  count: number,
): Promise<{ readonly best?: RankedNode; readonly excluded: { node: string; reason: string }[] }> {
  const need = podRequests(spec);
  const excluded: { node: string; reason: string }[] = [];
  const byName = new Map(nodes.map((n) => [n.name, n]));
  for (const candidate of ranked.slice(0, MAX_CANDIDATES)) {
    const info = byName.get(candidate.node);
    // Nothing requested, or a node the source does not describe: the scheduler decides, as before.
    if (!info || (need.cpuCores === 0 && need.memoryBytes === 0)) return { best: candidate, excluded };
    const reason = noRoom(info, await requestedOn(core, candidate.node), need, count);
    if (reason === undefined) return { best: candidate, excluded };
    excluded.push({ node: candidate.node, reason });
  }
  for (const rest of ranked.slice(MAX_CANDIDATES)) {
    excluded.push({ node: rest.node, reason: `not read (only the ${MAX_CANDIDATES} least loaded are)` });
  }
  return { excluded };
}
