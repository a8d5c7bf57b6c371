/**
 * A real Talon worker process (the CLI's `worker` command) for crash tests: started on a task queue, ready once it
 * polls, watchable for what it prints (e.g. a TALON_FAULT_HOLD hold), killed with SIGKILL. node itself runs with
 * tsx's loader, not the tsx wrapper, so the SIGKILL hits the worker and leaves no orphan behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { repoRoot } from '../../src/config/repo-root';

export interface WorkerProcess {
  readonly child: ChildProcess;
  /** Resolves when the worker has printed a line matching `text`. */
  said(text: string | RegExp, timeoutMs: number): Promise<void>;
}

export async function startWorkerProcess(taskQueue: string, env: Record<string, string> = {}): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts', 'worker'], {
    cwd: repoRoot(),
    env: { ...process.env, TALON_TASK_QUEUE: taskQueue, TALON_WORKER_METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let seen = '';
  const onData = (chunk: Buffer): void => {
    seen += chunk.toString();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const said = async (text: string | RegExp, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (typeof text === 'string' ? !seen.includes(text) : !text.test(seen)) {
      if (Date.now() > deadline)
        throw new Error(`worker did not say "${text}" in ${timeoutMs} ms:\n${seen.slice(-2000)}`);
      if (child.exitCode !== null) throw new Error(`worker exited before saying "${text}":\n${seen.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await said('worker polling task queue', 120_000);
  return { child, said };
}

export async function killWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** What a worker held by TALON_FAULT_HOLD prints for one workflow's activity. */
export function holdLine(activity: string, phase: 'before' | 'after', workflowId: string): RegExp {
  const escaped = workflowId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`holding ${activity} ${phase} its body for \\d+s \\(workflow ${escaped}, attempt \\d+\\)`);
}
