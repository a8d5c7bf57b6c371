/**
 * `talon task list | submit | status`: task submission from the command line (D3.3 1.4). `submit` checks
 * the request against the taxonomy before anything starts (bad priorities, unknown task, no candidates
 * fail at once, exit 1), starts a `deployTask` workflow and, with `--wait`, shows its progress until the
 * result. Each command is an exported action function (tests call them without a process).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { TalonClient, TaskNotFoundError, type SubmitTaskRequest, type TaskStatus } from '../client/talon-client';
import { normalisePriorities, parsePriorities } from '../domain/priorities';
import { selectAlgorithm } from '../domain/selection';
import type { Taxonomy } from '../domain/taxonomy';
import type { DeployTaskResult, TaskState } from '../contracts/deploy-task';
import { loadTaxonomy } from '../tasks/taxonomy-store';
import { loadTalonConfig, type TalonConfig } from '../../workers/config';
import { CliError } from './errors';

export interface TaskCliIo {
  readonly out: (text: string) => void;
  /** Progress while waiting; rewritten in place on a terminal. */
  readonly progress?: (text: string) => void;
}

export interface TaskCliDeps {
  readonly io?: TaskCliIo;
  readonly config?: TalonConfig;
  readonly taxonomy?: () => Promise<Taxonomy>;
  /** How often `--wait` asks the workflow for its state (default 500 ms). */
  readonly pollMs?: number;
}

const processIo: TaskCliIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  progress: (text) =>
    process.stderr.isTTY ? process.stderr.write(`\r\x1b[2K${text}`) : process.stderr.write(`${text}\n`),
};

const message = (err: unknown): string => {
  const text = (err as { message?: unknown } | null)?.message;
  return typeof text === 'string' ? text : String(err);
};

export interface SubmitOptions {
  readonly priorities: string;
  readonly input?: string;
  readonly output?: string;
  readonly dataSite?: string;
  readonly namespace?: string;
  readonly wait?: boolean;
  readonly json?: boolean;
}

/** Checks a submission before it reaches Temporal; throws CliError with the domain's message. */
export function checkSubmission(taxonomy: Taxonomy, task: string, opts: SubmitOptions): SubmitTaskRequest {
  if (!task || task.trim() === '') throw new CliError('a task is required, e.g. `talon task submit interpolation`');
  if (opts.namespace !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(opts.namespace)) {
    throw new CliError(`--namespace must be a Kubernetes namespace name, got ${JSON.stringify(opts.namespace)}`);
  }
  try {
    const priorities = parsePriorities(opts.priorities);
    normalisePriorities(priorities);
    selectAlgorithm(taxonomy, task, priorities);
    const input = {
      ...(opts.input ? { path: opts.input } : {}),
      ...(opts.output ? { output: opts.output } : {}),
      ...(opts.dataSite ? { dataSite: opts.dataSite } : {}),
    };
    return {
      task,
      priorities,
      ...(Object.keys(input).length > 0 ? { input } : {}),
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
    };
  } catch (err) {
    throw new CliError(message(err), err);
  }
}

async function withTalon<T>(deps: TaskCliDeps, fn: (talon: TalonClient) => Promise<T>): Promise<T> {
  const config = deps.config ?? loadTalonConfig();
  let talon: TalonClient;
  try {
    talon = await TalonClient.connect(config.temporal);
  } catch (err) {
    throw new CliError(`cannot reach Temporal at ${config.temporal.address}: ${message(err)}`, err);
  }
  try {
    return await fn(talon);
  } finally {
    await talon.close();
  }
}

/** One progress line: step, algorithm, node, attempt, elapsed time. */
export function formatProgress(state: TaskState, elapsedMs: number): string {
  const attempt = state.attempts.at(-1);
  const where = state.placement ? ` on ${state.placement.node} (${state.placement.tier})` : '';
  const what = state.algorithm ? ` ${state.algorithm.id}` : '';
  const job = attempt ? `, Job ${attempt.job}, attempt ${attempt.attempt}` : '';
  return `[${(elapsedMs / 1000).toFixed(1)}s] ${state.task}: ${state.step}${what}${where}${job}`;
}

export function formatResult(result: DeployTaskResult): string {
  const o = result.metrics.observed;
  const lines = [
    `task ${result.task} succeeded (${result.workflowId})`,
    `  algorithm  ${result.algorithm.id} (${result.algorithm.name}), coefficient ${result.algorithm.coefficient.toFixed(3)}`,
    `  placement  ${result.placement.node} (${result.placement.tier}), requests ${result.placement.requests.cpu} CPU, ${result.placement.requests.memory}`,
    `  attempts   ${result.attempts.map((a) => `${a.node}: ${a.outcome}${a.reason ? ` (${a.reason})` : ''}`).join('; ')}`,
    `  Job        ${o.jobStartTime ?? '?'} → ${o.jobCompletionTime ?? '?'}${o.jobDurationSeconds !== undefined ? ` (${o.jobDurationSeconds}s)` : ''}`,
  ];
  if (result.metrics.reported) lines.push(`  run report ${JSON.stringify(result.metrics.reported)}`);
  const measured = Object.entries(result.metrics.taxonomy.metrics)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(', ');
  lines.push(`  taxonomy   ${measured} (measured on ${result.metrics.taxonomy.dataset}, not by this run)`);
  for (const note of result.metrics.notes) lines.push(`  note       ${note}`);
  if (result.timings.toJobCreatedMs !== undefined) {
    lines.push(
      `  timings    Job created after ${result.timings.toJobCreatedMs} ms, done after ${result.timings.totalMs ?? '?'} ms`,
    );
  }
  return lines.join('\n');
}

export async function submitAction(
  task: string,
  opts: SubmitOptions,
  deps: TaskCliDeps = {},
): Promise<{ id: string; result?: DeployTaskResult }> {
  const io = deps.io ?? processIo;
  const taxonomy = await (deps.taxonomy ?? (() => loadTaxonomy()))().catch((err: unknown) => {
    throw new CliError(message(err), err);
  });
  const request = checkSubmission(taxonomy, task, opts);
  return withTalon(deps, async (talon) => {
    const handle = await talon.submitTask(request);
    if (!opts.wait) {
      io.out(opts.json ? JSON.stringify({ id: handle.id, status: 'RUNNING' }) : handle.id);
      return { id: handle.id };
    }
    if (!opts.json) io.out(`submitted ${handle.id}`);
    const started = Date.now();
    let last = '';
    const done = handle.result().then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    for (;;) {
      const settled = await Promise.race([
        done,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), deps.pollMs ?? 500)),
      ]);
      if (settled) {
        if (io.progress && last) io.progress('\n');
        if ('error' in settled) {
          const cause = (settled.error as { cause?: unknown }).cause ?? settled.error;
          throw new CliError(`task ${handle.id} failed: ${message(cause)}`, settled.error);
        }
        io.out(opts.json ? JSON.stringify(settled.result, null, 2) : formatResult(settled.result));
        return { id: handle.id, result: settled.result };
      }
      const state = await handle.state().catch(() => undefined);
      if (state && io.progress) {
        const line = formatProgress(state, Date.now() - started);
        if (line !== last) io.progress(line);
        last = line;
      }
    }
  });
}

export async function statusAction(
  id: string,
  opts: { json?: boolean } = {},
  deps: TaskCliDeps = {},
): Promise<TaskStatus> {
  const io = deps.io ?? processIo;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/.test(id)) throw new CliError(`not a task id: ${JSON.stringify(id)}`);
  return withTalon(deps, async (talon) => {
    let status: TaskStatus;
    try {
      status = await talon.taskStatus(id);
    } catch (err) {
      if (err instanceof TaskNotFoundError) throw new CliError(`no task submission ${id}`, err);
      throw err;
    }
    if (opts.json) io.out(JSON.stringify(status, null, 2));
    else if (status.result) io.out(formatResult(status.result));
    else if (status.state) {
      const elapsed = status.state.timings.totalMs ?? Date.now() - Date.parse(status.state.timings.submittedAt);
      io.out(
        `${status.status}: ${formatProgress(status.state, elapsed)}${status.error ? `\n  error: ${status.error}` : ''}`,
      );
    } else io.out(`${status.status}${status.error ? `: ${status.error}` : ''}`);
    return status;
  });
}

export async function listAction(opts: { limit: number; json?: boolean }, deps: TaskCliDeps = {}) {
  const io = deps.io ?? processIo;
  return withTalon(deps, async (talon) => {
    const rows = await talon.listTasks(opts.limit);
    if (opts.json) io.out(JSON.stringify(rows, null, 2));
    else if (rows.length === 0) io.out('no task submissions');
    else {
      io.out(['ID', 'STATUS', 'TASK', 'ALGORITHM', 'OUTCOME', 'STARTED'].join('\t'));
      for (const r of rows) {
        io.out(
          [r.id, r.status, r.task ?? '-', r.algorithm ?? '-', r.outcome ?? '-', r.startTime.toISOString()].join('\t'),
        );
      }
    }
    return rows;
  });
}

function limit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 10_000)
    throw new InvalidArgumentError('a whole number from 1 to 10000');
  return n;
}

export function registerTaskCommands(program: Command, deps: TaskCliDeps = {}): Command {
  const task = program
    .command('task')
    .description('submit a task (interpolation, outlier removal, data casting...) and follow it');

  task
    .command('submit')
    .description('select the algorithm by your priorities, place it on edge or cloud, run it as a Job')
    .argument('<task>', 'a task of the taxonomy (`talon taxonomy show`)')
    .requiredOption(
      '-p, --priorities <list>',
      'what to optimise, e.g. quality=70,energy=30 (quality, speed, energy, cost)',
    )
    .option('--input <path>', 'input CSV path inside the container')
    .option('--output <path>', 'output CSV path inside the container')
    .option('--data-site <site>', 'where the data is; nodes labelled talon.io/site=<site> count as near it')
    .option('--namespace <ns>', 'namespace of the Job (default: default)')
    .option('--wait', 'show progress until the result')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: SubmitOptions) => {
      await submitAction(name, opts, deps);
    });

  task
    .command('status')
    .description('the state of a submission while it runs, its result when done')
    .argument('<id>', 'the submission id printed by `talon task submit`')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      await statusAction(id, opts, deps);
    });

  task
    .command('list')
    .description('task submissions, newest first')
    .option('--limit <n>', 'at most this many rows (1-10000)', limit, 50)
    .option('--json', 'print JSON')
    .action(async (opts: { limit: number; json?: boolean }) => {
      await listAction(opts, deps);
    });
  return program;
}
