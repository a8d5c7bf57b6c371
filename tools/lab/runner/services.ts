/**
 * The processes a lab run starts and stops: the lab driver, and Talon's worker and webhook exactly as an
 * operator runs them (`talon worker`, `talon webhook`), on the run's own task queue and webhook port so another
 * Talon on the same stack never sees the lab's alerts. Each runs in its own process group with its log in the
 * run's folder; stopping sends SIGTERM, then SIGKILL after a grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { repoRoot } from '../../../src/config/repo-root';

export interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logPath: string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<number | null>;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

const TSX = (): string => require.resolve('tsx/cjs');

/** Starts `args` under node with tsx (TypeScript sources), logging to `<logDir>/<name>.log`. */
export async function startService(
  name: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  logDir: string,
): Promise<Service> {
  await mkdir(logDir, { recursive: true });
  const logPath = join(logDir, `${name}.log`);
  const log = createWriteStream(logPath, { flags: 'a' });
  const child = spawn(process.execPath, ['-r', TSX(), ...args], {
    cwd: repoRoot(),
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      log.end();
      resolve(code);
    });
    child.once('error', () => resolve(null));
  });
  return { name, child, logPath, exited };
}

/** The first line of the child's stdout matching `pattern` (e.g. the driver announcing its URL). */
export function waitForLine(service: Service, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${service.name} did not start within ${timeoutMs / 1000}s (see ${service.logPath})`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString();
      const match = pattern.exec(buffer);
      if (match) {
        cleanup();
        resolve(match);
      }
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`${service.name} exited (${code}) before it was ready (see ${service.logPath})`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      service.child.stdout?.off('data', onData);
      service.child.off('exit', onExit);
    };
    service.child.stdout?.on('data', onData);
    service.child.once('exit', onExit);
  });
}

/** Polls `url` until it answers 2xx. */
export async function waitForHttp(service: Service, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void service.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${service.name} exited before it was ready (see ${service.logPath})`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${service.name} not ready at ${url} within ${timeoutMs / 1000}s (see ${service.logPath})`);
}

/** SIGTERM to the process group, SIGKILL after `graceMs`. */
export async function stopService(service: Service, graceMs = 15_000): Promise<void> {
  if (service.child.exitCode !== null || service.child.signalCode !== null) return;
  const signal = (s: NodeJS.Signals): void => {
    try {
      process.kill(-service.child.pid!, s);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), graceMs);
  await service.exited;
  clearTimeout(timer);
}

/**
 * `talon …` from this checkout's sources (what `bin/talon` runs before a build; a stale `dist/` is never used,
 * so the lab measures the code it ships with).
 */
export function talonArgs(...args: string[]): string[] {
  return [join(repoRoot(), 'workers', 'main.ts'), ...args];
}
