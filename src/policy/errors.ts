/**
 * Errors of the learned policy model (loading, serving, training). All are permanent for the input that
 * caused them: retrying the same file or window gives the same error, so callers fall back to the rules.
 */

/** The model file or its metadata is missing, unreadable or corrupt (bad checksum, not an ONNX graph). */
export class PolicyModelLoadError extends Error {
  override readonly name = 'PolicyModelLoadError';
  constructor(
    readonly path: string,
    detail: string,
    cause?: unknown,
  ) {
    super(`cannot load policy model ${path}: ${detail}`, { cause });
  }
}

/** The model loads but its inputs, outputs, features or policies are not what Talon feeds it and reads. */
export class PolicyModelShapeError extends Error {
  override readonly name = 'PolicyModelShapeError';
  constructor(
    readonly path: string,
    detail: string,
    cause?: unknown,
  ) {
    super(`policy model ${path} does not fit Talon's window: ${detail}`, { cause });
  }
}

/** The model answered with something unusable (non-finite numbers, probabilities that do not sum to 1). */
export class PolicyModelOutputError extends Error {
  override readonly name = 'PolicyModelOutputError';
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

/** A window cannot be fed to the model (wrong shape, or a required feature without a single value). */
export class PolicyInputError extends Error {
  override readonly name = 'PolicyInputError';
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

/** Training, evaluation or export was asked for something impossible (bad option, empty dataset). */
export class ModelTrainingError extends Error {
  override readonly name = 'ModelTrainingError';
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

/** The model registry is missing, damaged, locked, or asked for something impossible (unknown version, no previous champion). */
export class ModelRegistryError extends Error {
  override readonly name = 'ModelRegistryError';
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}
