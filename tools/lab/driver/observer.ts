/**
 * Changes to a scenario copy, seen from the cluster — whoever made them: new CPU or memory limits, replica
 * counts, pods deleted or moved to another node, data-offload and network-QoS annotations, Talon's overload
 * taint. The report judges engines by these effects, not by what an engine says it did. Pure: compares two
 * snapshots.
 */

export type ChangeKind =
  | 'cpu_limit'
  | 'memory_limit'
  | 'replicas'
  | 'pod_deleted'
  | 'moved'
  | 'data_offload'
  | 'network_qos'
  | 'taint'
  | 'untaint'
  | 'oom_kill';

export interface ObservedChange {
  readonly kind: ChangeKind;
  readonly workload?: string;
  readonly node?: string;
  readonly detail: string;
  /** The `talon.io/operation` id on the workload's controller (or bare pod) when the change was seen. */
  readonly operation?: string;
}

export interface WorkloadSnapshot {
  readonly cpuLimits: readonly number[];
  readonly memoryLimits: readonly number[];
  /** Desired replicas of its controller; undefined for a bare pod. */
  readonly replicas?: number;
  readonly pods: readonly string[];
  readonly nodes: readonly string[];
  readonly dataOffload: readonly string[];
  readonly egress: readonly string[];
  /** Id of the last Talon operation recorded on its controller or bare pod. */
  readonly operation?: string;
}

export interface CopySnapshot {
  readonly workloads: Readonly<Record<string, WorkloadSnapshot>>;
  /** Node (scenario name) → whether it carries Talon's overload taint. */
  readonly tainted: Readonly<Record<string, boolean>>;
}

const fmt = (v: number): string => (Number.isInteger(v * 1000) ? String(Math.round(v * 1000) / 1000) : v.toFixed(3));
const mib = (v: number): string => `${Math.round(v / 2 ** 20)}Mi`;
const fresh = <T>(before: readonly T[], after: readonly T[]): T[] => after.filter((v) => !before.includes(v));

/** What changed from `before` to `after` (nothing for the first snapshot). */
export function observeChanges(before: CopySnapshot | undefined, after: CopySnapshot): ObservedChange[] {
  if (!before) return [];
  const out: ObservedChange[] = [];
  for (const [workload, now] of Object.entries(after.workloads)) {
    const was = before.workloads[workload];
    if (!was) continue;
    const start = out.length;
    const cpu = fresh(was.cpuLimits, now.cpuLimits);
    if (cpu.length > 0 && was.cpuLimits.length > 0)
      out.push({
        kind: 'cpu_limit',
        workload,
        detail: `CPU limit ${was.cpuLimits.map(fmt).join('/')} → ${cpu.map(fmt).join('/')}`,
      });
    const mem = fresh(was.memoryLimits, now.memoryLimits);
    if (mem.length > 0 && was.memoryLimits.length > 0)
      out.push({
        kind: 'memory_limit',
        workload,
        detail: `memory limit ${was.memoryLimits.map(mib).join('/')} → ${mem.map(mib).join('/')}`,
      });
    if (was.replicas !== undefined && now.replicas !== undefined && was.replicas !== now.replicas)
      out.push({ kind: 'replicas', workload, detail: `replicas ${was.replicas} → ${now.replicas}` });
    const gone = fresh(now.pods, was.pods);
    if (gone.length > 0) out.push({ kind: 'pod_deleted', workload, detail: `${gone.length} pod(s) deleted` });
    const nodes = fresh(was.nodes, now.nodes);
    if (nodes.length > 0 && was.nodes.length > 0)
      out.push({ kind: 'moved', workload, node: nodes[0]!, detail: `now also on ${nodes.join(', ')}` });
    const offload = fresh(was.dataOffload, now.dataOffload);
    if (offload.length > 0) out.push({ kind: 'data_offload', workload, detail: `data offload ${offload.join('/')}` });
    const egress = fresh(was.egress, now.egress);
    if (egress.length > 0)
      out.push({ kind: 'network_qos', workload, detail: `egress rate ${egress.join('/')} Mbit/s` });
    if (now.operation !== undefined) {
      for (let i = start; i < out.length; i++) out[i] = { ...out[i]!, operation: now.operation };
    }
  }
  for (const [node, tainted] of Object.entries(after.tainted)) {
    const was = before.tainted[node];
    if (was === undefined || was === tainted) continue;
    out.push({ kind: tainted ? 'taint' : 'untaint', node, detail: `${tainted ? 'tainted' : 'untainted'} ${node}` });
  }
  return out;
}
