/**
 * How the remediation workflows read an activity's failure: the failure type its ApplicationFailure carries (the
 * vocabulary of src/contracts/failures.ts) and its message. Deterministic; shared by the workflow modules.
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { NON_RETRYABLE_FAILURE_TYPES } from '../src/contracts/failures';

/** Permanent failures: retrying cannot help, the workflow moves on to the next policy or a human. */
export const PERMANENT: string[] = [...NON_RETRYABLE_FAILURE_TYPES];

/** The ApplicationFailure type behind an activity failure, if any. */
export function failureType(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

export function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}
