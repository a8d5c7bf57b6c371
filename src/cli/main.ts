/** The `talon` command line. Each command group lives in its own module; this file only assembles them. */
import { Command } from 'commander';
import { devCommand, loadDevExport, type Configure } from './dev-commands';
import { registerDecisionCommands } from './decisions';
import { registerModelCommands } from './model';
import { registerOperatorCommands } from './operator-commands';
import { registerPricingCommands } from './offer-commands';
import { registerRemediationCommands } from './remediation';
import { registerRunCommands } from './run-commands';
import { registerTaskCommands } from './task-commands';
import { registerTaxonomyCommands } from './task-taxonomy';

export function buildProgram(): Command {
  const program = new Command('talon')
    .description('Durable auto-remediation for Kubernetes on Temporal')
    .showHelpAfterError();
  // The local stack and the demo are development tools (tools/stack), loaded only when invoked.
  devCommand(program, 'setup', 'build or install the pinned local-stack tools into the cache (idempotent)', (cmd) =>
    loadDevExport<Configure>('tools/stack/commands', 'configureSetup', 'setup')(cmd),
  );
  devCommand(
    program,
    'stack',
    'the embedded local stack (Temporal, KWOK cluster, Prometheus, Alertmanager, InfluxDB)',
    (cmd) => loadDevExport<Configure>('tools/stack/commands', 'configureStack', 'stack')(cmd),
  );
  registerRunCommands(program);
  devCommand(program, 'demo', 'set up, start the local stack and Talon, and make a real alert fire', (cmd) =>
    loadDevExport<Configure>('tools/stack/demo', 'configureDemo', 'demo')(cmd),
  );
  devCommand(
    program,
    'lab',
    'the incident lab: scenario files run on the local stack, engines side by side, scored (docs/LAB.md)',
    (cmd) => loadDevExport<Configure>('tools/lab/commands', 'configureLab', 'lab')(cmd),
  );
  registerTaxonomyCommands(program);
  registerTaskCommands(program);
  registerModelCommands(program);
  registerDecisionCommands(program);
  registerRemediationCommands(program);
  registerOperatorCommands(program);
  registerPricingCommands(program);
  return program;
}

/**
 * Runs the command line `argv` (as `process.argv`: node, script, arguments…). `bin/talon` calls this; a
 * failure is printed as one line and sets exit code 1.
 */
export async function main(argv: readonly string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (err) {
    process.stderr.write(`talon: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}

// `tsx src/cli/main.ts …` (the npm scripts) runs this file directly.
if (require.main === module) void main();
