/** A command could not do what was asked (bad input, unknown workflow, refused request); the CLI prints it, exit 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}
