/**
 * The storm brake's Kubernetes side: how many pods a namespace and how many nodes the cluster has (the
 * denominators of its percentages), and the latch that keeps it engaged until a person releases it (release:
 * manual, or `talon brake engage`). The latch is one coordination.k8s.io Lease in Talon's namespace, next to the
 * write-budget Leases and under the same RBAC, updated with optimistic concurrency so every worker sees one brake.
 */
import type { V1Lease } from '@kubernetes/client-node';
import type { BrakeScope } from '../domain/autonomy';
import type { KubeClients } from './client';
import { KubeConflictError, isNotFound, kubeCall } from './errors';

export const BRAKE_LEASE = 'talon-storm-brake';
export const BRAKE_ANNOTATION = 'talon.io/storm-brake';

export interface BrakeLatch {
  readonly scope: BrakeScope;
  /** ISO-8601. */
  readonly since: string;
  readonly reason: string;
  /** Who engaged it: `talon` (a tripped limit under release: manual) or the person who ran `talon brake engage`. */
  readonly by: string;
}

const SCOPE = /^(cluster|nodes|namespace\/[a-z0-9]([-a-z0-9]*[a-z0-9])?)$/;

export function isBrakeScope(value: string): value is BrakeScope {
  return SCOPE.test(value);
}

function parseLatches(lease: V1Lease | undefined): BrakeLatch[] {
  const raw = lease?.metadata?.annotations?.[BRAKE_ANNOTATION];
  if (!raw) return [];
  try {
    const value = JSON.parse(raw) as unknown;
    if (!Array.isArray(value)) return [];
    return value.filter(
      (l): l is BrakeLatch =>
        typeof l === 'object' &&
        l !== null &&
        typeof (l as BrakeLatch).scope === 'string' &&
        isBrakeScope((l as BrakeLatch).scope) &&
        typeof (l as BrakeLatch).since === 'string' &&
        typeof (l as BrakeLatch).reason === 'string',
    );
  } catch {
    return [];
  }
}

export class BrakeLatchStore {
  constructor(
    private readonly clients: Pick<KubeClients, 'coordination'>,
    /** Talon's namespace, home of the Lease. */
    private readonly namespace: string,
    private readonly maxAttempts = 5,
  ) {}

  private async readLease(): Promise<V1Lease | undefined> {
    try {
      return await kubeCall(`read Lease ${this.namespace}/${BRAKE_LEASE}`, () =>
        this.clients.coordination.readNamespacedLease({ name: BRAKE_LEASE, namespace: this.namespace }),
      );
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async read(): Promise<BrakeLatch[]> {
    return parseLatches(await this.readLease());
  }

  /** Read-modify-write of the latch list; retried when another worker changed the Lease in between. */
  private async update(change: (latches: BrakeLatch[]) => BrakeLatch[]): Promise<BrakeLatch[]> {
    for (let attempt = 1; ; attempt++) {
      const lease = await this.readLease();
      const before = parseLatches(lease);
      const after = change(before);
      if (JSON.stringify(after) === JSON.stringify(before)) return after;
      const body: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          name: BRAKE_LEASE,
          namespace: this.namespace,
          labels: { 'app.kubernetes.io/managed-by': 'talon' },
          annotations: { [BRAKE_ANNOTATION]: JSON.stringify(after) },
          ...(lease?.metadata?.resourceVersion ? { resourceVersion: lease.metadata.resourceVersion } : {}),
        },
        spec: { holderIdentity: 'talon-storm-brake' },
      };
      try {
        if (lease) {
          await kubeCall(`update Lease ${this.namespace}/${BRAKE_LEASE}`, () =>
            this.clients.coordination.replaceNamespacedLease({
              name: BRAKE_LEASE,
              namespace: this.namespace,
              body,
              fieldManager: 'talon',
            }),
          );
        } else {
          await kubeCall(`create Lease ${this.namespace}/${BRAKE_LEASE}`, () =>
            this.clients.coordination.createNamespacedLease({ namespace: this.namespace, body, fieldManager: 'talon' }),
          );
        }
        return after;
      } catch (err) {
        if (!(err instanceof KubeConflictError) || attempt >= this.maxAttempts) throw err;
      }
    }
  }

  /** Latches the scopes not latched yet (the earliest latch of a scope is kept). */
  async latch(latches: readonly BrakeLatch[]): Promise<BrakeLatch[]> {
    return this.update((current) => [...current, ...latches.filter((l) => !current.some((c) => c.scope === l.scope))]);
  }

  /** Releases one scope, or every scope (`all`); answers what was released. */
  async release(scope: BrakeScope | 'all'): Promise<BrakeLatch[]> {
    const before = await this.read();
    const released = before.filter((l) => scope === 'all' || l.scope === scope);
    if (released.length > 0)
      await this.update((current) => current.filter((l) => !(scope === 'all' || l.scope === scope)));
    return released;
  }
}

/** How many objects a LIST would return, from one page of one item (the apiserver's remainingItemCount). */
async function countList(
  list: (
    limit: number,
    cont?: string,
  ) => Promise<{ items: unknown[]; metadata?: { remainingItemCount?: number; _continue?: string } }>,
): Promise<number> {
  const first = await list(1);
  if (first.metadata?.remainingItemCount !== undefined) return first.items.length + first.metadata.remainingItemCount;
  // Without an estimate, page through (rare: the apiserver omits it only with some selectors).
  let total = first.items.length;
  let cont = first.metadata?._continue;
  while (cont) {
    const page = await list(500, cont);
    total += page.items.length;
    cont = page.metadata?._continue;
  }
  return total;
}

/** The names of a namespace's pods (the storm brake groups them by workload), paged 500 at a time. */
export async function namespacePodNames(clients: Pick<KubeClients, 'core'>, namespace: string): Promise<string[]> {
  return kubeCall(`list Pods in ${namespace}`, async () => {
    const names: string[] = [];
    let cont: string | undefined;
    do {
      const page = await clients.core.listNamespacedPod({
        namespace,
        limit: 500,
        ...(cont ? { _continue: cont } : {}),
      });
      for (const pod of page.items) if (pod.metadata?.name) names.push(pod.metadata.name);
      cont = page.metadata?._continue || undefined;
    } while (cont);
    return names;
  });
}

export async function countNodes(clients: Pick<KubeClients, 'core'>): Promise<number> {
  return kubeCall('count Nodes', () =>
    countList((limit, cont) => clients.core.listNode({ limit, ...(cont ? { _continue: cont } : {}) })),
  );
}
