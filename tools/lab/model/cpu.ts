/**
 * CPU of the lab's containers: the limit caps what a container gets (CFS quota), the node's capacity is shared
 * when the pods on it want more than it has (contention), unserved work queues up and is dropped after a
 * timeout, and latency follows utilisation and the queue. Pure.
 */

/** Work a container may queue before requests time out, in seconds of its available CPU. */
export const MAX_QUEUE_SECONDS = 30;

/**
 * Share of CFS periods (100 ms) in which the container hit its quota. Demand arrives in bursts, so periods
 * start to throttle before the mean reaches the quota: none at 90 % of the limit, all at 110 %.
 */
export function throttledFraction(wantedCores: number, limitCores: number, queued: boolean): number {
  if (!(limitCores > 0)) return 0;
  if (queued) return 1;
  return Math.min(1, Math.max(0, (wantedCores / limitCores - 0.9) / 0.2));
}

/**
 * The node's CPU shared among the containers on it, each already capped by its limit: everyone gets what it
 * asks while the sum fits, else a proportional share (CFS with equal weight per core asked).
 */
export function shareNodeCpu(capacityCores: number, asks: readonly number[]): number[] {
  const total = asks.reduce((a, b) => a + b, 0);
  if (total <= capacityCores || total <= 0) return [...asks];
  const f = capacityCores / total;
  return asks.map((a) => a * f);
}

export interface QueueStep {
  /** Core-seconds of work waiting after this tick. */
  readonly backlog: number;
  /** Cores the container actually used during the tick (new work plus draining the queue). */
  readonly usedCores: number;
  /** Core-seconds of work dropped (timed out) during the tick. */
  readonly dropped: number;
}

/**
 * One tick of a container's run queue: `wanted` cores of new work arrive, `available` cores serve them and the
 * backlog; what the queue cannot hold beyond {@link MAX_QUEUE_SECONDS} is dropped.
 */
export function queueStep(backlog: number, wanted: number, available: number, dt: number): QueueStep {
  const capacity = Math.max(0, available) * dt;
  const work = backlog + Math.max(0, wanted) * dt;
  const done = Math.min(work, capacity);
  let left = work - done;
  const maxBacklog = Math.max(0, available) * MAX_QUEUE_SECONDS;
  let dropped = 0;
  if (left > maxBacklog) {
    dropped = left - maxBacklog;
    left = maxBacklog;
  }
  return { backlog: left, usedCores: dt > 0 ? done / dt : 0, dropped };
}

/**
 * p95 latency of a request (seconds): the base service time stretched by utilisation (a queueing knee:
 * 1.25× at 50 %, 3.6× at 80 %, 8× at 90 %), plus the wait behind the queued work, plus the network's share.
 */
export function p95Latency(opts: {
  readonly baseSeconds: number;
  readonly utilisation: number;
  readonly backlog: number;
  readonly availableCores: number;
  readonly networkSeconds: number;
}): number {
  const rho = Math.min(Math.max(opts.utilisation, 0), 0.98);
  const compute = opts.baseSeconds * (1 + rho ** 3 / (1 - rho));
  const wait = opts.availableCores > 0 ? opts.backlog / opts.availableCores : MAX_QUEUE_SECONDS;
  return compute + Math.min(wait, MAX_QUEUE_SECONDS) + opts.networkSeconds;
}

/** Share of a container's CPU time spent in user mode: compute mostly user, data handling mostly kernel. */
export function userShare(ioCpuShare: number): number {
  return (1 - ioCpuShare) * 0.9 + ioCpuShare * 0.4;
}
