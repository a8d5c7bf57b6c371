/** `talon cancel <workflowId> --by <who>`: stop a running remediation; it ends "cancelled". */
import type { Command } from 'commander';
import { CliError } from '../errors';
import { asArgument, checkWho, checkWorkflowId, workflowIdArgument } from './arguments';
import { print, type RemediationCliDeps } from './deps';
import { describeRemediation, withTalon } from './temporal';

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
  print(
    deps,
    `asked ${id} to stop (by ${by}${reason ? `: ${reason}` : ''}); it ends "cancelled" at its next step (talon status ${id})`,
  );
}

export function registerCancelCommand(program: Command, deps: RemediationCliDeps): void {
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
}
