/** The one mapping of apiserver errors to Temporal failures, shared by the actuator and the task activities. */
import { ApplicationFailure } from '@temporalio/common';
import type { KubeError } from '../src/kube/errors';
/** An apiserver error as a Temporal failure: retryable exactly when the adapter says it is. */
export function kubeFailure(err: KubeError): ApplicationFailure {
  return ApplicationFailure.create({
    message: err.message,
    type: err.name,
    nonRetryable: !err.retryable,
    details: [{ operation: err.operation, ...err.status }],
    cause: err,
  });
}
