/**
 * `npm start` / `talon demo`: sets up the tools, brings the local stack up, runs a worker and the webhook,
 * deploys a workload whose simulated load makes a real alert fire, and shows where to watch Talon work.
 */
import type { Command } from 'commander';
import { loadStackConfig, stackEndpoints } from '../../src/config/local-stack';
import { startDemoWorkload } from '../lab/demo';
import { setupTools } from './setup';
import { stackUp } from './stack';
import { STACK_TOOLS } from './tools';
import { loadTalonConfig } from '../../src/config/talon-config';
import { startServices } from '../../workers/services';

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

export function workflowUrl(uiUrl: string, namespace: string, workflowId: string): string {
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

async function demo(): Promise<void> {
  const stack = loadStackConfig();
  say('1/4 tools');
  await setupTools({ cacheDir: stack.cacheDir, tools: STACK_TOOLS, log: say });
  say('2/4 local stack');
  await stackUp(stack, say);
  const config = loadTalonConfig();
  say('3/4 Talon worker + webhook');
  const services = await startServices(config, { worker: true, webhook: true });
  say('4/4 sample workload talon-demo/web (traffic needing 90% of its CPU limit, driven by the incident lab)');
  const workload = await startDemoWorkload(stack, say);
  const ui = stackEndpoints(stack).temporalUiUrl;
  say(`\nTemporal UI: ${ui}/namespaces/${config.temporal.namespace}/workflows`);
  say('waiting for Prometheus → Alertmanager → Talon (about 30-60 s)…');
  const seen = new Set<string>();
  const poll = setInterval(() => {
    services
      .client!.list(`TalonNamespace = "${workload.namespace}"`)
      .then((rows) => {
        for (const row of rows) {
          if (seen.has(row.workflowId)) continue;
          seen.add(row.workflowId);
          say(
            `▶ ${row.alertName ?? row.type} on ${row.target ?? '?'}: ${workflowUrl(ui, config.temporal.namespace, row.workflowId)}`,
          );
        }
      })
      .catch((err: unknown) => say(`(could not list workflows: ${err instanceof Error ? err.message : String(err)})`));
  }, 3_000);
  say('Press Ctrl-C to stop Talon (the stack keeps running; `npm run stack:down` stops it).');
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      clearInterval(poll);
      Promise.allSettled([services.stop(), workload.stop()]).then(() => resolve(), resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** Action of `talon demo` (listed by src/cli/program.ts). */
export function configureDemo(cmd: Command): void {
  cmd.action(demo);
}
