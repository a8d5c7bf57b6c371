/**
 * `talon worker`, `talon webhook` and `talon run` (both in one process): Talon's long-running services, and
 * `bundle-workflows`. They start the worker, so they live here, above src/ (workers compose src/).
 */
import type { Command } from 'commander';
import { TalonClient } from '../src/client/talon-client';
import { TalonMetrics } from '../src/observability/metrics';
import { loadTaxonomy } from '../src/tasks/taxonomy-store';
import { pricingConfigFromEnv } from '../src/pricing/config';
import { offerServiceFromConfig } from '../src/pricing/service-factory';
import { checkAuthConfig } from '../src/webhook/auth';
import { startWebhookServer, type RunningWebhook } from '../src/webhook/server';
import { loadTalonConfig, type TalonConfig } from '../src/config/talon-config';
import { createTalonWorker, type TalonWorker } from './worker';
import { openPolicyStore } from '../src/policy/policy-store';
import type { PolicyStore } from '../src/config/policy-file';
import { writeWorkflowBundle } from './bundle';

export interface RunningServices {
  readonly worker?: TalonWorker;
  readonly webhook?: RunningWebhook;
  readonly client?: TalonClient;
  readonly workerDone?: Promise<void>;
  stop(): Promise<void>;
}

export async function startServices(
  config: TalonConfig,
  which: { worker: boolean; webhook: boolean },
): Promise<RunningServices> {
  const auth = {
    ...(config.webhook.bearerToken ? { bearerToken: config.webhook.bearerToken } : {}),
    ...(config.webhook.basic ? { basic: config.webhook.basic } : {}),
    insecure: config.webhook.insecure,
  };
  // Before anything starts: a webhook that would refuse to start must not leave a worker running.
  if (which.webhook) checkAuthConfig(auth);
  // One registry per process: in `talon run` the webhook's /metrics also shows what the worker counted.
  const metrics = new TalonMetrics();
  const worker = which.worker
    ? await createTalonWorker(config, {
        metrics,
        ...(config.worker.http ? { http: config.worker.http } : {}),
      })
    : undefined;
  const workerDone = worker?.run();
  let client: TalonClient | undefined;
  let webhook: RunningWebhook | undefined;
  let policy: PolicyStore | undefined;
  if (which.webhook) {
    // The webhook reads the policy file too: the worker's store in `talon run`, its own otherwise.
    policy =
      worker?.policy ?? (await openPolicyStore(config, metrics, (line) => process.stdout.write(`webhook: ${line}\n`)));
    client = await TalonClient.connect(config.temporal);
    webhook = await startWebhookServer(client, metrics, {
      host: config.webhook.host,
      port: config.webhook.port,
      bodyLimit: config.webhook.bodyLimit,
      handoffTimeoutMs: config.webhook.handoffTimeoutMs,
      maxInflightAlerts: config.webhook.maxInflightAlerts,
      overloadRetryAfterSeconds: config.webhook.overloadRetryAfterSeconds,
      intake: config.webhook.intake,
      taxonomy: () => loadTaxonomy(),
      // Offers are priced from a context cached and rebuilt in the background (src/pricing/offer-service.ts).
      offers: {
        service: offerServiceFromConfig({
          prometheusUrl: config.prometheusUrl,
          kube: config.kube,
          pricing: pricingConfigFromEnv(),
        }).start(),
      },
      auth,
      ...(policy ? { policy: () => policy!.current() } : {}),
    });
  }
  return {
    ...(worker ? { worker } : {}),
    ...(webhook ? { webhook } : {}),
    ...(client ? { client } : {}),
    ...(workerDone ? { workerDone } : {}),
    async stop() {
      if (policy !== worker?.policy) policy?.close();
      await webhook?.close();
      await client?.close();
      worker?.shutdown();
      await workerDone;
    },
  };
}

function untilSignal(services: RunningServices): Promise<void> {
  return new Promise((resolve, reject) => {
    const stop = (): void => {
      process.stdout.write('shutting down (in-flight activities finish first)…\n');
      services.stop().then(resolve, reject);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    services.workerDone?.catch(reject);
  });
}

export function registerServiceCommands(program: Command): void {
  const run = async (which: { worker: boolean; webhook: boolean }): Promise<void> => {
    const config = loadTalonConfig();
    const services = await startServices(config, which);
    if (services.worker)
      process.stdout.write(`worker polling task queue ${config.temporal.taskQueue} at ${config.temporal.address}\n`);
    if (services.webhook) process.stdout.write(`webhook listening on ${services.webhook.url}\n`);
    await untilSignal(services);
  };
  program
    .command('worker')
    .description('run a Talon worker')
    .action(() => run({ worker: true, webhook: false }));
  program
    .command('webhook')
    .description('run the alert webhook')
    .action(() => run({ worker: false, webhook: true }));
  program
    .command('run')
    .description('run a worker and the webhook in one process')
    .action(() => run({ worker: true, webhook: true }));
  program
    .command('bundle-workflows')
    .description('write the workflow code as one file for TALON_WORKFLOW_BUNDLE (workers then skip bundling at start)')
    .requiredOption('--out <path>', 'where to write the bundle')
    .action(async (options: { out: string }) => {
      const { path, bytes } = await writeWorkflowBundle(options.out);
      process.stdout.write(`workflow bundle written to ${path} (${(bytes / 1024).toFixed(0)} KiB)\n`);
    });
}
