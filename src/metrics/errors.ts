/**
 * Errors of the metrics adapters. Each says whether retrying can help (`permanent`), so the activity layer
 * maps them to retryable or non-retryable Temporal failures without parsing messages.
 */

/** Base of every metrics error; `permanent` means the same call will fail the same way again. */
export abstract class MetricsError extends Error {
  abstract readonly permanent: boolean;
}

/** A window's shape (steps, step length, thresholds) is invalid. */
export class WindowSpecError extends MetricsError {
  override readonly name = 'WindowSpecError';
  readonly permanent = true;
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

/** The metric-name / label configuration is invalid. */
export class MetricsConfigError extends MetricsError {
  override readonly name = 'MetricsConfigError';
  readonly permanent = true;
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

/** Prometheus could not answer in time: connection refused, timeout or 5xx, after every retry. */
export class PrometheusUnavailableError extends MetricsError {
  override readonly name = 'PrometheusUnavailableError';
  readonly permanent = false;
  constructor(
    readonly url: string,
    readonly reason: 'timeout' | 'connection' | 'server',
    readonly attempts: number,
    readonly status?: number,
    cause?: unknown,
  ) {
    super(
      `Prometheus at ${url} unavailable after ${attempts} attempt(s): ${reason}${status === undefined ? '' : ` (HTTP ${status})`}`,
      { cause },
    );
  }
}

/** Prometheus rejected the PromQL itself (HTTP 400 bad_data or 422 execution error). */
export class PrometheusQueryError extends MetricsError {
  override readonly name = 'PrometheusQueryError';
  readonly permanent = true;
  constructor(
    readonly query: string,
    readonly status: number,
    readonly errorType: string,
    detail: string,
    cause?: unknown,
  ) {
    super(`Prometheus rejected the query (HTTP ${status} ${errorType}): ${detail}\n  query: ${query}`, { cause });
  }
}

/** Prometheus refused the request for another client-side reason (401, 403, 404, ...). */
export class PrometheusRequestError extends MetricsError {
  override readonly name = 'PrometheusRequestError';
  readonly permanent = true;
  constructor(
    readonly url: string,
    readonly status: number,
    detail: string,
    cause?: unknown,
  ) {
    super(`Prometheus refused ${url} with HTTP ${status}: ${detail}`, { cause });
  }
}

/** Prometheus answered 2xx with a body that is not the documented API shape. */
export class PrometheusResponseError extends MetricsError {
  override readonly name = 'PrometheusResponseError';
  readonly permanent = true;
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

/** A Flux query failed; `permanent` when InfluxDB rejected it (4xx), transient when it could not answer. */
export class InfluxQueryError extends MetricsError {
  override readonly name = 'InfluxQueryError';
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly status?: number,
    cause?: unknown,
  ) {
    super(message, { cause });
  }
}

/** A write was attempted on a writer that has been closed. */
export class InfluxClosedError extends MetricsError {
  override readonly name = 'InfluxClosedError';
  readonly permanent = true;
  constructor(cause?: unknown) {
    super('the InfluxDB writer is closed', { cause });
  }
}
