/**
 * The reference the latency figures are read against: a naive synchronous handler (receive → query
 * Prometheus → rule policy → patch, per request, no Temporal), using Talon's own gather, rules, choice and
 * registered applyPolicy activity, so the only difference from Talon's path is durability.
 */
import express from 'express';
import { alertWorkflowId, type TalonAlert } from '../../src/domain/alert';
import { nextCandidate, POD_POLICIES, policiesFromAlert, relevantToAlert } from '../../src/domain/escalation';
import type { RankedPolicy } from '../../src/domain/policy';
import { workloadOf } from '../../src/domain/window';
import { createKubeClients } from '../../src/kube/client';
import { loadKubeConfig } from '../../src/kube/config';
import { DEFAULT_GATHER_OPTIONS, gatherFromPrometheus, nodeLoads, rangeSecondsOf } from '../../src/metrics/gather';
import { PrometheusClient } from '../../src/metrics/prometheus';
import { DEFAULT_METRICS_CONFIG } from '../../src/metrics/queries';
import { evaluateRules } from '../../src/policy/rules';
import { alertmanagerPayload, normaliseAlertmanager } from '../../src/webhook/payloads';
import { createRemediationActivities } from '../../activities/remediation';
import type { TalonConfig } from '../../src/config/talon-config';
import { errText } from '../support/output';

export interface NaiveRecord {
  readonly receivedAt: number;
  /** When the Prometheus window (or its failure) was in and the rules had answered. */
  readonly decidedAt?: number;
  readonly ackedAt?: number;
  readonly policy?: string;
  readonly error?: string;
}

/** receive → query Prometheus → rule policy → patch, synchronously per request, no Temporal. */
export function naiveHandler(config: TalonConfig, talonNamespace: string, records: Map<string, NaiveRecord>) {
  const clients = createKubeClients(loadKubeConfig(config.kube));
  const prometheus = new PrometheusClient({ url: config.prometheusUrl });
  const gather = { ...DEFAULT_GATHER_OPTIONS, stepSeconds: config.windowStepSeconds };
  const remediation = createRemediationActivities({
    clients,
    guards: { talonNamespace },
    nodeUsage: () => nodeLoads(prometheus, DEFAULT_METRICS_CONFIG, rangeSecondsOf(gather)),
  });
  const handle = async (alert: TalonAlert): Promise<void> => {
    const receivedAt = Date.now();
    if (alert.target.kind !== 'pod') return;
    const pod = { namespace: alert.target.namespace, pod: alert.target.pod, container: 'app' };
    let decidedAt = receivedAt;
    try {
      let ranked: readonly RankedPolicy[];
      try {
        const window = await gatherFromPrometheus(prometheus, DEFAULT_METRICS_CONFIG, gather, {
          target: { ...pod, workload: workloadOf(pod) },
        });
        ranked = window.kind === 'window' ? evaluateRules(window).ranked : policiesFromAlert(alert);
      } catch {
        ranked = policiesFromAlert(alert);
      }
      const usable = relevantToAlert(ranked, alert).filter((r) => POD_POLICIES.has(r.policy));
      const candidate = nextCandidate(usable, new Set()) ?? nextCandidate(policiesFromAlert(alert), new Set())!;
      decidedAt = Date.now();
      const result = await remediation.applyPolicy({
        target: pod,
        policy: candidate.policy,
        magnitude: Math.round(candidate.magnitude * 100) / 100,
        operationId: `naive/${alert.fingerprint}`,
        dryRun: false,
      });
      records.set(alertWorkflowId(alert), { receivedAt, decidedAt, ackedAt: Date.now(), policy: result.policy });
    } catch (err) {
      records.set(alertWorkflowId(alert), { receivedAt, error: errText(err).slice(0, 200) });
    }
  };
  const app = express();
  app.post('/api/alerts', express.json({ limit: '1mb' }), async (req, res) => {
    const parsed = alertmanagerPayload.safeParse(req.body);
    if (!parsed.success) {
      res.status(400).json({ error: 'invalid_payload' });
      return;
    }
    const batch = normaliseAlertmanager(parsed.data);
    await Promise.all(batch.alerts.map(handle));
    res.status(200).json({ accepted: batch.alerts.map((a) => ({ workflowId: alertWorkflowId(a) })) });
  });
  return app;
}
