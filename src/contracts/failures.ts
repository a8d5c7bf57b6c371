/**
 * The failure vocabulary shared by activities and workflows: every `ApplicationFailure.type` an activity (or a
 * workflow) raises, and the ones retrying can never cure. Activities map adapter errors to these types in
 * one place (activities/failures.ts); workflows take their `nonRetryableErrorTypes` from here. Plain data,
 * no Temporal import: workflows bundle it.
 *
 * The names are part of recorded histories (the remediation workflows' retry policies list the first seven)
 * and of what workflows match on: rename one only behind a replay test.
 */
export const FAILURE_TYPES = {
  // A guard refused the change before anything was written (src/domain GuardRefusedError).
  GuardRefused: 'GuardRefused',
  // Kubernetes: 401/403 (KubeForbiddenError).
  Forbidden: 'Forbidden',
  // Kubernetes: the object acted on does not exist (KubeNotFoundError).
  TargetNotFound: 'TargetNotFound',
  // Kubernetes: the apiserver's pod is not usable (MalformedPodError).
  MalformedPod: 'MalformedPod',
  // The target cannot be acted on as asked (UnsupportedTargetError).
  UnsupportedTarget: 'UnsupportedTarget',
  // No node qualifies as an offloading destination (NoEligibleNodeError).
  NoEligibleNode: 'NoEligibleNode',
  // The request itself is wrong: 400/405/415/422 (KubeInvalidError), a bad quantity or factor (src/domain).
  InvalidRequest: 'InvalidRequest',
  // Kubernetes, transient: a write lost a race (409) or the apiserver is busy or unreachable.
  KubeConflictError: 'KubeConflictError',
  KubeUnavailableError: 'KubeUnavailableError',

  // An activity's input does not have the documented shape.
  InvalidInput: 'InvalidInput',
  // decidePolicy was given something that is not a usable feature window.
  InvalidWindow: 'InvalidWindow',
  // workloadProfile was asked for history without an InfluxDB.
  InfluxNotConfigured: 'InfluxNotConfigured',

  // Metrics adapters (src/metrics/errors): the class name is the type.
  WindowSpecError: 'WindowSpecError',
  MetricsConfigError: 'MetricsConfigError',
  PrometheusUnavailableError: 'PrometheusUnavailableError',
  PrometheusQueryError: 'PrometheusQueryError',
  PrometheusRequestError: 'PrometheusRequestError',
  PrometheusResponseError: 'PrometheusResponseError',
  // Transient or permanent, as InfluxDB answered: never in the non-retryable list.
  InfluxQueryError: 'InfluxQueryError',
  InfluxClosedError: 'InfluxClosedError',

  // Policy model and rules (src/policy): the class name is the type.
  PolicyModelLoadError: 'PolicyModelLoadError',
  PolicyModelShapeError: 'PolicyModelShapeError',
  PolicyModelOutputError: 'PolicyModelOutputError',
  PolicyInputError: 'PolicyInputError',
  RuleConfigError: 'RuleConfigError',
  InvalidDecisionError: 'InvalidDecisionError',
  ModelTimeoutError: 'ModelTimeoutError',
  CircuitOpenError: 'CircuitOpenError',

  // Task submission (src/domain/task-errors, TASK_ERROR_TYPES): the class name is the type.
  TaxonomyValidationError: 'TaxonomyValidationError',
  UnknownTaskError: 'UnknownTaskError',
  UnknownAlgorithmError: 'UnknownAlgorithmError',
  NoCandidatesError: 'NoCandidatesError',
  InvalidPrioritiesError: 'InvalidPrioritiesError',
  UnscorablePrioritiesError: 'UnscorablePrioritiesError',
  InvalidPlacementInputError: 'InvalidPlacementInputError',
  NoFeasibleNodeError: 'NoFeasibleNodeError',
  TaskInputError: 'TaskInputError',
  // A Job of the submission's name exists but belongs to another submission.
  JobNameTaken: 'JobNameTaken',
  // deployTask gave up: every attempt failed or no node is left to try.
  TaskFailed: 'TaskFailed',
} as const;

export type FailureType = (typeof FAILURE_TYPES)[keyof typeof FAILURE_TYPES];

/** Failures that retrying the same call cannot cure; every workflow's `nonRetryableErrorTypes`. */
export const NON_RETRYABLE_FAILURE_TYPES: readonly FailureType[] = [
  // In this order in the recorded histories of remediateAlert.
  FAILURE_TYPES.GuardRefused,
  FAILURE_TYPES.Forbidden,
  FAILURE_TYPES.TargetNotFound,
  FAILURE_TYPES.MalformedPod,
  FAILURE_TYPES.UnsupportedTarget,
  FAILURE_TYPES.NoEligibleNode,
  FAILURE_TYPES.InvalidRequest,
  FAILURE_TYPES.InvalidInput,
  FAILURE_TYPES.InvalidWindow,
  FAILURE_TYPES.InfluxNotConfigured,
  FAILURE_TYPES.WindowSpecError,
  FAILURE_TYPES.MetricsConfigError,
  FAILURE_TYPES.PrometheusQueryError,
  FAILURE_TYPES.PrometheusRequestError,
  FAILURE_TYPES.PrometheusResponseError,
  FAILURE_TYPES.InfluxClosedError,
  FAILURE_TYPES.PolicyModelLoadError,
  FAILURE_TYPES.PolicyModelShapeError,
  FAILURE_TYPES.PolicyModelOutputError,
  FAILURE_TYPES.PolicyInputError,
  FAILURE_TYPES.RuleConfigError,
  FAILURE_TYPES.InvalidDecisionError,
  FAILURE_TYPES.TaxonomyValidationError,
  FAILURE_TYPES.UnknownTaskError,
  FAILURE_TYPES.UnknownAlgorithmError,
  FAILURE_TYPES.NoCandidatesError,
  FAILURE_TYPES.InvalidPrioritiesError,
  FAILURE_TYPES.UnscorablePrioritiesError,
  FAILURE_TYPES.InvalidPlacementInputError,
  FAILURE_TYPES.NoFeasibleNodeError,
  FAILURE_TYPES.TaskInputError,
  FAILURE_TYPES.JobNameTaken,
  FAILURE_TYPES.TaskFailed,
];
