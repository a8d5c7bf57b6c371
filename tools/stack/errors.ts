/** A tool of the local stack could not be built or installed; names the tool, the step and the registry. */
export class ToolSetupError extends Error {
  override readonly name = 'ToolSetupError';
  constructor(
    readonly tool: string,
    readonly step: string,
    readonly registry: string,
    readonly logPath: string,
    detail: string,
    cause?: unknown,
  ) {
    super(`setup of ${tool} failed at "${step}" (needs ${registry}): ${detail}\n  full log: ${logPath}`, { cause });
  }
}

/** A command exited non-zero or could not start; carries the tail of its output. */
export class CommandFailedError extends Error {
  override readonly name = 'CommandFailedError';
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly outputTail: string,
    cause?: unknown,
  ) {
    super(
      `${command} ${exitCode === null ? 'could not run' : `exited with ${exitCode}`}${outputTail ? `:\n${outputTail}` : ''}`,
      {
        cause,
      },
    );
  }
}

/** The local stack cannot start as asked: a port is taken, a tool is missing, a component is unhealthy. */
export class StackError extends Error {
  override readonly name = 'StackError';
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}
