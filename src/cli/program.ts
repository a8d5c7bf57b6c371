/**
 * The `talon` command line. Each command group lives in its own module; this file only assembles them. The
 * commands that start the worker (worker, webhook, run, bundle-workflows) and the worker's activities for
 * `alerts replay` come from the entry point, workers/main.ts, since src/ never imports workers/.
 */
import { Command } from 'commander';
import { devCommand, loadDevExport, type Configure } from './dev-commands';
import { registerDecisionCommands } from './decisions';
import { registerModelCommands } from './model';
import { registerOperatorCommands } from './operator-commands';
import { registerPricingCommands } from './offer-commands';
import { registerRemediationCommands } from './remediation';
import type { WhatIfFactory } from './remediation/deps';
import { registerTaskCommands } from './task-commands';
import { registerTaxonomyCommands } from './task-taxonomy';

/** What only the layer above src/ can provide. */
export interface CliRuntime {
  /** Adds the long-running services' commands (worker, webhook, run, bundle-workflows). */
  readonly registerServices: (program: Command) => void;
  /** The worker's activities for `alerts replay`. */
  readonly whatIf: WhatIfFactory;
}

export function buildCliProgram(runtime: CliRuntime): Command {
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
  runtime.registerServices(program);
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
  registerRemediationCommands(program, { whatIf: runtime.whatIf });
  registerOperatorCommands(program);
  registerPricingCommands(program);
  return program;
}

/**
 * Runs `program` on the command line `argv` (as `process.argv`: node, script, arguments…); a failure is printed
 * as one line and sets exit code 1.
 */
export async function runProgram(program: Command, argv: readonly string[]): Promise<void> {
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    process.stderr.write(`talon: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
