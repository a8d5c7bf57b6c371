/** Running external programs for setup and the stack: output captured, optionally appended to a log. */
import { spawn } from 'node:child_process';
import { appendFile } from 'node:fs/promises';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { CommandFailedError } from './errors';

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly logPath?: string;
  readonly timeoutMs?: number;
  /** Return the result of a non-zero exit instead of throwing. */
  readonly allowFailure?: boolean;
  readonly input?: string;
}

export interface RunResult {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const TAIL_LINES = 25;

export function tail(text: string, lines = TAIL_LINES): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export async function runCommand(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const display = [command, ...args].join(' ');
  if (options.logPath) await appendFile(options.logPath, `\n$ ${display}\n`);
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const pending: Promise<void>[] = [];
    const record = (chunk: Buffer): void => {
      if (options.logPath) pending.push(appendFile(options.logPath, chunk));
    };
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      record(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      record(chunk);
    });
    const timer = options.timeoutMs
      ? setTimeout(() => {
          child.kill('SIGKILL');
        }, options.timeoutMs)
      : undefined;
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      if (options.allowFailure) resolve({ exitCode: null, stdout, stderr: stderr + String(err) });
      else reject(new CommandFailedError(display, null, err.message, err));
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      void Promise.all(pending).then(() => {
        if (code === 0 || options.allowFailure) resolve({ exitCode: code, stdout, stderr });
        else reject(new CommandFailedError(display, code, tail(stderr || stdout)));
      });
    });
    if (child.stdin) {
      // A program may exit before reading its input; that is its answer, not our error.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
  });
}

/** True when `name` is an executable path or found on PATH. */
export async function commandExists(name: string): Promise<boolean> {
  const candidates = name.includes('/')
    ? [name]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return true;
    } catch {
      // try the next one
    }
  }
  return false;
}
