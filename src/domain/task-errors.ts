/**
 * Errors of task submission's pure half: the model taxonomy, algorithm selection and placement. All of
 * them are permanent (retrying with the same input gives the same answer), so a workflow should turn
 * them into non-retryable failures; `TASK_ERROR_TYPES` lists their names for `nonRetryableErrorTypes`.
 */

/** A taxonomy (the bundled file or a user's registration file) does not have the expected shape or is inconsistent. */
export class TaxonomyValidationError extends Error {
  override readonly name = 'TaxonomyValidationError';
  constructor(
    readonly source: string,
    readonly issues: readonly string[],
    cause?: unknown,
  ) {
    super(`invalid taxonomy ${source}:\n  - ${issues.join('\n  - ')}`, { cause });
  }
}

/** The requested task is not in the taxonomy. */
export class UnknownTaskError extends Error {
  override readonly name = 'UnknownTaskError';
  constructor(
    readonly task: string,
    readonly knownTasks: readonly string[],
    cause?: unknown,
  ) {
    super(`unknown task "${task}"; known tasks: ${knownTasks.join(', ') || '(none)'}`, { cause });
  }
}

/** The requested algorithm is not registered for the task. */
export class UnknownAlgorithmError extends Error {
  override readonly name = 'UnknownAlgorithmError';
  constructor(
    readonly task: string,
    readonly algorithm: string,
    readonly knownAlgorithms: readonly string[],
    cause?: unknown,
  ) {
    super(
      `unknown algorithm "${algorithm}" for task "${task}"; registered: ${knownAlgorithms.join(', ') || '(none)'}`,
      { cause },
    );
  }
}

/** The task exists but no algorithm is registered for it, so there is nothing to select from. */
export class NoCandidatesError extends Error {
  override readonly name = 'NoCandidatesError';
  constructor(
    readonly task: string,
    cause?: unknown,
  ) {
    super(`task "${task}" has no registered algorithm to select from`, { cause });
  }
}

/** The user's priorities cannot be used as weights: unknown names, negative or non-numeric values, or all zero. */
export class InvalidPrioritiesError extends Error {
  override readonly name = 'InvalidPrioritiesError';
  constructor(
    readonly problems: readonly string[],
    cause?: unknown,
  ) {
    super(`invalid priorities: ${problems.join('; ')}`, { cause });
  }
}

/** None of the parameters the user weighted has a measured metric among the candidates, so no ranking exists. */
export class UnscorablePrioritiesError extends Error {
  override readonly name = 'UnscorablePrioritiesError';
  constructor(
    readonly task: string,
    readonly weightedParameters: readonly string[],
    cause?: unknown,
  ) {
    super(
      `no candidate of task "${task}" has a measured metric for ${weightedParameters.join(', ')}: ` +
        'weight a parameter the candidates were measured on, or register the missing metrics',
      { cause },
    );
  }
}

/** The node list or the algorithm's demand given to placement is malformed (duplicate names, negative capacity...). */
export class InvalidPlacementInputError extends Error {
  override readonly name = 'InvalidPlacementInputError';
  constructor(
    readonly problems: readonly string[],
    cause?: unknown,
  ) {
    super(`invalid placement input: ${problems.join('; ')}`, { cause });
  }
}

/** No node can take the task's resource requests within the utilisation ceiling; carries each node's reason. */
export class NoFeasibleNodeError extends Error {
  override readonly name = 'NoFeasibleNodeError';
  constructor(
    readonly requests: { readonly cpu: string; readonly memory: string },
    readonly reasons: Readonly<Record<string, string>>,
    cause?: unknown,
  ) {
    const lines = Object.entries(reasons).map(([node, reason]) => `${node}: ${reason}`);
    super(
      `no node can take requests of ${requests.cpu} CPU and ${requests.memory} memory` +
        (lines.length > 0 ? `:\n  - ${lines.join('\n  - ')}` : ' (no nodes given)'),
      { cause },
    );
  }
}

/** The data handed to a task algorithm cannot be processed (mismatched lengths, no value at all). */
export class TaskInputError extends Error {
  override readonly name = 'TaskInputError';
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

/** Names of the errors above, for a workflow's or activity's `nonRetryableErrorTypes`. */
export const TASK_ERROR_TYPES = [
  'TaxonomyValidationError',
  'UnknownTaskError',
  'UnknownAlgorithmError',
  'NoCandidatesError',
  'InvalidPrioritiesError',
  'UnscorablePrioritiesError',
  'InvalidPlacementInputError',
  'NoFeasibleNodeError',
  'TaskInputError',
] as const;
