/** `talon approve|reject <workflowId> --by <who>`: answer the change a remediation waits for. */
import type { Command } from 'commander';
import type { ApprovalResult } from '../../contracts/remediate-alert';
import { CliError } from '../errors';
import { asArgument, checkWho, checkWorkflowId, workflowIdArgument } from './arguments';
import { print, type RemediationCliDeps } from './deps';
import { describeRemediation, withTalon } from './temporal';

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
  print(deps, opts.json ? JSON.stringify(result, null, 2) : result.message);
  return result;
}

export function registerApprovalCommands(program: Command, deps: RemediationCliDeps): void {
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
}
