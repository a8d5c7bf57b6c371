/**
 * What Talon remembers about one target (a workload) across alert episodes: which policies it tried, when, with
 * what magnitude and outcome. A re-fire within the memory window continues with the next-best policy not yet
 * tried instead of starting at the top again (otherwise scale-ups compound ×1.5 per re-fire), and the cumulative
 * growth of the target along one axis (CPU, memory, replicas) is capped per growth window before a person is
 * called. Pure: kept in the workload's remediation workflow (durable in its history, carried across
 * continue-as-new), times in milliseconds of workflow time.
 */
import type { PolicyName } from './policy';

export interface MemorySettings {
  /** A re-fire within this many seconds of an attempt does not try that attempt's policy again (0: no memory). */
  readonly windowSeconds: number;
  /** Most cumulative growth of one axis (the product of the factors applied) within the growth window. */
  readonly growthCap: number;
  readonly growthWindowSeconds: number;
}

/** One hour of escalation memory; at most ×4 of the original per day (issue 14's example). */
export const DEFAULT_MEMORY: MemorySettings = { windowSeconds: 3_600, growthCap: 4, growthWindowSeconds: 86_400 };

export function validateMemory(settings: MemorySettings): MemorySettings {
  const { windowSeconds, growthCap, growthWindowSeconds } = settings;
  const ok =
    [windowSeconds, growthCap, growthWindowSeconds].every((n) => Number.isFinite(n) && n >= 0) && growthCap >= 1;
  if (!ok) {
    throw new Error(
      `invalid escalation memory: need windows ≥ 0 s and a growth cap ≥ 1, got ${JSON.stringify(settings)}`,
    );
  }
  return settings;
}

/** What became of one attempt. */
export type MemoryOutcome =
  /** Applied and verified; what followed is the episode's outcome. */
  | 'applied'
  /** Applied, but verification did not see it take effect. */
  | 'unverified'
  /** Applied, then undone (verification failed or the signal got worse). */
  | 'rolled_back'
  /** Never applied (a guard refused it, approval was refused or timed out). */
  | 'not_applied';

export interface MemoryEntry {
  readonly policy: PolicyName;
  readonly magnitude: number;
  /** Workflow time of the attempt, ms since the epoch. */
  readonly at: number;
  /** Which episode of this target (1-based) tried it. */
  readonly episode: number;
  readonly outcome: MemoryOutcome;
}

/** Carried from run to run (continue-as-new) so the memory outlives one workflow history. */
export interface TargetMemory {
  readonly entries: readonly MemoryEntry[];
  /** Episodes this target had so far. */
  readonly episodes: number;
}

export const EMPTY_MEMORY: TargetMemory = { entries: [], episodes: 0 };

export type GrowthAxis = 'cpu' | 'memory' | 'replicas';

const AXIS: Partial<Record<PolicyName, GrowthAxis>> = {
  cpu_scale_up: 'cpu',
  cpu_scale_down: 'cpu',
  memory_scale_up: 'memory',
  memory_scale_down: 'memory',
  replica_scale_up: 'replicas',
  replica_scale_down: 'replicas',
};

export function growthAxisOf(policy: PolicyName): GrowthAxis | undefined {
  return AXIS[policy];
}

/** Changes still in effect: applied and not undone (an unverified change may well be in place). */
function inEffect(entry: MemoryEntry): boolean {
  return entry.outcome === 'applied' || entry.outcome === 'unverified';
}

/**
 * Policies not to try again now: those that changed the target within the memory window. A policy a guard
 * refused was not tried on the target (the refusal may be over); one that was rolled back was tried.
 */
export function triedWithin(memory: TargetMemory, now: number, settings: MemorySettings): Set<PolicyName> {
  const since = now - settings.windowSeconds * 1000;
  return new Set(memory.entries.filter((e) => e.at >= since && e.outcome !== 'not_applied').map((e) => e.policy));
}

/** The product of the factors still in effect on one axis within the growth window (1 = unchanged). */
export function growthOf(memory: TargetMemory, axis: GrowthAxis, now: number, settings: MemorySettings): number {
  const since = now - settings.growthWindowSeconds * 1000;
  return memory.entries
    .filter((e) => e.at >= since && inEffect(e) && AXIS[e.policy] === axis)
    .reduce((product, e) => product * e.magnitude, 1);
}

export interface GrowthRefusal {
  readonly axis: GrowthAxis;
  /** Growth already in effect, and what the candidate would make it. */
  readonly growth: number;
  readonly wouldBe: number;
  readonly reason: string;
}

/** Why a candidate would take the target past its growth cap, or undefined when it stays within. */
export function growthRefusal(
  memory: TargetMemory,
  candidate: { readonly policy: PolicyName; readonly magnitude: number },
  now: number,
  settings: MemorySettings,
): GrowthRefusal | undefined {
  const axis = AXIS[candidate.policy];
  if (!axis || candidate.magnitude <= 1) return undefined;
  const growth = growthOf(memory, axis, now, settings);
  const wouldBe = growth * candidate.magnitude;
  // A hair of tolerance so ×2 × ×2 against a cap of ×4 is allowed despite floating point.
  if (wouldBe <= settings.growthCap * (1 + 1e-9)) return undefined;
  const hours = Math.round((settings.growthWindowSeconds / 3600) * 10) / 10;
  return {
    axis,
    growth,
    wouldBe,
    reason:
      `growth cap: ${axis} of this target already grew ×${round(growth)} in the last ${hours} h; ` +
      `${candidate.policy} ×${candidate.magnitude} would make it ×${round(wouldBe)}, above the cap of ×${settings.growthCap}`,
  };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

export function remember(memory: TargetMemory, entry: MemoryEntry): TargetMemory {
  return { ...memory, entries: [...memory.entries, entry] };
}

/** Marks the latest entry of `policy` in `episode` with a new outcome (e.g. rolled back after it was noted). */
export function reviseOutcome(
  memory: TargetMemory,
  episode: number,
  policy: PolicyName,
  outcome: MemoryOutcome,
): TargetMemory {
  const index = memory.entries.findLastIndex((e) => e.episode === episode && e.policy === policy);
  if (index < 0) return memory;
  const entries = [...memory.entries];
  entries[index] = { ...entries[index]!, outcome };
  return { ...memory, entries };
}

/** Drops what can no longer matter: older than both the memory and the growth window. */
export function prune(memory: TargetMemory, now: number, settings: MemorySettings): TargetMemory {
  const keep = Math.max(settings.windowSeconds, settings.growthWindowSeconds) * 1000;
  return { ...memory, entries: memory.entries.filter((e) => e.at >= now - keep) };
}

/**
 * Until when the target's remediation keeps watching for a re-fire after an episode ended at `endedAt`: the
 * memory window, or longer while a change in effect still counts against the growth cap. At or before `endedAt`:
 * nothing to remember, the workflow ends.
 */
export function rememberUntil(memory: TargetMemory, endedAt: number, settings: MemorySettings): number {
  let until = settings.windowSeconds > 0 ? endedAt + settings.windowSeconds * 1000 : endedAt;
  for (const e of memory.entries) {
    if (inEffect(e) && AXIS[e.policy] && e.magnitude > 1) {
      until = Math.max(until, e.at + settings.growthWindowSeconds * 1000);
    }
  }
  return until;
}

/** No memory at all: each episode starts at the top and the workflow ends with its episode (tests, benchmarks). */
export const MEMORY_OFF: MemorySettings = { windowSeconds: 0, growthCap: 4, growthWindowSeconds: 0 };
