/**
 * `talon setup` and `talon stack …`: build the local tools and run the embedded stack. The CLI lists
 * both with their descriptions (src/cli/program.ts) and calls these to fill them in when one is invoked.
 */
import type { Command } from 'commander';
import { loadStackConfig, stackEndpoints } from '../../src/config/local-stack';
import { setupTools } from './setup';
import { formatStatus, stackDown, stackStatus, stackUp } from './stack';
import { findTool, STACK_TOOLS, TOOLS } from './tools';

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** Options and action of `talon setup`. */
export function configureSetup(setup: Command): void {
  setup
    .option('--force', 'rebuild even when the cache is valid')
    .option('--only <tools>', `comma-separated subset of: ${TOOLS.map((t) => t.name).join(', ')}`)
    .option(
      '--all',
      `also the tools only the tests use (${TOOLS.filter((t) => t.testOnly === true)
        .map((t) => t.name)
        .join(', ')}; \`npm test\` builds them itself)`,
    )
    .action(async (opts: { force?: boolean; only?: string; all?: boolean }) => {
      const config = loadStackConfig();
      const tools = opts.only
        ? opts.only.split(',').map((n) => findTool(n.trim()))
        : opts.all === true
          ? TOOLS
          : STACK_TOOLS;
      await setupTools({ cacheDir: config.cacheDir, tools, log, force: opts.force ?? false });
    });
}

/** Subcommands of `talon stack`. */
export function configureStack(stack: Command): void {
  stack
    .command('up')
    .description('start every component (those already running are left alone)')
    .action(async () => {
      const config = loadStackConfig();
      await stackUp(config, log);
      const e = stackEndpoints(config);
      log(`\nTemporal UI: ${e.temporalUiUrl}\nkubeconfig:  ${e.kubeconfigPath}\nPrometheus:  ${e.prometheusUrl}`);
    });
  stack
    .command('down')
    .description('stop exactly the processes `up` started')
    .option('--purge', 'also delete the cluster, databases and logs')
    .action(async (opts: { purge?: boolean }) => {
      await stackDown(loadStackConfig(), log, { purge: opts.purge ?? false });
    });
  stack
    .command('status')
    .description('health and URL of every component; exits 1 when any is unhealthy')
    .action(async () => {
      const rows = await stackStatus(loadStackConfig());
      log(formatStatus(rows));
      if (rows.some((r) => !r.healthy)) process.exitCode = 1;
    });
}
