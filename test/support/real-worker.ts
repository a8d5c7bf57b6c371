/**
 * A Talon worker exactly as production runs it (createTalonWorker: real activities on the test stack's
 * apiserver, Prometheus and InfluxDB), on a task queue of its own, plus a client and an optional webhook
 * that the test stack's Alertmanager posts to. For integration tests that judge an action by its effect.
 */
import { randomBytes } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { TalonClient } from '../../src/client/talon-client';
import { loadTalonConfig, type TalonConfig } from '../../src/config/talon-config';
import { alertFiredSignal, type RemediationState } from '../../src/contracts/alert-episode';
import type { remediateAlert } from '../../workflows/remediate-alert';
import type { RemediateAlertInput, RemediateAlertResult } from '../../src/contracts/remediate-alert';
import { fingerprintLabels, type TalonAlert } from '../../src/domain/alert';
import { TalonMetrics } from '../../src/observability/metrics';
import { startWebhookServer, type RunningWebhook } from '../../src/webhook/server';
import { createTalonWorker, type TalonWorker } from '../../workers/worker';

export interface RealWorker {
  readonly config: TalonConfig;
  readonly client: TalonClient;
  /** Starts the webhook the test stack's Alertmanager posts to (stopped with the worker). */
  startWebhook(): Promise<RunningWebhook>;
  stop(): Promise<void>;
}

/** Starts a worker with `env` over the test stack's environment. */
export async function startRealWorker(env: Record<string, string>): Promise<RealWorker> {
  const config = loadTalonConfig({
    ...process.env,
    TALON_TASK_QUEUE: `talon-it-${randomBytes(4).toString('hex')}`,
    ...env,
  });
  const worker: TalonWorker = await createTalonWorker(config, { shutdownGraceMs: 1_000 });
  const done = worker.run();
  const client = await TalonClient.connect({ address: config.temporal.address, taskQueue: config.temporal.taskQueue });
  let webhook: RunningWebhook | undefined;
  return {
    config,
    client,
    async startWebhook() {
      webhook ??= await startWebhookServer(client, new TalonMetrics({ defaultMetrics: false }), {
        host: config.webhook.host,
        port: config.webhook.port,
        bodyLimit: config.webhook.bodyLimit,
        auth: { bearerToken: config.webhook.bearerToken! },
      });
      return webhook;
    },
    async stop() {
      await webhook?.close();
      await client.close();
      worker.shutdown();
      await done;
    },
  };
}

/** An alert as Alertmanager would send it for a pod, through the alert rules' labels. */
export function podAlert(
  alertName: string,
  namespace: string,
  pod: string,
  labels: Record<string, string>,
): TalonAlert {
  const all = { alertname: alertName, namespace, pod, talon_scope: 'pod', ...labels };
  return {
    source: 'api',
    alertName,
    status: 'firing',
    fingerprint: fingerprintLabels(all),
    target: { kind: 'pod', namespace, pod },
    labels: all,
    annotations: {},
    startsAt: new Date().toISOString(),
  };
}

/** Starts remediateAlert for the alert with explicit settings (short cool-downs, bounded attempts). */
export async function startRemediation(
  w: RealWorker,
  alert: TalonAlert,
  settings: RemediateAlertInput['settings'],
): Promise<WorkflowHandle> {
  const input: RemediateAlertInput = { alert, ...(settings ? { settings } : {}) };
  // As the webhook hands an alert on: signal-with-start, the first notification included.
  return w.client.temporal.workflow.signalWithStart<typeof remediateAlert, [TalonAlert]>('remediateAlert', {
    taskQueue: w.config.temporal.taskQueue,
    workflowId: `it-${alert.alertName}-${alert.target.kind === 'pod' ? alert.target.pod : ''}-${randomBytes(3).toString('hex')}`,
    args: [input],
    signal: alertFiredSignal,
    signalArgs: [alert],
  });
}

/** The episode's state, polled until `ready` says it has what the test waits for. */
export async function stateWhen(
  handle: WorkflowHandle,
  what: string,
  ready: (s: RemediationState) => boolean,
  timeoutMs = 180_000,
): Promise<RemediationState> {
  const deadline = Date.now() + timeoutMs;
  let last: RemediationState | undefined;
  while (Date.now() < deadline) {
    last = await handle.query<RemediationState>('state').catch(() => last);
    if (last && ready(last)) return last;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  throw new Error(`timed out waiting for ${what}; last state: ${JSON.stringify(last?.attempts ?? last)}`);
}

export async function resultOf(handle: WorkflowHandle): Promise<RemediateAlertResult> {
  return (await handle.result()) as RemediateAlertResult;
}
