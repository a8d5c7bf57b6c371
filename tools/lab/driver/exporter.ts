/**
 * The lab driver's /metrics: what cAdvisor and Kepler 0.7 would expose for the lab's containers and nodes and
 * KWOK does not (CPU and memory usage are KWOK's, from the usage annotations the driver writes), plus the lab's
 * own SLO series. Counters only grow; a container's counters start at zero with its pod (a new pod is a new
 * series, as with cAdvisor). docs/LAB.md lists every series.
 */
import type { ComponentPower, NodePower } from '../model/energy';
import type { PodResult, TickResult } from '../model/workload';

type Labels = Readonly<Record<string, string>>;

/**
 * A counter is held as a rate from its last update on (zero-order hold) and evaluated when scraped, as cAdvisor's
 * cumulative counters are: a scrape between two ticks sees the time since the tick, not a step, so `rate()` over
 * a few scrapes is smooth. A gauge is its value.
 */
interface Series {
  readonly labels: Labels;
  base: number;
  rate: number;
  at: number;
}

interface Family {
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly series: Map<string, Series>;
}

function key(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}

function escape(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export const KEPLER_COMPONENTS = ['core', 'uncore', 'package', 'dram', 'other'] as const;

/** Metric families in exposition order. */
const FAMILIES: Readonly<Record<string, Omit<Family, 'series'>>> = {
  container_cpu_user_seconds_total: {
    help: 'Cumulative user CPU time consumed in seconds (lab model).',
    type: 'counter',
  },
  container_cpu_system_seconds_total: {
    help: 'Cumulative system CPU time consumed in seconds (lab model).',
    type: 'counter',
  },
  container_cpu_cfs_periods_total: { help: 'Number of elapsed enforcement period intervals.', type: 'counter' },
  container_cpu_cfs_throttled_periods_total: { help: 'Number of throttled period intervals.', type: 'counter' },
  container_cpu_cfs_throttled_seconds_total: {
    help: 'Total time duration the container has been throttled.',
    type: 'counter',
  },
  container_fs_reads_bytes_total: { help: 'Cumulative count of bytes read.', type: 'counter' },
  container_fs_writes_bytes_total: { help: 'Cumulative count of bytes written.', type: 'counter' },
  container_network_receive_bytes_total: { help: 'Cumulative count of bytes received.', type: 'counter' },
  container_network_transmit_bytes_total: { help: 'Cumulative count of bytes transmitted.', type: 'counter' },
  container_oom_events_total: { help: 'Count of out of memory events observed for the container.', type: 'counter' },
  ...Object.fromEntries(
    KEPLER_COMPONENTS.map((c) => [
      `kepler_container_${c}_joules_total`,
      { help: `Aggregated ${c} energy of the container in joules (Kepler 0.7 ratio model).`, type: 'counter' },
    ]),
  ),
  kepler_container_joules_total: {
    help: 'Aggregated package + dram + other energy of the container in joules.',
    type: 'counter',
  },
  ...Object.fromEntries(
    [...KEPLER_COMPONENTS, 'platform'].map((c) => [
      `kepler_node_${c}_joules_total`,
      { help: `Aggregated ${c} energy of the node in joules.`, type: 'counter' },
    ]),
  ),
  talon_lab_slo_value: {
    help: "The scenario SLO's measure (latency s, throttled share or availability).",
    type: 'gauge',
  },
  talon_lab_slo_violated: { help: '1 while the scenario SLO is violated.', type: 'gauge' },
  talon_lab_demand_units: { help: 'Demand of a workload in its unit (cores or requests/s).', type: 'gauge' },
  talon_lab_served_units: { help: 'Demand served, same unit.', type: 'gauge' },
  talon_lab_latency_seconds: { help: 'p95 latency of the workload as the lab models it.', type: 'gauge' },
  talon_lab_workload_watts: { help: 'Power attributed to the workload (Kepler ratio model).', type: 'gauge' },
};

/** Identity of a lab pod on the series. */
export interface PodIdentity {
  readonly uid: string;
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly node: string;
}

export interface CopyIdentity {
  readonly copy: string;
  readonly scenario: string;
  readonly engine: string;
}

export class LabExporter {
  private readonly families = new Map<string, Family>(
    Object.entries(FAMILIES).map(([name, f]) => [name, { ...f, series: new Map() }]),
  );
  /** Series keys per pod uid / node / copy, to drop them when their object is gone. */
  private readonly owned = new Map<string, Set<string>>();

  private series(owner: string, name: string, labels: Labels, now: number): Series {
    const family = this.families.get(name);
    if (!family) throw new Error(`unknown metric ${name}`);
    const k = key(labels);
    let s = family.series.get(k);
    if (!s) family.series.set(k, (s = { labels, base: 0, rate: 0, at: now }));
    let keys = this.owned.get(owner);
    if (!keys) this.owned.set(owner, (keys = new Set()));
    keys.add(`${name}|${k}`);
    return s;
  }

  /** A counter grows at `perSecond` from `now` on (what it grew since its last update is banked first). */
  private setRate(owner: string, name: string, labels: Labels, perSecond: number, now: number): void {
    const s = this.series(owner, name, labels, now);
    s.base += s.rate * Math.max(0, now - s.at);
    s.rate = Math.max(0, perSecond);
    s.at = now;
  }

  private increment(owner: string, name: string, labels: Labels, by: number, now: number): void {
    this.series(owner, name, labels, now).base += by;
  }

  private gauge(owner: string, name: string, labels: Labels, value: number, now: number): void {
    const s = this.series(owner, name, labels, now);
    s.base = value;
    s.rate = 0;
    s.at = now;
  }

  /** The pod's rates from this tick on (`now` in unix seconds). */
  recordPod(id: PodIdentity, r: PodResult, now: number): void {
    const owner = `pod/${id.uid}`;
    const c = { namespace: id.namespace, pod: id.pod, container: id.container, node: id.node };
    this.setRate(owner, 'container_cpu_user_seconds_total', c, r.userCores, now);
    this.setRate(owner, 'container_cpu_system_seconds_total', c, r.usedCores - r.userCores, now);
    const periods = r.usedCores > 0 ? 10 : 0;
    this.setRate(owner, 'container_cpu_cfs_periods_total', c, periods, now);
    this.setRate(owner, 'container_cpu_cfs_throttled_periods_total', c, periods * r.throttled, now);
    this.setRate(
      owner,
      'container_cpu_cfs_throttled_seconds_total',
      c,
      r.throttled * 0.1 * Math.max(1, r.usedCores),
      now,
    );
    const disk = { ...c, device: '/dev/lab0' };
    this.setRate(owner, 'container_fs_reads_bytes_total', disk, r.ioReadBytesPerSecond, now);
    this.setRate(owner, 'container_fs_writes_bytes_total', disk, r.ioWriteBytesPerSecond, now);
    const net = { namespace: id.namespace, pod: id.pod, interface: 'eth0', node: id.node };
    this.setRate(owner, 'container_network_receive_bytes_total', net, (r.ingressMbps * 1e6) / 8, now);
    this.setRate(owner, 'container_network_transmit_bytes_total', net, (r.egressMbps * 1e6) / 8, now);
    this.increment(owner, 'container_oom_events_total', c, r.oomKilled ? 1 : 0, now);
    const k = {
      container_namespace: id.namespace,
      pod_name: id.pod,
      container_name: id.container,
      container_id: id.uid,
    };
    this.setEnergy(owner, 'kepler_container', k, r.power, now, 'joules_total');
  }

  recordNode(name: string, power: NodePower, now: number): void {
    this.setEnergy(
      `node/${name}`,
      'kepler_node',
      { instance: name, package: '0' },
      power,
      now,
      'platform_joules_total',
    );
  }

  private setEnergy(owner: string, prefix: string, labels: Labels, power: NodePower, now: number, total: string): void {
    for (const mode of ['idle', 'dynamic'] as const) {
      const p: ComponentPower = power[mode];
      const l = { ...labels, mode };
      for (const c of KEPLER_COMPONENTS) this.setRate(owner, `${prefix}_${c}_joules_total`, l, p[c], now);
      this.setRate(owner, `${prefix}_${total}`, l, p.total, now);
    }
  }

  recordCopy(id: CopyIdentity, result: TickResult, now: number): void {
    const owner = `copy/${id.copy}`;
    this.gauge(owner, 'talon_lab_slo_value', { ...id }, result.slo.value, now);
    this.gauge(owner, 'talon_lab_slo_violated', { ...id }, result.slo.violated ? 1 : 0, now);
    for (const w of result.workloads) {
      const l = { ...id, workload: w.name };
      this.gauge(owner, 'talon_lab_demand_units', l, w.demandUnits, now);
      this.gauge(owner, 'talon_lab_served_units', l, w.servedUnits, now);
      this.gauge(owner, 'talon_lab_latency_seconds', l, w.latencySeconds, now);
      this.gauge(owner, 'talon_lab_workload_watts', l, w.watts, now);
    }
  }

  /** Drops the series of objects not in `alive` (`pod/<uid>`, `node/<name>`, `copy/<id>`). */
  retain(alive: ReadonlySet<string>): void {
    for (const [owner, keys] of this.owned) {
      if (alive.has(owner)) continue;
      for (const entry of keys) {
        const [name, k] = entry.split('|') as [string, string];
        this.families.get(name)?.series.delete(k);
      }
      this.owned.delete(owner);
    }
  }

  /** The Prometheus text exposition format (0.0.4), counters evaluated at `now`. */
  render(now: number): string {
    const lines: string[] = [];
    for (const [name, family] of this.families) {
      if (family.series.size === 0) continue;
      lines.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`);
      for (const series of family.series.values()) {
        const { labels } = series;
        const value = series.base + series.rate * Math.max(0, now - series.at);
        const text = Object.entries(labels)
          .map(([k, v]) => `${k}="${escape(v)}"`)
          .join(',');
        lines.push(`${name}{${text}} ${Number.isFinite(value) ? value : 0}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }

  /** The value of one series at `now` (tests, the report). */
  value(name: string, labels: Labels, now: number): number | undefined {
    const s = this.families.get(name)?.series.get(key(labels));
    return s === undefined ? undefined : s.base + s.rate * Math.max(0, now - s.at);
  }
}
