/** `talon status <workflowId>`: the live state of a remediation, or what a closed one returned. */
import type { Command } from 'commander';
import { describeTarget } from '../../domain/alert';
import type { MemoryEntry } from '../../domain/target-memory';
import type { AttemptRecord, RemediationState } from '../../contracts/alert-episode';
import { CliError } from '../errors';
import { asArgument, checkWorkflowId, workflowIdArgument } from './arguments';
import { plural, print, type RemediationCliDeps } from './deps';
import { describeRemediation, detailOf, withTalon } from './temporal';

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
  print(deps, opts.json ? JSON.stringify(view, null, 2) : formatStatus(view));
  return view;
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
    if (a.rolledBack) lines.push(`   rolled back: ${a.rolledBack}`);
    if (a.policyVersion) lines.push(`   decided under policy ${a.policyVersion}`);
  }
  return lines;
}

/** What a workload's remediation remembers across episodes, oldest first. */
function memoryLines(entries: readonly MemoryEntry[]): string[] {
  if (entries.length === 0) return ['nothing yet'];
  return entries.map(
    (e) => `${new Date(e.at).toISOString()} episode ${e.episode}: ${e.policy} ×${e.magnitude} ${e.outcome}`,
  );
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
    if (s.pods && s.pods.length > 1) row('pods', s.pods.join(', '));
    if (s.episode !== undefined) row('episode', String(s.episode));
    if (s.watchingUntil) row('watching', `for a re-fire until ${s.watchingUntil} (it continues below what was tried)`);
    if (s.operator) {
      const by = s.operator.matched.length > 0 ? ` (overrides: ${s.operator.matched.join(', ')})` : '';
      row('policy', `${s.operator.policyVersion}, autonomy ${s.operator.autonomy}${by}`);
      if (s.operator.brake) row('held', s.operator.brake);
    }
    if (s.awaitingApprovalFor) {
      row('waiting for', `approval of ${s.awaitingApprovalFor}`);
      row('', `answer with: talon approve|reject ${view.workflowId} --by <you> [--comment <text>]`);
    }
    row('outcome', s.outcome ?? 'none yet (in progress)');
    if (s.lastVerification) row('verification', s.lastVerification);
    rows('attempts', attemptLines(s.attempts));
    if (s.memory) rows('remembers', memoryLines(s.memory));
  } else if (view.result) {
    row('outcome', `${view.result.outcome}${view.result.reason ? `: ${view.result.reason}` : ''}`);
    rows('attempts', attemptLines(view.result.attempts));
  }
  if (view.note) row('note', view.note);
  return lines.join('\n');
}

export function registerStatusCommand(program: Command, deps: RemediationCliDeps): void {
  program
    .command('status')
    .description('the live state of a remediation: step, attempts, outcome, what it waits for')
    .argument(...workflowIdArgument, asArgument(checkWorkflowId))
    .option('--json', 'print the state as JSON')
    .action(async (workflowId: string, opts: { json?: boolean }) => {
      await statusAction(workflowId, opts, deps);
    });
}
