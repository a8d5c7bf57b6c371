/**
 * Talon's HTTP face. Answers 2xx only after every acceptable alert of a payload is durably in Temporal;
 * if Temporal cannot be reached it answers 503 so Alertmanager retries, and nothing is lost in between.
 * Hand-offs are bounded (admission.ts): beyond the bound a payload is refused at once with 503 overloaded.
 */
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { z } from 'zod';
import { alertWorkflowId, type TalonAlert } from '../domain/alert';
import type { WebhookSettings } from '../config/defaults';
import type { TalonMetrics } from '../observability/metrics';
import { Admission, holdingSlot, overloaded } from './admission';
import { authMiddleware, type WebhookAuth } from './auth';
import { IntakeBatcher, type IntakeSink } from './intake';
import { HttpError } from './errors';
import { withTimeout } from './timeout';
import {
  alertmanagerPayload,
  describeIssues,
  grafanaPayload,
  isLegacyGrafanaPayload,
  normaliseAlertmanager,
  normaliseGrafana,
  type NormalisedBatch,
} from './payloads';
import { taskRoutes, type TaskRoutesDeps } from './tasks';
import { screenByPolicy } from './policy-screen';
import type { OperatorPolicy } from '../domain/autonomy';
import { offerRoutes, type OfferRoutesDeps } from './offers';

/** Where accepted alerts go; TalonClient implements it. */
export interface AlertSink {
  /** Must give up (and stop retrying) at the deadline. */
  remediate(alert: TalonAlert, deadline: Date): Promise<{ workflowId: string; action: string }>;
}

export interface WebhookDeps {
  readonly sink: AlertSink;
  readonly metrics: TalonMetrics;
  readonly auth: WebhookAuth;
  /** Whether Temporal answers; drives /readyz. */
  readonly ready: () => Promise<boolean>;
  /** Body limit, hand-off timeout and bound, the intake's mode and shape: from src/config, complete. */
  readonly settings: WebhookSettings;
  /** Task submission (`/api/tasks`); absent, the routes are not served. */
  readonly tasks?: TaskRoutesDeps;
  /**
   * Where the alert intake (intake.ts) writes. With it, settings.intake.mode 'spill' sends what the admission
   * bound refuses there instead of answering 503, 'always' sends every alert there; without it, or 'off',
   * neither.
   */
  readonly intake?: IntakeDeps;
  /** Smart Pricing offers (`GET /api/offers`); absent, the route is not served. */
  readonly offers?: OfferRoutesDeps;
  /** The operator policy in force (src/config/policy-file.ts); alerts on namespaces it protects are refused. */
  readonly policy?: () => OperatorPolicy | undefined;
}

export interface IntakeDeps {
  readonly sink: IntakeSink;
  /**
   * Once an alert spilled, the next ones go to the intake too for this long (ms): during a storm the direct
   * path's workflow starts would only compete with the intake's writes for Temporal, and keeping to one path
   * keeps an alert's notifications in order. Default 10 s.
   */
  readonly stormWindowMs?: number;
  /**
   * In spill mode, a payload goes to the intake once this many direct hand-offs are in flight (before the
   * admission bound is reached): at the onset of a storm, dozens of concurrent workflow starts slowed Temporal
   * for the intake's first writes (ack p99 of the first second ≈ 0.7 s with 64). Default 16.
   */
  readonly spillAt?: number;
}

const DEFAULT_STORM_WINDOW_MS = 10_000;
const DEFAULT_SPILL_AT = 16;

/** A resolve that finds no remediation may have overtaken its firing in the intake: send it after it. */
const STRAY_RESOLVE_WINDOW_MS = 10 * 60_000;

interface Accepted {
  readonly workflowId: string;
  readonly action: string;
}

/** Retry-After of a 503 that names no other: Temporal unavailable or slow. */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

function alertRoute<S extends z.ZodType>(
  deps: WebhookDeps,
  admission: Admission,
  intake: IntakeBatcher | undefined,
  source: 'alertmanager' | 'grafana',
  schema: S,
  normalise: (payload: z.infer<S>) => NormalisedBatch,
): RequestHandler {
  const always = intake !== undefined && deps.settings.intake.mode === 'always';
  const timeoutMs = deps.settings.handoffTimeoutMs;
  const stormWindowMs = deps.intake?.stormWindowMs ?? DEFAULT_STORM_WINDOW_MS;
  const spillAt = deps.intake?.spillAt ?? DEFAULT_SPILL_AT;
  const retryAfter = deps.settings.overloadRetryAfterSeconds;
  return async (req, res) => {
    if (!req.is('application/json'))
      throw new HttpError(415, 'unsupported_media_type', 'send Content-Type: application/json');
    if (source === 'grafana' && isLegacyGrafanaPayload(req.body)) {
      throw new HttpError(
        422,
        'legacy_grafana_alerting',
        'this is a legacy Grafana dashboard alert (ruleName/evalMatches), which carries no labels naming a pod or ' +
          'node; send Grafana unified alerting (a webhook contact point) with namespace and pod, or node, labels',
      );
    }
    const parsed = schema.safeParse(req.body);
    if (!parsed.success) {
      throw new HttpError(
        400,
        'invalid_payload',
        `not a valid ${source} webhook payload`,
        describeIssues(parsed.error),
      );
    }
    const batch = screenByPolicy(normalise(parsed.data), deps.policy?.());
    for (const alert of batch.alerts) deps.metrics.alertsReceived.inc({ source, status: alert.status });
    if (batch.rejected.length > 0) deps.metrics.alertsRejected.inc({ reason: 'invalid_alert' }, batch.rejected.length);
    if (batch.alerts.length === 0) {
      if (batch.rejected.length === 0) throw new HttpError(422, 'no_alerts', 'the payload holds no alerts');
      throw new HttpError(422, 'no_actionable_alerts', 'no alert in the payload can be remediated', batch.rejected);
    }
    const unavailable = (err: unknown, alerts: number): HttpError => {
      deps.metrics.handoffs.inc({ result: 'unavailable' }, alerts);
      return new HttpError(
        503,
        'temporal_unavailable',
        'alerts could not be handed to Temporal; retry later',
        undefined,
        err,
      );
    };
    const queue = async (alerts: readonly TalonAlert[]): Promise<Accepted[]> => {
      const written = intake?.submit(alerts, batch.groupKey);
      if (!written) throw overloaded('alerts', alerts.length, retryAfter);
      try {
        await written;
      } catch (err) {
        throw unavailable(err, alerts.length);
      }
      deps.metrics.handoffs.inc({ result: 'queued' }, alerts.length);
      return alerts.map((alert) => ({ workflowId: alertWorkflowId(alert), action: 'queued' }));
    };
    let results: Accepted[];
    // A large group (Alertmanager's max_alerts 0 sends a whole group at once) goes to the intake as well: thousands
    // of workflow starts in one request would outlast the hand-off timeout, and every retry would start over.
    const storm =
      intake !== undefined &&
      (intake.usedWithin(stormWindowMs) ||
        batch.alerts.length > admission.limit ||
        (admission.inFlight > 0 && admission.inFlight + batch.alerts.length > spillAt));
    const permit = always || storm ? undefined : admission.tryAcquire(batch.alerts.length);
    if (!permit) {
      if (!intake) throw overloaded('alerts', batch.alerts.length, retryAfter);
      results = await queue(batch.alerts);
    } else {
      try {
        const deadline = new Date(Date.now() + timeoutMs);
        // The deadline stops the gRPC retries; the timer is the backstop should a sink ignore it.
        results = await withTimeout(
          Promise.all(batch.alerts.map((alert) => holdingSlot(permit, () => deps.sink.remediate(alert, deadline)))),
          timeoutMs + 1_000,
        );
      } catch (err) {
        throw unavailable(err, batch.alerts.length);
      }
      deps.metrics.handoffs.inc({ result: 'ok' }, results.length);
      const stray = batch.alerts.filter((_, i) => results[i]!.action === 'no-workflow');
      if (intake && stray.length > 0 && intake.usedWithin(STRAY_RESOLVE_WINDOW_MS)) {
        const queued = new Map((await queue(stray)).map((r) => [r.workflowId, r]));
        results = results.map((r) => queued.get(r.workflowId) ?? r);
      }
    }
    res.status(202).json({
      accepted: results,
      rejected: batch.rejected,
      ...(batch.truncatedAlerts ? { truncatedAlerts: batch.truncatedAlerts } : {}),
    });
  };
}

const errorHandler =
  (metrics: TalonMetrics): ErrorRequestHandler =>
  (err: unknown, _req, res, _next) => {
    let httpError: HttpError;
    if (err instanceof HttpError) httpError = err;
    else {
      const status = (err as { status?: unknown }).status;
      const type = (err as { type?: unknown }).type;
      if (type === 'entity.too.large')
        httpError = new HttpError(413, 'body_too_large', 'request body is larger than the configured limit');
      else if (type === 'entity.parse.failed')
        httpError = new HttpError(400, 'malformed_json', 'request body is not valid JSON');
      else if (typeof status === 'number' && status >= 400 && status < 500)
        httpError = new HttpError(status, 'bad_request', String((err as Error).message));
      else httpError = new HttpError(500, 'internal_error', 'internal error', undefined, err);
    }
    if (httpError.status < 500 || httpError.status === 503) {
      metrics.alertsRejected.inc({ reason: httpError.code }, httpError.extra.rejectedCount ?? 1);
    }
    if (httpError.status === 503) {
      res.setHeader('Retry-After', String(httpError.extra.retryAfterSeconds ?? UNAVAILABLE_RETRY_AFTER_SECONDS));
    }
    res.status(httpError.status).json({
      error: httpError.code,
      message: httpError.message,
      ...(httpError.details !== undefined ? { details: httpError.details } : {}),
    });
  };

export function createWebhookApp(deps: WebhookDeps): Express {
  const { settings } = deps;
  const admission = new Admission({
    limit: settings.maxInflightAlerts,
    onChange: (n) => deps.metrics.inflightAlerts.set(n),
  });
  deps.metrics.maxInflightAlerts.set(admission.limit);
  const intake =
    deps.intake && settings.intake.mode !== 'off'
      ? new IntakeBatcher({
          sink: deps.intake.sink,
          shards: settings.intake.shards,
          maxBatch: settings.intake.maxBatch,
          maxPending: settings.intake.maxPending,
          timeoutMs: settings.handoffTimeoutMs,
          onBatch: (n, seconds) => {
            deps.metrics.intakeBatches.observe(n);
            deps.metrics.intakeWriteDuration.observe(seconds);
          },
          onPending: (n) => deps.metrics.intakePendingAlerts.set(n),
        })
      : undefined;
  deps.metrics.inflightAlerts.set(0);
  const app = express();
  app.disable('x-powered-by');
  app.use((req, res, next) => {
    const end = deps.metrics.requestDuration.startTimer({ route: req.path });
    res.on('finish', () => end({ status: String(res.statusCode) }));
    next();
  });
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ready = await deps.ready().catch(() => false);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'temporal unreachable' });
  });
  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', deps.metrics.registry.contentType);
    res.send(await deps.metrics.registry.metrics());
  });
  const json = express.json({ limit: settings.bodyLimit, type: () => true });
  const auth = authMiddleware(deps.auth);
  app.post(
    '/api/alerts',
    auth,
    json,
    alertRoute(deps, admission, intake, 'alertmanager', alertmanagerPayload, normaliseAlertmanager),
  );
  app.post(
    '/api/alerts/grafana',
    auth,
    json,
    alertRoute(deps, admission, intake, 'grafana', grafanaPayload, normaliseGrafana),
  );
  if (deps.tasks) {
    // Task submissions share the alerts' bound and hand-off timeout: both are calls into the same Temporal.
    app.use(
      '/api/tasks',
      auth,
      json,
      taskRoutes(deps.tasks, {
        admission,
        retryAfterSeconds: settings.overloadRetryAfterSeconds,
        handoffTimeoutMs: settings.handoffTimeoutMs,
      }),
    );
  }
  if (deps.offers) app.use('/api/offers', auth, offerRoutes(deps.offers));
  app.use((_req, _res, next) => next(new HttpError(404, 'not_found', 'no such route')));
  app.use(errorHandler(deps.metrics));
  return app;
}
