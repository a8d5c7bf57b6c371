/**
 * Synthetic decision logs with a known truth, for the off-policy and retraining tests: CPU-alert decisions whose
 * choice is made by the real logging function (logChoice: the workflow's chooseCandidate plus ε-exploration)
 * over a given champion ranking, and whose cost depends only on the action taken (plus seeded noise).
 */
import { logChoice, type DecisionRecord, type JoinedDecision } from '../../src/domain/decision-log';
import { MODEL_FEATURES } from '../../src/domain/features';
import type { PolicyDecision, PolicyName, RankedPolicy } from '../../src/domain/policy';
import type { PolicyModel } from '../../src/policy/breaker';
import { Rng } from '../../training/rng';

export const CPU_ALERT = { alertName: 'TalonPodCpuNearLimit', labels: { talon_resource: 'cpu' } };

/** A ranking with `first` on top, then the others in the given order. */
export function ranking(order: readonly PolicyName[], version = 'fake'): PolicyDecision {
  const ranked: RankedPolicy[] = order.map((policy, i) => ({
    policy,
    score: (order.length - i) / ((order.length * (order.length + 1)) / 2),
    magnitude: policy.endsWith('_up') ? 1.5 : policy === 'no_action' ? 1 : 0.5,
    reason: '',
  }));
  return { source: 'model', ranked, modelVersion: version };
}

/** A "model" that always answers the same ranking. */
export function fixedModel(order: readonly PolicyName[], version: string): PolicyModel {
  return { version, decide: () => ranking(order, version) };
}

/** A CPU-incident window: CPU share climbing to ~0.95, memory flat, energy present. */
export function incidentWindow(rng: Rng): number[][] {
  const level = rng.uniform(0.85, 1);
  const mem = rng.uniform(0.2, 0.5);
  return Array.from({ length: 10 }, (_, t) => {
    const cpu = level - 0.02 * (9 - t) + rng.uniform(-0.01, 0.01);
    return [cpu, mem, 0.4, cpu * 0.9, 40 * cpu, 8, 50 * cpu, 60 * cpu];
  });
}

/** A window as the local KWOK stack delivers one for a pod at 90 % of its CPU limit: no Kepler, no user CPU. */
export function kwokIncidentWindow(rng: Rng): number[][] {
  const cpu = rng.uniform(0.85, 0.98);
  const mem = rng.uniform(0.2, 0.6);
  const node = rng.uniform(0.005, 0.06);
  return Array.from({ length: 10 }, () => [cpu + rng.uniform(-0.003, 0.003), mem, node, 0, 0, 0, 0, 0]);
}
export const KWOK_ABSENT = ['user_cpu_usage', 'core_joules', 'dram_joules', 'package_joules', 'total_joules'] as const;

export interface SyntheticLogOptions {
  readonly decisions: number;
  readonly epsilon: number;
  readonly seed: number;
  /** The logging champion: a fixed ranking, or a model deciding on each window (as the worker's would). */
  readonly champion: readonly PolicyName[] | PolicyModel;
  /** Mean cost of each action; unlisted ones cost 600. */
  readonly cost: Partial<Record<PolicyName, number>>;
  readonly noise?: number;
  /** Windows like the local KWOK stack's (absent features marked) instead of Kepler-complete ones. */
  readonly kwok?: boolean;
}

export async function syntheticLog(o: SyntheticLogOptions): Promise<JoinedDecision[]> {
  const rng = new Rng(o.seed);
  const model = Array.isArray(o.champion)
    ? fixedModel(o.champion as readonly PolicyName[], 'logger')
    : (o.champion as PolicyModel);
  const out: JoinedDecision[] = [];
  for (let i = 0; i < o.decisions; i++) {
    const values = o.kwok ? kwokIncidentWindow(rng) : incidentWindow(rng);
    const absentFeatures = o.kwok ? [...KWOK_ABSENT] : [];
    const observed = values.map((row) => row.map((_, f) => !absentFeatures.includes(MODEL_FEATURES[f] as never)));
    const decision = await model.decide({
      kind: 'window',
      target: { namespace: 'lab', pod: `web-${i}` },
      source: 'prometheus',
      end: 0,
      stepSeconds: 30,
      steps: 10,
      features: MODEL_FEATURES,
      values,
      observed,
      absentFeatures,
      quality: { realFraction: 1, stalenessSeconds: 0, freshness: 1, score: 1, coverage: 1 },
    });
    const { choice } = logChoice(decision, CPU_ALERT, new Set(), o.epsilon, rng.next(), rng.next());
    if (!choice) throw new Error('no choice');
    const cost = Math.max(0, (o.cost[choice.policy] ?? 600) + rng.uniform(-1, 1) * (o.noise ?? 10));
    const at = 1_800_000_000_000 + i * 60_000;
    const record: DecisionRecord = {
      workflowId: `remediate/TalonPodCpuNearLimit/lab/web-${i}/f${i}`,
      runId: `run-${i}`,
      decisionId: '3',
      at,
      namespace: 'lab',
      pod: `web-${i}`,
      workload: `web-${i}`,
      window: {
        end: at / 1000,
        stepSeconds: 30,
        source: 'prometheus',
        values,
        observed,
        absentFeatures,
        qualityScore: 1,
      },
      context: { alertName: CPU_ALERT.alertName, resource: 'cpu', tried: [], attempt: 1 },
      champion: {
        source: 'model',
        modelVersion: decision.modelVersion ?? 'logger',
        ranked: decision.ranked.map((r) => ({ policy: r.policy, score: r.score, magnitude: r.magnitude })),
        ms: 1,
      },
      choice,
    };
    out.push({
      decision: record,
      action: {
        workflowId: record.workflowId,
        runId: record.runId,
        attempt: 1,
        at: at + 1000,
        namespace: 'lab',
        pod: record.pod,
        policy: choice.policy,
        magnitude: choice.magnitude,
        applied: true,
        dryRun: false,
        noop: false,
      },
      outcome: {
        workflowId: record.workflowId,
        namespace: 'lab',
        workload: record.workload,
        outcome: cost < 600 ? 'resolved' : 'needs_human',
        policy: choice.policy,
        at: at / 1000 + cost,
      },
      secondsOutOfSlo: cost,
      resolved: cost < 600,
      escalated: false,
      refired: false,
      rolledBack: false,
      cost,
    });
  }
  return out;
}
