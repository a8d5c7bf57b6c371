/** Runs the webhook app on a socket, connected to Temporal through TalonClient. */
import type { Server } from 'node:http';
import type { TalonClient } from '../client/talon-client';
import { webhookSettings, type IntakeMode, type WebhookSettings } from '../config/defaults';
import type { Taxonomy } from '../domain/taxonomy';
import type { OperatorPolicy } from '../domain/autonomy';
import type { TalonMetrics } from '../observability/metrics';
import { createWebhookApp, type AlertSink, type IntakeDeps } from './app';
import { checkAuthConfig, INSECURE_WARNING, isUnauthenticated, type WebhookAuth } from './auth';
import type { OfferRoutesDeps } from './offers';

/** Settings left out take src/config's defaults (the webhook itself applies none). */
export interface WebhookServerOptions extends Partial<Omit<WebhookSettings, 'intake'>> {
  readonly host: string;
  readonly port: number;
  readonly auth: WebhookAuth;
  /** The alert intake for storms (intake.ts); 'off' or absent: refuse with 503 overloaded instead. */
  readonly intake?: Partial<WebhookSettings['intake']> & { readonly mode: IntakeMode } & Omit<IntakeDeps, 'sink'>;
  /** Serves task submission (`/api/tasks`), checked against this taxonomy; absent, it is not served. */
  readonly taxonomy?: () => Promise<Taxonomy>;
  /** Serves Smart Pricing offers (`GET /api/offers`); absent, they are not served. */
  readonly offers?: OfferRoutesDeps;
  /** Where the start-up warning of an unauthenticated webhook goes (default: stderr). */
  readonly warn?: (line: string) => void;
  /** The operator policy in force (a PolicyStore's `current`); alerts on namespaces it protects are refused. */
  readonly policy?: () => OperatorPolicy | undefined;
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
  const { host, port, auth, taxonomy, intake, offers, warn, policy, ...overrides } = options;
  // Refused before anything listens: without a secret only an explicit `insecure` starts, and loudly.
  checkAuthConfig(auth);
  if (isUnauthenticated(auth)) (warn ?? ((line) => process.stderr.write(`${line}\n`)))(INSECURE_WARNING);
  const app = createWebhookApp({
    sink,
    metrics,
    auth,
    settings: webhookSettings({ ...overrides, ...(intake ? { intake } : {}) }),
    ...(intake
      ? {
          intake: {
            sink: client,
            ...(intake.stormWindowMs !== undefined ? { stormWindowMs: intake.stormWindowMs } : {}),
            ...(intake.spillAt !== undefined ? { spillAt: intake.spillAt } : {}),
          },
        }
      : {}),
    ...(taxonomy ? { tasks: { service: client, taxonomy } } : {}),
    ...(offers ? { offers } : {}),
    ...(policy ? { policy } : {}),
    ready: async () => {
      await client.temporal.connection.workflowService.getSystemInfo({});
      return true;
    },
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, host, () => resolve(s));
    s.once('error', reject);
  });
  // Alertmanager keeps connections open between notifications; keep them longer than its idle timeout.
  server.keepAliveTimeout = 65_000;
  return {
    server,
    url: `http://${host}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
