/**
 * After a scenario ran: what each copy's engine was asked and did, from the sources an operator would look at —
 * the driver's timeline, Prometheus' ALERTS series, Talon's workflows in Temporal (by search attribute), the
 * seed orchestrator's own log.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { TalonClient } from '../../../src/client/talon-client';
import type { PrometheusClient } from '../../../src/metrics/prometheus';
import type { TimelinePoint } from '../driver/driver';
import type { CopyPlan } from '../plan';
import { episodesFromSeries, type AlertEpisode, type Receipt, type Remediation } from './score';
import type { SeedRecord } from './seed';
import { ALERT_LABELS } from './wiring';

/** A copy's timeline: `<copy>.jsonl`, or `<copy>.jsonl.gz` as a committed report keeps it. */
export async function readTimeline(dir: string, copy: CopyPlan): Promise<TimelinePoint[]> {
  const path = join(dir, `${copy.id}.jsonl`);
  const text = await readFile(path, 'utf8').catch(() =>
    readFile(`${path}.gz`).then(
      (b) => gunzipSync(b).toString('utf8'),
      () => '',
    ),
  );
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as TimelinePoint);
}

/** Firing episodes of the copy's alerts over its run (plus a margin for late resolution). */
export async function alertEpisodes(
  prometheus: PrometheusClient,
  copy: CopyPlan,
  marginSeconds = 30,
): Promise<AlertEpisode[]> {
  const start = copy.startAt - 5;
  const end = copy.startAt + copy.scenario.durationSeconds + marginSeconds;
  const series = await prometheus.queryRange(
    `ALERTS{alertstate="firing", ${ALERT_LABELS.copy}="${copy.id}"}`,
    start,
    Math.min(end, Date.now() / 1000),
    2,
  );
  return episodesFromSeries(
    series.map((s) => ({ metric: s.metric, samples: s.samples.map((x) => ({ t: x.t, v: x.v })) })),
    12,
  ).filter((e) => e.start <= copy.startAt + copy.scenario.durationSeconds);
}

/** `ns/pod/container` (Talon's target text) → `ns/pod`, as alert episodes name pods. */
function podTarget(target: string): string {
  if (target.startsWith('node/')) return target;
  return target.split('/').slice(0, 2).join('/');
}

/** Talon's workflows for the copy's namespaces and nodes, one per run. */
export async function talonRemediations(client: TalonClient, copy: CopyPlan): Promise<Remediation[]> {
  const clauses = [
    ...Object.values(copy.namespaces).map((n) => `TalonNamespace = "${n}"`),
    ...Object.values(copy.nodes).map((n) => `TalonTarget = "node/${n}"`),
  ];
  const rows = await client.list(clauses.join(' OR '), 1000);
  return rows
    .filter((r) => r.type !== 'alertIntake')
    .map((r) => ({
      id: `${r.workflowId}/${r.runId}`,
      alertname: r.alertName ?? r.workflowId.split('/')[1] ?? '?',
      target: podTarget(r.target ?? '?'),
      start: r.startTime.getTime() / 1000,
      ...(r.closeTime ? { end: r.closeTime.getTime() / 1000 } : {}),
      ...(r.outcome ? { outcome: r.outcome } : {}),
      policies: r.policies ?? [],
    }));
}

function ownsTarget(copy: CopyPlan, target: string): boolean {
  if (target.startsWith('node/')) return Object.values(copy.nodes).includes(target.slice('node/'.length));
  const ns = target.split('/')[0];
  return ns === copy.namespaces.main || ns === copy.namespaces.protected;
}

/** The seed's log for this copy: alerts it received, and its decisions grouped as remediations. */
export function seedActivity(
  records: readonly SeedRecord[],
  copy: CopyPlan,
): { receipts: Receipt[]; remediations: Remediation[] } {
  const mine = records.filter((r) => ownsTarget(copy, r.target));
  const receipts = mine
    .filter((r) => r.kind === 'received' && r.detail === 'firing')
    .map((r) => ({ alertname: r.alert, target: r.target, at: r.at }));
  const remediations: (Remediation & { policies: string[] })[] = [];
  const open = new Map<string, Remediation & { policies: string[] }>();
  for (const r of mine) {
    if ((r.kind !== 'action' && r.kind !== 'ignored' && r.kind !== 'failed') || r.policy === undefined) continue;
    // Rule 2 is one remediation: its taint starts it, the deletion and the untaint are its steps.
    if (r.policy === 'node_overload' && !r.detail.startsWith('Rule 2: tainted')) continue;
    const key = `${r.alert}|${r.target}`;
    const current = open.get(key);
    if (r.rank !== undefined && r.rank > 0 && current) {
      current.policies.push(r.policy);
      continue;
    }
    const fresh = {
      id: `seed/${remediations.length + 1}`,
      alertname: r.alert,
      target: r.target,
      start: r.at,
      policies: [r.policy],
    };
    remediations.push(fresh);
    if (r.rank !== undefined) open.set(key, fresh);
  }
  return { receipts, remediations };
}
