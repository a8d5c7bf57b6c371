/**
 * What the worker writes to the decision log, through the activities it registers: decidePolicy inside a
 * workflow's activity context logs the window, the champion's ranking, the workflow's choice with its
 * propensity and the shadow challenger's answer (never returned); exploration applies only to opted-in
 * namespaces; applyPolicy's result or failure becomes the attempt's action record.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { attemptOfOperation, slotOfOperation, withActionLog } from '../../activities/action-log';
import { createPolicyActivities } from '../../activities/policy';
import type { DecisionContext } from '../../src/domain/decision-log';
import type { PolicyDecision } from '../../src/domain/policy';
import type { ApplyPolicyInput, ApplyPolicyResult } from '../../src/domain/remediation';
import { memoryDecisionLog } from '../../src/metrics/decision-log';
import type { PolicyModel } from '../../src/policy/breaker';
import { stubWindow } from '../support/stub-activities';

const env = () =>
  new MockActivityEnvironment({
    workflowExecution: { workflowId: 'remediate/TalonPodCpuNearLimit/shop/web-1/abc', runId: 'run-1' },
    activityId: '7',
  });

/** Runs `fn` as an activity of a workflow run (what gives the log its workflow id, run id and decision id). */
const inWorkflow = <R>(fn: () => Promise<R>): Promise<R> => env().run<[], R, () => Promise<R>>(fn);

const model = (version: string, order: PolicyDecision['ranked']): PolicyModel => ({
  version,
  decide: () => ({ source: 'model', ranked: order, modelVersion: version }),
});

const champion = model('champ-1', [
  { policy: 'cpu_scale_up', score: 0.6, magnitude: 1.5, reason: 'c' },
  { policy: 'memory_scale_up', score: 0.3, magnitude: 1.4, reason: 'm' },
  { policy: 'no_action', score: 0.1, magnitude: 1, reason: 'n' },
]);
const challenger = model('chall-2', [
  { policy: 'no_action', score: 0.5, magnitude: 1, reason: 'n' },
  { policy: 'memory_scale_up', score: 0.4, magnitude: 1.25, reason: 'm' },
  { policy: 'cpu_scale_up', score: 0.1, magnitude: 2, reason: 'c' },
]);
const context: DecisionContext = { alertName: 'TalonPodCpuNearLimit', resource: 'cpu', tried: [], attempt: 1 };

describe('decidePolicy with a decision log', () => {
  it('logs window, champion ranking, the workflow’s choice (propensity 1) and the shadow’s choice, and returns only the champion’s answer', async () => {
    const log = memoryDecisionLog();
    const a = createPolicyActivities({ model: champion, shadow: challenger, decisionLog: log });
    const window = stubWindow(5);
    const decision = await inWorkflow(() => a.decidePolicy(window, context));
    expect(decision.modelVersion).toBe('champ-1');
    expect(decision.ranked[0]!.policy).toBe('cpu_scale_up');
    expect(log.decisions).toHaveLength(1);
    const r = log.decisions[0]!;
    expect(r).toMatchObject({
      workflowId: 'remediate/TalonPodCpuNearLimit/shop/web-1/abc',
      runId: 'run-1',
      decisionId: '7',
      namespace: 'shop',
      pod: 'web',
      context,
      champion: { source: 'model', modelVersion: 'champ-1' },
      choice: { policy: 'cpu_scale_up', magnitude: 1.5, propensity: 1, explored: false },
      challenger: { source: 'model', modelVersion: 'chall-2', choice: { policy: 'memory_scale_up', magnitude: 1.25 } },
    });
    expect(r.window.values).toEqual(window.values);
    expect(r.window.absentFeatures).toEqual([]);
    expect(r.champion.ranked.map((c) => c.policy)).toEqual(['cpu_scale_up', 'memory_scale_up', 'no_action']);
  });

  it('a failing challenger is logged as an error and changes nothing; after three failures it is no longer asked', async () => {
    const log = memoryDecisionLog();
    let calls = 0;
    const broken: PolicyModel = {
      version: 'broken',
      decide: () => {
        calls++;
        throw new Error('onnx exploded');
      },
    };
    const a = createPolicyActivities({ model: champion, shadow: broken, decisionLog: log });
    for (let i = 0; i < 5; i++) {
      const d = await inWorkflow(() => a.decidePolicy(stubWindow(5), context));
      expect(d.modelVersion).toBe('champ-1');
    }
    expect(calls).toBe(3);
    expect(log.decisions[0]!.challenger).toEqual({ modelVersion: 'broken', error: 'Error: onnx exploded' });
    expect(log.decisions[4]!.challenger?.error).toMatch(/^CircuitOpenError/);
  });

  it('explores only in opted-in namespaces, and the workflow’s choice function takes the explored candidate', async () => {
    const log = memoryDecisionLog();
    const a = createPolicyActivities({
      model: champion,
      decisionLog: log,
      exploration: { epsilon: 0.5, namespaces: ['lab'] },
      random: () => 0.7, // draw 0.7 ≥ ε: greedy; pick 0.7 → second candidate when exploring
    });
    const outside = await inWorkflow(() => a.decidePolicy(stubWindow(5), context));
    expect(outside.ranked[0]!.policy).toBe('cpu_scale_up');
    expect(log.decisions[0]!.choice).toMatchObject({ propensity: 1, epsilon: 0 });

    const labWindow = { ...stubWindow(5), target: { namespace: 'lab', pod: 'web' } };
    await inWorkflow(() => a.decidePolicy(labWindow, context));
    // Opted in but not drawn: greedy with 1 − ε + ε/k (k = 2: cpu_scale_up, memory_scale_up).
    expect(log.decisions[1]!.choice).toMatchObject({ policy: 'cpu_scale_up', explored: false, epsilon: 0.5 });
    expect(log.decisions[1]!.choice!.propensity).toBeCloseTo(0.75);

    const drawn = createPolicyActivities({
      model: champion,
      decisionLog: log,
      exploration: { epsilon: 0.5, namespaces: ['lab'] },
      random: () => 0.2,
    });
    const explored = await inWorkflow(() => drawn.decidePolicy(labWindow, context));
    // pick 0.2 × 2 → index 0 = the greedy one; drawn but not a different action: not "explored".
    expect(explored.ranked[0]!.policy).toBe('cpu_scale_up');
    const values = [0.1, 0.9];
    const other = createPolicyActivities({
      model: champion,
      decisionLog: log,
      exploration: { epsilon: 0.5, namespaces: ['lab'] },
      random: () => values.shift() ?? 0,
    });
    const moved = await inWorkflow(() => other.decidePolicy(labWindow, context));
    expect(moved.ranked[0]!.policy).toBe('memory_scale_up');
    expect(moved.ranked[0]!.reason).toMatch(/^explored/);
    expect(log.decisions.at(-1)!.choice).toMatchObject({ policy: 'memory_scale_up', explored: true, propensity: 0.25 });
  });

  it('outside a workflow (no activity context) nothing is logged; a malformed context is a non-retryable InvalidInput', async () => {
    const log = memoryDecisionLog();
    const a = createPolicyActivities({ model: champion, decisionLog: log });
    await a.decidePolicy(stubWindow(5), context);
    expect(log.decisions).toHaveLength(0);
    const bad = { ...context, attempt: 0 };
    await expect(inWorkflow(() => a.decidePolicy(stubWindow(5), bad))).rejects.toMatchObject({
      type: 'InvalidInput',
      nonRetryable: true,
    });
  });
});

describe('withActionLog', () => {
  const input: ApplyPolicyInput = {
    target: { namespace: 'shop', pod: 'web-1' },
    policy: 'cpu_scale_up',
    magnitude: 1.5,
    operationId: 'remediate/TalonPodCpuNearLimit/shop/web-1/abc/run-1/2',
    dryRun: false,
  };
  const result: ApplyPolicyResult = {
    policy: 'cpu_scale_up',
    magnitude: 1.5,
    summary: 'scale cpu ×1.5',
    changes: [],
    noop: false,
    dryRun: false,
    expectation: {},
  };

  it('parses the attempt from the operation id', () => {
    expect(attemptOfOperation(input.operationId)).toBe(2);
    expect(attemptOfOperation('no-attempt')).toBeUndefined();
    expect(attemptOfOperation('a/b/0')).toBeUndefined();
    expect(slotOfOperation('remediate/shop/web/run-1/e3.2')).toEqual({ episode: 3, attempt: 2 });
    expect(slotOfOperation('remediate/shop/web/run-1/4')).toEqual({ episode: 1, attempt: 4 });
    expect(slotOfOperation('a/b/e0.1')).toBeUndefined();
    expect(slotOfOperation('a/b/e2.')).toBeUndefined();
  });

  it('records the applied change, and a failure with its type, and passes result and error through unchanged', async () => {
    const log = memoryDecisionLog();
    const ok = withActionLog({ applyPolicy: async (_i: ApplyPolicyInput) => result, other: () => 1 }, log, () => 42);
    expect(await inWorkflow(() => ok.applyPolicy(input))).toBe(result);
    expect(ok.other()).toBe(1);
    expect(log.actions[0]).toEqual({
      workflowId: 'remediate/TalonPodCpuNearLimit/shop/web-1/abc',
      runId: 'run-1',
      attempt: 2,
      at: 42,
      namespace: 'shop',
      pod: 'web-1',
      policy: 'cpu_scale_up',
      magnitude: 1.5,
      applied: true,
      noop: false,
      dryRun: false,
      summary: 'scale cpu ×1.5',
    });
    const refused = ApplicationFailure.nonRetryable('over budget', 'GuardRefused');
    const failing = withActionLog(
      { applyPolicy: async (_i: ApplyPolicyInput): Promise<ApplyPolicyResult> => Promise.reject(refused) },
      log,
    );
    await expect(inWorkflow(() => failing.applyPolicy(input))).rejects.toBe(refused);
    expect(log.actions[1]).toMatchObject({ applied: false, error: 'GuardRefused: over budget' });
  });
});
