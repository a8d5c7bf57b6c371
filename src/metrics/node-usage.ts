/**
 * Node usage for offloading decisions and task placement: read from Prometheus, optionally kept fresh in the
 * background so a decision costs no round trip. Both return a plain `() => Promise<NodeLoad[]>` that the
 * activity factories take as a dependency.
 */
import type { NodeLoad } from '../domain/node-load';
import { nodeLoads } from './gather';
import type { PrometheusClient } from './prometheus';
import { nodePodCpuQuery, type MetricsConfig } from './queries';

/** Node usage from Prometheus (CPU cores and working-set bytes per node) for offloading decisions. */
export function prometheusNodeUsage(
  client: PrometheusClient,
  config: MetricsConfig,
  rangeSeconds = 120,
): () => Promise<readonly NodeLoad[]> {
  return () => nodeLoads(client, config, rangeSeconds);
}

/**
 * CPU cores each pod on a node uses, from Prometheus: the node-overload workflow evicts the heaviest by usage
 * (requests decide only when this fails or returns nothing).
 */
export function prometheusPodUsage(
  client: PrometheusClient,
  config: MetricsConfig,
  rangeSeconds: number,
): (node: string) => Promise<{ namespace: string; pod: string; cpuCores: number }[]> {
  return async (node) => {
    const rows = await client.query(nodePodCpuQuery(config, node, rangeSeconds));
    const l = config.containers.labels;
    return rows.flatMap((row) => {
      const namespace = row.metric[l.namespace];
      const pod = row.metric[l.pod];
      return namespace && pod && Number.isFinite(row.sample.v) ? [{ namespace, pod, cpuCores: row.sample.v }] : [];
    });
  };
}

/**
 * Keeps the last node usage and refreshes it in the background every `refreshMs` (default 5 s, Prometheus'
 * scrape interval: fresher answers do not exist). A caller gets the last answer if it is younger than
 * `maxAgeMs` (default 3 × refreshMs), otherwise waits for a refresh. Made once per worker; `stop` ends it.
 */
export function cachedNodeUsage(
  fetchUsage: () => Promise<readonly NodeLoad[]>,
  options: { refreshMs?: number; maxAgeMs?: number; clock?: () => number } = {},
): { usage: () => Promise<readonly NodeLoad[]>; stop: () => void } {
  const refreshMs = options.refreshMs ?? 5_000;
  const maxAgeMs = options.maxAgeMs ?? 3 * refreshMs;
  const clock = options.clock ?? Date.now;
  let last: { at: number; value: readonly NodeLoad[] } | undefined;
  let inflight: Promise<readonly NodeLoad[]> | undefined;
  const refresh = () => {
    inflight ??= fetchUsage()
      .then((value) => {
        last = { at: clock(), value };
        return value;
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  };
  const timer = setInterval(() => {
    refresh().catch(() => undefined);
  }, refreshMs);
  timer.unref();
  return {
    usage: async () => (last && clock() - last.at <= maxAgeMs ? last.value : refresh()),
    stop: () => clearInterval(timer),
  };
}
