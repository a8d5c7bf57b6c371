/**
 * InfluxDB adapter: batched, retried writes of every gathered window and every remediation outcome, and
 * Flux reads of a workload's history. Writes are fire-and-forget by design: a failing InfluxDB must never
 * fail a remediation, so write failures are retried by the client library and counted here, never thrown.
 *
 * Measurements (tags | fields):
 * - talon_features   — one point per observed step (namespace, pod, workload, container | one field per
 *                      observed feature), time = the step; re-gathers overwrite identical points.
 * - talon_window     — one point per gather (namespace, pod, workload, container, source, kind |
 *                      quality_score, real_fraction, staleness_s, freshness, coverage, step_s, limits, reason).
 * - talon_remediation — one point per outcome (namespace, workload, policy, outcome, decision_source |
 *                      workflow_id, pod, magnitude, attempt, score, duration_s, fallback, detail).
 */
import { flux, HttpError, InfluxDB, Point, type QueryApi, type WriteApi } from '@influxdata/influxdb-client';
import { z } from 'zod';
import { MODEL_FEATURES, type ModelFeature } from '../domain/features';
import type { PolicyName } from '../domain/policy';
import {
  isModelFeature,
  stepTimes,
  workloadOf,
  type GatherOutcome,
  type WindowHistory,
  type WindowTarget,
} from '../domain/window';
import { InfluxClosedError, InfluxQueryError } from './errors';
import type { Sample } from './window';

export interface InfluxOptions {
  readonly url: string;
  readonly token: string;
  readonly org: string;
  /** `database/retention-policy` on InfluxDB 1.x. */
  readonly bucket: string;
  readonly batchSize?: number;
  readonly flushIntervalMs?: number;
  readonly maxRetries?: number;
  readonly minRetryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
  readonly maxRetryTimeMs?: number;
  readonly maxBufferLines?: number;
  readonly timeoutMs?: number;
}

export const MEASUREMENTS = {
  features: 'talon_features',
  windows: 'talon_window',
  outcomes: 'talon_remediation',
} as const;

/** Tag value standing for "all containers of the pod summed" (InfluxDB drops empty tags). */
export const ALL_CONTAINERS = '_all';

export interface InfluxCounters {
  /** Points handed to the writer. */
  readonly queued: number;
  readonly written: number;
  /** Points whose failed write was scheduled for another attempt (a point may count several times). */
  readonly retried: number;
  /** Points given up on: retries exhausted, rejected by InfluxDB (4xx), or still unwritten at close. */
  readonly dropped: number;
  /** Failed write requests. */
  readonly failures: number;
}

/** One remediation's outcome, as the workflow's record step reports it. */
export interface RemediationRecord {
  readonly workflowId: string;
  readonly namespace: string;
  readonly workload: string;
  readonly pod?: string;
  readonly policy: PolicyName;
  readonly magnitude: number;
  /** e.g. resolved, escalated, failed, needs_human, dry_run. */
  readonly outcome: string;
  readonly decisionSource: 'model' | 'rules';
  readonly attempt: number;
  /** Unix seconds; with the tags it identifies the point, so recording twice overwrites. */
  readonly at: number;
  readonly score?: number;
  readonly durationSeconds?: number;
  readonly fallbackReason?: string;
  readonly detail?: string;
}

/** A workload's past from InfluxDB: load statistics (shares of the limit) and its remediation record. */
export interface WorkloadProfile {
  readonly namespace: string;
  readonly workload: string;
  readonly sinceSeconds: number;
  readonly history: WindowHistory;
  readonly remediations: {
    readonly total: number;
    readonly byOutcome: Readonly<Record<string, number>>;
    readonly lastAt?: number;
    readonly lastPolicy?: string;
    readonly lastOutcome?: string;
    /** Mean duration of resolved remediations: a measured basis for the adaptive cool-down. */
    readonly meanResolveSeconds?: number;
  };
}

const number = z.number().refine(Number.isFinite);
const profileRow = z.object({ result: z.string(), _field: z.string().optional() });

function isPermanent(error: unknown): boolean {
  return error instanceof HttpError && error.statusCode >= 400 && error.statusCode < 500 && error.statusCode !== 429;
}

/** InfluxDB 1.x answers a Flux compile error with HTTP 500; its "error @line:col" position gives it away. */
const FLUX_COMPILE_ERROR = /compilation failed|error @\d+:\d+-\d+:\d+/;

function isPermanentQueryError(error: unknown): boolean {
  if (isPermanent(error)) return true;
  return error instanceof HttpError && FLUX_COMPILE_ERROR.test(`${error.body ?? ''} ${error.message}`);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class InfluxStore {
  private readonly writeApi: WriteApi;
  private readonly queryApi: QueryApi;
  private readonly bucket: string;
  private readonly maxRetries: number;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private closed = false;
  private counts = { queued: 0, written: 0, retried: 0, dropped: 0, failures: 0 };
  /** Points handed to the library since the last send. */
  private unsent = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Sends started by size or timer, so flush() can wait for them too. */
  private readonly inflight = new Set<Promise<void>>();

  constructor(options: InfluxOptions) {
    const influx = new InfluxDB({ url: options.url, token: options.token, timeout: options.timeoutMs ?? 10_000 });
    this.bucket = options.bucket;
    this.maxRetries = options.maxRetries ?? 3;
    this.batchSize = options.batchSize ?? 500;
    this.flushIntervalMs = options.flushIntervalMs ?? 1_000;
    // Batching is driven from here (size and timer), not by the library, whose own size- and timer-triggered
    // sends cannot be awaited: flush() must know when everything handed over has been answered.
    this.writeApi = influx.getWriteApi(options.org, options.bucket, 'ms', {
      batchSize: this.batchSize + 1,
      flushInterval: 0,
      maxRetries: this.maxRetries,
      minRetryDelay: options.minRetryDelayMs ?? 200,
      maxRetryDelay: options.maxRetryDelayMs ?? 5_000,
      maxRetryTime: options.maxRetryTimeMs ?? 60_000,
      maxBufferLines: options.maxBufferLines ?? 50_000,
      retryJitter: 100,
      writeSuccess: (lines) => {
        this.counts.written += lines.length;
      },
      writeFailed: (error, lines, attempt) => {
        this.counts.failures++;
        // Mirrors the library's own decision: it retries non-HTTP errors and 429/5xx while attempts remain.
        const willRetry = !this.closed && !isPermanent(error) && attempt <= this.maxRetries;
        if (willRetry) this.counts.retried += lines.length;
        else this.counts.dropped += lines.length;
      },
      writeRetrySkipped: (entry) => {
        this.counts.dropped += entry.lines.length;
      },
    });
    this.queryApi = influx.getQueryApi(options.org);
  }

  counters(): InfluxCounters {
    return { ...this.counts };
  }

  /** Points queued but neither written nor dropped yet. */
  pending(): number {
    return Math.max(0, this.counts.queued - this.counts.written - this.counts.dropped);
  }

  /** Queues raw points (batched by the writer). Throws only after close(). */
  writePoints(points: readonly Point[]): void {
    if (this.closed) throw new InfluxClosedError();
    for (const point of points) {
      // Sending before the library's buffer reaches its own batch size keeps every send one we can await.
      if (this.unsent >= this.batchSize) this.send();
      this.writeApi.writePoint(point);
      this.counts.queued++;
      this.unsent++;
    }
    if (this.unsent >= this.batchSize) this.send();
    else if (this.timer === undefined && this.unsent > 0) {
      this.timer = setTimeout(() => this.send(), this.flushIntervalMs);
      this.timer.unref();
    }
  }

  /** Hands the library's buffer to InfluxDB; failures go to the library's retry buffer and the counters. */
  private send(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.unsent === 0) return;
    this.unsent = 0;
    const sending: Promise<void> = this.writeApi
      .flush()
      .catch(() => undefined)
      .finally(() => this.inflight.delete(sending));
    this.inflight.add(sending);
  }

  /** Queues the snapshot of a gathered window: its observed steps and a summary point. */
  recordWindow(outcome: GatherOutcome): void {
    this.writePoints([...featurePoints(outcome), windowPoint(outcome)]);
  }

  recordOutcome(record: RemediationRecord): void {
    this.writePoints([outcomePoint(record)]);
  }

  /** Sends everything buffered, retry buffer included; resolves false (never throws) when something failed. */
  async flush(): Promise<boolean> {
    if (this.closed) return this.pending() === 0;
    this.send();
    await Promise.all([...this.inflight]);
    try {
      await this.writeApi.flush(true);
    } catch {
      return false;
    }
    return this.pending() === 0;
  }

  /** Final flush, then close; whatever is still unwritten is counted as dropped. */
  async close(): Promise<InfluxCounters> {
    if (this.closed) return this.counters();
    await this.flush();
    this.closed = true;
    try {
      await this.writeApi.close();
    } catch {
      // Counted below: the lines are still pending.
    }
    this.counts.dropped += this.pending();
    return this.counters();
  }

  /** Runs a Flux query and returns its rows; typed errors say whether a retry can help. */
  async rows(query: ReturnType<typeof flux> | string): Promise<Record<string, unknown>[]> {
    try {
      return await this.queryApi.collectRows<Record<string, unknown>>(query);
    } catch (error) {
      const status = error instanceof HttpError ? error.statusCode : undefined;
      throw new InfluxQueryError(`Flux query failed: ${describe(error)}`, isPermanentQueryError(error), status, error);
    }
  }

  /** Observed feature samples of one pod between two unix times, per feature. */
  async featureSamples(
    target: WindowTarget,
    startSeconds: number,
    stopSeconds: number,
  ): Promise<Partial<Record<ModelFeature, Sample[]>>> {
    const query = flux`from(bucket: ${this.bucket})
  |> range(start: ${new Date(startSeconds * 1000)}, stop: ${new Date(stopSeconds * 1000 + 1)})
  |> filter(fn: (r) => r._measurement == ${MEASUREMENTS.features} and r.namespace == ${target.namespace} and r.pod == ${target.pod} and r.container == ${target.container ?? ALL_CONTAINERS})
  |> keep(columns: ["_time", "_field", "_value"])`;
    const rows = await this.rows(query);
    const out: Partial<Record<ModelFeature, Sample[]>> = {};
    for (const row of rows) {
      const field = row._field;
      const value = row._value;
      const time = typeof row._time === 'string' ? Date.parse(row._time) : Number.NaN;
      if (!isModelFeature(field) || typeof value !== 'number' || !Number.isFinite(time)) continue;
      (out[field] ??= []).push({ t: time / 1000, v: value });
    }
    for (const samples of Object.values(out)) samples.sort((a, b) => a.t - b.t);
    return out;
  }

  /** Load statistics and remediation record of a workload over the last `sinceSeconds`. */
  async workloadProfile(
    namespace: string,
    workload: string,
    sinceSeconds: number,
    nowSeconds: number = Date.now() / 1000,
  ): Promise<WorkloadProfile> {
    const start = new Date((nowSeconds - sinceSeconds) * 1000);
    const stop = new Date(nowSeconds * 1000 + 1);
    const query = flux`load = from(bucket: ${this.bucket})
  |> range(start: ${start}, stop: ${stop})
  |> filter(fn: (r) => r._measurement == ${MEASUREMENTS.features} and r.namespace == ${namespace} and r.workload == ${workload} and r.container == ${ALL_CONTAINERS} and (r._field == "cpu_usage" or r._field == "memory_usage"))
  |> group(columns: ["_field"])
load |> mean() |> yield(name: "mean")
load |> quantile(q: 0.95, method: "exact_selector") |> keep(columns: ["_field", "_value"]) |> yield(name: "p95")
load |> count() |> yield(name: "count")
outcomes = from(bucket: ${this.bucket})
  |> range(start: ${start}, stop: ${stop})
  |> filter(fn: (r) => r._measurement == ${MEASUREMENTS.outcomes} and r.namespace == ${namespace} and r.workload == ${workload})
outcomes |> filter(fn: (r) => r._field == "magnitude") |> group(columns: ["outcome"]) |> count() |> keep(columns: ["outcome", "_value"]) |> yield(name: "outcomes")
outcomes |> filter(fn: (r) => r._field == "magnitude") |> group() |> sort(columns: ["_time"]) |> last() |> keep(columns: ["_time", "policy", "outcome"]) |> yield(name: "last")
outcomes |> filter(fn: (r) => r._field == "duration_s" and r.outcome == "resolved") |> group() |> mean() |> yield(name: "resolve")`;
    const rows = await this.rows(query);
    const stats: Record<string, Record<string, number>> = {};
    const byOutcome: Record<string, number> = {};
    let last: { at: number; policy?: string; outcome?: string } | undefined;
    let meanResolve: number | undefined;
    for (const raw of rows) {
      const parsed = profileRow.safeParse(raw);
      if (!parsed.success) continue;
      const { result, _field: field } = parsed.data;
      const value = number.safeParse(raw._value);
      if (result === 'outcomes' && value.success && typeof raw.outcome === 'string')
        byOutcome[raw.outcome] = value.data;
      else if (result === 'last' && typeof raw._time === 'string') {
        last = {
          at: Date.parse(raw._time) / 1000,
          ...(typeof raw.policy === 'string' ? { policy: raw.policy } : {}),
          ...(typeof raw.outcome === 'string' ? { outcome: raw.outcome } : {}),
        };
      } else if (result === 'resolve' && value.success) meanResolve = value.data;
      else if (field && value.success) (stats[result] ??= {})[field] = value.data;
    }
    const pick = (result: string, field: string) => stats[result]?.[field];
    const history: WindowHistory = {
      samples: pick('count', 'cpu_usage') ?? 0,
      sinceSeconds,
      ...defined('cpuMean', pick('mean', 'cpu_usage')),
      ...defined('cpuP95', pick('p95', 'cpu_usage')),
      ...defined('memoryMean', pick('mean', 'memory_usage')),
      ...defined('memoryP95', pick('p95', 'memory_usage')),
    };
    return {
      namespace,
      workload,
      sinceSeconds,
      history,
      remediations: {
        total: Object.values(byOutcome).reduce((a, b) => a + b, 0),
        byOutcome,
        ...(last ? { lastAt: last.at } : {}),
        ...(last?.policy ? { lastPolicy: last.policy } : {}),
        ...(last?.outcome ? { lastOutcome: last.outcome } : {}),
        ...defined('meanResolveSeconds', meanResolve),
      },
    };
  }
}

function defined<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

function targetTags(point: Point, target: WindowTarget): Point {
  return point
    .tag('namespace', target.namespace)
    .tag('pod', target.pod)
    .tag('workload', workloadOf(target))
    .tag('container', target.container ?? ALL_CONTAINERS);
}

/** One point per step with the features observed at that step (filled gaps are not history). */
export function featurePoints(outcome: GatherOutcome): Point[] {
  if (outcome.kind !== 'window') return [];
  const times = stepTimes(outcome);
  const points: Point[] = [];
  outcome.values.forEach((row, step) => {
    const point = targetTags(new Point(MEASUREMENTS.features), outcome.target);
    let fields = 0;
    MODEL_FEATURES.forEach((feature, i) => {
      const value = row[i];
      if (outcome.observed[step]?.[i] && value !== undefined && Number.isFinite(value)) {
        point.floatField(feature, value);
        fields++;
      }
    });
    const t = times[step];
    if (fields > 0 && t !== undefined) points.push(point.timestamp(new Date(t * 1000)));
  });
  return points;
}

export function windowPoint(outcome: GatherOutcome): Point {
  const point = targetTags(new Point(MEASUREMENTS.windows), outcome.target)
    .tag('source', outcome.source)
    .tag('kind', outcome.kind)
    .intField('step_s', outcome.stepSeconds)
    .intField('steps', outcome.steps)
    .timestamp(new Date(outcome.end * 1000));
  if (outcome.kind === 'insufficient') return point.stringField('reason', outcome.reason);
  const q = outcome.quality;
  point
    .floatField('quality_score', q.score)
    .floatField('real_fraction', q.realFraction)
    .floatField('staleness_s', q.stalenessSeconds)
    .floatField('freshness', q.freshness)
    .floatField('coverage', q.coverage);
  const r = outcome.resources ?? {};
  if (r.cpuLimitCores !== undefined) point.floatField('cpu_limit_cores', r.cpuLimitCores);
  if (r.cpuRequestCores !== undefined) point.floatField('cpu_request_cores', r.cpuRequestCores);
  if (r.memoryLimitBytes !== undefined) point.floatField('memory_limit_bytes', r.memoryLimitBytes);
  if (r.memoryRequestBytes !== undefined) point.floatField('memory_request_bytes', r.memoryRequestBytes);
  return point;
}

export function outcomePoint(r: RemediationRecord): Point {
  const point = new Point(MEASUREMENTS.outcomes)
    .tag('namespace', r.namespace)
    .tag('workload', r.workload)
    .tag('policy', r.policy)
    .tag('outcome', r.outcome)
    .tag('decision_source', r.decisionSource)
    .stringField('workflow_id', r.workflowId)
    .floatField('magnitude', r.magnitude)
    .intField('attempt', r.attempt)
    .booleanField('fallback', r.fallbackReason !== undefined)
    .timestamp(new Date(r.at * 1000));
  if (r.pod !== undefined) point.stringField('pod', r.pod);
  if (r.score !== undefined) point.floatField('score', r.score);
  if (r.durationSeconds !== undefined) point.floatField('duration_s', r.durationSeconds);
  if (r.fallbackReason !== undefined) point.stringField('fallback_reason', r.fallbackReason);
  if (r.detail !== undefined) point.stringField('detail', r.detail);
  return point;
}
