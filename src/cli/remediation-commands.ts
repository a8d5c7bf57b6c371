/**
 * The remediation commands: `talon status|approve|reject|cancel|list`, `talon history export` and the
 * what-if `talon alerts replay`. Each command is an exported action function (tests call them without a
 * process) over a pure formatter; configuration comes from the environment once, via loadTalonConfig.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ServiceError, WorkflowNotFoundError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { InvalidArgumentError, type Command } from 'commander';
import { ApprovalRefusedError } from '../client/errors';
import { TalonClient, type RemediationSummary } from '../client/talon-client';
import { describeTarget } from '../domain/alert';
import { DEFAULT_REMEDIATION_SETTINGS, type ApprovalResult } from '../contracts/remediate-alert';
import { loadKubeConfig } from '../kube/config';
import { WORKFLOW_TYPES } from '../contracts/common';
import type { AttemptRecord, RemediationState } from '../contracts/alert-episode';
import { intakeWorkflowId, type IntakeState } from '../contracts/alert-intake';
import { activityDepsFromConfig, createActivityGroups, type ModelStatus } from '../../workers/activities';
import { loadTalonConfig, type TalonConfig } from '../../workers/config';
import { formatWhatIf, parsePayloads, whatIfPayloads, type WhatIfActivities, type WhatIfReport } from './alerts-replay';
import { CliError } from './errors';

export interface RemediationCliIo {
  readonly out: (text: string) => void;
}

export interface RemediationCliDeps {
  readonly io?: RemediationCliIo;
  /** Defaults to the process environment's configuration. */
  readonly config?: TalonConfig;
}

const processIo: RemediationCliIo = { out: (text) => process.stdout.write(`${text}\n`) };

// Duck-typed: errors from Node's own modules may come from another realm (jest), where instanceof fails.
const message = (err: unknown): string => {
  const text = (err as { message?: unknown } | null)?.message;
  return typeof text === 'string' ? text : String(err);
};

/** The workflow types whose `state` query answers a RemediationState. */
const REMEDIATION_TYPES: readonly string[] = [WORKFLOW_TYPES.remediateAlert, WORKFLOW_TYPES.nodeOverload];

// ---------------------------------------------------------------------------------------------------------
// Argument checks: pure, throw CliError; commander sees them through `asArgument`.

export function checkWorkflowId(value: string | undefined): string {
  if (value === undefined || value.trim() === '') throw new CliError('a workflow id is required');
  if (value.length > 1000) throw new CliError('a workflow id is at most 1000 characters');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new CliError('a workflow id has no control characters');
  return value;
}

/** Who answers or cancels: recorded in the workflow, so it must name someone (the workflow's own bound). */
export function checkWho(value: string | undefined, command: string): string {
  const who = value?.trim();
  if (!who) throw new CliError(`${command} needs --by <who>: the person (or system) answering, for the record`);
  if (who.length > 200) throw new CliError('--by is at most 200 characters');
  return who;
}

export function checkLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1 || n > 10_000) {
    throw new CliError(`--limit must be a whole number from 1 to 10000, got ${JSON.stringify(value)}`);
  }
  return n;
}

export function checkRunId(value: string): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) {
    throw new CliError(`--run must be a run id (a UUID), got ${JSON.stringify(value)}`);
  }
  return value;
}

export function checkQuery(value: string): string {
  if (value.trim() === '') throw new CliError('--query must not be empty (leave it out to list everything)');
  return value;
}

export function checkShards(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new CliError(`--shards must be an integer from 1 to 64, got ${value}`);
  return n;
}

export function checkAttempts(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 10) {
    throw new CliError(`--max-attempts must be a whole number from 1 to 10, got ${JSON.stringify(value)}`);
  }
  return n;
}

function asArgument<T>(check: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return check(value);
    } catch (err) {
      throw new InvalidArgumentError(message(err));
    }
  };
}

// ---------------------------------------------------------------------------------------------------------
// Temporal access

/** What a gRPC failure says, without the SDK's generic wrapper ("Failed to query Workflow"). */
function detailOf(err: unknown): string {
  const cause = (err as { cause?: { details?: unknown; message?: unknown } }).cause;
  if (typeof cause?.details === 'string' && cause.details) return cause.details;
  return message(err);
}

function grpcCode(err: unknown): number | undefined {
  const direct = (err as { code?: unknown }).code;
  if (typeof direct === 'number') return direct;
  const inner = (err as { cause?: { code?: unknown } }).cause?.code;
  return typeof inner === 'number' ? inner : undefined;
}

const GRPC_NOT_FOUND = 5;

/** Temporal's errors in the words of the command line; anything unexpected passes through unchanged. */
function explain(err: unknown, config: TalonConfig, workflowId?: string): unknown {
  if (err instanceof CliError) return err;
  if (err instanceof ApprovalRefusedError) return new CliError(err.message, err);
  if (workflowId !== undefined && (err instanceof WorkflowNotFoundError || grpcCode(err) === GRPC_NOT_FOUND)) {
    return new CliError(
      `no remediation with workflow id ${JSON.stringify(workflowId)} in Temporal namespace ${config.temporal.namespace}`,
      err,
    );
  }
  if (err instanceof ServiceError) return new CliError(`${err.message}: ${detailOf(err)}`, err);
  return err;
}

async function withTalon<T>(
  deps: RemediationCliDeps,
  workflowId: string | undefined,
  fn: (talon: TalonClient, config: TalonConfig) => Promise<T>,
): Promise<T> {
  const config = deps.config ?? loadTalonConfig();
  let talon: TalonClient;
  try {
    talon = await TalonClient.connect(config.temporal);
  } catch (err) {
    throw new CliError(`cannot reach Temporal at ${config.temporal.address}: ${message(err)}`, err);
  }
  try {
    return await fn(talon, config);
  } catch (err) {
    throw explain(err, config, workflowId);
  } finally {
    await talon.close();
  }
}

/** The execution behind an id, refusing ids of workflows that are not remediations. */
async function describeRemediation(talon: TalonClient, workflowId: string) {
  const description = await talon.temporal.workflow.getHandle(workflowId).describe();
  if (!REMEDIATION_TYPES.includes(description.type)) {
    throw new CliError(`${workflowId} is a ${description.type} workflow, not a Talon remediation`);
  }
  return description;
}

// ---------------------------------------------------------------------------------------------------------
// talon status

/** What a closed remediation returned, when its live state can no longer be queried. */
export interface ClosedResult {
  readonly outcome: string;
  readonly reason?: string;
  readonly attempts: readonly AttemptRecord[];
}

export interface StatusView {
  readonly workflowId: string;
  readonly runId: string;
  readonly type: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, TERMINATED, ... */
  readonly execution: string;
  readonly taskQueue: string;
  readonly startTime: string;
  readonly closeTime?: string;
  readonly state?: RemediationState;
  readonly result?: ClosedResult;
  /** Why the live state is missing. */
  readonly note?: string;
}

function closedResult(value: unknown): ClosedResult | undefined {
  const v = value as { outcome?: unknown; reason?: unknown; attempts?: unknown } | null;
  if (!v || typeof v.outcome !== 'string') return undefined;
  return {
    outcome: v.outcome,
    ...(typeof v.reason === 'string' ? { reason: v.reason } : {}),
    attempts: Array.isArray(v.attempts) ? (v.attempts as AttemptRecord[]) : [],
  };
}

export async function statusAction(
  workflowId: string,
  opts: { json?: boolean } = {},
  deps: RemediationCliDeps = {},
): Promise<StatusView> {
  const id = checkWorkflowId(workflowId);
  const view = await withTalon(deps, id, async (talon) => {
    const d = await describeRemediation(talon, id);
    const base = {
      workflowId: d.workflowId,
      runId: d.runId,
      type: d.type,
      execution: d.status.name,
      taskQueue: d.taskQueue,
      startTime: d.startTime.toISOString(),
      ...(d.closeTime ? { closeTime: d.closeTime.toISOString() } : {}),
    };
    try {
      return { ...base, state: await talon.status(id) };
    } catch (err) {
      if (d.status.name === 'RUNNING') {
        throw new CliError(
          `cannot read the state of ${id}: ${detailOf(err)} (is a Talon worker polling task queue ${d.taskQueue}?)`,
          err,
        );
      }
      // A closed workflow answers queries only through a worker replaying it; its result says enough.
      const result =
        d.status.name === 'COMPLETED'
          ? closedResult(
              await talon.temporal.workflow
                .getHandle(id, d.runId)
                .result()
                .catch(() => undefined),
            )
          : undefined;
      return {
        ...base,
        ...(result ? { result } : {}),
        note: `the workflow is closed and its live state cannot be queried (${detailOf(err)})`,
      };
    }
  });
  (deps.io ?? processIo).out(opts.json ? JSON.stringify(view, null, 2) : formatStatus(view));
  return view;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function attemptLines(attempts: readonly AttemptRecord[]): string[] {
  if (attempts.length === 0) return ['none yet'];
  const lines: string[] = [];
  for (const a of attempts) {
    const state = !a.applied
      ? 'not applied'
      : a.verified === true
        ? 'applied, verified'
        : a.verified === false
          ? 'applied, NOT verified'
          : 'applied';
    const source =
      a.source === undefined ? '' : ` by the ${a.source}${a.fallbackReason ? ` (fallback: ${a.fallbackReason})` : ''}`;
    lines.push(`#${a.attempt} ${a.policy} ×${a.magnitude}${source}: ${state}`);
    lines.push(`   ${a.summary}`);
    if (a.detail && a.detail !== a.summary) lines.push(`   ${a.detail}`);
  }
  return lines;
}

/** `talon status` as people read it. Pure. */
export function formatStatus(view: StatusView): string {
  const lines: string[] = [];
  const row = (label: string, value: string): void => {
    lines.push(`${label.padEnd(13)}${value}`);
  };
  const rows = (label: string, values: readonly string[]): void => {
    values.forEach((v, i) => row(i === 0 ? label : '', v));
  };
  row('remediation', view.workflowId);
  row(
    'workflow',
    `${view.type} ${view.execution}, run ${view.runId}, task queue ${view.taskQueue}, started ${view.startTime}` +
      (view.closeTime ? `, closed ${view.closeTime}` : ''),
  );
  const s = view.state;
  if (s) {
    row(
      'alert',
      `${s.alert.alertName} on ${describeTarget(s.alert.target)}: ${s.firing ? 'firing' : 'resolved'}, ` +
        plural(s.notifications, 'notification'),
    );
    row('step', s.step);
    if (s.awaitingApprovalFor) {
      row('waiting for', `approval of ${s.awaitingApprovalFor}`);
      row('', `answer with: talon approve|reject ${view.workflowId} --by <you> [--comment <text>]`);
    }
    row('outcome', s.outcome ?? 'none yet (in progress)');
    if (s.lastVerification) row('verification', s.lastVerification);
    rows('attempts', attemptLines(s.attempts));
  } else if (view.result) {
    row('outcome', `${view.result.outcome}${view.result.reason ? `: ${view.result.reason}` : ''}`);
    rows('attempts', attemptLines(view.result.attempts));
  }
  if (view.note) row('note', view.note);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// talon approve / reject / cancel

export async function answerApprovalAction(
  answer: 'approve' | 'reject',
  workflowId: string,
  opts: { by?: string; comment?: string; json?: boolean },
  deps: RemediationCliDeps = {},
): Promise<ApprovalResult> {
  const id = checkWorkflowId(workflowId);
  const by = checkWho(opts.by, answer);
  const comment = opts.comment?.trim() || undefined;
  const result = await withTalon(deps, id, async (talon) => {
    await describeRemediation(talon, id);
    return answer === 'approve' ? talon.approve(id, by, comment) : talon.reject(id, by, comment);
  });
  if (!result.accepted) throw new CliError(`${answer} not accepted: ${result.message}`);
  (deps.io ?? processIo).out(opts.json ? JSON.stringify(result, null, 2) : result.message);
  return result;
}

export async function cancelAction(
  workflowId: string,
  opts: { by?: string; reason?: string },
  deps: RemediationCliDeps = {},
): Promise<void> {
  const id = checkWorkflowId(workflowId);
  const by = checkWho(opts.by, 'cancel');
  const reason = opts.reason?.trim() || undefined;
  await withTalon(deps, id, async (talon) => {
    const d = await describeRemediation(talon, id);
    if (d.status.name !== 'RUNNING') {
      throw new CliError(`${id} is already closed (${d.status.name}): nothing to cancel`);
    }
    await talon.cancel(id, by, reason);
  });
  (deps.io ?? processIo).out(
    `asked ${id} to stop (by ${by}${reason ? `: ${reason}` : ''}); it ends "cancelled" at its next step (talon status ${id})`,
  );
}

// ---------------------------------------------------------------------------------------------------------
// talon list

export async function listAction(
  opts: { query?: string; limit?: number; json?: boolean } = {},
  deps: RemediationCliDeps = {},
): Promise<RemediationSummary[]> {
  const query = opts.query === undefined ? '' : checkQuery(opts.query);
  const limit = opts.limit ?? 50;
  const rows = await withTalon(deps, undefined, async (talon) => {
    try {
      return await talon.list(query, limit);
    } catch (err) {
      if (err instanceof ServiceError && grpcCode(err) === 3) {
        throw new CliError(`Temporal refused --query ${JSON.stringify(query)}: ${detailOf(err)}`, err);
      }
      throw err;
    }
  });
  (deps.io ?? processIo).out(opts.json ? JSON.stringify(rows, null, 2) : formatList(rows));
  return rows;
}

const when = (d: Date): string => `${d.toISOString().slice(0, 19).replace('T', ' ')}Z`;

/** Remediations as a table, in the order Temporal lists them. Pure. */
export function formatList(rows: readonly RemediationSummary[]): string {
  if (rows.length === 0) return 'no remediations match';
  const header = ['STARTED', 'STATUS', 'OUTCOME', 'ALERT', 'TARGET', 'POLICIES', 'WORKFLOW ID'];
  const cells = rows.map((r) => [
    when(r.startTime),
    r.status,
    r.outcome ?? '-',
    r.alertName ?? '-',
    r.target ?? '-',
    r.policies?.length ? r.policies.join(',') : '-',
    r.workflowId,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]?.length ?? 0)));
  const line = (c: readonly string[]): string =>
    c
      .map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...cells.map(line), `${plural(rows.length, 'remediation')}`].join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// talon history export

export const HISTORY_DIR = join('test', 'replay', 'histories');

/** A file name the replay test picks up: the id's safe characters, everything else a dash. Pure. */
export function historyFileName(workflowId: string): string {
  const safe = workflowId
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 200);
  return `${safe || 'history'}.json`;
}

export function defaultHistoryPath(workflowId: string, cwd: string = process.cwd()): string {
  return join(cwd, HISTORY_DIR, historyFileName(workflowId));
}

export async function historyExportAction(
  workflowId: string,
  opts: { run?: string; out?: string; force?: boolean } = {},
  deps: RemediationCliDeps = {},
): Promise<{ path: string; events: number }> {
  const id = checkWorkflowId(workflowId);
  const runId = opts.run === undefined ? undefined : checkRunId(opts.run);
  let path: string;
  if (opts.out !== undefined) {
    if (opts.out.trim() === '') throw new CliError('--out must name a file');
    path = resolve(opts.out);
  } else {
    path = defaultHistoryPath(id);
    if (!existsSync(dirname(path))) {
      throw new CliError(`${HISTORY_DIR} does not exist here: run from the repository root or pass --out <file>`);
    }
  }
  if (!opts.force && existsSync(path)) {
    throw new CliError(`${path} exists: pass --force to overwrite it, or --out <file>`);
  }
  const history = await withTalon(deps, id, (talon) => talon.history(id, runId));
  const events = history.events?.length ?? 0;
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${historyToJSON(history)}\n`);
  (deps.io ?? processIo).out(
    `wrote ${plural(events, 'event')} of ${id}${runId ? ` (run ${runId})` : ''} to ${path}` +
      (path.includes(HISTORY_DIR) ? '; npm run test:replay now replays it' : ''),
  );
  return { path, events };
}

// ---------------------------------------------------------------------------------------------------------
// talon alerts replay

export function describeEngine(model: ModelStatus | undefined): string {
  if (!model) return 'the rule policy (no model configured)';
  if (model.loaded) return `the ONNX policy model ${model.path} (version ${model.version})`;
  return `the rule policy, because ${model.reason}`;
}

export interface AlertsReplayOptions {
  readonly json?: boolean;
  /** Another ONNX model than the configured one. */
  readonly model?: string;
  readonly maxAttempts?: number;
}

/**
 * Runs recorded notifications through the worker's own activities (assembled by createActivityGroups from
 * the same configuration), with every change a server-side dry run. `activities` replaces them in tests.
 */
export async function alertsReplayAction(
  file: string,
  opts: AlertsReplayOptions = {},
  deps: RemediationCliDeps & { readonly activities?: WhatIfActivities; readonly engine?: string } = {},
): Promise<WhatIfReport> {
  if (!file || file.trim() === '') throw new CliError('alerts replay needs a payload file');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read payload file ${file}: ${message(err)}`, err);
  }
  const payloads = parsePayloads(text, file);
  const maxAttempts = opts.maxAttempts ?? DEFAULT_REMEDIATION_SETTINGS.maxAttempts;
  const options = { file, maxAttempts, operationPrefix: `what-if/${randomUUID()}` };

  let report: WhatIfReport;
  if (deps.activities) {
    report = await whatIfPayloads(payloads, deps.activities, {
      ...options,
      engine: deps.engine ?? 'injected activities',
    });
  } else {
    const config = deps.config ?? loadTalonConfig();
    let kubeConfig;
    try {
      kubeConfig = loadKubeConfig(config.kube);
    } catch (err) {
      throw new CliError(`cannot load the Kubernetes configuration: ${message(err)}`, err);
    }
    const base = activityDepsFromConfig(config, kubeConfig);
    const groups = await createActivityGroups({
      ...base,
      ...(opts.model ? { modelPath: opts.model } : {}),
      // Every apply below passes dryRun itself; this makes dry run the actuator's default too.
      guards: { ...base.guards, dryRun: true },
    });
    try {
      const activities: WhatIfActivities = {
        readTarget: (ref) => groups.target.readTarget(ref),
        gatherWindow: (input) => groups.metrics.gatherWindow(input),
        decidePolicy: (window) => groups.policy.decidePolicy(window),
        applyPolicy: (input) => groups.remediation.applyPolicy(input),
      };
      report = await whatIfPayloads(payloads, activities, { ...options, engine: describeEngine(groups.model) });
    } finally {
      await groups.close();
    }
  }
  (deps.io ?? processIo).out(opts.json ? JSON.stringify(report, null, 2) : formatWhatIf(report));
  return report;
}

// ---------------------------------------------------------------------------------------------------------
// talon alerts intake

export interface IntakeShardView {
  readonly shard: number;
  readonly workflowId: string;
  /** undefined: the shard is not running (nothing queued there lately). */
  readonly state?: IntakeState;
}

/** One line per shard: how many alerts wait in the intake and how many it handed on. Pure. */
export function formatIntake(taskQueue: string, shards: readonly IntakeShardView[]): string {
  const queued = shards.reduce((n, s) => n + (s.state?.queued ?? 0), 0);
  const lines = shards.map((s) =>
    s.state
      ? `  shard ${s.shard}  ${s.state.queued} queued, ${s.state.dispatched} handed on` +
        `${s.state.dropped > 0 ? `, ${s.state.dropped} dropped (refused by Temporal, see its history)` : ''}  ${s.workflowId}`
      : `  shard ${s.shard}  idle (not running)`,
  );
  return [`alert intake of task queue ${taskQueue}: ${queued} alert(s) waiting`, ...lines].join('\n');
}

export async function intakeAction(
  opts: { json?: boolean; shards?: number } = {},
  deps: RemediationCliDeps = {},
): Promise<IntakeShardView[]> {
  return withTalon(deps, undefined, async (talon, config) => {
    const count = opts.shards ?? config.webhook.intake.shards;
    const views = await Promise.all(
      Array.from({ length: count }, async (_, shard): Promise<IntakeShardView> => {
        const state = await talon.intakeState(shard);
        return { shard, workflowId: intakeWorkflowId(talon.taskQueue, shard), ...(state ? { state } : {}) };
      }),
    );
    (deps.io ?? processIo).out(opts.json ? JSON.stringify(views, null, 2) : formatIntake(talon.taskQueue, views));
    return views;
  });
}

// ---------------------------------------------------------------------------------------------------------

/** Adds the remediation commands to `program`; `deps` is where output goes and which configuration is used. */
export function registerRemediationCommands(program: Command, deps: RemediationCliDeps = {}): Command {
  const workflowIdArgument = [
    '<workflowId>',
    'the remediation’s workflow id, e.g. remediate/<alert>/<ns>/<pod>/<fp>',
  ] as const;

  program
    .command('status')
    .description('the live state of a remediation: step, attempts, outcome, what it waits for')
    .argument(...workflowIdArgument, asArgument(checkWorkflowId))
    .option('--json', 'print the state as JSON')
    .action(async (workflowId: string, opts: { json?: boolean }) => {
      await statusAction(workflowId, opts, deps);
    });

  for (const answer of ['approve', 'reject'] as const) {
    program
      .command(answer)
      .description(`${answer} the change a remediation waits for (it must be awaiting approval)`)
      .argument(...workflowIdArgument, asArgument(checkWorkflowId))
      .requiredOption(
        '--by <who>',
        `who ${answer}s, recorded in the workflow`,
        asArgument((v) => checkWho(v, answer)),
      )
      .option('--comment <text>', 'why, for the record')
      .option('--json', 'print the answer as JSON')
      .action(async (workflowId: string, opts: { by: string; comment?: string; json?: boolean }) => {
        await answerApprovalAction(answer, workflowId, opts, deps);
      });
  }

  program
    .command('cancel')
    .description('stop a running remediation; it records who asked and ends "cancelled"')
    .argument(...workflowIdArgument, asArgument(checkWorkflowId))
    .requiredOption(
      '--by <who>',
      'who cancels, recorded in the workflow',
      asArgument((v) => checkWho(v, 'cancel')),
    )
    .option('--reason <text>', 'why, for the record')
    .action((workflowId: string, opts: { by: string; reason?: string }) => cancelAction(workflowId, opts, deps));

  program
    .command('list')
    .description('a table of remediations, filtered by a Temporal visibility query over Talon’s search attributes')
    .option(
      '--query <query>',
      'e.g. \'TalonOutcome = "needs_human"\' or \'TalonNamespace = "shop"\'',
      asArgument(checkQuery),
    )
    .option('--limit <n>', 'at most this many rows (1-10000)', asArgument(checkLimit), 50)
    .option('--json', 'print the rows as JSON')
    .action(async (opts: { query?: string; limit: number; json?: boolean }) => {
      await listAction(opts, deps);
    });

  program
    .command('history')
    .description('workflow histories')
    .command('export')
    .description(`write a remediation's event history as JSON, the format the replay test replays`)
    .argument(...workflowIdArgument, asArgument(checkWorkflowId))
    .option('--run <runId>', 'a particular run (default: the latest)', asArgument(checkRunId))
    .option('--out <file>', `where to write it (default: ${HISTORY_DIR}/<sanitised id>.json)`)
    .option('--force', 'overwrite an existing file')
    .action(async (workflowId: string, opts: { run?: string; out?: string; force?: boolean }) => {
      await historyExportAction(workflowId, opts, deps);
    });

  const alerts = program.command('alerts').description('recorded and queued alerts');
  alerts
    .command('replay')
    .description(
      'what-if: run recorded Alertmanager webhook payloads through gather, infer and the guards with a ' +
        'server-side dry run, and print what Talon would do and why; changes nothing',
    )
    .argument('<file>', 'one payload, a JSON array of payloads, or newline-delimited JSON')
    .option('--model <path>', 'use this ONNX policy model instead of the configured one')
    .option('--max-attempts <n>', 'policies tried per alert, as the workflow bounds them', asArgument(checkAttempts))
    .option('--json', 'print the report as JSON')
    .action(async (file: string, opts: AlertsReplayOptions) => {
      await alertsReplayAction(file, opts, deps);
    });
  alerts
    .command('intake')
    .description('alerts acknowledged during a storm and still waiting in the alert intake, per shard')
    .option('--shards <n>', 'shards to look at (default: TALON_WEBHOOK_INTAKE_SHARDS)', asArgument(checkShards))
    .option('--json', 'print the shards as JSON')
    .action(async (opts: { json?: boolean; shards?: number }) => {
      await intakeAction(opts, deps);
    });

  return program;
}
