/**
 * The payloads senders post, decoded the way their senders' own Go types decode them, and normalised into
 * TalonAlerts. Alertmanager's `webhook.Message` and Grafana's webhook message are Go structs read with
 * encoding/json: a missing or `null` field is its zero value (empty string, empty map, zero time), unknown fields
 * are ignored, and only a value of the wrong JSON type is an error. Talon decodes the same way, so every payload
 * Alertmanager 0.2x or Grafana can send is accepted; a 400 is kept for bodies that are not such a message at all
 * (wrong types, another format). Inside a well-formed message each alert is checked on its own: one Talon cannot
 * act on (no target labels, a hostile pod name) is reported by index, and the others still go through.
 */
import { z } from 'zod';
import {
  alertNameProblem,
  safeFingerprint,
  targetFromLabels,
  type AlertStatus,
  type TalonAlert,
} from '../domain/alert';

/** Go's zero time, what encoding/json leaves in a missing `startsAt`/`endsAt`. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Longest label name and value accepted; longer ones are refused for that alert only. */
const MAX_LABEL_NAME = 1024;
const MAX_LABEL_VALUE = 16 * 1024;
/** Strings Talon only carries along (receiver, URLs, group keys): bounded so a body cannot hide megabytes in one. */
const MAX_TEXT = 64 * 1024;
/**
 * Most alerts in one payload. Alertmanager sends a whole group in one notification when `max_alerts` is 0
 * (the default): thousands of alerts for a large namespace. The body limit (32 MiB by default) is the real
 * bound; this one only stops a body of empty objects from becoming a million workflow starts.
 */
export const MAX_ALERTS_PER_PAYLOAD = 100_000;

/** A Go `string`: null and missing are "". */
const goString = (max = MAX_TEXT) =>
  z
    .string()
    .max(max)
    .nullish()
    .transform((v) => v ?? '');

/**
 * Alertmanager's `template.KV` (map[string]string): null and missing are an empty map, a null value is "".
 * zod builds a fresh object and skips a `__proto__` key, so a label map can never reach a prototype.
 */
const goLabels = z
  .record(
    z.string().max(MAX_LABEL_NAME),
    z
      .string()
      .max(MAX_LABEL_VALUE)
      .nullable()
      .transform((v) => v ?? ''),
  )
  .nullish()
  .transform((v): Record<string, string> => v ?? {});

/** A Go `time.Time` as JSON: RFC 3339 text; null and missing are the zero time. */
const goTime = z
  .string()
  .max(64)
  .nullish()
  .transform((v) => v || ZERO_TIME);

/** One alert of either sender: `webhook.Alert` / Grafana's `ExtendedAlert` (extra fields ignored). */
const alertSchema = z.object({
  status: goString(64),
  labels: goLabels,
  annotations: goLabels,
  startsAt: goTime,
  endsAt: goTime,
  generatorURL: goString(),
  fingerprint: goString(),
});

/** The alerts array: null and missing are empty; each element is decoded on its own (see `split`). */
const alertList = z
  .array(z.unknown())
  .max(MAX_ALERTS_PER_PAYLOAD)
  .nullish()
  .transform((v) => v ?? []);

/** Alertmanager `webhook_config`, payload version 4 (the only version Alertmanager 0.2x sends). */
export const alertmanagerPayload = z.object({
  version: goString(16).refine((v) => v === '' || v === '4', {
    message: 'Talon reads Alertmanager webhook payload version 4',
  }),
  groupKey: goString(),
  truncatedAlerts: z
    .number()
    .int()
    .min(0)
    .nullish()
    .transform((v) => v ?? 0),
  status: goString(64),
  receiver: goString(),
  groupLabels: goLabels,
  commonLabels: goLabels,
  commonAnnotations: goLabels,
  externalURL: goString(),
  alerts: alertList,
});

/**
 * Grafana unified alerting's webhook contact point (message version "1", Grafana 8 to 12): Alertmanager's
 * message plus orgId, title, state, message, and per alert silenceURL, dashboardURL, panelURL, values or
 * valueString, imageURL. Talon reads only what Alertmanager's part carries.
 */
export const grafanaPayload = z.object({
  receiver: goString(),
  status: goString(64),
  orgId: z.number().nullish(),
  version: goString(16),
  groupKey: goString(),
  alerts: alertList,
});

export interface RejectedAlert {
  readonly index: number;
  readonly alertname?: string;
  readonly reason: string;
}

export interface NormalisedBatch {
  readonly alerts: TalonAlert[];
  /** Where each accepted alert was in the payload (its index), for refusals made later (policy-screen.ts). */
  readonly indexes?: readonly number[];
  readonly rejected: RejectedAlert[];
  /**
   * The sender's group key: every notification of an alert comes in payloads of the same group (per route),
   * so the alert intake keeps a whole payload on one shard by it and still keeps each alert in order.
   */
  readonly groupKey?: string;
  /** Alerts the sender left out of this notification (its `max_alerts`); Talon never sees them. */
  readonly truncatedAlerts?: number;
}

type RawAlert = z.infer<typeof alertSchema>;

/**
 * What Alertmanager itself means by an alert's status: "firing" or "resolved" as sent; anything else (missing,
 * empty, unknown) is read from `endsAt` like Alertmanager's `Alert.Resolved()`: resolved once a set end time
 * has passed.
 */
function statusOf(raw: RawAlert, now: number): AlertStatus {
  if (raw.status === 'firing' || raw.status === 'resolved') return raw.status;
  const ends = Date.parse(raw.endsAt);
  return raw.endsAt !== ZERO_TIME && Number.isFinite(ends) && ends <= now ? 'resolved' : 'firing';
}

function normalise(
  source: TalonAlert['source'],
  raw: RawAlert,
  index: number,
  now: number,
): TalonAlert | RejectedAlert {
  const alertName = Object.hasOwn(raw.labels, 'alertname') ? raw.labels.alertname : undefined;
  if (alertName === undefined || alertName === '') return { index, reason: 'missing label "alertname"' };
  const problem = alertNameProblem(alertName);
  if (problem) return { index, alertname: alertName.slice(0, 80), reason: problem };
  const target = targetFromLabels(raw.labels);
  if (typeof target === 'string') return { index, alertname: alertName, reason: target };
  if (raw.startsAt !== ZERO_TIME && Number.isNaN(Date.parse(raw.startsAt)))
    return { index, alertname: alertName, reason: 'startsAt is not an RFC 3339 timestamp' };
  const summary = raw.annotations.summary || raw.annotations.description;
  return {
    source,
    alertName,
    status: statusOf(raw, now),
    fingerprint: safeFingerprint(raw.fingerprint || undefined, raw.labels),
    target,
    labels: raw.labels,
    annotations: raw.annotations,
    startsAt: raw.startsAt,
    ...(raw.endsAt !== ZERO_TIME ? { endsAt: raw.endsAt } : {}),
    ...(summary ? { summary } : {}),
  };
}

function split(
  source: TalonAlert['source'],
  raws: readonly unknown[],
  extra: { groupKey: string; truncatedAlerts?: number },
  now = Date.now(),
): NormalisedBatch {
  const alerts: TalonAlert[] = [];
  const indexes: number[] = [];
  const rejected: RejectedAlert[] = [];
  raws.forEach((value, index) => {
    // A null element decodes to Go's zero alert: no labels, so no alertname.
    const parsed = alertSchema.safeParse(value ?? {});
    if (!parsed.success) {
      rejected.push({ index, reason: `not a valid alert: ${describeIssues(parsed.error).join('; ')}` });
      return;
    }
    const result = normalise(source, parsed.data, index, now);
    if ('reason' in result) rejected.push(result);
    else {
      alerts.push(result);
      indexes.push(index);
    }
  });
  return {
    alerts,
    indexes,
    rejected,
    ...(extra.groupKey ? { groupKey: extra.groupKey } : {}),
    ...(extra.truncatedAlerts ? { truncatedAlerts: extra.truncatedAlerts } : {}),
  };
}

export function normaliseAlertmanager(payload: z.infer<typeof alertmanagerPayload>, now?: number): NormalisedBatch {
  return split('alertmanager', payload.alerts, payload, now);
}

export function normaliseGrafana(payload: z.infer<typeof grafanaPayload>, now?: number): NormalisedBatch {
  return split('grafana', payload.alerts, payload, now);
}

/**
 * Grafana's legacy (pre-8) dashboard alerting posts `ruleName`/`evalMatches` and no labels: nothing in it names a
 * pod or node. Recognised so the refusal can say what to change instead of "no alerts".
 */
export function isLegacyGrafanaPayload(body: unknown): boolean {
  return (
    typeof body === 'object' &&
    body !== null &&
    !('alerts' in body) &&
    ('evalMatches' in body || 'ruleName' in body || 'ruleId' in body)
  );
}

/** Zod issues as short "path: message" strings for error bodies. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.slice(0, 20).map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
}
