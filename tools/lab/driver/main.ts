/**
 * The lab driver as its own process (started by `talon lab run` and the demo, stopped with them):
 *   tsx tools/lab/driver/main.ts --plan <plan.json> [--port 0] [--targets-dir <dir>] [--kubeconfig <path>]
 * Prints `lab-driver <url>` once listening; SIGTERM/SIGINT stop it cleanly (its Prometheus target removed).
 */
import { parseArgs } from 'node:util';
import { loadStackConfig, stackEndpoints } from '../../../src/config/local-stack';
import { createKubeClients } from '../../../src/kube/client';
import { loadKubeConfig } from '../../../src/kube/config';
import { labTargetsDir } from '../../stack/prometheus';
import { startDriver } from './driver';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      plan: { type: 'string' },
      port: { type: 'string', default: '0' },
      'targets-dir': { type: 'string' },
      kubeconfig: { type: 'string' },
      tick: { type: 'string' },
    },
  });
  if (!values.plan) throw new Error('--plan <file> is required');
  const stack = loadStackConfig();
  const kubeconfig = values.kubeconfig ?? stackEndpoints(stack).kubeconfigPath;
  const clients = createKubeClients(loadKubeConfig({ kubeconfigPath: kubeconfig, inCluster: false }), {
    timeoutMs: 10_000,
  });
  const driver = await startDriver({
    clients,
    planPath: values.plan,
    port: Number(values.port),
    targetsDir: values['targets-dir'] ?? labTargetsDir(stack),
    ...(values.tick ? { tickSeconds: Number(values.tick) } : {}),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`lab-driver ${driver.url}\n`);
  const stop = (): void => {
    driver.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`lab driver: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
