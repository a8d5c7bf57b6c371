/**
 * `talon lab simulate <file>`: a scenario through the load model alone, without a cluster and without any
 * engine — pods stay where the scenario places them. It shows a scenario's author what `none` will see: when
 * the SLO breaks, when each of Talon's alert conditions would hold, how much energy it takes. Pure apart from
 * printing.
 */
import { tick, type NodeView, type PodState, type PodView, type TickResult } from './model/workload';
import type { Scenario } from './scenario/model';

export interface SimulationSummary {
  readonly violationSeconds: number;
  /** Seconds since start at which each alert condition first held (undefined when never). */
  readonly firstCondition: Readonly<Record<string, number | undefined>>;
  readonly energyJoules: number;
  readonly oomKills: number;
  readonly timeline: readonly { t: number; slo: number; violated: boolean }[];
}

/** Where the scenario puts each pod before anyone acts: its node, else its tier's nodes in turn. */
export function initialPlacement(s: Scenario): PodView[] {
  const pods: PodView[] = [];
  let next = 0;
  for (const w of s.workloads) {
    for (let i = 0; i < w.replicas; i++) {
      const candidates = w.node ? [w.node] : s.nodes.filter((n) => !w.tier || n.tier === w.tier).map((n) => n.name);
      const node = candidates[next++ % candidates.length]!;
      pods.push({
        uid: `${w.name}-${i}`,
        name: `${w.name}-${i}`,
        workload: w.name,
        node,
        running: true,
        startedAt: -3600,
        cpuLimitCores: w.limits.cpuCores,
        memoryLimitBytes: w.limits.memoryBytes,
        annotations: {},
      });
    }
  }
  return pods;
}

export function simulate(s: Scenario): SimulationSummary {
  let pods = initialPlacement(s);
  const nodes: NodeView[] = s.nodes.map((n) => ({
    name: n.name,
    tier: n.tier,
    cpuCores: n.cpuCores,
    networkMbps: n.networkMbps,
  }));
  const states = new Map<string, PodState>();
  const dt = s.tickSeconds;
  const first: Record<string, number | undefined> = {};
  const hold = (key: string, t: number, cond: boolean): void => {
    if (cond && first[key] === undefined) first[key] = t;
  };
  let violation = 0;
  let energy = 0;
  let ooms = 0;
  const timeline: { t: number; slo: number; violated: boolean }[] = [];
  for (let t = 0; t <= s.durationSeconds; t += dt) {
    const r: TickResult = tick({ scenario: s, t, now: t, dt, pods, nodes, states });
    for (const p of r.pods) {
      states.set(p.uid, p.state);
      const view = pods.find((v) => v.uid === p.uid)!;
      hold(
        `cpu ${p.workload}`,
        t,
        s.alerts.rules.includes('cpu') && p.usedCores / view.cpuLimitCores > s.alerts.cpuLimitShare,
      );
      hold(
        `memory ${p.workload}`,
        t,
        s.alerts.rules.includes('memory') && p.workingSetBytes / view.memoryLimitBytes > s.alerts.memoryLimitShare,
      );
      if (p.oomKilled) {
        ooms += 1;
        pods = pods.map((v) => (v.uid === p.uid ? { ...v, startedAt: t } : v));
      }
    }
    for (const n of r.nodes) {
      const cap = nodes.find((x) => x.name === n.name)!.cpuCores;
      hold(`node ${n.name}`, t, s.alerts.rules.includes('node') && n.usedCores / cap > s.alerts.nodeCpuShare);
    }
    if (r.slo.violated) violation += dt;
    energy += r.workloads.reduce((a, w) => a + w.watts, 0) * dt;
    timeline.push({ t, slo: r.slo.value, violated: r.slo.violated });
  }
  return {
    violationSeconds: violation,
    firstCondition: first,
    energyJoules: Math.round(energy),
    oomKills: ooms,
    timeline,
  };
}

export function describeSimulation(s: Scenario, sim: SimulationSummary): string {
  const lines = [
    `${s.name}: with nobody acting, the SLO (${s.slo.kind}) is violated ${sim.violationSeconds}s of ${s.durationSeconds}s`,
  ];
  for (const [k, v] of Object.entries(sim.firstCondition)) {
    lines.push(`  alert condition "${k}" first holds at ${v}s (fires ${s.alerts.forSeconds}s later)`);
  }
  if (Object.keys(sim.firstCondition).length === 0) lines.push('  no alert condition ever holds');
  lines.push(`  OOM kills: ${sim.oomKills}; energy of its containers: ${sim.energyJoules} J`);
  return lines.join('\n');
}
