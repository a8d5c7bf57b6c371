/** `talon alerts intake`: alerts acknowledged during a storm and still waiting in the alert intake, per shard. */
import type { Command } from 'commander';
import { intakeWorkflowId, type IntakeState } from '../../contracts/alert-intake';
import { asArgument, checkShards } from './arguments';
import { print, type RemediationCliDeps } from './deps';
import { withTalon } from './temporal';

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
    print(deps, opts.json ? JSON.stringify(views, null, 2) : formatIntake(talon.taskQueue, views));
    return views;
  });
}

/** Adds `intake` to the `alerts` command group. */
export function registerIntakeCommand(alerts: Command, deps: RemediationCliDeps): void {
  alerts
    .command('intake')
    .description('alerts acknowledged during a storm and still waiting in the alert intake, per shard')
    .option('--shards <n>', 'shards to look at (default: TALON_WEBHOOK_INTAKE_SHARDS)', asArgument(checkShards))
    .option('--json', 'print the shards as JSON')
    .action(async (opts: { json?: boolean; shards?: number }) => {
      await intakeAction(opts, deps);
    });
}
