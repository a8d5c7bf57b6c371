/**
 * The real `talon worker` process as Kubernetes runs it: the health endpoint answers the probes
 * (/healthz, /readyz) while it polls, and SIGTERM drains it to a clean exit 0 (the SDK's own signal
 * handler and Talon's both ask for the shutdown; the second request used to fail the exit).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

jest.setTimeout(240_000);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function status(url: string): Promise<number | undefined> {
  try {
    return (await fetch(url)).status;
  } catch {
    return undefined;
  }
}

let started: ChildProcess | undefined;
afterAll(() => {
  // Even when jest gives up on the test body, never leave a worker behind.
  if (started && started.exitCode === null && started.signalCode === null) started.kill('SIGKILL');
});

it('answers the probes while polling and exits 0 after SIGTERM', async () => {
  const port = await freePort();
  const root = join(__dirname, '..', '..');
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'workers', 'main.ts'), 'worker'], {
    cwd: root,
    env: {
      ...process.env,
      TALON_TASK_QUEUE: `lifecycle-${Date.now()}`,
      TALON_WORKER_METRICS_PORT: String(port),
      TALON_WORKER_SHUTDOWN_GRACE_SECONDS: '5',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started = child;
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  try {
    const base = `http://127.0.0.1:${port}`;
    // As long as the crash tests allow a worker to start: tsx compiles the CLI first, slowly on a loaded machine.
    const deadline = Date.now() + 120_000;
    while ((await status(`${base}/readyz`)) !== 200) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`worker never became ready:\n${out}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(await status(`${base}/healthz`)).toBe(200);
    child.kill('SIGTERM');
    // Grace is 5 s and nothing is in flight: a worker still alive after 30 s did not drain.
    const result = await Promise.race([
      exited,
      new Promise<'still running'>((r) => setTimeout(() => r('still running'), 30_000)),
    ]);
    expect(out).toMatch(/shutting down/);
    expect(out).not.toMatch(/talon: /);
    expect(result).toEqual({ code: 0, signal: null });
    // The health server went away with the worker.
    expect(await status(`${base}/healthz`)).toBeUndefined();
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
