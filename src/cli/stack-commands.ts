/** `talon setup` and `talon stack …`: build the local tools and run the embedded stack. */
import type { Command } from 'commander';
import { loadStackConfig, stackEndpoints } from '../stack/config';
import { setupTools } from '../stack/setup';
import { formatStatus, stackDown, stackStatus, stackUp } from '../stack/stack';
import { findTool, TOOLS } from '../stack/tools';

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

export function registerStackCommands(program: Command): void {
  program
    .command('setup')
    .description('build or install the pinned local-stack tools into the cache (idempotent)')
    .option('--force', 'rebuild even when the cache is valid')
    .option('--only <tools>', `comma-separated subset of: ${TOOLS.map((t) => t.name).join(', ')}`)
    .action(async (opts: { force?: boolean; only?: string }) => {
      const config = loadStackConfig();
      const tools = opts.only ? opts.only.split(',').map((n) => findTool(n.trim())) : TOOLS;
      await setupTools({ cacheDir: config.cacheDir, tools, log, force: opts.force ?? false });
    });

  const stack = program
    .command('stack')
    .description('the embedded local stack (Temporal, KWOK cluster, Prometheus, Alertmanager, InfluxDB)');
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
