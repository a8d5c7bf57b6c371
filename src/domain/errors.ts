/**
 * Errors of the pure domain layer. They carry what went wrong in plain data so the activity layer can turn
 * them into non-retryable Temporal failures without parsing messages.
 */

/** A string is not a Kubernetes resource quantity (apimachinery's ParseQuantity would reject it too). */
export class InvalidQuantityError extends Error {
  override readonly name = 'InvalidQuantityError';
  constructor(
    readonly text: string,
    readonly reason: string,
    cause?: unknown,
  ) {
    super(`invalid quantity ${JSON.stringify(text)}: ${reason}`, { cause });
  }
}

/** A quantity computation left the range Talon can represent or Kubernetes can store faithfully. */
export class QuantityRangeError extends Error {
  override readonly name = 'QuantityRangeError';
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

/** A scaling factor is not a finite positive decimal number. */
export class InvalidFactorError extends Error {
  override readonly name = 'InvalidFactorError';
  constructor(
    readonly factor: unknown,
    reason: string,
    cause?: unknown,
  ) {
    super(`invalid scaling factor ${String(factor)}: ${reason}`, { cause });
  }
}

/** The guards that can refuse a change, as named in refusals and metrics. */
export const GUARDS = {
  protectedNamespace: 'protected_namespace',
  factorBounds: 'factor_bounds',
  resultBounds: 'result_bounds',
  replicaBounds: 'replica_bounds',
  writeBudget: 'write_budget',
  /** A PodDisruptionBudget forbids taking the pod down now (restarting a container). */
  disruptionBudget: 'disruption_budget',
  invalidRequest: 'invalid_request',
} as const;
export type GuardName = (typeof GUARDS)[keyof typeof GUARDS];

/** A safety guard refused a change before anything was written; permanent for this request. */
export class GuardRefusedError extends Error {
  override readonly name = 'GuardRefusedError';
  constructor(
    readonly guard: GuardName,
    message: string,
    readonly details: Readonly<Record<string, string | number | boolean>> = {},
    cause?: unknown,
  ) {
    super(`refused by guard ${guard}: ${message}`, { cause });
  }
}
