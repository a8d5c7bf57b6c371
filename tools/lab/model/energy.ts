/**
 * Node power and its attribution to containers, the way Kepler 0.7 does it on machines without hardware
 * counters (its ratio model, e.g. on VMs): node power = idle + dynamic power driven by CPU activity, per
 * component (core ⊂ package, DRAM, other/platform); a container receives the share of each component — idle
 * included — equal to its share of the node's CPU time. Idle power follows activity, never reserved limits:
 * an idle node attributes nothing to anyone (it stays at node level). docs/LAB.md "Energy" gives the numbers.
 * Pure.
 */
import type { Tier } from '../scenario/model';

export interface PowerProfile {
  /** CPU package power (W) at 0 % and 100 % CPU. */
  readonly packageIdleW: number;
  readonly packageMaxW: number;
  /** Share of package power drawn by the cores (the rest is the uncore). */
  readonly coreShare: number;
  readonly dramIdleW: number;
  readonly dramMaxW: number;
  /** Fans, disks, NIC, board: constant. */
  readonly otherW: number;
}

/**
 * Edge: a 4-core industrial PC / NUC class box (≈ 7 W idle, ≈ 32 W flat out). Cloud: a 16-vCPU share of a
 * two-socket server (≈ 78 W idle, ≈ 214 W flat out). Orders of magnitude of published SPECpower results.
 */
export const POWER_PROFILES: Readonly<Record<Tier, PowerProfile>> = {
  edge: { packageIdleW: 3, packageMaxW: 25, coreShare: 0.8, dramIdleW: 0.5, dramMaxW: 3, otherW: 4 },
  cloud: { packageIdleW: 40, packageMaxW: 160, coreShare: 0.8, dramIdleW: 8, dramMaxW: 24, otherW: 30 },
};

/** Watts per component; `mode` idle or dynamic as Kepler labels its series. */
export interface ComponentPower {
  readonly core: number;
  readonly uncore: number;
  readonly package: number;
  readonly dram: number;
  readonly other: number;
  /** package + dram + other: Kepler's `platform` on the node, `joules_total` on a container. */
  readonly total: number;
}

export interface NodePower {
  readonly idle: ComponentPower;
  readonly dynamic: ComponentPower;
}

function components(pkg: number, coreShare: number, dram: number, other: number): ComponentPower {
  const core = pkg * coreShare;
  return { core, uncore: pkg - core, package: pkg, dram, other, total: pkg + dram + other };
}

const ZERO = components(0, 0, 0, 0);

/** The node's power at a CPU utilisation in [0, 1]. */
export function nodePower(profile: PowerProfile, cpuUtilisation: number): NodePower {
  const u = Math.min(1, Math.max(0, cpuUtilisation));
  return {
    idle: components(profile.packageIdleW, profile.coreShare, profile.dramIdleW, profile.otherW),
    dynamic: components(
      (profile.packageMaxW - profile.packageIdleW) * u,
      profile.coreShare,
      (profile.dramMaxW - profile.dramIdleW) * u,
      0,
    ),
  };
}

function scale(p: ComponentPower, f: number): ComponentPower {
  return {
    core: p.core * f,
    uncore: p.uncore * f,
    package: p.package * f,
    dram: p.dram * f,
    other: p.other * f,
    total: p.total * f,
  };
}

/** Each container's share of the node's power, by its share of the node's CPU time (Kepler's ratio model). */
export function attributePower(node: NodePower, containerCores: readonly number[]): NodePower[] {
  const total = containerCores.reduce((a, b) => a + Math.max(0, b), 0);
  if (total <= 0) return containerCores.map(() => ({ idle: ZERO, dynamic: ZERO }));
  return containerCores.map((c) => {
    const r = Math.max(0, c) / total;
    return { idle: scale(node.idle, r), dynamic: scale(node.dynamic, r) };
  });
}
