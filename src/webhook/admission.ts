/**
 * Admission control for hand-offs to Temporal: at most `limit` alerts (or task submissions) are being
 * handed off at once, and a request that does not fit is refused at once rather than queued.
 *
 * Why refuse instead of wait: Temporal's throughput does not grow with the number of calls waiting on it,
 * so every extra concurrent hand-off only makes all of them slower (Little's law: wait ≈ in flight ÷
 * throughput). Unbounded, requests pile up until they outlive their clients' timeouts and are neither
 * accepted nor refused. Bounded, an admitted request waits at most about `limit ÷ throughput`, and the rest
 * get a fast 503 their sender retries (Alertmanager always does). A wait queue would only move the pile-up
 * from the sockets into memory, so there is none.
 */
import { HttpError } from './errors';

/** Slots held by one admitted request; give each back once its hand-off has settled. */
export interface Permit {
  /** Gives back `count` slots (all still held when omitted); giving back more than is held is a no-op. */
  release(count?: number): void;
}

export interface AdmissionOptions {
  /** Most hand-offs in flight at once (≥ 1). */
  readonly limit: number;
  /** Told the new count whenever it changes (the in-flight gauge). */
  readonly onChange?: (inFlight: number) => void;
}

export class Admission {
  readonly limit: number;
  private inFlightCount = 0;
  private readonly onChange: ((inFlight: number) => void) | undefined;

  constructor(options: AdmissionOptions) {
    if (!Number.isInteger(options.limit) || options.limit < 1) {
      throw new RangeError(`admission limit must be an integer ≥ 1, got ${options.limit}`);
    }
    this.limit = options.limit;
    this.onChange = options.onChange;
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  /**
   * `count` slots now, or undefined when they are not free. A request larger than the whole limit is
   * admitted when nothing else is in flight, so no payload is refused forever; while it runs, everything
   * else is refused, which keeps the total bounded by max(limit, largest payload).
   */
  tryAcquire(count: number): Permit | undefined {
    if (count < 1) return { release: () => undefined };
    const fits = this.inFlightCount + count <= this.limit || this.inFlightCount === 0;
    if (!fits) return undefined;
    this.change(count);
    let held = count;
    return {
      release: (n = held) => {
        const given = Math.min(Math.max(0, n), held);
        if (given === 0) return;
        held -= given;
        this.change(-given);
      },
    };
  }

  private change(delta: number): void {
    this.inFlightCount += delta;
    this.onChange?.(this.inFlightCount);
  }
}

/** The 503 for a request that did not fit; the error handler counts `alerts` as rejected `overloaded`. */
export function overloaded(what: string, alerts: number, retryAfterSeconds: number): HttpError {
  return new HttpError(
    503,
    'overloaded',
    `too many ${what} are being handed to Temporal right now; retry in ${retryAfterSeconds} s`,
    undefined,
    undefined,
    { retryAfterSeconds, rejectedCount: alerts },
  );
}

/**
 * Runs `handOff` and gives one slot back when its promise settles — not when the caller stops waiting:
 * a hand-off the caller timed out on may still be talking to Temporal, and freeing its slot early would
 * let the real concurrency grow past the limit exactly when Temporal is slowest. The sink's gRPC deadline
 * bounds how long that can take.
 */
export function holdingSlot<T>(permit: Permit, handOff: () => Promise<T>): Promise<T> {
  // Called inside an async function so a sink that throws instead of rejecting still gives its slot back.
  const promise = (async () => handOff())();
  // The settled copy only releases; the caller still sees (and must handle) the original rejection.
  promise.then(
    () => permit.release(1),
    () => permit.release(1),
  );
  return promise;
}
