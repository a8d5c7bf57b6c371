/** A command could not do what was asked (bad input, unknown workflow, refused request); the CLI prints it, exit 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

/** An error's message. Duck-typed: errors from Node's own modules may come from another realm (jest), where instanceof fails. */
export function errorMessage(err: unknown): string {
  const text = (err as { message?: unknown } | null)?.message;
  return typeof text === 'string' ? text : String(err);
}
