/**
 * The decision log as files: JSONL (one joined decision per line, everything kept: what `talon model evaluate
 * --from-log` and `retrain --from-log` read back with `--log-file`) and CSV (one flat row per decision, for a
 * spreadsheet or pandas; the window as a JSON cell). Pure formatting and parsing; the CLI does the I/O.
 */
import { z } from 'zod';
import type { JoinedDecision } from '../domain/decision-log';
import { decisionRecordSchema } from './decision-log';

export const CSV_COLUMNS = [
  'workflow_id',
  'run_id',
  'attempt',
  'at',
  'namespace',
  'workload',
  'pod',
  'alert',
  'resource',
  'tried',
  'window_end',
  'step_s',
  'window_source',
  'quality',
  'absent_features',
  'champion_source',
  'champion_version',
  'fallback_reason',
  'champion_ranked',
  'policy',
  'magnitude',
  'propensity',
  'explored',
  'epsilon',
  'greedy_policy',
  'challenger_version',
  'challenger_policy',
  'challenger_magnitude',
  'challenger_error',
  'applied',
  'action_error',
  'outcome',
  'resolved',
  'escalated',
  'refired',
  'rolled_back',
  'seconds_out_of_slo',
  'energy_before_j',
  'energy_after_j',
  'cost',
  'unusable',
  'window_values',
] as const;

type Cell = string | number | boolean | undefined;

function csvCell(value: Cell): string {
  if (value === undefined) return '';
  const text = typeof value === 'number' ? (Number.isFinite(value) ? String(value) : '') : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(j: JoinedDecision): Record<(typeof CSV_COLUMNS)[number], Cell> {
  const d = j.decision;
  return {
    workflow_id: d.workflowId,
    run_id: d.runId,
    attempt: d.context?.attempt,
    at: new Date(d.at).toISOString(),
    namespace: d.namespace,
    workload: d.workload,
    pod: d.pod,
    alert: d.context?.alertName,
    resource: d.context?.resource,
    tried: d.context?.tried.join(' '),
    window_end: d.window.end,
    step_s: d.window.stepSeconds,
    window_source: d.window.source,
    quality: d.window.qualityScore,
    absent_features: d.window.absentFeatures.join(' '),
    champion_source: d.champion.source,
    champion_version: d.champion.modelVersion,
    fallback_reason: d.champion.fallbackReason,
    champion_ranked: d.champion.ranked.map((r) => `${r.policy}:${r.score.toFixed(4)}:${r.magnitude}`).join(' '),
    policy: d.choice?.policy,
    magnitude: d.choice?.magnitude,
    propensity: d.choice?.propensity,
    explored: d.choice?.explored,
    epsilon: d.choice?.epsilon,
    greedy_policy: d.choice?.greedy.policy,
    challenger_version: d.challenger?.modelVersion,
    challenger_policy: d.challenger?.choice?.policy,
    challenger_magnitude: d.challenger?.choice?.magnitude,
    challenger_error: d.challenger?.error,
    applied: j.action?.applied,
    action_error: j.action?.error,
    outcome: j.outcome?.outcome,
    resolved: j.resolved,
    escalated: j.escalated,
    refired: j.refired,
    rolled_back: j.rolledBack,
    seconds_out_of_slo: j.secondsOutOfSlo,
    energy_before_j: j.energy?.beforeJoulesPerStep,
    energy_after_j: j.energy?.afterJoulesPerStep,
    cost: j.cost,
    unusable: j.unusable,
    window_values: JSON.stringify(d.window.values),
  };
}

export function toCsv(joined: readonly JoinedDecision[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const j of joined) {
    const row = csvRow(j);
    lines.push(CSV_COLUMNS.map((c) => csvCell(row[c])).join(','));
  }
  return `${lines.join('\n')}\n`;
}

export function toJsonl(joined: readonly JoinedDecision[]): string {
  return joined.map((j) => JSON.stringify(j)).join('\n') + (joined.length > 0 ? '\n' : '');
}

const finite = z.number().refine(Number.isFinite);
const joinedSchema = z.object({
  decision: decisionRecordSchema,
  action: z
    .object({
      workflowId: z.string(),
      runId: z.string(),
      attempt: z.number().int(),
      at: finite,
      namespace: z.string(),
      pod: z.string(),
      policy: decisionRecordSchema.shape.champion.shape.ranked.element.shape.policy,
      magnitude: finite,
      applied: z.boolean(),
      dryRun: z.boolean(),
      noop: z.boolean(),
      summary: z.string().optional(),
      error: z.string().optional(),
    })
    .optional(),
  outcome: z
    .object({
      workflowId: z.string(),
      namespace: z.string(),
      workload: z.string(),
      outcome: z.string(),
      policy: z.string(),
      at: finite,
      durationSeconds: finite.optional(),
    })
    .optional(),
  secondsOutOfSlo: finite.optional(),
  resolved: z.boolean(),
  escalated: z.boolean(),
  refired: z.boolean(),
  rolledBack: z.boolean(),
  energy: z.object({ beforeJoulesPerStep: finite, afterJoulesPerStep: finite }).optional(),
  cost: finite.optional(),
  unusable: z.string().optional(),
});

/** Parses a JSONL export back; a line that is not a joined decision is an error naming its line number. */
export function parseJsonl(text: string): JoinedDecision[] {
  const out: JoinedDecision[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw new Error(`decision log line ${i + 1} is not JSON`);
    }
    const parsed = joinedSchema.safeParse(json);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ');
      throw new Error(`decision log line ${i + 1} is not a logged decision: ${problems}`);
    }
    out.push(parsed.data);
  });
  return out;
}

/** `24h`, `90m`, `7d`, `3600s` → seconds; anything else (an ISO time) is left to the caller. */
export function durationSeconds(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

/** A CLI time: a duration back from `now` (`24h`), an ISO time, or unix seconds. */
export function parseTime(text: string, nowSeconds: number): number {
  const back = durationSeconds(text);
  if (back !== undefined) return nowSeconds - back;
  if (/^\d{9,11}(\.\d+)?$/.test(text)) return Number(text);
  const t = Date.parse(text);
  if (!Number.isFinite(t)) throw new Error(`"${text}" is neither a duration (24h, 7d), an ISO time nor unix seconds`);
  return t / 1000;
}
