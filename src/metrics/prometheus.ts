/**
 * A small Prometheus HTTP API client over fetch: instant and range queries with a per-attempt timeout,
 * retries with exponential backoff and jitter on transient failures (connection errors, timeouts, 429, 5xx),
 * typed errors for everything else, and zod validation of every answer.
 */
import { z } from 'zod';
import {
  PrometheusQueryError,
  PrometheusRequestError,
  PrometheusResponseError,
  PrometheusUnavailableError,
} from './errors';
import type { Sample } from './window';

export interface PrometheusClientOptions {
  readonly url: string;
  /** Per attempt, also sent to Prometheus as the query's own timeout. */
  readonly timeoutMs?: number;
  /** Extra attempts after a transient failure. */
  readonly retries?: number;
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

export interface InstantSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly sample: Sample;
}

export interface RangeSeries {
  readonly metric: Readonly<Record<string, string>>;
  readonly samples: readonly Sample[];
}

export interface PrometheusStats {
  requests: number;
  retries: number;
  failures: number;
}

const sampleValue = z.tuple([z.number(), z.string()]);
const labels = z.record(z.string(), z.string());
const data = z.discriminatedUnion('resultType', [
  z.object({ resultType: z.literal('vector'), result: z.array(z.object({ metric: labels, value: sampleValue })) }),
  z.object({
    resultType: z.literal('matrix'),
    result: z.array(z.object({ metric: labels, values: z.array(sampleValue) })),
  }),
  z.object({ resultType: z.literal('scalar'), result: sampleValue }),
  z.object({ resultType: z.literal('string'), result: sampleValue }),
]);
const success = z.object({ status: z.literal('success'), data, warnings: z.array(z.string()).optional() });
const failure = z.object({ status: z.literal('error'), errorType: z.string(), error: z.string() });

type QueryData = z.output<typeof data>;

/** Prometheus encodes values as strings, including NaN and ±Inf. */
export function parseSampleValue(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class PrometheusClient {
  readonly url: string;
  readonly stats: PrometheusStats = { requests: 0, retries: 0, failures: 0 };
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly headers: Readonly<Record<string, string>>;
  private readonly fetchFn: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(options: PrometheusClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.retries = options.retries ?? 2;
    this.backoffMs = options.backoffMs ?? 200;
    this.maxBackoffMs = options.maxBackoffMs ?? 2_000;
    this.headers = options.headers ?? {};
    this.fetchFn = options.fetch ?? fetch;
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
  }

  /** Evaluates an instant query; `time` in unix seconds (default: now on the server). */
  async query(promql: string, time?: number): Promise<InstantSample[]> {
    const params: Record<string, string> = { query: promql };
    if (time !== undefined) params.time = String(time);
    const result = await this.post('/api/v1/query', params, promql);
    switch (result.resultType) {
      case 'vector':
        return result.result.map((r) => ({
          metric: r.metric,
          sample: { t: r.value[0], v: parseSampleValue(r.value[1]) },
        }));
      case 'scalar':
        return [{ metric: {}, sample: { t: result.result[0], v: parseSampleValue(result.result[1]) } }];
      default:
        throw new PrometheusResponseError(`instant query returned a ${result.resultType}, expected a vector`);
    }
  }

  /** Evaluates a range query on the grid start, start + step, ..., end (unix seconds). */
  async queryRange(promql: string, start: number, end: number, stepSeconds: number): Promise<RangeSeries[]> {
    const result = await this.post(
      '/api/v1/query_range',
      { query: promql, start: String(start), end: String(end), step: String(stepSeconds) },
      promql,
    );
    if (result.resultType !== 'matrix') {
      throw new PrometheusResponseError(`range query returned a ${result.resultType}, expected a matrix`);
    }
    return result.result.map((r) => ({
      metric: r.metric,
      samples: r.values.map(([t, v]) => ({ t, v: parseSampleValue(v) })),
    }));
  }

  /** True when /-/ready answers 200 within the timeout; never throws. */
  async ready(): Promise<boolean> {
    try {
      const res = await this.fetchFn(`${this.url}/-/ready`, { signal: AbortSignal.timeout(this.timeoutMs) });
      await res.body?.cancel();
      return res.ok;
    } catch {
      return false;
    }
  }

  private backoff(attempt: number): number {
    const base = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** (attempt - 1));
    // Equal jitter: never less than half the base, so retries cannot stampede back at once.
    return base / 2 + (this.random() * base) / 2;
  }

  private async post(path: string, params: Record<string, string>, promql: string): Promise<QueryData> {
    const url = `${this.url}${path}`;
    const body = new URLSearchParams({ ...params, timeout: `${Math.max(1, Math.floor(this.timeoutMs / 1000))}s` });
    let last: PrometheusUnavailableError | undefined;
    for (let attempt = 1; attempt <= this.retries + 1; attempt++) {
      if (attempt > 1) {
        this.stats.retries++;
        await this.sleep(this.backoff(attempt - 1));
      }
      this.stats.requests++;
      let res: Response;
      let text: string;
      try {
        res = await this.fetchFn(url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...this.headers },
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        text = await res.text();
      } catch (error) {
        // AbortSignal.timeout rejects with a DOMException, which is not always `instanceof Error` across realms.
        const name = (error as { name?: unknown } | null)?.name;
        const timedOut = name === 'TimeoutError' || name === 'AbortError';
        last = new PrometheusUnavailableError(this.url, timedOut ? 'timeout' : 'connection', attempt, undefined, error);
        continue;
      }
      if (res.status === 429 || res.status >= 500) {
        last = new PrometheusUnavailableError(this.url, 'server', attempt, res.status, new Error(text.slice(0, 500)));
        continue;
      }
      return this.interpret(url, res.status, text, promql);
    }
    this.stats.failures++;
    throw last ?? new PrometheusUnavailableError(this.url, 'connection', this.retries + 1);
  }

  private interpret(url: string, status: number, text: string, promql: string): QueryData {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      this.stats.failures++;
      if (status >= 400) throw new PrometheusRequestError(url, status, text.slice(0, 300), error);
      throw new PrometheusResponseError(
        `Prometheus answered HTTP ${status} with non-JSON: ${text.slice(0, 200)}`,
        error,
      );
    }
    if (status >= 400) {
      this.stats.failures++;
      const parsed = failure.safeParse(json);
      if (parsed.success && (status === 400 || status === 422)) {
        throw new PrometheusQueryError(promql, status, parsed.data.errorType, parsed.data.error);
      }
      const detail = parsed.success ? `${parsed.data.errorType}: ${parsed.data.error}` : text.slice(0, 300);
      throw new PrometheusRequestError(url, status, detail);
    }
    const parsed = success.safeParse(json);
    if (!parsed.success) {
      this.stats.failures++;
      const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      throw new PrometheusResponseError(`unexpected Prometheus answer: ${problems}`, parsed.error);
    }
    return parsed.data.data;
  }
}
