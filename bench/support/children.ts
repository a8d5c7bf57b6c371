/**
 * Child processes of a benchmark, talking over Node's IPC channel: the benchmark forks its own entry script
 * with a role as first argument (`worker`, `poster`, …), so a measured process runs nothing but its part.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { sleep } from './async';

export interface ChildHandle<In> {
  readonly child: ChildProcess;
  send(message: In): void;
  /** Resolves with the first message matching `type`, or rejects after `timeoutMs` or when the child exits. */
  next<T extends { type: string }>(type: T['type'], timeoutMs: number): Promise<T>;
  onMessage(listener: (message: { type: string }) => void): void;
  /** Waits for the child to exit; kills it (by its own pid) after `timeoutMs`. */
  exited(timeoutMs: number): Promise<void>;
}

/**
 * Forks `script` as `script <role> ...args` under the same Node flags (so a tsx run forks through tsx).
 * A child that sends `{ type: 'failed', message }` rejects whatever `next` waits for.
 */
export function forkChild<In>(
  script: string,
  role: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): ChildHandle<In> {
  const child = fork(script, [role, ...args], {
    execArgv: process.execArgv,
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const listeners: ((message: { type: string }) => void)[] = [];
  child.on('message', (message: { type: string }) => listeners.forEach((l) => l(message)));
  // 'close', not 'exit': messages still in the IPC pipe are delivered after 'exit' but before 'close'.
  const exit = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    child,
    send: (message) => {
      if (child.connected) child.send(message as object);
    },
    onMessage: (listener) => listeners.push(listener),
    next<T extends { type: string }>(type: T['type'], timeoutMs: number): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${role} did not send '${type}' within ${timeoutMs} ms`)),
          timeoutMs,
        );
        listeners.push((message) => {
          if (message.type === type) {
            clearTimeout(timer);
            resolve(message as T);
          } else if (message.type === 'failed') {
            clearTimeout(timer);
            reject(new Error(`${role} failed: ${(message as { message?: string }).message ?? ''}`));
          }
        });
        void exit.then(() => {
          clearTimeout(timer);
          reject(new Error(`${role} exited before sending '${type}'`));
        });
      });
    },
    async exited(timeoutMs) {
      const timedOut = await Promise.race([exit.then(() => false), sleep(timeoutMs).then(() => true)]);
      if (timedOut && child.pid !== undefined && child.exitCode === null) {
        child.kill('SIGKILL');
        await exit;
      }
    },
  };
}
