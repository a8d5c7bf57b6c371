/**
 * The remediation commands: `talon status|approve|reject|cancel|list`, `talon history export` and the
 * `talon alerts` group (the what-if `replay`, the storm `intake`). One module per command (or per small
 * group); each exports an action function (tests call them without a process) over a pure formatter, and
 * the commander wiring. Configuration comes from the environment once, via loadTalonConfig, unless injected.
 */
import type { Command } from 'commander';
import { registerApprovalCommands } from './approve';
import { registerAuditCommand } from './audit';
import { registerCancelCommand } from './cancel';
import type { RemediationCliDeps } from './deps';
import { registerHistoryCommands } from './history';
import { registerIntakeCommand } from './intake';
import { registerListCommand } from './list';
import { registerReplayCommand } from './replay';
import { registerStatusCommand } from './status';

export type { RemediationCliDeps, RemediationCliIo } from './deps';

/** Adds the remediation commands to `program`; `deps` is where output goes and which configuration is used. */
export function registerRemediationCommands(program: Command, deps: RemediationCliDeps = {}): Command {
  registerStatusCommand(program, deps);
  registerApprovalCommands(program, deps);
  registerCancelCommand(program, deps);
  registerListCommand(program, deps);
  registerAuditCommand(program, deps);
  registerHistoryCommands(program, deps);
  const alerts = program.command('alerts').description('recorded and queued alerts');
  registerReplayCommand(alerts, deps);
  registerIntakeCommand(alerts, deps);
  return program;
}
