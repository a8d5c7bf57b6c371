/**
 * `--chaos`: while the scenarios run, Talon's worker is SIGKILLed, its webhook SIGKILLed and Temporal's dev
 * server restarted at seeded random moments; each comes back at once (the worker from a prebuilt workflow
 * bundle). The report then says how many kills were survived and whether any alert was lost or any change applied
 * twice. The schedule is pure and seeded, so a failing run can be repeated.
 */

export type ChaosKind = 'kill-worker' | 'kill-webhook' | 'restart-temporal';

export interface ChaosStep {
  /** Unix seconds. */
  readonly at: number;
  readonly kind: ChaosKind;
}

export interface ChaosEvent extends ChaosStep {
  /** Seconds until the component answered again. */
  readonly recoveredSeconds: number;
  readonly ok: boolean;
  readonly detail?: string;
}

/** mulberry32: small, fast, seedable. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` disruptions between `from` and `to` (unix seconds), at least `gapSeconds` apart, in time order:
 * half worker kills, a third webhook kills, the rest Temporal restarts (by weight, drawn per step).
 */
export function chaosSchedule(
  random: () => number,
  count: number,
  from: number,
  to: number,
  gapSeconds = 8,
): ChaosStep[] {
  const span = to - from;
  if (count <= 0 || span <= 0) return [];
  const n = Math.min(count, Math.floor(span / gapSeconds) + 1);
  // Evenly spaced slots, each jittered inside its own slot: never closer than the gap, never bunched.
  const slot = span / n;
  const steps: ChaosStep[] = [];
  for (let i = 0; i < n; i++) {
    const at = from + i * slot + random() * Math.max(0, slot - gapSeconds);
    const r = random();
    const kind: ChaosKind = r < 0.5 ? 'kill-worker' : r < 0.83 ? 'kill-webhook' : 'restart-temporal';
    steps.push({ at, kind });
  }
  return steps;
}

/** Counts by kind and how many came back, for the report. */
export function summariseChaos(events: readonly ChaosEvent[]): Record<ChaosKind | 'survived' | 'total', number> {
  const out = { 'kill-worker': 0, 'kill-webhook': 0, 'restart-temporal': 0, survived: 0, total: events.length };
  for (const e of events) {
    out[e.kind] += 1;
    if (e.ok) out.survived += 1;
  }
  return out;
}
