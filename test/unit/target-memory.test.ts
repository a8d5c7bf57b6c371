/** Escalation memory and the growth cap (src/domain/target-memory.ts): pure, as the workflow uses them. */
import {
  DEFAULT_MEMORY,
  EMPTY_MEMORY,
  growthOf,
  growthRefusal,
  prune,
  remember,
  rememberUntil,
  reviseOutcome,
  triedWithin,
  validateMemory,
  type MemoryEntry,
  type TargetMemory,
} from '../../src/domain/target-memory';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-25T10:00:00Z');

function memoryOf(...entries: MemoryEntry[]): TargetMemory {
  return entries.reduce(remember, { ...EMPTY_MEMORY, episodes: 1 });
}

const entry = (
  policy: MemoryEntry['policy'],
  magnitude: number,
  at: number,
  outcome: MemoryEntry['outcome'] = 'applied',
) => ({ policy, magnitude, at, episode: 1, outcome }) as MemoryEntry;

describe('triedWithin', () => {
  it('remembers what changed the target within the window, not refusals and not older attempts', () => {
    const memory = memoryOf(
      entry('cpu_scale_up', 1.5, T0),
      entry('replica_scale_up', 2, T0 + 10_000, 'not_applied'),
      entry('task_offloading', 0.5, T0 + 20_000, 'rolled_back'),
    );
    expect([...triedWithin(memory, T0 + 30 * 60_000, DEFAULT_MEMORY)].sort()).toEqual([
      'cpu_scale_up',
      'task_offloading',
    ]);
    expect([...triedWithin(memory, T0 + 2 * HOUR, DEFAULT_MEMORY)]).toEqual([]);
  });
});

describe('growth cap', () => {
  it('multiplies the factors in effect on one axis within the growth window', () => {
    const memory = memoryOf(
      entry('cpu_scale_up', 1.5, T0),
      entry('cpu_scale_up', 1.5, T0 + HOUR),
      entry('cpu_scale_up', 2, T0 + 2 * HOUR, 'rolled_back'),
      entry('memory_scale_up', 3, T0 + HOUR),
    );
    expect(growthOf(memory, 'cpu', T0 + 3 * HOUR, DEFAULT_MEMORY)).toBeCloseTo(2.25);
    expect(growthOf(memory, 'memory', T0 + 3 * HOUR, DEFAULT_MEMORY)).toBe(3);
    expect(growthOf(memory, 'replicas', T0 + 3 * HOUR, DEFAULT_MEMORY)).toBe(1);
    // A day later the first change no longer counts.
    expect(growthOf(memory, 'cpu', T0 + 24 * HOUR + 1, DEFAULT_MEMORY)).toBeCloseTo(1.5);
  });

  it('refuses a step past ×4 of the original per day, allows one that lands on it, ignores shrinking and other axes', () => {
    const memory = memoryOf(entry('cpu_scale_up', 2, T0), entry('cpu_scale_up', 1.5, T0 + HOUR));
    const now = T0 + 2 * HOUR;
    const refusal = growthRefusal(memory, { policy: 'cpu_scale_up', magnitude: 1.5 }, now, DEFAULT_MEMORY);
    expect(refusal).toMatchObject({ axis: 'cpu', growth: 3, wouldBe: 4.5 });
    expect(refusal?.reason).toBe(
      'growth cap: cpu of this target already grew ×3 in the last 24 h; cpu_scale_up ×1.5 would make it ×4.5, above the cap of ×4',
    );
    const twice = memoryOf(entry('cpu_scale_up', 2, T0));
    expect(growthRefusal(twice, { policy: 'cpu_scale_up', magnitude: 2 }, now, DEFAULT_MEMORY)).toBeUndefined();
    expect(growthRefusal(memory, { policy: 'cpu_scale_down', magnitude: 0.7 }, now, DEFAULT_MEMORY)).toBeUndefined();
    expect(growthRefusal(memory, { policy: 'memory_scale_up', magnitude: 1.5 }, now, DEFAULT_MEMORY)).toBeUndefined();
    expect(growthRefusal(memory, { policy: 'task_offloading', magnitude: 0.9 }, now, DEFAULT_MEMORY)).toBeUndefined();
    // A scale-down in between counts: ×3 × ×0.5 leaves room for ×2.
    const shrunk = remember(memory, entry('cpu_scale_down', 0.5, T0 + HOUR + 1));
    expect(growthRefusal(shrunk, { policy: 'cpu_scale_up', magnitude: 2 }, now, DEFAULT_MEMORY)).toBeUndefined();
  });

  it('stops counting a change once it was rolled back', () => {
    const memory = memoryOf(entry('cpu_scale_up', 3, T0));
    expect(growthRefusal(memory, { policy: 'cpu_scale_up', magnitude: 1.5 }, T0 + 1, DEFAULT_MEMORY)).toBeDefined();
    const undone = reviseOutcome(memory, 1, 'cpu_scale_up', 'rolled_back');
    expect(undone.entries[0]!.outcome).toBe('rolled_back');
    expect(growthRefusal(undone, { policy: 'cpu_scale_up', magnitude: 1.5 }, T0 + 1, DEFAULT_MEMORY)).toBeUndefined();
    expect(reviseOutcome(memory, 2, 'cpu_scale_up', 'rolled_back')).toBe(memory);
  });
});

describe('how long a target is remembered', () => {
  it('watches for the memory window after an episode, longer while growth still counts', () => {
    const ended = T0 + 10 * 60_000;
    expect(rememberUntil(memoryOf(entry('task_offloading', 0.5, T0)), ended, DEFAULT_MEMORY)).toBe(ended + HOUR);
    expect(rememberUntil(memoryOf(entry('cpu_scale_up', 1.5, T0)), ended, DEFAULT_MEMORY)).toBe(T0 + 24 * HOUR);
    expect(rememberUntil(memoryOf(entry('cpu_scale_up', 1.5, T0, 'rolled_back')), ended, DEFAULT_MEMORY)).toBe(
      ended + HOUR,
    );
    const off = { windowSeconds: 0, growthCap: 4, growthWindowSeconds: 0 };
    expect(rememberUntil(memoryOf(entry('cpu_scale_up', 1.5, T0)), ended, off)).toBe(ended);
  });

  it('prunes what neither window needs any more', () => {
    const memory = memoryOf(entry('cpu_scale_up', 1.5, T0), entry('replica_scale_up', 2, T0 + 20 * HOUR));
    expect(prune(memory, T0 + 25 * HOUR, DEFAULT_MEMORY).entries.map((e) => e.policy)).toEqual(['replica_scale_up']);
  });

  it('refuses settings that make no sense', () => {
    expect(validateMemory(DEFAULT_MEMORY)).toBe(DEFAULT_MEMORY);
    expect(() => validateMemory({ ...DEFAULT_MEMORY, growthCap: 0.5 })).toThrow(/growth cap ≥ 1/);
    expect(() => validateMemory({ ...DEFAULT_MEMORY, windowSeconds: Number.NaN })).toThrow(/invalid escalation memory/);
  });
});
