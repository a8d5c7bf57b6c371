/**
 * The usage of every container with a limit in a set of namespaces, over a look-back window, for the predictive
 * watch: one range query per resource (CPU as a rate in cores, memory working set in bytes, grouped by namespace,
 * pod and container like Talon's alert rules group them) and one instant query for the limits. Series are put on
 * the request's grid (null where Prometheus had no sample), so a forecaster sees gaps as gaps.
 */
import type { PrometheusClient } from './prometheus';
import { promString, selector, type MetricsConfig } from './queries';

export type UsageResource = 'cpu' | 'memory';

export interface UsageRequest {
  /** Namespace names or patterns (`*`, `team-*`, `*-prod`) to read. */
  readonly namespaces: readonly string[];
  /** Namespace names or patterns never read (protected ones). */
  readonly exclude?: readonly string[];
  readonly resources: readonly UsageResource[];
  /** Unix seconds of the last grid point. */
  readonly end: number;
  readonly lookbackSeconds: number;
  readonly stepSeconds: number;
  /** Range of the CPU rate (at least two scrapes). */
  readonly rateSeconds: number;
}

export interface ContainerUsage {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly resource: UsageResource;
  /** The container's limit now (cores, bytes). */
  readonly limit: number;
  /** One value per grid point, oldest first; null where there was no sample. */
  readonly samples: (number | null)[];
}

const escapeRegex = (value: string): string => value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A PromQL regex for namespace patterns: exact names, and `*` at either end for a prefix or suffix. */
export function namespaceRegex(patterns: readonly string[]): string {
  return patterns
    .map((p) => {
      if (p === '*') return '.+';
      if (p.length > 1 && p.endsWith('*')) return `${escapeRegex(p.slice(0, -1))}.*`;
      if (p.length > 1 && p.startsWith('*')) return `.*${escapeRegex(p.slice(1))}`;
      return escapeRegex(p);
    })
    .join('|');
}

/** The PromQL of one resource's usage per container, and of the limits. Exported for tests. */
export function usageQueries(
  config: MetricsConfig,
  request: Pick<UsageRequest, 'namespaces' | 'exclude' | 'rateSeconds'>,
): { usage: Record<UsageResource, string>; limits: string } {
  const c = config.containers;
  const ns = (label: string): string[] => [
    `${label}=~${promString(namespaceRegex(request.namespaces))}`,
    ...((request.exclude ?? []).length > 0 ? [`${label}!~${promString(namespaceRegex(request.exclude!))}`] : []),
  ];
  const containers = [
    ...ns(c.labels.namespace),
    ...(c.ignoreContainers.length > 0
      ? [`${c.labels.container}!~${promString(c.ignoreContainers.map(escapeRegex).join('|'))}`]
      : []),
  ];
  const by = `${c.labels.namespace}, ${c.labels.pod}, ${c.labels.container}`;
  const r = config.resources;
  const resource = `${r.resource.label}=~${promString(`${r.resource.cpu}|${r.resource.memory}`)}`;
  return {
    usage: {
      cpu: `sum by (${by}) (rate(${selector(c.cpuSeconds, containers)}[${request.rateSeconds}s]))`,
      memory: `max by (${by}) (${selector(c.memoryWorkingSetBytes, containers)})`,
    },
    limits: `max by (${r.labels.namespace}, ${r.labels.pod}, ${r.labels.container}, ${r.resource.label}) (${selector(r.limits, [...ns(r.labels.namespace), resource])}) > 0`,
  };
}

/** Every container with a limit for a requested resource, with its usage on the grid. */
export async function readUsage(
  client: PrometheusClient,
  config: MetricsConfig,
  request: UsageRequest,
): Promise<ContainerUsage[]> {
  const queries = usageQueries(config, request);
  const step = request.stepSeconds;
  const end = Math.floor(request.end / step) * step;
  const points = Math.floor(request.lookbackSeconds / step);
  const start = end - (points - 1) * step;
  const [limits, ...usages] = await Promise.all([
    client.query(queries.limits, end),
    ...request.resources.map((res) => client.queryRange(queries.usage[res], start, end, step)),
  ]);
  const r = config.resources;
  const key = (ns: string, pod: string, container: string, res: string) =>
    `${ns}\u0000${pod}\u0000${container}\u0000${res}`;
  const limitOf = new Map<string, number>();
  for (const row of limits) {
    const m = row.metric;
    const res =
      m[r.resource.label] === r.resource.cpu ? 'cpu' : m[r.resource.label] === r.resource.memory ? 'memory' : undefined;
    const [ns, pod, container] = [m[r.labels.namespace], m[r.labels.pod], m[r.labels.container]];
    if (!res || !ns || !pod || !container || !(row.sample.v > 0)) continue;
    limitOf.set(key(ns, pod, container, res), row.sample.v);
  }
  const c = config.containers.labels;
  const out: ContainerUsage[] = [];
  request.resources.forEach((resource, i) => {
    for (const series of usages[i]!) {
      const [namespace, pod, container] = [
        series.metric[c.namespace],
        series.metric[c.pod],
        series.metric[c.container],
      ];
      if (!namespace || !pod || !container) continue;
      const limit = limitOf.get(key(namespace, pod, container, resource));
      // Without a limit there is no line to cross (the alert rules need one too).
      if (limit === undefined) continue;
      const samples = new Array<number | null>(points).fill(null);
      for (const s of series.samples) {
        const at = Math.round((s.t - start) / step);
        if (at >= 0 && at < points && Number.isFinite(s.v)) samples[at] = s.v;
      }
      out.push({ namespace, pod, container, resource, limit, samples });
    }
  });
  return out.sort((a, b) =>
    key(a.namespace, a.pod, a.container, a.resource).localeCompare(key(b.namespace, b.pod, b.container, b.resource)),
  );
}
