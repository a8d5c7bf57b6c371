/**
 * remediateAlert on the real Temporal server passes each decision its episode's context (the alert, its
 * resource label, the policies already tried, the attempt) — what the decision log records and exploration
 * needs to compute the workflow's own choice — and the apply step's operation id ends with the same attempt.
 */
import { randomBytes } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { DecisionContext } from '../../src/domain/decision-log';
import type { TalonAlert } from '../../src/domain/alert';
import type { PolicyDecision } from '../../src/domain/policy';
import type { ApplyPolicyInput } from '../../src/domain/remediation';
import { MEMORY_OFF } from '../../src/domain/target-memory';
import type { RemediateAlertResult } from '../../src/contracts/remediate-alert';
import { attemptOfOperation } from '../../activities/action-log';
import { nullOperatorActivities } from '../../activities/operator';
import { STUB_PROFILE, stubPodSnapshot, stubWindow } from '../support/stub-activities';
import { temporalHarness } from '../support/temporal-harness';

jest.setTimeout(120_000);

const harness = temporalHarness();

const RANKED: PolicyDecision = {
  source: 'model',
  ranked: [
    { policy: 'cpu_scale_up', score: 0.7, magnitude: 1.5, reason: '' },
    { policy: 'cpu_scale_down', score: 0.2, magnitude: 0.8, reason: '' },
    { policy: 'replica_scale_up', score: 0.1, magnitude: 2, reason: '' },
  ],
};

it('each decision gets the alert, the policies tried so far and its attempt; the apply’s operation id ends with that attempt', async () => {
  const contexts: (DecisionContext | undefined)[] = [];
  const applied: ApplyPolicyInput[] = [];
  const activities = {
    // A worker without a policy file: the operator policy's local activities must still be registered.
    ...nullOperatorActivities(),
    readTarget: async (ref: { namespace: string; pod: string }) => stubPodSnapshot(ref),
    gatherWindow: async () => stubWindow(),
    decidePolicy: async (_window: unknown, context?: DecisionContext) => {
      contexts.push(context);
      return RANKED;
    },
    workloadProfile: async () => STUB_PROFILE,
    recordOutcome: async () => ({ written: true }),
    applyPolicy: async (input: ApplyPolicyInput) => {
      applied.push(input);
      throw ApplicationFailure.create({ message: 'write budget spent', type: 'GuardRefused', nonRetryable: true });
    },
    verifyPolicy: async () => ({ ok: true, observed: '' }),
  };
  const fingerprint = randomBytes(8).toString('hex');
  const alert: TalonAlert = {
    source: 'alertmanager',
    alertName: 'TalonPodCpuNearLimit',
    status: 'firing',
    fingerprint,
    target: { kind: 'pod', namespace: 'shop', pod: `web-${fingerprint.slice(0, 5)}` },
    labels: { alertname: 'TalonPodCpuNearLimit', talon_resource: 'cpu' },
    annotations: {},
    startsAt: '2026-11-25T10:00:00Z',
  };
  const result = await harness.withWorker(
    'decision-context',
    activities,
    (taskQueue) =>
      harness.client().workflow.execute('remediateAlert', {
        taskQueue,
        workflowId: `remediate/test/${fingerprint}`,
        // The test awaits the episode's result: no watching for a re-fire afterwards.
        args: [{ alert, settings: { maxAttempts: 2, memory: MEMORY_OFF } }],
      }) as Promise<RemediateAlertResult>,
  );
  expect(result.outcome).toBe('needs_human');
  expect(contexts).toEqual([
    { alertName: 'TalonPodCpuNearLimit', resource: 'cpu', tried: [], attempt: 1 },
    { alertName: 'TalonPodCpuNearLimit', resource: 'cpu', tried: ['cpu_scale_up'], attempt: 2 },
  ]);
  expect(applied.map((a) => [a.policy, attemptOfOperation(a.operationId)])).toEqual([
    ['cpu_scale_up', 1],
    ['replica_scale_up', 2],
  ]);
});
