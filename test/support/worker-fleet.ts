/**
 * Several Talon worker processes (stub-worker.ts) sharing one task queue, plus the remediation load
 * that feeds them; used by test/integration/scale-out.test.ts and bench/scale-out.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { MEMORY_OFF } from '../../src/domain/target-memory';
import { TalonClient } from '../../src/client/talon-client';
import type { TalonAlert } from '../../src/domain/alert';
import { repoRoot } from '../../src/config/repo-root';
import { bundleWorkflows } from '../../workers/bundle';

/** Bundles the real workflows once and writes the code to a file the worker processes load. */
export async function writeWorkflowBundle(): Promise<{ path: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'talon-bundle-'));
  const bundle = await bundleWorkflows();
  const path = join(dir, 'workflows.js');
  await writeFile(path, bundle.code);
  return { path, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface FleetWorker {
  readonly index: number;
  readonly process: ChildProcess;
  readonly identity: string;
  /** Exit code (null when killed by a signal) once the process has ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

export interface FleetOptions {
  readonly address: string;
  readonly namespace: string;
  readonly taskQueue: string;
  readonly count: number;
  readonly bundlePath: string;
  readonly applyMs?: number;
  readonly shutdownGraceSeconds?: number;
}

export async function startWorker(options: FleetOptions, index: number): Promise<FleetWorker> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot(), 'test', 'support', 'stub-worker.ts')], {
    cwd: repoRoot(),
    env: {
      ...process.env,
      TALON_TEMPORAL_ADDRESS: options.address,
      TALON_TEMPORAL_NAMESPACE: options.namespace,
      TALON_TASK_QUEUE: options.taskQueue,
      TALON_WORKER_SHUTDOWN_GRACE_SECONDS: String(options.shutdownGraceSeconds ?? 30),
      STUB_BUNDLE: options.bundlePath,
      STUB_APPLY_MS: String(options.applyMs ?? 0),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const identity = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${index} not ready after 60 s:\n${out}`)), 60_000);
    const onData = (): void => {
      const m = /^ready (\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve(m[1]!);
      }
    };
    child.stdout.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`worker ${index} exited (${code ?? signal}) before it was ready:\n${out}`));
    });
  });
  return { index, process: child, identity, exited, output: () => out };
}

export async function startFleet(options: FleetOptions): Promise<FleetWorker[]> {
  return Promise.all(Array.from({ length: options.count }, (_, i) => startWorker(options, i)));
}

/** Ends every worker still running: SIGTERM, then SIGKILL after the grace. */
export async function stopFleet(workers: readonly FleetWorker[], graceMs = 20_000): Promise<void> {
  await Promise.all(
    workers.map(async (w) => {
      if (w.process.exitCode !== null || w.process.signalCode !== null) return;
      w.process.kill('SIGTERM');
      const timer = setTimeout(() => w.process.kill('SIGKILL'), graceMs);
      await w.exited;
      clearTimeout(timer);
    }),
  );
}

export function podAlert(run: string, i: number): TalonAlert {
  const fingerprint = `${run}${String(i).padStart(4, '0')}`;
  return {
    source: 'alertmanager',
    alertName: 'TalonPodCpuNearLimit',
    status: 'firing',
    fingerprint,
    // one workload per alert: `i` is no generated suffix
    target: { kind: 'pod', namespace: 'shop', pod: `web-${run}-i${i}`, container: 'app' },
    labels: { alertname: 'TalonPodCpuNearLimit', talon_resource: 'cpu' },
    annotations: {},
    startsAt: '2026-11-25T10:00:00Z',
  };
}

/**
 * One attempt and a 1 s cool-down: each remediation reads, gathers, decides, applies, verifies, waits
 * and ends `needs_human` because the (stubbed) alert never resolves. Nothing waits on an outside event.
 */
export const SHORT_REMEDIATION = {
  remediation: {
    maxAttempts: 1,
    cooldown: { defaultSeconds: 1, minSeconds: 1, maxSeconds: 2, historyFactor: 1 },
    // The remediation ends with its episode (no watching for a re-fire): the load awaits every result.
    memory: MEMORY_OFF,
  },
};

export async function submitRemediations(
  client: Client,
  taskQueue: string,
  count: number,
): Promise<{ workflowIds: string[]; run: string }> {
  const run = randomBytes(3).toString('hex');
  const talon = await TalonClient.connect({ client, taskQueue, settings: SHORT_REMEDIATION });
  const workflowIds: string[] = [];
  for (let start = 0; start < count; start += 25) {
    const batch = Array.from({ length: Math.min(25, count - start) }, (_, k) => podAlert(run, start + k));
    const results = await Promise.all(batch.map((a) => talon.remediate(a)));
    workflowIds.push(...results.map((r) => r.workflowId));
  }
  return { workflowIds, run };
}

/** Which worker identities ran this workflow's activities (from ActivityTaskStarted events). */
export async function activityIdentities(client: Client, workflowId: string): Promise<string[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const ids = new Set<string>();
  for (const e of history.events ?? []) {
    const identity = e.activityTaskStartedEventAttributes?.identity;
    if (identity) ids.add(identity);
  }
  return [...ids];
}
