/**
 * The nodes as pricing sees them: tier, size, the operator's energy figure, and whether the node is
 * user-owned (non-commercial). A node is user-owned when its label `talon.io/user-owned` (configurable) is
 * `true`: work placed there gets the incentive price, and contracts report the share of work it took.
 */
import type { V1Node } from '@kubernetes/client-node';
import type { Tier } from '../domain/placement';
import type { KubeClients } from '../kube/client';
import { kubeCall } from '../kube/errors';
import { nodeInfo } from '../kube/node-cache';
import { ENERGY_LABEL, TIER_LABEL } from '../kube/task-job';
import { USER_OWNED_LABEL } from './config';

const GIB = 1024 ** 3;

export interface PricingNode {
  readonly name: string;
  readonly tier: Tier;
  readonly userOwned: boolean;
  readonly cpuCores: number;
  readonly memoryGb: number;
  /** The operator's W per busy core (`talon.io/energy-per-core-watts`), when given. */
  readonly wattsPerCore?: number;
}

export function isUserOwned(labels: Readonly<Record<string, string>> | undefined, label = USER_OWNED_LABEL): boolean {
  return (labels?.[label] ?? '').toLowerCase() === 'true';
}

export function pricingNode(node: V1Node, userOwnedLabel = USER_OWNED_LABEL): PricingNode {
  const info = nodeInfo(node);
  const tier = info.labels[TIER_LABEL] === 'edge' ? 'edge' : 'cloud';
  const watts = Number(info.labels[ENERGY_LABEL]);
  return {
    name: info.name,
    tier,
    userOwned: isUserOwned(info.labels, userOwnedLabel),
    cpuCores: info.allocatable.cpuCores,
    memoryGb: info.allocatable.memoryBytes / GIB,
    ...(Number.isFinite(watts) && watts > 0 ? { wattsPerCore: watts } : {}),
  };
}

/** Lists the cluster's nodes for pricing (served from the apiserver's watch cache). */
export function kubePricingNodes(
  clients: Pick<KubeClients, 'core'>,
  userOwnedLabel = USER_OWNED_LABEL,
): () => Promise<PricingNode[]> {
  return async () => {
    const list = await kubeCall('list Nodes', () => clients.core.listNode({ resourceVersion: '0' }));
    return list.items.map((n) => pricingNode(n, userOwnedLabel));
  };
}
