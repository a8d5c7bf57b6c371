/**
 * The worker child: one Talon worker (createTalonWorker, a prebuilt workflow bundle) with the real activities
 * or test/support's stubs, each activity timed and its timings streamed to the parent, which also asks it
 * for its memory. Tuning flags are handed to createTalonWorker's `tuning` for what-if runs.
 */
import { Context } from '@temporalio/activity';
import { DefaultLogger, makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import type { ApplyPolicyResult } from '../../src/domain/remediation';
import { loadKubeConfig } from '../../src/kube/config';
import { activityDepsFromConfig, createActivities } from '../../workers/activities';
import { loadTalonConfig } from '../../src/config/talon-config';
import { cacheBound, createTalonWorker, type WorkerTuning } from '../../workers/worker';
import { stubActivities } from '../../test/support/stub-activities';
import { numberFlag, switchFlag, type Flags } from '../support/flags';
import { memoryReport, type MemoryReport } from '../support/machine';
import { errText } from '../support/output';
import { forkRole } from './roles';

export interface ActivityTiming {
  readonly name: string;
  readonly workflowId: string;
  readonly scheduledAt: number;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly ok: boolean;
  readonly error?: string;
  readonly policy?: string;
}

/** The worker child's memory, with its cache bound and how many activity slots it used at most. */
export interface WorkerMemory extends MemoryReport {
  /** The worker's sticky-cache size (workflows kept in memory between tasks). */
  readonly maxCachedWorkflows?: number;
  /** Most activities running at once in the worker, and per activity name. */
  readonly peakActivities?: number;
  readonly peakByActivity?: Readonly<Record<string, number>>;
}

type FromWorker =
  | { type: 'ready' }
  | { type: 'timings'; rows: ActivityTiming[] }
  | { type: 'memory'; memory: WorkerMemory }
  | { type: 'failed'; message: string };

type ToWorker = { type: 'memory' } | { type: 'stop' };

/** How many activities run at once in the worker (each holds one of its activity slots), peak per name. */
class SlotOccupancy {
  private readonly now = new Map<string, number>();
  private total = 0;
  peakTotal = 0;
  readonly peakByName = new Map<string, number>();

  enter(name: string): void {
    const n = (this.now.get(name) ?? 0) + 1;
    this.now.set(name, n);
    this.total++;
    this.peakTotal = Math.max(this.peakTotal, this.total);
    this.peakByName.set(name, Math.max(this.peakByName.get(name) ?? 0, n));
  }

  leave(name: string): void {
    this.now.set(name, (this.now.get(name) ?? 1) - 1);
    this.total--;
  }
}

/** Wraps each activity so its schedule, start and end (by workflow id) reach the parent. */
function timed(
  activities: Record<string, (...args: never[]) => Promise<unknown>>,
  record: (row: ActivityTiming) => void,
  occupancy: SlotOccupancy,
): Record<string, (...args: never[]) => Promise<unknown>> {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      async (...args: never[]) => {
        occupancy.enter(name);
        const info = Context.current().info;
        const base = {
          name,
          workflowId: info.workflowExecution?.workflowId ?? '',
          scheduledAt: info.currentAttemptScheduledTimestampMs,
          startedAt: Date.now(),
        };
        try {
          const result = await fn(...args);
          const policy = name === 'applyPolicy' ? (result as ApplyPolicyResult).policy : undefined;
          record({ ...base, endedAt: Date.now(), ok: true, ...(policy ? { policy } : {}) });
          return result;
        } catch (err) {
          record({ ...base, endedAt: Date.now(), ok: false, error: errText(err).slice(0, 200) });
          throw err;
        } finally {
          occupancy.leave(name);
        }
      },
    ]),
  );
}

/** What-if knobs for the worker child, handed to createTalonWorker's `tuning` (unset: Talon's defaults). */
const TUNING_FLAGS = ['max-cached', 'wft-pollers', 'nonsticky-ratio', 'autoscale-pollers'] as const;

function tuningFrom(flags: Flags): WorkerTuning {
  const cache = flags.has('max-cached') ? numberFlag(flags, 'max-cached', 0, 0, 100_000) : undefined;
  return {
    // Parked workflows beyond the sticky cache are evicted and replayed from history when they wake.
    ...(cache !== undefined ? cacheBound(cache) : {}),
    // Concurrent workflow-task polls (SDK default 10, a `nonsticky-ratio` share of them on the queue new workflows use).
    ...(flags.has('wft-pollers')
      ? {
          workflowTaskPollerBehavior: {
            type: 'simple-maximum' as const,
            maximum: numberFlag(flags, 'wft-pollers', 10, 2, 1000),
          },
        }
      : {}),
    ...(flags.has('nonsticky-ratio')
      ? { nonStickyToStickyPollRatio: numberFlag(flags, 'nonsticky-ratio', 0.2, 0.01, 1) }
      : {}),
    ...(switchFlag(flags, 'autoscale-pollers')
      ? {
          workflowTaskPollerBehavior: { type: 'autoscaling' as const },
          activityTaskPollerBehavior: { type: 'autoscaling' as const },
        }
      : {}),
  };
}

/** The tuning flags to hand on to the worker child, and a line saying what differs from Talon's defaults. */
export function tuningArgs(flags: Flags): { args: string[]; note?: string } {
  const args = TUNING_FLAGS.flatMap((f) => (flags.has(f) ? [`--${f}`, flags.get(f)!] : []));
  const tuning = tuningFrom(flags);
  if (Object.keys(tuning).length === 0) return { args };
  return { args, note: `what-if worker (createTalonWorker with tuning ${JSON.stringify(tuning)})` };
}

/** The worker child: `worker --queue Q --activities real|stub --bundle PATH [tuning flags]`. */
export async function workerChild(flags: Flags): Promise<void> {
  const send = (message: FromWorker): void => {
    process.send?.(message);
  };
  // Terminating busy workflows at the end makes core warn about vanished tasks; only errors matter here.
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR', other: 'ERROR' }) } },
  });
  const queue = flags.get('queue')!;
  const config = loadTalonConfig({ ...process.env, TALON_TASK_QUEUE: queue });
  const pending: ActivityTiming[] = [];
  const flush = (): void => {
    if (pending.length > 0) send({ type: 'timings', rows: pending.splice(0) });
  };
  const flusher = setInterval(flush, 250);
  let assembled: Awaited<ReturnType<typeof createActivities>> | undefined;
  if (flags.get('activities') === 'real') {
    // The same assembly createTalonWorker uses in production (watch-fed node cache, background node usage).
    assembled = await createActivities({
      ...activityDepsFromConfig(config, loadKubeConfig(config.kube)),
      longLived: true,
    });
  }
  const occupancy = new SlotOccupancy();
  const activities = timed(assembled?.activities ?? stubActivities(0), (row) => pending.push(row), occupancy);
  const worker = await createTalonWorker(config, {
    activities,
    workflowBundle: { codePath: flags.get('bundle')! },
    shutdownGraceMs: 2_000,
    tuning: tuningFrom(flags),
  });
  const cacheSize = worker.worker.options.maxCachedWorkflows;
  const done = worker.run();
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    worker.shutdown();
  };
  process.on('message', (message: ToWorker) => {
    if (message.type === 'stop') stop();
    else if (message.type === 'memory')
      void memoryReport().then((memory) =>
        send({
          type: 'memory',
          memory: {
            ...memory,
            maxCachedWorkflows: cacheSize,
            peakActivities: occupancy.peakTotal,
            peakByActivity: Object.fromEntries(occupancy.peakByName),
          },
        }),
      );
  });
  process.on('disconnect', stop);
  send({ type: 'ready' });
  try {
    await done;
  } finally {
    clearInterval(flusher);
    flush();
    await assembled?.close();
  }
  process.exit(0);
}

export interface WorkerHandle {
  readonly pid: number;
  readonly timings: ActivityTiming[];
  memory(): Promise<WorkerMemory>;
  stop(): Promise<void>;
}

export async function startWorker(
  bundlePath: string,
  queue: string,
  activities: 'real' | 'stub',
  env: NodeJS.ProcessEnv = process.env,
  extraArgs: readonly string[] = [],
): Promise<WorkerHandle> {
  const args = ['--queue', queue, '--activities', activities, '--bundle', bundlePath, ...extraArgs];
  const handle = forkRole<ToWorker>('worker', args, { ...env, TALON_TASK_QUEUE: queue });
  const timings: ActivityTiming[] = [];
  handle.onMessage((message) => {
    if (message.type === 'timings') timings.push(...(message as unknown as { rows: ActivityTiming[] }).rows);
  });
  await handle.next<{ type: 'ready' }>('ready', 120_000);
  return {
    pid: handle.child.pid!,
    timings,
    async memory() {
      const reply = handle.next<{ type: 'memory'; memory: WorkerMemory }>('memory', 30_000);
      handle.send({ type: 'memory' });
      return (await reply).memory;
    },
    async stop() {
      handle.send({ type: 'stop' });
      await handle.exited(30_000);
    },
  };
}
