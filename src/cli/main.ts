/** The `talon` command line. Each command group lives in its own module; this file only assembles them. */
import { Command } from 'commander';
import { registerDemoCommand } from './demo';
import { registerModelCommands } from './model';
import { registerPricingCommands } from './offer-commands';
import { registerRemediationCommands } from './remediation-commands';
import { registerRunCommands } from './run-commands';
import { registerStackCommands } from './stack-commands';
import { registerTaskCommands } from './task-commands';
import { registerTaxonomyCommands } from './task-taxonomy';

export function buildProgram(): Command {
  const program = new Command('talon')
    .description('Durable auto-remediation for Kubernetes on Temporal')
    .showHelpAfterError();
  registerStackCommands(program);
  registerRunCommands(program);
  registerDemoCommand(program);
  registerTaxonomyCommands(program);
  registerTaskCommands(program);
  registerModelCommands(program);
  registerRemediationCommands(program);
  registerPricingCommands(program);
  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      process.stderr.write(`talon: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    });
}
