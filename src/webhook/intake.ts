/**
 * Group commit for alert storms: alerts from concurrent requests are appended to the alert intake
 * (src/contracts/alert-intake.ts) in batches, one durable write per shard at a time, and each request is answered
 * once the batch holding its alerts is in Temporal. While a shard's write is in flight the next batch
 * gathers, so a storm costs one Temporal call per batch instead of one workflow start per alert, and the
 * answer waits about one write, not a queue of them. One write in flight per shard also keeps every
 * notification of an alert (same shard: same sender group key, or same alert id) in the order it arrived.
 */
import { alertWorkflowId, type TalonAlert } from '../domain/alert';
import { intakeShardOf } from '../contracts/alert-intake';
import { withTimeout } from './timeout';

/** Where batches go; TalonClient implements it. Must give up (and stop retrying) at the deadline. */
export interface IntakeSink {
  queueAlerts(shard: number, alerts: readonly TalonAlert[], deadline: Date): Promise<void>;
}

export interface IntakeOptions {
  readonly sink: IntakeSink;
  readonly shards: number;
  readonly maxBatch: number;
  /** Most alerts held (waiting or being written) at once; a request that does not fit is refused. */
  readonly maxPending: number;
  /** One write's deadline. */
  readonly timeoutMs: number;
  /** Told the size of every batch written and how long its write took. */
  readonly onBatch?: (alerts: number, seconds: number) => void;
  /** Told the number of alerts held whenever it changes. */
  readonly onPending?: (alerts: number) => void;
}

interface Entry {
  readonly alerts: readonly TalonAlert[];
  resolve(): void;
  reject(err: unknown): void;
}

interface Shard {
  readonly waiting: Entry[];
  writing: boolean;
}

function checkCount(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
}

/**
 * Most bytes of alerts in one intake write. Temporal refuses a payload over 2 MiB (its default blob size limit)
 * and warns from 512 KiB; alerts with long annotations reach that well before `maxBatch` alerts.
 */
export const MAX_BATCH_BYTES = 1024 * 1024;

/** An alert's size as JSON, what it costs inside a signal's payload. */
function alertBytes(alert: TalonAlert): number {
  return JSON.stringify(alert).length;
}

function estimateBytes(alerts: readonly TalonAlert[]): number {
  let total = 0;
  for (const a of alerts) total += alertBytes(a);
  return total;
}

/** Splits `alerts`, in order, into chunks of at most `maxCount` alerts and (unless one alert alone is larger) `maxBytes`. */
export function chunkAlerts(alerts: readonly TalonAlert[], maxCount: number, maxBytes: number): TalonAlert[][] {
  const chunks: TalonAlert[][] = [];
  let current: TalonAlert[] = [];
  let bytes = 0;
  for (const alert of alerts) {
    const size = alertBytes(alert);
    if (current.length > 0 && (current.length >= maxCount || bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(alert);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export class IntakeBatcher {
  private readonly shards: Shard[];
  private held = 0;
  private lastUsedAt = -Infinity;

  constructor(private readonly options: IntakeOptions) {
    checkCount('intake shards', options.shards, 1, 64);
    checkCount('intake batch size', options.maxBatch, 1, 1000);
    checkCount('intake pending bound', options.maxPending, 1, 1_000_000);
    this.shards = Array.from({ length: options.shards }, () => ({ waiting: [], writing: false }));
  }

  /** Alerts held right now (waiting for or inside a write). */
  get pending(): number {
    return this.held;
  }

  /** Whether anything was submitted within the last `ms` (the webhook then routes stray resolves here too). */
  usedWithin(ms: number, now = Date.now()): boolean {
    return now - this.lastUsedAt <= ms;
  }

  /**
   * Appends `alerts` (all on the shard of `groupKey` when the sender grouped them: every notification of an
   * alert carries the same key, so order per alert holds either way); the promise settles once every one of them is durably in the intake (rejecting if
   * any write failed: the sender retries the whole payload, and a repeat is harmless). Undefined when the
   * pending bound leaves no room (the caller answers 503 overloaded); an oversize request fits when idle.
   */
  submit(alerts: readonly TalonAlert[], groupKey?: string): Promise<void> | undefined {
    if (alerts.length === 0) return Promise.resolve();
    if (this.held > 0 && this.held + alerts.length > this.options.maxPending) return undefined;
    this.lastUsedAt = Date.now();
    this.changeHeld(alerts.length);
    // A group key keeps the payload in one write; without one each alert goes by its own id.
    const groupShard = groupKey ? intakeShardOf(groupKey, this.options.shards) : undefined;
    const byShard = new Map<number, TalonAlert[]>();
    for (const alert of alerts) {
      const shard = groupShard ?? intakeShardOf(alertWorkflowId(alert), this.options.shards);
      const list = byShard.get(shard) ?? [];
      list.push(alert);
      byShard.set(shard, list);
    }
    // A large group is queued as several entries in order, so no single write exceeds the batch bounds.
    const writes = [...byShard].flatMap(([shard, list]) =>
      chunkAlerts(list, this.options.maxBatch, MAX_BATCH_BYTES).map(
        (chunk) =>
          new Promise<void>((resolve, reject) => {
            this.shards[shard]!.waiting.push({ alerts: chunk, resolve, reject });
            this.kick(shard);
          }),
      ),
    );
    return Promise.all(writes).then(() => undefined);
  }

  private changeHeld(delta: number): void {
    this.held += delta;
    this.options.onPending?.(this.held);
  }

  private kick(index: number): void {
    const shard = this.shards[index]!;
    if (shard.writing || shard.waiting.length === 0) return;
    shard.writing = true;
    // Yield once so requests parsed in the same turn of the event loop join this batch.
    setImmediate(() => void this.write(index));
  }

  private async write(index: number): Promise<void> {
    const shard = this.shards[index]!;
    const entries: Entry[] = [];
    let count = 0;
    let bytes = 0;
    while (shard.waiting.length > 0) {
      const next = shard.waiting[0]!;
      const size = next.alerts.length;
      const weight = estimateBytes(next.alerts);
      if (entries.length > 0 && (count + size > this.options.maxBatch || bytes + weight > MAX_BATCH_BYTES)) break;
      entries.push(shard.waiting.shift()!);
      count += size;
      bytes += weight;
    }
    const alerts = entries.flatMap((e) => e.alerts);
    const started = performance.now();
    const { timeoutMs } = this.options;
    try {
      // The deadline stops the gRPC retries; the timeout is the backstop should a sink ignore it.
      await withTimeout(
        this.options.sink.queueAlerts(index, alerts, new Date(Date.now() + timeoutMs)),
        timeoutMs + 1_000,
        `the alert intake did not answer within ${timeoutMs} ms`,
      );
      this.options.onBatch?.(alerts.length, (performance.now() - started) / 1000);
      for (const e of entries) e.resolve();
    } catch (err) {
      for (const e of entries) e.reject(err);
    } finally {
      this.changeHeld(-count);
      shard.writing = false;
      this.kick(index);
    }
  }
}
