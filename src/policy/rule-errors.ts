/**
 * Errors of the rule policy and of the circuit breaker around the learned model. (The model's own errors live
 * in ./errors, owned with the model.)
 */

/** A rule threshold or breaker setting is invalid (e.g. low ≥ high). */
export class RuleConfigError extends Error {
  override readonly name = 'RuleConfigError';
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

/** The learned model did not answer within the breaker's call timeout. */
export class ModelTimeoutError extends Error {
  override readonly name = 'ModelTimeoutError';
  constructor(
    readonly timeoutMs: number,
    cause?: unknown,
  ) {
    super(`the policy model did not answer within ${timeoutMs} ms`, { cause });
  }
}

/** The learned model answered with something that is not a usable ranked decision. */
export class InvalidDecisionError extends Error {
  override readonly name = 'InvalidDecisionError';
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

/** The breaker is open: the model is not called until the pause is over. */
export class CircuitOpenError extends Error {
  override readonly name = 'CircuitOpenError';
  constructor(
    readonly retryAt: number,
    readonly lastFailure: string | undefined,
    cause?: unknown,
  ) {
    super(
      `circuit open until ${new Date(retryAt).toISOString()}${lastFailure ? ` (last failure: ${lastFailure})` : ''}`,
      { cause },
    );
  }
}
