/**
 * Background processes of the local stack. Each one is started in its own process group with its output
 * in a log file and a pid record on disk, so `down` (even from another shell) stops exactly what `up`
 * started, children included, and never a process that merely reused the pid.
 */
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { basename, join } from 'node:path';
import { StackError } from './errors';

export interface DaemonSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
}

export interface DaemonRecord {
  readonly name: string;
  readonly pid: number;
  readonly command: string;
  readonly args: readonly string[];
  readonly logPath: string;
  readonly startedAt: string;
}

function pidDir(stateDir: string): string {
  return join(stateDir, 'pids');
}

export function logDir(stateDir: string): string {
  return join(stateDir, 'logs');
}

function pidPath(stateDir: string, name: string): string {
  return join(pidDir(stateDir), `${name}.json`);
}

export async function readDaemon(stateDir: string, name: string): Promise<DaemonRecord | undefined> {
  try {
    return JSON.parse(await readFile(pidPath(stateDir, name), 'utf8')) as DaemonRecord;
  } catch {
    return undefined;
  }
}

export async function listDaemons(stateDir: string): Promise<DaemonRecord[]> {
  let names: string[];
  try {
    names = await readdir(pidDir(stateDir));
  } catch {
    return [];
  }
  const records = await Promise.all(
    names.filter((n) => n.endsWith('.json')).map((n) => readDaemon(stateDir, n.slice(0, -'.json'.length))),
  );
  return records.filter((r): r is DaemonRecord => r !== undefined);
}

/** Alive and still running the recorded program (a recycled pid running something else does not count). */
export async function isDaemonAlive(record: DaemonRecord): Promise<boolean> {
  try {
    process.kill(record.pid, 0);
  } catch {
    return false;
  }
  try {
    const cmdline = await readFile(`/proc/${record.pid}/cmdline`, 'utf8');
    const stat = await readFile(`/proc/${record.pid}/stat`, 'utf8');
    // A zombie has exited; it only waits for its parent to read its status.
    if (/\) Z /.test(stat)) return false;
    return cmdline.split('\0').some((part) => basename(part) === basename(record.command));
  } catch {
    return false;
  }
}

export async function startDaemon(stateDir: string, spec: DaemonSpec): Promise<DaemonRecord> {
  await mkdir(pidDir(stateDir), { recursive: true });
  await mkdir(logDir(stateDir), { recursive: true });
  const existing = await readDaemon(stateDir, spec.name);
  if (existing && (await isDaemonAlive(existing))) return existing;
  const logPath = join(logDir(stateDir), `${spec.name}.log`);
  const log = await open(logPath, 'a');
  try {
    await log.write(`\n--- ${new Date().toISOString()} starting ${spec.command} ${spec.args.join(' ')}\n`);
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', (err) =>
        reject(new StackError(`could not start ${spec.name} (${spec.command}): ${err.message}`, err)),
      );
      child.once('spawn', () => resolve(child.pid!));
    });
    child.unref();
    const record: DaemonRecord = {
      name: spec.name,
      pid,
      command: spec.command,
      args: spec.args,
      logPath,
      startedAt: new Date().toISOString(),
    };
    await writeFile(pidPath(stateDir, spec.name), JSON.stringify(record, null, 2));
    return record;
  } finally {
    await log.close();
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return check();
}

/** SIGTERM to the whole group, SIGKILL after the grace period; returns whether anything was running. */
export async function stopDaemon(stateDir: string, name: string, graceMs = 10_000): Promise<boolean> {
  const record = await readDaemon(stateDir, name);
  if (!record) return false;
  const alive = await isDaemonAlive(record);
  if (alive) {
    signalGroup(record.pid, 'SIGTERM');
    const stopped = await waitUntil(async () => !(await isDaemonAlive(record)), graceMs);
    if (!stopped) signalGroup(record.pid, 'SIGKILL');
    await waitUntil(async () => !(await isDaemonAlive(record)), 5_000);
  }
  await rm(pidPath(stateDir, name), { force: true });
  return alive;
}

/** True when nothing listens on host:port. */
export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

export async function isPortOpen(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Polls an HTTP URL until `accept` says yes; the last observation is in the error when it never does. */
export async function waitForHttp(
  url: string,
  options: { timeoutMs: number; accept?: (status: number, body: string) => boolean; what: string; logPath?: string },
): Promise<void> {
  const accept = options.accept ?? ((status) => status >= 200 && status < 300);
  let last = 'no answer';
  const ok = await waitUntil(
    async () => {
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        const body = await response.text();
        last = `HTTP ${response.status}: ${body.slice(0, 200)}`;
        return accept(response.status, body);
      } catch (err) {
        last = (err as Error).message;
        return false;
      }
    },
    options.timeoutMs,
    250,
  );
  if (!ok) {
    throw new StackError(
      `${options.what} did not become ready at ${url} within ${options.timeoutMs / 1000}s (last: ${last})` +
        (options.logPath ? `\n  log: ${options.logPath}` : ''),
    );
  }
}

export async function waitForPort(port: number, what: string, timeoutMs: number, logPath?: string): Promise<void> {
  if (!(await waitUntil(() => isPortOpen(port), timeoutMs, 200))) {
    throw new StackError(
      `${what} did not open port ${port} within ${timeoutMs / 1000}s${logPath ? `\n  log: ${logPath}` : ''}`,
    );
  }
}
