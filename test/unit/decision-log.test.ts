/**
 * The decision log's pure parts: the logged choice and its propensity (with and without exploration), the join
 * of decisions, applies and outcomes by workflow id / run / attempt, and the cost a decision is judged by.
 */
import {
  DEFAULT_LOG_COST,
  explorationCandidates,
  joinDecisionLog,
  logChoice,
  logCost,
  loggingProbability,
  type ActionRecord,
  type DecisionRecord,
  type EpisodeOutcome,
} from '../../src/domain/decision-log';
import { chooseCandidate } from '../../src/domain/escalation';
import type { PolicyDecision } from '../../src/domain/policy';

const cpuAlert = { alertName: 'TalonPodCpuNearLimit', labels: { talon_resource: 'cpu' } };
const decision: PolicyDecision = {
  source: 'model',
  ranked: [
    { policy: 'cpu_scale_down', score: 0.4, magnitude: 0.7, reason: '' },
    { policy: 'cpu_scale_up', score: 0.3, magnitude: 1.513, reason: '' },
    { policy: 'no_action', score: 0.1, magnitude: 1, reason: '' },
    { policy: 'memory_scale_up', score: 0.1, magnitude: 1.5, reason: '' },
    { policy: 'task_offloading', score: 0.05, magnitude: 0.5, reason: '' },
    { policy: 'data_offloading', score: 0.05, magnitude: 0.3, reason: '' },
  ],
};
const exact = (a: { policy: string; magnitude: number }, b: { policy: string; magnitude: number }) =>
  a.policy === b.policy && a.magnitude === b.magnitude;

describe('logChoice', () => {
  it('without exploration logs the workflow’s own choice with propensity 1 and returns the decision untouched', () => {
    const { decision: out, choice } = logChoice(decision, cpuAlert, new Set(), 0, 0.01, 0.9);
    expect(out).toBe(decision);
    expect(choice).toMatchObject({
      policy: 'cpu_scale_up',
      magnitude: 1.51,
      propensity: 1,
      explored: false,
      epsilon: 0,
    });
    expect(chooseCandidate(out, cpuAlert, new Set())?.candidate.policy).toBe(choice?.policy);
  });

  it('explores only among the workflow’s candidates: no scale-down on a resource alert, no no_action, nothing disruptive or tried', () => {
    const candidates = explorationCandidates(decision, cpuAlert, new Set(['memory_scale_up']));
    expect(candidates.map((c) => c.policy)).toEqual(['cpu_scale_up', 'data_offloading']);
  });

  it('an explored pick goes first so chooseCandidate takes it, with propensity ε/k; the greedy one keeps 1−ε+ε/k', () => {
    const epsilon = 0.3;
    // k = 3: cpu_scale_up (greedy), memory_scale_up, data_offloading; pick 0.5 → index 1.
    const explored = logChoice(decision, cpuAlert, new Set(), epsilon, 0.1, 0.5);
    expect(explored.choice).toMatchObject({ policy: 'memory_scale_up', explored: true, epsilon });
    expect(explored.choice!.propensity).toBeCloseTo(0.1, 10);
    expect(chooseCandidate(explored.decision, cpuAlert, new Set())?.candidate.policy).toBe('memory_scale_up');
    expect(explored.decision.ranked[0]!.reason).toMatch(/^explored \(ε=0.3, p=0.100\) instead of cpu_scale_up ×1.51/);

    const greedy = logChoice(decision, cpuAlert, new Set(), epsilon, 0.9, 0.5);
    expect(greedy.choice).toMatchObject({ policy: 'cpu_scale_up', explored: false });
    expect(greedy.choice!.propensity).toBeCloseTo(0.8, 10);
    // The probabilities of every candidate sum to one.
    const total = greedy.choice!.eligible.reduce((s, a) => s + loggingProbability(greedy.choice!, a, exact), 0);
    expect(total).toBeCloseTo(1, 10);
    expect(loggingProbability(greedy.choice!, { policy: 'task_offloading', magnitude: 0.5 }, exact)).toBe(0);
  });

  it('a decision with one candidate is never explored and has propensity 1', () => {
    const only: PolicyDecision = {
      source: 'rules',
      ranked: [{ policy: 'cpu_scale_up', score: 1, magnitude: 1.5, reason: '' }],
    };
    const { choice } = logChoice(only, cpuAlert, new Set(), 0.5, 0, 0.99);
    expect(choice).toMatchObject({ policy: 'cpu_scale_up', propensity: 1, explored: false, epsilon: 0 });
  });
});

function record(over: Partial<DecisionRecord> & { attempt: number; at: number }): DecisionRecord {
  const { attempt, ...rest } = over;
  return {
    workflowId: 'remediate/TalonPodCpuNearLimit/shop/web-1/abc',
    runId: 'run-1',
    decisionId: String(attempt * 3),
    namespace: 'shop',
    pod: 'web-1',
    workload: 'web',
    window: {
      end: 1,
      stepSeconds: 5,
      source: 'prometheus',
      values: [],
      observed: [],
      absentFeatures: [],
      qualityScore: 1,
    },
    context: { alertName: 'TalonPodCpuNearLimit', resource: 'cpu', tried: [], attempt },
    champion: { source: 'model', ranked: [], ms: 1 },
    ...rest,
  };
}

function applied(attempt: number, at: number, over: Partial<ActionRecord> = {}): ActionRecord {
  return {
    workflowId: 'remediate/TalonPodCpuNearLimit/shop/web-1/abc',
    runId: 'run-1',
    attempt,
    at,
    namespace: 'shop',
    pod: 'web-1',
    policy: 'cpu_scale_up',
    magnitude: 1.5,
    applied: true,
    dryRun: false,
    noop: false,
    ...over,
  };
}

const ended = (
  outcome: string,
  atSeconds: number,
  workflowId = 'remediate/TalonPodCpuNearLimit/shop/web-1/abc',
): EpisodeOutcome => ({
  workflowId,
  namespace: 'shop',
  workload: 'web',
  outcome,
  policy: 'cpu_scale_up',
  at: atSeconds,
});

describe('joinDecisionLog', () => {
  it('an escalated attempt costs the horizon; the attempt that resolved costs its time to resolve', () => {
    const joined = joinDecisionLog(
      [record({ attempt: 1, at: 100_000 }), record({ attempt: 2, at: 160_000 })],
      [applied(1, 101_000, { policy: 'memory_scale_up' }), applied(2, 161_000)],
      [ended('resolved', 205)],
    );
    expect(joined.map((j) => [j.escalated, j.resolved, j.secondsOutOfSlo, j.cost])).toEqual([
      [true, false, 60, DEFAULT_LOG_COST.horizonSeconds],
      [false, true, 45, 45],
    ]);
    expect(joined[0]!.action?.policy).toBe('memory_scale_up');
  });

  it('keeps a decision it cannot judge, saying why: no context, nothing applied, dry run, episode open', () => {
    const { context: _drop, ...noContext } = record({ attempt: 1, at: 1_000 });
    const joined = joinDecisionLog(
      [
        noContext,
        record({ attempt: 1, at: 2_000, runId: 'run-2' }),
        record({ attempt: 1, at: 3_000, runId: 'run-3' }),
        record({ attempt: 1, at: 4_000, runId: 'run-4' }),
        record({ attempt: 1, at: 5_000, runId: 'run-5', workflowId: 'open' }),
      ],
      [
        applied(1, 3_100, { runId: 'run-3', dryRun: true, applied: false }),
        applied(1, 4_100, { runId: 'run-4', applied: false, error: 'GuardRefused: over budget' }),
        applied(1, 5_100, { runId: 'run-5', workflowId: 'open' }),
      ],
      [],
    );
    expect(joined.map((j) => j.unusable)).toEqual([
      'no decision context (workflow predates the decision log)',
      'no apply step recorded for this attempt',
      'dry run',
      'not applied: GuardRefused: over budget',
      'episode still open',
    ]);
    expect(joined.every((j) => j.cost === undefined)).toBe(true);
  });

  it('a re-executed decision (same run and activity id) counts once, the latest write', () => {
    const joined = joinDecisionLog(
      [record({ attempt: 1, at: 1_000 }), record({ attempt: 1, at: 1_500 })],
      [applied(1, 1_600)],
      [ended('resolved', 31.5)],
    );
    expect(joined).toHaveLength(1);
    expect(joined[0]!.secondsOutOfSlo).toBe(30);
  });

  it('prices a re-fire of the same workload within the window, and a rollback', () => {
    const joined = joinDecisionLog(
      [
        record({ attempt: 1, at: 1_000 }),
        record({ attempt: 1, at: 2_000_000, runId: 'run-2' }),
        record({ attempt: 1, at: 9_000_000, runId: 'run-3', workflowId: 'w3' }),
      ],
      [
        applied(1, 1_100),
        applied(1, 2_000_100, { runId: 'run-2' }),
        applied(1, 9_000_100, { runId: 'run-3', workflowId: 'w3' }),
      ],
      [ended('resolved', 61), ended('resolved', 2_020), ended('rolled_back', 9_100, 'w3')],
    );
    expect(joined[0]).toMatchObject({ resolved: true, refired: true, cost: 60 + DEFAULT_LOG_COST.refireSeconds });
    expect(joined[1]).toMatchObject({ resolved: true, refired: false, cost: 20 });
    expect(joined[2]).toMatchObject({ resolved: false, rolledBack: true });
    expect(joined[2]!.cost).toBe(DEFAULT_LOG_COST.horizonSeconds + DEFAULT_LOG_COST.rollbackSeconds);
  });

  it('a workload remediation’s later episode in the same run is a re-fire, not an escalation, and is priced itself', () => {
    // Episode 1 (attempt 1) resolves at 61 s; the workload re-fires and episode 2 opens in the same run, where the
    // attempt numbers start again at 1 (operation id …/e2.1).
    const second = (attempt: number, at: number) =>
      record({
        attempt,
        at,
        decisionId: `e2-${attempt}`,
        context: { alertName: 'TalonPodCpuNearLimit', resource: 'cpu', tried: [], attempt, episode: 2 },
      });
    const joined = joinDecisionLog(
      [record({ attempt: 1, at: 1_000 }), second(1, 100_000), second(2, 130_000)],
      [
        applied(1, 1_100, { policy: 'memory_scale_up' }),
        applied(1, 100_100, { episode: 2 }),
        applied(2, 130_100, { episode: 2, policy: 'memory_scale_up' }),
      ],
      [ended('resolved', 61), ended('resolved', 160)],
    );
    expect(joined.map((j) => j.unusable)).toEqual([undefined, undefined, undefined]);
    expect(joined[0]).toMatchObject({ escalated: false, resolved: true, refired: true, secondsOutOfSlo: 60 });
    expect(joined[0]!.action?.policy).toBe('memory_scale_up');
    expect(joined[0]!.cost).toBe(60 + DEFAULT_LOG_COST.refireSeconds);
    expect(joined[1]).toMatchObject({ escalated: true, secondsOutOfSlo: 30, cost: DEFAULT_LOG_COST.horizonSeconds });
    expect(joined[1]!.action?.policy).toBe('cpu_scale_up');
    expect(joined[2]).toMatchObject({ resolved: true, refired: false, secondsOutOfSlo: 30, cost: 30 });
    expect(joined[2]!.action?.policy).toBe('memory_scale_up');
  });
});

describe('logCost', () => {
  it('adds energy relative to the window before, and a price for disruptive actions', () => {
    const base = { resolved: true, secondsOutOfSlo: 30, refired: false, rolledBack: false };
    expect(
      logCost({ ...base, policy: 'cpu_scale_up', energy: { beforeJoulesPerStep: 100, afterJoulesPerStep: 110 } }),
    ).toBeCloseTo(60);
    expect(logCost({ ...base, policy: 'task_offloading' })).toBe(30 + DEFAULT_LOG_COST.disruptionSeconds);
    expect(logCost({ ...base, resolved: false, policy: 'cpu_scale_up' })).toBe(DEFAULT_LOG_COST.horizonSeconds);
  });
});
