import { rankNodesForOffloading } from '../../src/domain/node-load';
import { workloadOf } from '../../src/domain/window';
import { MetricsConfigError } from '../../src/metrics/errors';
import { shareDenominators } from '../../src/metrics/gather';
import {
  DEFAULT_METRICS_CONFIG,
  metricsConfig,
  nodeLoadQuery,
  podContextQuery,
  podMatchers,
  selector,
  windowQuery,
} from '../../src/metrics/queries';

const target = { namespace: 'shop', pod: 'cart-7d4b9c8f6d-x2k9p' };

describe('metrics configuration', () => {
  it('defaults to the kubelet/cAdvisor, kube-state-metrics and Kepler names', () => {
    const c = metricsConfig();
    expect(c).toEqual(DEFAULT_METRICS_CONFIG);
    expect(c.containers.cpuSeconds.metric).toBe('container_cpu_usage_seconds_total');
    expect(c.resources.limits.metric).toBe('kube_pod_container_resource_limits');
    expect(c.energy.totalJoules.metric).toBe('kepler_container_joules_total');
    expect(c.energy.labels).toEqual({ namespace: 'container_namespace', pod: 'pod_name', container: 'container_name' });
  });

  it('overlays partial overrides and replaces matchers wholesale', () => {
    const c = metricsConfig({
      energy: { coreJoules: { metric: 'kepler_container_cpu_joules_total', matchers: { zone: 'core' } } },
      nodes: { label: 'kubernetes_node' },
    });
    expect(c.energy.coreJoules).toEqual({ metric: 'kepler_container_cpu_joules_total', matchers: { zone: 'core' } });
    expect(c.energy.dramJoules.metric).toBe('kepler_container_dram_joules_total');
    expect(c.nodes.label).toBe('kubernetes_node');
    expect(c.nodes.cpuSeconds.metric).toBe('node_cpu_usage_seconds_total');
    expect(windowQuery(c, target, { stepSeconds: 30, rangeSeconds: 60 })).toContain(
      'kepler_container_cpu_joules_total{zone="core",container_namespace="shop"',
    );
  });

  it('rejects names Prometheus would not accept', () => {
    expect(() => metricsConfig({ containers: { cpuSeconds: { metric: 'cpu usage' } } })).toThrow(MetricsConfigError);
    expect(() => metricsConfig({ nodes: { label: 'node-name' } })).toThrow(/nodes.label/);
  });
});

describe('PromQL builders', () => {
  it('selects the pod, excluding the pod cgroup and pause container unless a container is named', () => {
    const labels = DEFAULT_METRICS_CONFIG.containers.labels;
    expect(podMatchers(labels, target, ['', 'POD'])).toEqual([
      'namespace="shop"',
      'pod="cart-7d4b9c8f6d-x2k9p"',
      'container!~"|POD"',
    ]);
    expect(podMatchers(labels, { ...target, container: 'app' }, ['', 'POD'])).toContain('container="app"');
  });

  it('escapes label values', () => {
    expect(selector({ metric: 'm', matchers: { a: 'x"y\\z' } })).toBe('m{a="x\\"y\\\\z"}');
    expect(selector({ metric: 'm', matchers: {} })).toBe('m');
  });

  it('tags every window series and scales energy to joules per step', () => {
    const q = windowQuery(DEFAULT_METRICS_CONFIG, target, { stepSeconds: 30, rangeSeconds: 60 });
    for (const key of ['cpu_cores', 'memory_bytes', 'system_cpu_usage', 'user_cpu_cores', 'total_joules']) {
      expect(q).toContain(`"talon_feature", "${key}"`);
    }
    expect(q).toContain('sum(rate(kepler_container_joules_total{container_namespace="shop"');
    expect(q).toContain('[60s])) * 30');
    expect(q).toContain('and on (node) group by (node)');
    const pinned = windowQuery(
      DEFAULT_METRICS_CONFIG,
      { ...target, node: 'edge-0' },
      { stepSeconds: 5, rangeSeconds: 10 },
    );
    expect(pinned).toContain('node_cpu_usage_seconds_total{node="edge-0"}');
    expect(pinned).not.toContain('and on (node)');
  });

  it('asks for limits and requests above zero (zero means unset) and the pod node', () => {
    const q = podContextQuery(DEFAULT_METRICS_CONFIG, target, 10);
    expect(q).toContain('kube_pod_container_resource_limits{namespace="shop"');
    expect(q).toContain('resource=~"cpu|memory"}[10s]) > 0');
    expect(q).toContain('"talon_kind", "node"');
    expect(nodeLoadQuery(DEFAULT_METRICS_CONFIG, 10)).toContain('kube_node_status_allocatable{resource="memory"}');
  });
});

describe('share denominators', () => {
  it('prefers the limit and falls back to the request, or the reverse', () => {
    const r = { cpuLimitCores: 2, cpuRequestCores: 1, memoryRequestBytes: 100 };
    expect(shareDenominators(r, 'limit')).toEqual({ cpu: 2, memory: 100 });
    expect(shareDenominators(r, 'request')).toEqual({ cpu: 1, memory: 100 });
    expect(shareDenominators({}, 'limit')).toEqual({});
  });
});

describe('workloadOf', () => {
  it('strips controller-generated suffixes and prefers an explicit workload', () => {
    expect(workloadOf({ pod: 'cart-7d4b9c8f6d-x2k9p' })).toBe('cart');
    expect(workloadOf({ pod: 'node-exporter-x2k9p' })).toBe('node-exporter');
    expect(workloadOf({ pod: 'db-2' })).toBe('db');
    expect(workloadOf({ pod: 'standalone' })).toBe('standalone');
    expect(workloadOf({ pod: 'cart-7d4b9c8f6d-x2k9p', workload: 'checkout' })).toBe('checkout');
    // Vowels never appear in generated suffixes, so a real word is kept.
    expect(workloadOf({ pod: 'my-cache' })).toBe('my-cache');
  });
});

describe('rankNodesForOffloading', () => {
  const loads = [
    { node: 'a', cpuCores: 8, memoryBytes: 4, cpuAllocatableCores: 16, memoryAllocatableBytes: 16 },
    { node: 'b', cpuCores: 2, memoryBytes: 14, cpuAllocatableCores: 16, memoryAllocatableBytes: 16 },
    { node: 'c', cpuCores: 1, memoryBytes: 1, cpuAllocatableCores: 16, memoryAllocatableBytes: 16 },
    { node: 'unknown', cpuCores: 0, memoryBytes: 0 },
  ];

  it('puts the least loaded first on the weighted CPU/memory mix and unknown nodes last', () => {
    const ranked = rankNodesForOffloading(loads);
    expect(ranked.map((n) => n.node)).toEqual(['c', 'a', 'b', 'unknown']);
    expect(ranked[0]!.load).toBeCloseTo(0.5 * (1 / 16) + 0.5 * (1 / 16), 12);
    expect(ranked[3]!.load).toBeUndefined();
  });

  it('follows the CPU weight', () => {
    expect(rankNodesForOffloading(loads, { cpuWeight: 1 }).map((n) => n.node)).toEqual(['c', 'b', 'a', 'unknown']);
  });

  it('excludes named nodes and nodes above the load ceiling (inclusive)', () => {
    expect(rankNodesForOffloading(loads, { exclude: ['c'], maxLoad: 0.5 }).map((n) => n.node)).toEqual([
      'a',
      'b',
      'unknown',
    ]);
    expect(rankNodesForOffloading(loads, { exclude: ['c'], maxLoad: 0.45 }).map((n) => n.node)).toEqual([
      'a',
      'unknown',
    ]);
  });
});
