/**
 * The lab driver's /metrics: what cAdvisor and Kepler 0.7 would expose for the lab's containers and nodes and
 * KWOK does not (CPU and memory usage are KWOK's, from the usage annotations the driver writes), plus the lab's
 * own SLO series. Counters only grow; a container's counters start at zero with its pod (a new pod is a new
 * series, as with cAdvisor). docs/LAB.md lists every series.
 */
import type { ComponentPower, NodePower } from '../model/energy';
import type { PodResult, TickResult } from '../model/workload';

type Labels = Readonly<Record<string, string>>;

interface Family {
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly series: Map<string, { labels: Labels; value: number }>;
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

  private add(owner: string, name: string, labels: Labels, delta: number, set = false): void {
    const family = this.families.get(name);
    if (!family) throw new Error(`unknown metric ${name}`);
    const k = key(labels);
    const current = family.series.get(k);
    const value = set ? delta : (current?.value ?? 0) + delta;
    family.series.set(k, { labels, value });
    let keys = this.owned.get(owner);
    if (!keys) this.owned.set(owner, (keys = new Set()));
    keys.add(`${name}|${k}`);
  }

  /** Adds one tick of a pod's work to its counters. */
  recordPod(id: PodIdentity, r: PodResult, dt: number): void {
    const owner = `pod/${id.uid}`;
    const c = { namespace: id.namespace, pod: id.pod, container: id.container, node: id.node };
    this.add(owner, 'container_cpu_user_seconds_total', c, r.userCores * dt);
    this.add(owner, 'container_cpu_system_seconds_total', c, (r.usedCores - r.userCores) * dt);
    const periods = r.usedCores > 0 ? 10 * dt : 0;
    this.add(owner, 'container_cpu_cfs_periods_total', c, periods);
    this.add(owner, 'container_cpu_cfs_throttled_periods_total', c, periods * r.throttled);
    this.add(owner, 'container_cpu_cfs_throttled_seconds_total', c, r.throttled * dt * 0.1 * Math.max(1, r.usedCores));
    const disk = { ...c, device: '/dev/lab0' };
    this.add(owner, 'container_fs_reads_bytes_total', disk, r.ioReadBytesPerSecond * dt);
    this.add(owner, 'container_fs_writes_bytes_total', disk, r.ioWriteBytesPerSecond * dt);
    const net = { namespace: id.namespace, pod: id.pod, interface: 'eth0', node: id.node };
    this.add(owner, 'container_network_receive_bytes_total', net, (r.ingressMbps * 1e6 * dt) / 8);
    this.add(owner, 'container_network_transmit_bytes_total', net, (r.egressMbps * 1e6 * dt) / 8);
    this.add(owner, 'container_oom_events_total', c, r.oomKilled ? 1 : 0);
    const k = {
      container_namespace: id.namespace,
      pod_name: id.pod,
      container_name: id.container,
      container_id: id.uid,
    };
    this.addEnergy(owner, 'kepler_container', k, r.power, dt, 'joules_total');
  }

  recordNode(name: string, power: NodePower, dt: number): void {
    this.addEnergy(`node/${name}`, 'kepler_node', { instance: name, package: '0' }, power, dt, 'platform_joules_total');
  }

  private addEnergy(owner: string, prefix: string, labels: Labels, power: NodePower, dt: number, total: string): void {
    for (const mode of ['idle', 'dynamic'] as const) {
      const p: ComponentPower = power[mode];
      const l = { ...labels, mode };
      for (const c of KEPLER_COMPONENTS) this.add(owner, `${prefix}_${c}_joules_total`, l, p[c] * dt);
      this.add(owner, `${prefix}_${total}`, l, p.total * dt);
    }
  }

  recordCopy(id: CopyIdentity, result: TickResult): void {
    const owner = `copy/${id.copy}`;
    this.add(owner, 'talon_lab_slo_value', { ...id }, result.slo.value, true);
    this.add(owner, 'talon_lab_slo_violated', { ...id }, result.slo.violated ? 1 : 0, true);
    for (const w of result.workloads) {
      const l = { ...id, workload: w.name };
      this.add(owner, 'talon_lab_demand_units', l, w.demandUnits, true);
      this.add(owner, 'talon_lab_served_units', l, w.servedUnits, true);
      this.add(owner, 'talon_lab_latency_seconds', l, w.latencySeconds, true);
      this.add(owner, 'talon_lab_workload_watts', l, w.watts, true);
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

  /** The Prometheus text exposition format (0.0.4). */
  render(): string {
    const lines: string[] = [];
    for (const [name, family] of this.families) {
      if (family.series.size === 0) continue;
      lines.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`);
      for (const { labels, value } of family.series.values()) {
        const text = Object.entries(labels)
          .map(([k, v]) => `${k}="${escape(v)}"`)
          .join(',');
        lines.push(`${name}{${text}} ${Number.isFinite(value) ? value : 0}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }

  /** The current value of one series (tests, the report). */
  value(name: string, labels: Labels): number | undefined {
    return this.families.get(name)?.series.get(key(labels))?.value;
  }
}
