/**
 * Logged decisions as training and evaluation data: where they come from (InfluxDB through the worker's own
 * reader, or a JSONL export), the window a logged decision saw rebuilt as the FeatureWindow the policy engine
 * reads, and the workflow's choice a given engine would have made on it — through the engine as the worker
 * builds it (./evaluation) and chooseCandidate with the logged alert and the episode's tried policies.
 */
import { readFile } from 'node:fs/promises';
import { alertOfContext, type JoinedDecision, type LoggedWindow } from '../src/domain/decision-log';
import { chooseCandidate } from '../src/domain/escalation';
import { MODEL_FEATURES, WINDOW_STEPS } from '../src/domain/features';
import type { PolicyName } from '../src/domain/policy';
import type { FeatureWindow } from '../src/domain/window';
import { parseJsonl } from '../src/metrics/decision-export';
import { readDecisionLog } from '../src/metrics/decision-log';
import { InfluxStore, type InfluxOptions } from '../src/metrics/influx';
import { ModelTrainingError } from '../src/policy/errors';
import type { Engine } from './evaluation';

export interface LogSource {
  /** A JSONL export (`talon decisions export`); otherwise InfluxDB. */
  readonly file?: string;
  readonly influx?: InfluxOptions;
  /** Unix seconds. */
  readonly start?: number;
  readonly stop?: number;
  readonly namespace?: string;
}

export async function loadLog(source: LogSource): Promise<JoinedDecision[]> {
  if (source.file) {
    const all = parseJsonl(await readFile(source.file, 'utf8'));
    return all.filter(
      (j) =>
        (source.namespace === undefined || j.decision.namespace === source.namespace) &&
        (source.start === undefined || j.decision.at >= source.start * 1000) &&
        (source.stop === undefined || j.decision.at <= source.stop * 1000),
    );
  }
  if (!source.influx) throw new ModelTrainingError('no decision log: give a JSONL file or an InfluxDB');
  const store = new InfluxStore(source.influx);
  try {
    const now = Date.now() / 1000;
    const read = await readDecisionLog(store, source.influx.bucket, {
      start: source.start ?? now - 30 * 86_400,
      stop: source.stop ?? now,
      ...(source.namespace ? { namespace: source.namespace } : {}),
    });
    return read.decisions;
  } finally {
    await store.close();
  }
}

/** The FeatureWindow a logged decision was made on (quality beyond its score is not logged: it is not read). */
export function featureWindowOfLog(j: JoinedDecision): FeatureWindow {
  const d = j.decision;
  const w: LoggedWindow = d.window;
  return {
    kind: 'window',
    target: { namespace: d.namespace, pod: d.pod, workload: d.workload },
    source: w.source,
    end: w.end,
    stepSeconds: w.stepSeconds,
    steps: w.values.length,
    features: MODEL_FEATURES,
    values: w.values,
    observed: w.observed,
    absentFeatures: w.absentFeatures,
    quality: { realFraction: w.qualityScore, stalenessSeconds: 0, freshness: 1, score: w.qualityScore, coverage: 1 },
    ...(w.resources ? { resources: w.resources } : {}),
  };
}

export interface Action {
  readonly policy: PolicyName;
  readonly magnitude: number;
}

/**
 * A decision usable for evaluation and training: priced, with the context the workflow passed, a logged
 * choice (its propensity), an applied action, and a window of the model's shape.
 */
export interface UsableDecision {
  readonly joined: JoinedDecision;
  readonly cost: number;
  readonly action: Action;
  readonly propensity: number;
}

export function usableDecisions(log: readonly JoinedDecision[]): {
  usable: UsableDecision[];
  excluded: Record<string, number>;
} {
  const usable: UsableDecision[] = [];
  const excluded: Record<string, number> = {};
  // Counted by kind: "not applied: GuardRefused: <details>" counts as "not applied: GuardRefused".
  const skip = (why: string) => {
    const kind = why.replace(/^(not applied: [A-Za-z]+):.*$/s, '$1');
    excluded[kind] = (excluded[kind] ?? 0) + 1;
  };
  for (const j of log) {
    const d = j.decision;
    if (j.unusable !== undefined || j.cost === undefined) skip(j.unusable ?? 'no cost');
    else if (!d.context || !d.choice) skip('no logged choice');
    else if (!j.action || j.action.policy !== d.choice.policy) skip('applied action differs from the logged choice');
    else if (d.window.values.length !== WINDOW_STEPS) skip(`window of ${d.window.values.length} steps`);
    else
      usable.push({
        joined: j,
        cost: j.cost,
        action: { policy: d.choice.policy, magnitude: d.choice.magnitude },
        propensity: d.choice.propensity,
      });
  }
  return { usable, excluded };
}

/** What the workflow would have done on a logged decision with `engine` deciding (undefined: needs a human). */
export async function productionAction(engine: Engine, j: JoinedDecision): Promise<Action | undefined> {
  const context = j.decision.context;
  if (!context) return undefined;
  const decision = await engine.decide(featureWindowOfLog(j));
  const chosen = chooseCandidate(decision, alertOfContext(context), new Set(context.tried));
  return chosen ? { policy: chosen.candidate.policy, magnitude: chosen.candidate.magnitude } : undefined;
}
