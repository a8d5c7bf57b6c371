/**
 * A namespace's labels, cached: operators steer Talon per namespace with labels (e.g. which policy engine
 * decides, `talon.io/policy-engine`), and a remediation must not pay an apiserver round trip for each
 * decision. A failed read answers "no labels" (the defaults apply) and is retried on the next call.
 */
import type { CoreV1Api } from '@kubernetes/client-node';

export interface NamespaceLabelOptions {
  /** How long a namespace's labels are reused (default 30 s). */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

export type NamespaceLabels = (namespace: string) => Promise<Readonly<Record<string, string>>>;

export function cachedNamespaceLabels(
  core: Pick<CoreV1Api, 'readNamespace'>,
  options: NamespaceLabelOptions = {},
): NamespaceLabels {
  const ttl = options.ttlMs ?? 30_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { at: number; labels: Promise<Readonly<Record<string, string>>> }>();
  return async (namespace) => {
    const hit = cache.get(namespace);
    if (hit && now() - hit.at < ttl) return hit.labels;
    const labels = core.readNamespace({ name: namespace }).then((ns) => ns.metadata?.labels ?? {});
    cache.set(namespace, { at: now(), labels });
    if (cache.size > 5000) cache.delete(cache.keys().next().value ?? namespace);
    try {
      return await labels;
    } catch {
      cache.delete(namespace);
      return {};
    }
  };
}
