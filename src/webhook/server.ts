/** Runs the webhook app on a socket, connected to Temporal through TalonClient. */
import type { Server } from 'node:http';
import type { TalonClient } from '../client/talon-client';
import type { Taxonomy } from '../domain/taxonomy';
import type { TalonMetrics } from '../observability/metrics';
import { createWebhookApp, type AlertSink, type IntakeDeps } from './app';
import type { WebhookAuth } from './auth';
import type { OfferRoutesDeps } from './offers';

export interface WebhookServerOptions {
  readonly host: string;
  readonly port: number;
  readonly auth: WebhookAuth;
  readonly bodyLimit: string;
  readonly handoffTimeoutMs?: number;
  /** Hand-offs in flight at once before the webhook sheds load (503 overloaded). */
  readonly maxInflightAlerts?: number;
  /** Retry-After (seconds) of a 503 overloaded. */
  readonly overloadRetryAfterSeconds?: number;
  /** The alert intake for storms (intake.ts); 'off' or absent: refuse with 503 overloaded instead. */
  readonly intake?: Omit<IntakeDeps, 'sink'>;
  /** Serves task submission (`/api/tasks`), checked against this taxonomy; absent, it is not served. */
  readonly taxonomy?: () => Promise<Taxonomy>;
  /** Serves Smart Pricing offers (`GET /api/offers`); absent, they are not served. */
  readonly offers?: OfferRoutesDeps;
}

export interface RunningWebhook {
  readonly server: Server;
  readonly url: string;
  close(): Promise<void>;
}

export async function startWebhookServer(
  client: TalonClient,
  metrics: TalonMetrics,
  options: WebhookServerOptions,
  /** Where alerts go; the client itself unless a caller wraps it (e.g. to time hand-offs). */
  sink: AlertSink = client,
): Promise<RunningWebhook> {
  const app = createWebhookApp({
    sink,
    metrics,
    auth: options.auth,
    bodyLimit: options.bodyLimit,
    ...(options.handoffTimeoutMs !== undefined ? { handoffTimeoutMs: options.handoffTimeoutMs } : {}),
    ...(options.maxInflightAlerts !== undefined ? { maxInflightAlerts: options.maxInflightAlerts } : {}),
    ...(options.overloadRetryAfterSeconds !== undefined
      ? { overloadRetryAfterSeconds: options.overloadRetryAfterSeconds }
      : {}),
    ...(options.intake ? { intake: { ...options.intake, sink: client } } : {}),
    ...(options.taxonomy ? { tasks: { service: client, taxonomy: options.taxonomy } } : {}),
    ...(options.offers ? { offers: options.offers } : {}),
    ready: async () => {
      await client.temporal.connection.workflowService.getSystemInfo({});
      return true;
    },
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(options.port, options.host, () => resolve(s));
    s.once('error', reject);
  });
  // Alertmanager keeps connections open between notifications; keep them longer than its idle timeout.
  server.keepAliveTimeout = 65_000;
  return {
    server,
    url: `http://${options.host}:${options.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
