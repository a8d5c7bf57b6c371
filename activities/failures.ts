/**
 * The one mapping of adapter errors (Kubernetes, metrics, policy, domain, task) to Temporal failures. The type
 * comes from src/contracts/failures (the names workflows match on and histories record); whether Temporal may
 * retry comes from the error itself (`retryable` on Kubernetes errors, `permanent` on metrics errors; domain,
 * task and model errors are permanent by definition). Errors nobody classified stay as they are, so Temporal
 * retries them with its default policy.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FAILURE_TYPES, type FailureType } from '../src/contracts/failures';
import { GuardRefusedError, InvalidFactorError, InvalidQuantityError, QuantityRangeError } from '../src/domain/errors';
import { TASK_ERROR_TYPES } from '../src/domain/task-errors';
import {
  KubeConflictError,
  KubeError,
  KubeForbiddenError,
  KubeInvalidError,
  KubeNotFoundError,
  KubeUnavailableError,
  NoEligibleNodeError,
  UnsupportedTargetError,
} from '../src/kube/errors';
import { MalformedPodError } from '../src/kube/snapshot';
import {
  InfluxClosedError,
  InfluxQueryError,
  MetricsConfigError,
  MetricsError,
  PrometheusQueryError,
  PrometheusRequestError,
  PrometheusResponseError,
  PrometheusUnavailableError,
  WindowSpecError,
} from '../src/metrics/errors';
import {
  PolicyInputError,
  PolicyModelLoadError,
  PolicyModelOutputError,
  PolicyModelShapeError,
} from '../src/policy/errors';
import { CircuitOpenError, InvalidDecisionError, ModelTimeoutError, RuleConfigError } from '../src/policy/rule-errors';

type ErrorClass = abstract new (...args: never[]) => Error;

/** Error class → failure type, most specific first. Retryability is read from the instance below. */
const TYPES: readonly (readonly [ErrorClass, FailureType])[] = [
  [GuardRefusedError, FAILURE_TYPES.GuardRefused],
  [KubeForbiddenError, FAILURE_TYPES.Forbidden],
  [KubeNotFoundError, FAILURE_TYPES.TargetNotFound],
  [KubeInvalidError, FAILURE_TYPES.InvalidRequest],
  [KubeConflictError, FAILURE_TYPES.KubeConflictError],
  [KubeUnavailableError, FAILURE_TYPES.KubeUnavailableError],
  [MalformedPodError, FAILURE_TYPES.MalformedPod],
  [UnsupportedTargetError, FAILURE_TYPES.UnsupportedTarget],
  [NoEligibleNodeError, FAILURE_TYPES.NoEligibleNode],
  [InvalidQuantityError, FAILURE_TYPES.InvalidRequest],
  [InvalidFactorError, FAILURE_TYPES.InvalidRequest],
  [QuantityRangeError, FAILURE_TYPES.InvalidRequest],
  [WindowSpecError, FAILURE_TYPES.WindowSpecError],
  [MetricsConfigError, FAILURE_TYPES.MetricsConfigError],
  [PrometheusUnavailableError, FAILURE_TYPES.PrometheusUnavailableError],
  [PrometheusQueryError, FAILURE_TYPES.PrometheusQueryError],
  [PrometheusRequestError, FAILURE_TYPES.PrometheusRequestError],
  [PrometheusResponseError, FAILURE_TYPES.PrometheusResponseError],
  [InfluxQueryError, FAILURE_TYPES.InfluxQueryError],
  [InfluxClosedError, FAILURE_TYPES.InfluxClosedError],
  [PolicyModelLoadError, FAILURE_TYPES.PolicyModelLoadError],
  [PolicyModelShapeError, FAILURE_TYPES.PolicyModelShapeError],
  [PolicyModelOutputError, FAILURE_TYPES.PolicyModelOutputError],
  [PolicyInputError, FAILURE_TYPES.PolicyInputError],
  [RuleConfigError, FAILURE_TYPES.RuleConfigError],
  [InvalidDecisionError, FAILURE_TYPES.InvalidDecisionError],
  [ModelTimeoutError, FAILURE_TYPES.ModelTimeoutError],
  [CircuitOpenError, FAILURE_TYPES.CircuitOpenError],
];

/** A model that was slow or is paused may answer later; every other model error repeats with the same input. */
const TRANSIENT_POLICY_ERRORS: readonly ErrorClass[] = [ModelTimeoutError, CircuitOpenError];

/** The failure type of an error, or undefined when no adapter vouches for it. */
export function failureTypeOf(err: Error): FailureType | undefined {
  for (const [cls, type] of TYPES) if (err instanceof cls) return type;
  // Task errors are plain Errors (the pure half of task submission, also thrown inside the workflow).
  const name = TASK_ERROR_TYPES.find((t) => t === err.name);
  return name === undefined ? undefined : FAILURE_TYPES[name];
}

/** Whether the same call may succeed later, as the error itself says. */
function retryable(err: Error): boolean {
  if (err instanceof KubeError) return err.retryable;
  if (err instanceof UnsupportedTargetError || err instanceof NoEligibleNodeError) return err.retryable;
  if (err instanceof MetricsError) return !err.permanent;
  return TRANSIENT_POLICY_ERRORS.some((cls) => err instanceof cls);
}

/** What the workflow (and the incident log) gets to see besides the message. */
function detailsOf(err: Error): unknown[] | undefined {
  if (err instanceof GuardRefusedError) return [err.guard, { ...err.details }];
  if (err instanceof KubeError) return [{ operation: err.operation, ...err.status }];
  if (err instanceof NoEligibleNodeError) return [{ excluded: err.excluded }];
  return undefined;
}

/** Maps any error to what Temporal should do with it: retry, or stop and tell the workflow why. */
export function toActivityFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure || !(err instanceof Error)) return err;
  const type = failureTypeOf(err);
  if (type === undefined) return err;
  const details = detailsOf(err);
  return ApplicationFailure.create({
    message: err.message,
    type,
    nonRetryable: !retryable(err),
    ...(details ? { details } : {}),
    cause: err,
  });
}

/** Runs an activity body and maps whatever it throws with {@link toActivityFailure}. */
export async function mapFailures<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    throw toActivityFailure(err);
  }
}

/** A failure an activity raises itself (not from an adapter error) that retrying cannot cure. */
export function permanentFailure(type: FailureType, message: string, details?: unknown[]): ApplicationFailure {
  return ApplicationFailure.create({ message, type, nonRetryable: true, ...(details ? { details } : {}) });
}
