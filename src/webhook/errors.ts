/** An HTTP error carrying its status and a machine-readable code; the error middleware turns it into JSON. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    cause?: unknown,
    readonly extra: {
      /** Retry-After of a 503, in seconds; the handler's default when absent. */
      readonly retryAfterSeconds?: number;
      /** How many alerts the refusal stands for in talon_alerts_rejected_total; one request when absent. */
      readonly rejectedCount?: number;
    } = {},
  ) {
    super(message, { cause });
  }
}
