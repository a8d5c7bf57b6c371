/**
 * Memory of a lab container: a resident part (base + per core of work + whatever a leak has accumulated since
 * the container started) and page cache — filled as the application reads, empty after a restart — that the
 * kernel gives back before it kills anyone. Resident memory above
 * the limit is an OOM kill. Pure.
 */

export interface MemoryProfile {
  readonly baseBytes: number;
  readonly perCoreBytes: number;
  readonly cacheBytes: number;
  /** How fast the cache fills (bytes per second of uptime). */
  readonly cacheFillBytesPerSecond: number;
}

/** The cache never pushes the working set above this share of the limit (reclaim starts before). */
export const CACHE_CEILING = 0.95;

export interface MemoryState {
  /** Bytes a leak has added since the container (re)started. */
  readonly leakBytes: number;
  /** Page cache held now. */
  readonly cacheBytes: number;
}

export interface MemoryStep {
  readonly leakBytes: number;
  readonly cacheBytes: number;
  readonly residentBytes: number;
  /** What cAdvisor calls the working set: resident + active cache. */
  readonly workingSetBytes: number;
  readonly oomKilled: boolean;
}

/** One tick: the leak grows, the cache fills what the limit leaves, resident above the limit is killed. */
export function memoryStep(
  profile: MemoryProfile,
  state: MemoryState,
  opts: {
    readonly usedCores: number;
    readonly leakBytesPerSecond: number;
    readonly dt: number;
    readonly limitBytes: number;
  },
): MemoryStep {
  const leakBytes = state.leakBytes + Math.max(0, opts.leakBytesPerSecond) * opts.dt;
  const residentBytes = profile.baseBytes + profile.perCoreBytes * opts.usedCores + leakBytes;
  const limit = opts.limitBytes > 0 ? opts.limitBytes : Number.POSITIVE_INFINITY;
  if (residentBytes > limit) {
    // The kernel kills the container; it restarts with its base memory and an empty cache.
    return {
      leakBytes: 0,
      cacheBytes: 0,
      residentBytes: profile.baseBytes,
      workingSetBytes: profile.baseBytes,
      oomKilled: true,
    };
  }
  const room = Number.isFinite(limit) ? Math.max(0, limit * CACHE_CEILING - residentBytes) : profile.cacheBytes;
  const filled = state.cacheBytes + Math.max(0, profile.cacheFillBytesPerSecond) * opts.dt;
  const cacheBytes = Math.min(profile.cacheBytes, room, filled);
  return { leakBytes, cacheBytes, residentBytes, workingSetBytes: residentBytes + cacheBytes, oomKilled: false };
}
