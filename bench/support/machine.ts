/**
 * What the machine was doing while a benchmark ran: load average and CPU seconds per process, from
 * /proc (Linux). The machine is shared, so every figure is printed next to these.
 */
import { readdir, readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { mean } from './stats';

/** USER_HZ on Linux: /proc/<pid>/stat counts CPU time in these ticks. */
export const CLOCK_TICKS = 100;

export interface ProcStat {
  readonly name: string;
  readonly ppid: number;
  /** utime + stime, in CLOCK_TICKS. */
  readonly cpuTicks: number;
}

/** One process's /proc/<pid>/stat; undefined when the process has ended (or never was). */
export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const fields = stat
      .slice(close + 2)
      .split(' ')
      .map(Number);
    return {
      name: stat.slice(stat.indexOf('(') + 1, close),
      ppid: fields[1] ?? 0,
      cpuTicks: (fields[11] ?? 0) + (fields[12] ?? 0),
    };
  } catch {
    return undefined;
  }
}

/** Every process id in /proc. */
export async function processIds(): Promise<number[]> {
  return (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry)).map(Number);
}

export type CpuSnapshot = Map<number, { name: string; ticks: number }>;

/** CPU time every process has used so far. */
export async function cpuSnapshot(): Promise<CpuSnapshot> {
  const snap: CpuSnapshot = new Map();
  for (const pid of await processIds()) {
    const stat = await readProcStat(pid);
    if (stat) snap.set(pid, { name: stat.name, ticks: stat.cpuTicks });
  }
  return snap;
}

/** Who used the CPU between two snapshots: the busiest processes, ours labelled. */
export function cpuReport(
  before: CpuSnapshot,
  after: CpuSnapshot,
  wallMs: number,
  labels: ReadonlyMap<number, string>,
  /** CPU seconds of processes that ended before the second snapshot (a child that reports its own). */
  extra: Readonly<Record<string, number>> = {},
): string {
  const byName = new Map<string, number>(Object.entries(extra));
  for (const [pid, a] of after) {
    const used = a.ticks - (before.get(pid)?.ticks ?? 0);
    if (used <= 0) continue;
    const name = labels.get(pid) ?? a.name;
    byName.set(name, (byName.get(name) ?? 0) + used / CLOCK_TICKS);
  }
  const total = [...byName.values()].reduce((s, v) => s + v, 0);
  const top = [...byName.entries()].sort((a, b) => b[1] - a[1]).slice(0, 9);
  return (
    `CPU used over ${(wallMs / 1000).toFixed(0)} s: ${total.toFixed(0)} core-s of ${((2 * wallMs) / 1000).toFixed(0)} available; ` +
    top.map(([n, s]) => `${n} ${s.toFixed(0)}`).join(', ')
  );
}

export function loadLine(): string {
  return `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(', ')} on 2 cores`;
}

/** The 1-minute load average, sampled every 5 s while a measurement runs. */
export class LoadSampler {
  private readonly samples: number[] = [loadavg()[0]!];
  private readonly timer = setInterval(() => this.samples.push(loadavg()[0]!), 5_000);

  stop(): string {
    clearInterval(this.timer);
    this.samples.push(loadavg()[0]!);
    return `1-min loadavg min ${Math.min(...this.samples).toFixed(1)} / mean ${mean(this.samples).toFixed(1)} / max ${Math.max(...this.samples).toFixed(1)} (2 cores, ${this.samples.length} samples)`;
  }
}

export interface MemoryReport {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  /** Peak resident set (VmHWM) in KiB. */
  readonly hwmKiB: number;
}

/** This process's memory, with its peak RSS from /proc/self/status. */
export async function memoryReport(): Promise<MemoryReport> {
  const m = process.memoryUsage();
  const status = await readFile('/proc/self/status', 'utf8');
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    hwmKiB: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0),
  };
}
