/**
 * The decision log in InfluxDB: one point per policy decision (talon_decision), one per apply step
 * (talon_action), read back with the outcomes the workflows already record (talon_remediation) and the pod's
 * energy series (talon_features), then joined and priced by src/domain/decision-log.ts. Writes go through the
 * InfluxStore's batched, retried writer and never throw at the caller: a decision must not fail because its
 * log could not be written (the store counts what it dropped).
 *
 * Measurements (tags | fields):
 * - talon_decision — (namespace, workload, workflow_id | run_id, decision_id, record = the whole DecisionRecord
 *                    as JSON, plus policy, propensity, explored, champion_version, challenger_version,
 *                    challenger_policy for queries and dashboards), time = the decision (ms).
 * - talon_action   — (namespace, workflow_id, policy | run_id, attempt, episode, pod, magnitude, applied, dry_run, noop,
 *                    summary, error), time = the apply (ms).
 */
import { flux, Point } from '@influxdata/influxdb-client';
import { z } from 'zod';
import {
  joinDecisionLog,
  type ActionRecord,
  type DecisionLogWriter,
  type DecisionRecord,
  type EnergyReading,
  type EpisodeOutcome,
  type JoinedDecision,
  type LogCostWeights,
  DEFAULT_LOG_COST,
} from '../domain/decision-log';
import { MODEL_FEATURES, featureIndex } from '../domain/features';
import { POLICIES } from '../domain/policy';
import type { InfluxStore } from './influx';
import { MEASUREMENTS, ALL_CONTAINERS } from './influx';
import { InfluxQueryError } from './errors';

export const DECISION_MEASUREMENTS = { decisions: 'talon_decision', actions: 'talon_action' } as const;

export type { DecisionLogWriter } from '../domain/decision-log';

export function decisionPoint(r: DecisionRecord): Point {
  const point = new Point(DECISION_MEASUREMENTS.decisions)
    .tag('namespace', r.namespace)
    .tag('workload', r.workload)
    .tag('workflow_id', r.workflowId)
    .stringField('run_id', r.runId)
    .stringField('decision_id', r.decisionId)
    .stringField('record', JSON.stringify(r))
    .stringField('champion_source', r.champion.source)
    .timestamp(new Date(r.at));
  if (r.champion.modelVersion) point.stringField('champion_version', r.champion.modelVersion);
  if (r.choice) {
    point
      .stringField('policy', r.choice.policy)
      .floatField('magnitude', r.choice.magnitude)
      .floatField('propensity', r.choice.propensity)
      .booleanField('explored', r.choice.explored);
  }
  if (r.challenger?.modelVersion) point.stringField('challenger_version', r.challenger.modelVersion);
  if (r.challenger?.choice) point.stringField('challenger_policy', r.challenger.choice.policy);
  return point;
}

export function actionPoint(a: ActionRecord): Point {
  const point = new Point(DECISION_MEASUREMENTS.actions)
    .tag('namespace', a.namespace)
    .tag('workflow_id', a.workflowId)
    .tag('policy', a.policy)
    .stringField('run_id', a.runId)
    .intField('attempt', a.attempt)
    .intField('episode', a.episode ?? 1)
    .stringField('pod', a.pod)
    .floatField('magnitude', a.magnitude)
    .booleanField('applied', a.applied)
    .booleanField('dry_run', a.dryRun)
    .booleanField('noop', a.noop)
    .timestamp(new Date(a.at));
  if (a.summary !== undefined) point.stringField('summary', a.summary.slice(0, 2000));
  if (a.error !== undefined) point.stringField('error', a.error.slice(0, 2000));
  return point;
}

/** Writes to InfluxDB; a closed or failing store loses the point (counted there), never the decision. */
export function influxDecisionLog(store: InfluxStore): DecisionLogWriter {
  const write = (point: Point) => {
    try {
      store.writePoints([point]);
    } catch {
      // Closed during shutdown: the decision stands, its log entry is lost (and the store counts drops).
    }
  };
  return {
    recordDecision: (r) => write(decisionPoint(r)),
    recordAction: (a) => write(actionPoint(a)),
  };
}

/** A writer that keeps records in memory (tests, `alerts replay`). */
export function memoryDecisionLog(): DecisionLogWriter & { decisions: DecisionRecord[]; actions: ActionRecord[] } {
  const decisions: DecisionRecord[] = [];
  const actions: ActionRecord[] = [];
  return {
    decisions,
    actions,
    recordDecision: (r) => void decisions.push(r),
    recordAction: (a) => void actions.push(a),
  };
}

const finite = z.number().refine(Number.isFinite, 'must be finite');
const policy = z.enum(POLICIES);
const candidate = z.object({ policy, score: finite, magnitude: finite });
const action = z.object({ policy, magnitude: finite });
const engine = z.object({
  source: z.enum(['model', 'rules']),
  modelVersion: z.string().optional(),
  fallbackReason: z.string().optional(),
  ranked: z.array(candidate),
  ms: finite,
});

/** The stored JSON of a decision, checked: a record that does not parse is skipped and counted, not guessed at. */
export const decisionRecordSchema = z.object({
  workflowId: z.string().min(1),
  runId: z.string().min(1),
  decisionId: z.string().min(1),
  at: finite,
  namespace: z.string().min(1),
  pod: z.string().min(1),
  workload: z.string().min(1),
  window: z.object({
    end: finite,
    stepSeconds: z.number().positive(),
    source: z.enum(['prometheus', 'influx']),
    values: z.array(z.array(finite)),
    observed: z.array(z.array(z.boolean())),
    absentFeatures: z.array(z.enum(MODEL_FEATURES)),
    qualityScore: finite,
    resources: z
      .object({
        cpuRequestCores: finite.optional(),
        cpuLimitCores: finite.optional(),
        memoryRequestBytes: finite.optional(),
        memoryLimitBytes: finite.optional(),
      })
      .optional(),
  }),
  context: z
    .object({
      alertName: z.string().min(1),
      resource: z.string().optional(),
      tried: z.array(z.string()),
      attempt: z.number().int().min(1),
      episode: z.number().int().min(1).optional(),
    })
    .optional(),
  champion: engine,
  choice: z
    .object({
      policy,
      magnitude: finite,
      propensity: z.number().gt(0).max(1),
      greedy: action,
      explored: z.boolean(),
      epsilon: z.number().min(0).max(1),
      eligible: z.array(action),
      fromAlert: z.boolean(),
    })
    .optional(),
  challenger: engine
    .extend({ choice: action.optional(), error: z.string().optional() })
    .partial({ source: true, ranked: true, ms: true })
    .optional(),
});

export interface LogRange {
  /** Unix seconds. */
  readonly start: number;
  readonly stop: number;
  readonly namespace?: string;
}

export interface ReadLogOptions extends LogRange {
  readonly weights?: LogCostWeights;
  /** Read the pods' energy after each decision from talon_features (default true). */
  readonly energy?: boolean;
}

export interface DecisionLogRead {
  readonly decisions: JoinedDecision[];
  /** Stored decisions whose JSON did not parse: skipped, with the first problem. */
  readonly skipped: number;
  readonly firstProblem?: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function rangeOf(r: LogRange, extraStopSeconds = 0) {
  return { start: new Date(r.start * 1000), stop: new Date((r.stop + extraStopSeconds) * 1000 + 1) };
}

/** Decision records stored in the range (every write; the join keeps the latest per decision). */
export async function readDecisions(
  store: InfluxStore,
  bucket: string,
  r: LogRange,
): Promise<{ records: DecisionRecord[]; skipped: number; firstProblem?: string }> {
  const { start, stop } = rangeOf(r);
  const ns = r.namespace ?? '';
  const rows = await store.rows(flux`from(bucket: ${bucket})
  |> range(start: ${start}, stop: ${stop})
  |> filter(fn: (r) => r._measurement == ${DECISION_MEASUREMENTS.decisions} and r._field == "record" and (${ns} == "" or r.namespace == ${ns}))
  |> keep(columns: ["_time", "_value"])`);
  const records: DecisionRecord[] = [];
  let skipped = 0;
  let firstProblem: string | undefined;
  for (const row of rows) {
    let json: unknown;
    try {
      json = JSON.parse(str(row._value) ?? '');
    } catch {
      json = undefined;
    }
    const parsed = decisionRecordSchema.safeParse(json);
    if (!parsed.success) {
      skipped++;
      firstProblem ??= parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      continue;
    }
    records.push(parsed.data);
  }
  return { records, skipped, ...(firstProblem ? { firstProblem } : {}) };
}

/** Fields of one point as columns (Flux pivot), the tags alongside. */
function pivoted(measurement: string, bucket: string, r: LogRange, extraStopSeconds = 0) {
  const { start, stop } = rangeOf(r, extraStopSeconds);
  const ns = r.namespace ?? '';
  return flux`from(bucket: ${bucket})
  |> range(start: ${start}, stop: ${stop})
  |> filter(fn: (r) => r._measurement == ${measurement} and (${ns} == "" or r.namespace == ${ns}))
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> group()`;
}

export async function readActions(store: InfluxStore, bucket: string, r: LogRange): Promise<ActionRecord[]> {
  const rows = await store.rows(pivoted(DECISION_MEASUREMENTS.actions, bucket, r, DEFAULT_LOG_COST.horizonSeconds));
  const out: ActionRecord[] = [];
  for (const row of rows) {
    const p = policy.safeParse(row.policy);
    const at = Date.parse(str(row._time) ?? '');
    const attempt = num(row.attempt);
    // Points written before episodes were recorded belong to the first.
    const episode = num(row.episode) ?? 1;
    const workflowId = str(row.workflow_id);
    const runId = str(row.run_id);
    if (!p.success || !Number.isFinite(at) || attempt === undefined || !workflowId || !runId) continue;
    out.push({
      workflowId,
      runId,
      attempt,
      ...(episode > 1 ? { episode } : {}),
      at,
      namespace: str(row.namespace) ?? '',
      pod: str(row.pod) ?? '',
      policy: p.data,
      magnitude: num(row.magnitude) ?? NaN,
      applied: row.applied === true,
      dryRun: row.dry_run === true,
      noop: row.noop === true,
      ...(str(row.summary) !== undefined ? { summary: str(row.summary)! } : {}),
      ...(str(row.error) !== undefined ? { error: str(row.error)! } : {}),
    });
  }
  return out;
}

/** Episode outcomes as the workflows record them; read past the range's end so late endings are found. */
export async function readOutcomes(
  store: InfluxStore,
  bucket: string,
  r: LogRange,
  extraStopSeconds = 86_400,
): Promise<EpisodeOutcome[]> {
  const { start, stop } = rangeOf(r, extraStopSeconds);
  const ns = r.namespace ?? '';
  const rows = await store.rows(flux`from(bucket: ${bucket})
  |> range(start: ${start}, stop: ${stop})
  |> filter(fn: (r) => r._measurement == ${MEASUREMENTS.outcomes} and (${ns} == "" or r.namespace == ${ns}))
  |> pivot(rowKey: ["_time", "namespace", "workload", "policy", "outcome", "decision_source"], columnKey: ["_field"], valueColumn: "_value")
  |> group()`);
  const out: EpisodeOutcome[] = [];
  for (const row of rows) {
    const at = Date.parse(str(row._time) ?? '');
    const workflowId = str(row.workflow_id);
    if (!workflowId || !Number.isFinite(at)) continue;
    const duration = num(row.duration_s);
    out.push({
      workflowId,
      namespace: str(row.namespace) ?? '',
      workload: str(row.workload) ?? '',
      outcome: str(row.outcome) ?? '',
      policy: str(row.policy) ?? '',
      at: at / 1000,
      ...(duration !== undefined ? { durationSeconds: duration } : {}),
    });
  }
  return out;
}

/** total_joules per step of each pod after its decisions, from the window snapshots the gathers store. */
async function energyAfter(
  store: InfluxStore,
  bucket: string,
  decisions: readonly DecisionRecord[],
  horizonSeconds: number,
): Promise<(d: DecisionRecord) => EnergyReading | undefined> {
  if (decisions.length === 0) return () => undefined;
  const first = Math.min(...decisions.map((d) => d.at)) / 1000;
  const last = Math.max(...decisions.map((d) => d.at)) / 1000;
  const pods = [...new Set(decisions.map((d) => d.pod))];
  const rows = await store.rows(flux`from(bucket: ${bucket})
  |> range(start: ${new Date(first * 1000)}, stop: ${new Date((last + horizonSeconds) * 1000 + 1)})
  |> filter(fn: (r) => r._measurement == ${MEASUREMENTS.features} and r._field == "total_joules" and r.container == ${ALL_CONTAINERS} and contains(value: r.pod, set: ${pods}))
  |> keep(columns: ["_time", "_value", "namespace", "pod"])`);
  const series = new Map<string, { t: number; v: number }[]>();
  for (const row of rows) {
    const t = Date.parse(str(row._time) ?? '') / 1000;
    const v = num(row._value);
    if (!Number.isFinite(t) || v === undefined) continue;
    const key = `${str(row.namespace)}/${str(row.pod)}`;
    const list = series.get(key) ?? [];
    list.push({ t, v });
    series.set(key, list);
  }
  const energy = featureIndex('total_joules');
  return (d) => {
    if (d.window.absentFeatures.includes('total_joules')) return undefined;
    const before = d.window.values
      .map((row, i) => (d.window.observed[i]?.[energy] ? row[energy] : undefined))
      .filter((v): v is number => v !== undefined);
    const at = d.at / 1000;
    const after = (series.get(`${d.namespace}/${d.pod}`) ?? []).filter((s) => s.t > at && s.t <= at + horizonSeconds);
    if (before.length < 3 || after.length < 3) return undefined;
    const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    // Steps may differ in length between the window and the snapshots; both are per-step joules of one step size.
    return { beforeJoulesPerStep: mean(before), afterJoulesPerStep: mean(after.map((s) => s.v)) };
  };
}

/** Reads and joins the log of a time range: every decision, priced where its result is known. */
export async function readDecisionLog(
  store: InfluxStore,
  bucket: string,
  options: ReadLogOptions,
): Promise<DecisionLogRead> {
  if (!(options.stop > options.start)) {
    throw new InfluxQueryError(
      `decision log range must end after it starts (${options.start} → ${options.stop})`,
      true,
    );
  }
  const weights = options.weights ?? DEFAULT_LOG_COST;
  // Decisions after the range are read too (not returned): a decision near its end may have re-fired after it.
  const [decisions, actions, outcomes] = await Promise.all([
    readDecisions(store, bucket, { ...options, stop: options.stop + weights.refireWindowSeconds }),
    readActions(store, bucket, options),
    readOutcomes(store, bucket, options),
  ]);
  const energy =
    options.energy === false ? undefined : await energyAfter(store, bucket, decisions.records, weights.horizonSeconds);
  const joined = joinDecisionLog(decisions.records, actions, outcomes, { weights, ...(energy ? { energy } : {}) });
  return {
    decisions: joined.filter((j) => j.decision.at <= options.stop * 1000),
    skipped: decisions.skipped,
    ...(decisions.firstProblem ? { firstProblem: decisions.firstProblem } : {}),
  };
}
