/**
 * The payloads senders post, validated with zod and normalised into TalonAlerts. A payload that is not
 * what its sender documents is rejected as a whole; a well-formed payload may still hold alerts Talon
 * cannot act on (no target labels, hostile names) — those are reported one by one.
 */
import { z } from 'zod';
import {
  fingerprintLabels,
  isAlertName,
  isFingerprint,
  targetFromLabels,
  type AlertStatus,
  type TalonAlert,
} from '../domain/alert';

const labelMap = z.record(z.string().max(1024), z.string().max(16 * 1024));
const status = z.enum(['firing', 'resolved']);
const timestamp = z.string().max(64);

/** Alertmanager `webhook_config`, payload version 4. */
export const alertmanagerPayload = z.object({
  version: z.literal('4'),
  groupKey: z.string().max(16 * 1024),
  truncatedAlerts: z.number().int().min(0).optional(),
  status,
  receiver: z.string().max(1024),
  groupLabels: labelMap,
  commonLabels: labelMap,
  commonAnnotations: labelMap,
  externalURL: z.string().max(4096),
  alerts: z
    .array(
      z.object({
        status,
        labels: labelMap,
        annotations: labelMap.default({}),
        startsAt: timestamp,
        endsAt: timestamp.optional(),
        generatorURL: z.string().max(4096).optional(),
        fingerprint: z.string().max(128),
      }),
    )
    .min(1)
    .max(10_000),
});

/** Grafana unified alerting webhook contact point (payload version 1). */
export const grafanaPayload = z.object({
  receiver: z.string().max(1024).optional(),
  status,
  orgId: z.number().optional(),
  version: z.string().max(16).optional(),
  groupKey: z
    .string()
    .max(16 * 1024)
    .optional(),
  alerts: z
    .array(
      z.object({
        status,
        labels: labelMap,
        annotations: labelMap.default({}),
        startsAt: timestamp,
        endsAt: timestamp.optional(),
        fingerprint: z.string().max(128).optional(),
        valueString: z
          .string()
          .max(16 * 1024)
          .optional(),
      }),
    )
    .min(1)
    .max(10_000),
});

export interface RejectedAlert {
  readonly index: number;
  readonly alertname?: string;
  readonly reason: string;
}

export interface NormalisedBatch {
  readonly alerts: TalonAlert[];
  readonly rejected: RejectedAlert[];
  /**
   * The sender's group key: every notification of an alert comes in payloads of the same group (per route),
   * so the alert intake keeps a whole payload on one shard by it and still keeps each alert in order.
   */
  readonly groupKey?: string;
}

interface RawAlert {
  status: AlertStatus;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string | undefined;
  fingerprint?: string | undefined;
}

function normalise(source: TalonAlert['source'], raw: RawAlert, index: number): TalonAlert | RejectedAlert {
  const alertName = raw.labels.alertname;
  if (alertName === undefined) return { index, reason: 'missing label "alertname"' };
  if (!isAlertName(alertName))
    return {
      index,
      reason: `label "alertname" has characters Talon does not accept: ${JSON.stringify(alertName.slice(0, 80))}`,
    };
  const target = targetFromLabels(raw.labels);
  if (typeof target === 'string') return { index, alertname: alertName, reason: target };
  const fingerprint = raw.fingerprint || fingerprintLabels(raw.labels);
  if (!isFingerprint(fingerprint))
    return { index, alertname: alertName, reason: 'fingerprint must be 1-64 characters of [A-Za-z0-9_-]' };
  if (Number.isNaN(Date.parse(raw.startsAt)))
    return { index, alertname: alertName, reason: 'startsAt is not a timestamp' };
  const summary = raw.annotations.summary ?? raw.annotations.description;
  return {
    source,
    alertName,
    status: raw.status,
    fingerprint,
    target,
    labels: raw.labels,
    annotations: raw.annotations,
    startsAt: raw.startsAt,
    ...(raw.endsAt ? { endsAt: raw.endsAt } : {}),
    ...(summary ? { summary } : {}),
  };
}

function split(source: TalonAlert['source'], raws: RawAlert[], groupKey: string | undefined): NormalisedBatch {
  const alerts: TalonAlert[] = [];
  const rejected: RejectedAlert[] = [];
  raws.forEach((raw, index) => {
    const result = normalise(source, raw, index);
    if ('reason' in result) rejected.push(result);
    else alerts.push(result);
  });
  return { alerts, rejected, ...(groupKey ? { groupKey } : {}) };
}

export function normaliseAlertmanager(payload: z.infer<typeof alertmanagerPayload>): NormalisedBatch {
  return split('alertmanager', payload.alerts, payload.groupKey);
}

export function normaliseGrafana(payload: z.infer<typeof grafanaPayload>): NormalisedBatch {
  return split('grafana', payload.alerts, payload.groupKey);
}

/** Zod issues as short "path: message" strings for error bodies. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.slice(0, 20).map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
}
