/**
 * remediateAlert and nodeOverload on the real Temporal dev server of the local stack, with stubbed
 * activities: the escalation logic, approvals, guard refusals, fallbacks and the failure chain.
 * With TALON_RECORD_HISTORIES=1 the finished histories are exported into test/replay/histories/.
 */
import { STUB_PROFILE, stubPodSnapshot, stubWindow } from '../support/stub-activities';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { TalonClient, type RemediationStartSettings } from '../../src/client/talon-client';
import { alertResolvedSignal } from '../../src/contracts/alert-episode';
import type { TalonAlert } from '../../src/domain/alert';
import type { PolicyDecision } from '../../src/domain/policy';
import type { ApplyPolicyInput, ApplyPolicyResult } from '../../src/domain/remediation';
import type { RemediateAlertResult, RemediationSettings } from '../../src/contracts/remediate-alert';
import { loadStackConfig, stackEndpoints } from '../../src/config/local-stack';
import { TalonMetrics } from '../../src/observability/metrics';
import { ActivityMetricsInterceptor, metricsSinks } from '../../workers/telemetry';
import { bundleWorkflows } from '../../workers/bundle';
import { nullOperatorActivities } from '../../activities/operator';
import type { NodeOverloadResult } from '../../src/contracts/node-overload';
import { MEMORY_OFF } from '../../src/domain/target-memory';

jest.setTimeout(120_000);

const address = stackEndpoints(loadStackConfig()).temporalAddress;
const record = process.env.TALON_RECORD_HISTORIES === '1';
let bundle: WorkflowBundleWithSourceMap;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  bundle = await bundleWorkflows();
  connection = await Connection.connect({ address });
  client = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
});

function podAlert(overrides: Partial<TalonAlert> = {}): TalonAlert {
  const fingerprint = randomBytes(8).toString('hex');
  return {
    source: 'alertmanager',
    alertName: 'TalonPodCpuNearLimit',
    status: 'firing',
    fingerprint,
    // one workload per alert (`a…` is no generated suffix)
    target: { kind: 'pod', namespace: 'shop', pod: `web-a${fingerprint.slice(0, 5)}`, container: 'app' },
    labels: { alertname: 'TalonPodCpuNearLimit', talon_resource: 'cpu' },
    annotations: {},
    startsAt: '2026-11-25T10:00:00Z',
    ...overrides,
  };
}

const RANKED: PolicyDecision = {
  source: 'model',
  ranked: [
    { policy: 'cpu_scale_up', score: 0.7, magnitude: 1.5, reason: 'cpu near limit' },
    { policy: 'no_action', score: 0.1, magnitude: 1, reason: '' },
    { policy: 'replica_scale_up', score: 0.1, magnitude: 2, reason: 'spread load' },
    { policy: 'task_offloading', score: 0.05, magnitude: 0.5, reason: 'move' },
    { policy: 'cpu_scale_down', score: 0.05, magnitude: 0.8, reason: 'unused' },
  ],
};

interface Stubs {
  applied: ApplyPolicyInput[];
  verified: number;
  gatherFails?: boolean;
  refuse?: Set<string>;
  /** What the worker counted for /metrics. */
  metrics: TalonMetrics;
  evictOutcome?: 'evicted' | 'blocked';
  nodeCalls: string[];
}

function activities(stubs: Stubs) {
  const action = (summary: string) => ({
    policy: 'node_overload',
    operationId: 'x',
    target: 'node',
    applied: true,
    alreadyApplied: false,
    dryRun: false,
    mechanism: 'taint',
    summary,
    changes: [],
    expect: { kind: 'none', reason: 'test' },
  });
  return {
    readTarget: async (ref: { namespace: string; pod: string }) => stubPodSnapshot(ref),
    gatherWindow: async () => {
      if (stubs.gatherFails)
        throw ApplicationFailure.nonRetryable(
          'Prometheus at http://127.0.0.1:1 refused the connection',
          'PrometheusUnavailable',
        );
      return stubWindow();
    },
    decidePolicy: async () => RANKED,
    workloadProfile: async () => STUB_PROFILE,
    recordOutcome: async () => ({ written: true }),
    applyPolicy: async (input: ApplyPolicyInput): Promise<ApplyPolicyResult> => {
      if (stubs.refuse?.has(input.policy)) {
        throw ApplicationFailure.create({
          message: `refused by guard write_budget: 10 writes in 600 s`,
          type: 'GuardRefused',
          nonRetryable: true,
          details: ['write_budget'],
        });
      }
      stubs.applied.push(input);
      return {
        policy: input.policy,
        magnitude: input.magnitude,
        summary: `${input.policy} ×${input.magnitude}`,
        changes: [],
        noop: false,
        dryRun: input.dryRun,
        expectation: { kind: 'none', reason: 'test' },
      };
    },
    verifyPolicy: async () => {
      stubs.verified += 1;
      return { ok: true, observed: 'rollout complete' };
    },
    taintNode: async () => {
      stubs.nodeCalls.push('taint');
      return action('taint edge-1');
    },
    untaintNode: async () => {
      stubs.nodeCalls.push('untaint');
      return { ...action('untaint edge-1'), mechanism: 'untaint' };
    },
    heaviestPod: async () => {
      stubs.nodeCalls.push('heaviest');
      return { namespace: 'shop', pod: 'hog', uid: 'u1', cpuCores: 3.2, basis: 'usage' };
    },
    // The node's usage after the eviction: relieved (remediation-effects.test.ts covers a node that is not).
    rankNodes: async () => [{ node: 'edge-1', cpuCores: 1, memoryBytes: 1, cpuAllocatableCores: 4, cpuShare: 0.25 }],
    evictPod: async () => {
      stubs.nodeCalls.push('evict');
      const outcome = stubs.evictOutcome ?? 'evicted';
      return {
        ...action('evict shop/hog'),
        mechanism: 'evict',
        outcome,
        ...(outcome === 'blocked' ? { blockedBy: 'PodDisruptionBudget hog-pdb' } : {}),
      };
    },
  };
}

const FAST: Partial<RemediationSettings> = {
  maxAttempts: 3,
  cooldown: { defaultSeconds: 1, minSeconds: 1, maxSeconds: 5, historyFactor: 1.5 },
  // These tests await the episode's result: no watching for a re-fire afterwards (remediation-effects tests it).
  memory: MEMORY_OFF,
};

async function withWorker<T>(
  stubs: Stubs,
  fn: (talon: TalonClient, taskQueue: string) => Promise<T>,
  settings: RemediationStartSettings = { remediation: { ...FAST, cooldown: { ...FAST.cooldown!, defaultSeconds: 5 } } },
): Promise<T> {
  const taskQueue = `wf-test-${randomBytes(4).toString('hex')}`;
  const workerConnection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection: workerConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: { ...nullOperatorActivities(), ...activities(stubs) },
    // The worker's own telemetry, as createTalonWorker wires it, so the tests see what /metrics would count.
    sinks: metricsSinks(stubs.metrics),
    interceptors: { activity: [(ctx) => ({ inbound: new ActivityMetricsInterceptor(ctx, stubs.metrics) })] },
  });
  const talon = await TalonClient.connect({ client, taskQueue, settings });
  try {
    return await worker.runUntil(fn(talon, taskQueue));
  } finally {
    await workerConnection.close();
  }
}

async function exportHistory(workflowId: string, name: string): Promise<void> {
  if (!record) return;
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  await writeFile(join(__dirname, '..', 'replay', 'histories', `${name}.json`), historyToJSON(history));
}

/** The value of one labelled series of a worker counter (0 when never incremented). */
async function counted(
  metric: { get(): Promise<{ values: { labels: object; value: number }[] }> },
  labels: Record<string, string> = {},
): Promise<number> {
  const { values } = await metric.get();
  const series = values.find((v) =>
    Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want),
  );
  return series?.value ?? 0;
}

function newStubs(extra: Partial<Stubs> = {}): Stubs {
  return { applied: [], verified: 0, nodeCalls: [], metrics: new TalonMetrics({ defaultMetrics: false }), ...extra };
}

it('applies the best policy, verifies it, and ends resolved when the alert resolves during the cool-down', async () => {
  const stubs = newStubs();
  const alert = podAlert();
  let workflowId = '';
  const result = await withWorker(stubs, async (talon) => {
    ({ workflowId } = await talon.remediate(alert));
    const handle = client.workflow.getHandle(workflowId);
    await waitUntil(async () => (await talon.status(workflowId)).step === 'cooldown');
    await talon.remediate({ ...alert, status: 'resolved' });
    return (await handle.result()) as RemediateAlertResult;
  });
  expect(result.outcome).toBe('resolved');
  expect(stubs.applied.map((a) => [a.policy, a.magnitude])).toEqual([['cpu_scale_up', 1.5]]);
  expect(stubs.verified).toBe(1);
  expect(result.attempts[0]).toMatchObject({ policy: 'cpu_scale_up', applied: true, verified: true, source: 'model' });
  await exportHistory(workflowId, 'resolved-after-first-policy');
});

it('escalates through the ranking (skipping no_action) and ends needs_human when the alert keeps firing', async () => {
  const stubs = newStubs();
  const alert = podAlert();
  const result = await withWorker(stubs, async (talon) => {
    const { workflowId } = await talon.temporal.workflow
      .start('remediateAlert', {
        taskQueue: talon.taskQueue,
        workflowId: `test/escalate/${alert.fingerprint}`,
        args: [{ alert, settings: FAST }],
      })
      .then((h) => ({ workflowId: h.workflowId }));
    return (await client.workflow.getHandle(workflowId).result()) as RemediateAlertResult;
  });
  expect(result.outcome).toBe('needs_human');
  expect(stubs.applied.map((a) => a.policy)).toEqual(['cpu_scale_up', 'replica_scale_up', 'task_offloading']);
  expect(new Set(stubs.applied.map((a) => a.operationId)).size).toBe(3);
  expect(result.reason).toMatch(/still firing after 3 attempt/);
  const m = stubs.metrics;
  expect(await counted(m.workflowsStarted, { type: 'remediateAlert' })).toBe(1);
  expect(await counted(m.escalations, { from: 'cpu_scale_up', to: 'replica_scale_up' })).toBe(1);
  expect(await counted(m.escalations, { from: 'replica_scale_up', to: 'task_offloading' })).toBe(1);
  expect(await counted(m.actionsApplied, { policy: 'cpu_scale_up', outcome: 'applied' })).toBe(1);
  expect(await counted(m.workflowsFinished, { type: 'remediateAlert', outcome: 'needs_human' })).toBe(1);
  expect(await counted(m.stepDuration, { step: 'applyPolicy', le: '+Inf' })).toBe(3);
  await exportHistory(`test/escalate/${alert.fingerprint}`, 'escalated-then-needs-human');
});

it('treats a repeat notification as a signal to the running remediation, not a second one', async () => {
  const stubs = newStubs();
  const alert = podAlert();
  await withWorker(stubs, async (talon) => {
    const first = await talon.remediate(alert);
    const second = await talon.remediate(alert);
    expect(second.workflowId).toBe(first.workflowId);
    await waitUntil(async () => (await talon.status(first.workflowId)).notifications === 2);
    const runs = await talon.list(`WorkflowId = "${first.workflowId}"`);
    expect(runs).toHaveLength(1);
    await talon.cancel(first.workflowId, 'test');
    const result = (await client.workflow.getHandle(first.workflowId).result()) as RemediateAlertResult;
    expect(result.notifications).toBe(2);
  });
  expect(await counted(stubs.metrics.alertsDeduplicated)).toBe(1);
  expect(await counted(stubs.metrics.workflowsStarted, { type: 'remediateAlert' })).toBe(1);
  expect(await counted(stubs.metrics.workflowsFinished, { type: 'remediateAlert', outcome: 'cancelled' })).toBe(1);
});

it('moves on to the next policy when a guard refuses one, recording why', async () => {
  const stubs = newStubs({ refuse: new Set(['cpu_scale_up']) });
  const alert = podAlert();
  const result = await withWorker(stubs, async (talon) => {
    const h = await talon.temporal.workflow.start('remediateAlert', {
      taskQueue: talon.taskQueue,
      workflowId: `test/guard/${alert.fingerprint}`,
      args: [{ alert, settings: { ...FAST, maxAttempts: 2 } }],
    });
    return (await h.result()) as RemediateAlertResult;
  });
  expect(result.attempts[0]).toMatchObject({ policy: 'cpu_scale_up', applied: false });
  expect(result.attempts[0]?.detail).toMatch(/^GuardRefused: refused by guard write_budget/);
  expect(stubs.applied.map((a) => a.policy)).toEqual(['replica_scale_up']);
  expect(await counted(stubs.metrics.guardRefusals, { guard: 'write_budget' })).toBe(1);
  expect(await counted(stubs.metrics.actionsApplied, { policy: 'cpu_scale_up', outcome: 'refused' })).toBe(1);
  expect(await counted(stubs.metrics.actionsApplied, { policy: 'replica_scale_up', outcome: 'applied' })).toBe(1);
});

it('falls back to a policy derived from the alert when metrics are unavailable, and says so', async () => {
  const stubs = newStubs({ gatherFails: true });
  const alert = podAlert();
  const result = await withWorker(stubs, async (talon) => {
    const h = await talon.temporal.workflow.start('remediateAlert', {
      taskQueue: talon.taskQueue,
      workflowId: `test/fallback/${alert.fingerprint}`,
      args: [{ alert, settings: { ...FAST, maxAttempts: 1 } }],
    });
    return (await h.result()) as RemediateAlertResult;
  });
  expect(stubs.applied.map((a) => [a.policy, a.magnitude])).toEqual([['cpu_scale_up', 1.5]]);
  expect(result.attempts[0]).toMatchObject({ source: 'rules' });
  expect(result.attempts[0]?.fallbackReason).toMatch(/metrics unavailable: Prometheus at http:\/\/127.0.0.1:1 refused/);
});

describe('approval', () => {
  const settings: Partial<RemediationSettings> = {
    ...FAST,
    requireApproval: ['cpu_scale_up'],
    approvalTimeoutSeconds: 30,
  };

  it('waits for approval, records who approved, then applies', async () => {
    const stubs = newStubs();
    const alert = podAlert();
    const result = await withWorker(stubs, async (talon) => {
      const h = await talon.temporal.workflow.start('remediateAlert', {
        taskQueue: talon.taskQueue,
        workflowId: `test/approve/${alert.fingerprint}`,
        args: [
          {
            alert,
            settings: {
              ...settings,
              maxAttempts: 1,
              cooldown: { ...FAST.cooldown!, defaultSeconds: 30, maxSeconds: 60 },
            },
          },
        ],
      });
      await waitUntil(async () => (await talon.status(h.workflowId)).step === 'awaiting_approval');
      expect((await talon.status(h.workflowId)).awaitingApprovalFor).toMatch(/^cpu_scale_up ×1.5 on shop\//);
      expect(stubs.applied).toHaveLength(0);
      const answer = await talon.approve(h.workflowId, 'alice@sre', 'go ahead');
      expect(answer).toEqual({
        accepted: true,
        message: expect.stringMatching(/^approved cpu_scale_up .* by alice@sre$/),
      });
      await waitUntil(async () => (await talon.status(h.workflowId)).step === 'cooldown');
      await h.signal(alertResolvedSignal, { ...alert, status: 'resolved' });
      return (await h.result()) as RemediateAlertResult;
    });
    expect(stubs.applied.map((a) => a.policy)).toEqual(['cpu_scale_up']);
    expect(result.outcome).toBe('resolved');
    await exportHistory(`test/approve/${alert.fingerprint}`, 'approval-granted');
  });

  it('refuses an approval when nothing waits for one', async () => {
    const stubs = newStubs();
    const alert = podAlert();
    await withWorker(stubs, async (talon) => {
      const h = await talon.temporal.workflow.start('remediateAlert', {
        taskQueue: talon.taskQueue,
        workflowId: `test/noapprove/${alert.fingerprint}`,
        args: [{ alert, settings: FAST }],
      });
      await waitUntil(async () => (await talon.status(h.workflowId)).step === 'cooldown');
      await expect(talon.approve(h.workflowId, 'bob')).rejects.toThrow(/nothing is waiting for approval/);
      await talon.cancel(h.workflowId, 'test');
      expect(((await h.result()) as RemediateAlertResult).outcome).toBe('cancelled');
    });
  });

  it('ends needs_human without applying anything when approval times out', async () => {
    const stubs = newStubs();
    const alert = podAlert();
    const result = await withWorker(stubs, async (talon) => {
      const h = await talon.temporal.workflow.start('remediateAlert', {
        taskQueue: talon.taskQueue,
        workflowId: `test/approval-timeout/${alert.fingerprint}`,
        args: [{ alert, settings: { ...settings, approvalTimeoutSeconds: 2 } }],
      });
      return (await h.result()) as RemediateAlertResult;
    });
    expect(result.outcome).toBe('needs_human');
    expect(result.reason).toMatch(/approval of cpu_scale_up .* timed out after 2s/);
    expect(stubs.applied).toHaveLength(0);
    await exportHistory(`test/approval-timeout/${alert.fingerprint}`, 'approval-timed-out');
  });

  it('ends rejected when a person rejects the change', async () => {
    const stubs = newStubs();
    const alert = podAlert();
    const result = await withWorker(stubs, async (talon) => {
      const h = await talon.temporal.workflow.start('remediateAlert', {
        taskQueue: talon.taskQueue,
        workflowId: `test/reject/${alert.fingerprint}`,
        args: [{ alert, settings }],
      });
      await waitUntil(async () => (await talon.status(h.workflowId)).step === 'awaiting_approval');
      await talon.reject(h.workflowId, 'carol');
      return (await h.result()) as RemediateAlertResult;
    });
    expect(result.outcome).toBe('rejected');
    expect(result.reason).toMatch(/rejected by carol/);
    expect(stubs.applied).toHaveLength(0);
  });
});

it('fails with the WorkflowFailedError → ActivityFailure → ApplicationFailure chain for a node alert sent to remediateAlert', async () => {
  const stubs = newStubs();
  const alert = podAlert({ target: { kind: 'node', node: 'edge-1' } });
  await withWorker(stubs, async (talon) => {
    const h = await talon.temporal.workflow.start('remediateAlert', {
      taskQueue: talon.taskQueue,
      workflowId: `test/chain/${alert.fingerprint}`,
      args: [{ alert }],
    });
    const err = await h.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('InvalidRequest');
  });
});

it('surfaces a permanent read failure as WorkflowFailedError → the activity’s ApplicationFailure', async () => {
  const stubs = newStubs();
  const alert = podAlert();
  const broken = {
    ...activities(stubs),
    readTarget: async () => {
      throw ApplicationFailure.nonRetryable('pod has no containers', 'MalformedPod');
    },
  };
  const taskQueue = `wf-test-${randomBytes(4).toString('hex')}`;
  const workerConnection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection: workerConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: { ...nullOperatorActivities(), ...broken },
  });
  try {
    const err = await worker.runUntil(async () => {
      const h = await client.workflow.start('remediateAlert', {
        taskQueue,
        workflowId: `test/chain2/${alert.fingerprint}`,
        args: [{ alert }],
      });
      return (h.result() as Promise<unknown>).catch((e: unknown) => e);
    });
    expect(err).toBeInstanceOf(WorkflowFailedError);
    // readTarget runs in the workflow task (a local activity): its own ApplicationFailure is the cause, not wrapped
    // in an ActivityFailure as an ordinary activity's would be.
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).not.toBeInstanceOf(ActivityFailure);
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('MalformedPod');
    expect((cause as ApplicationFailure).message).toBe('pod has no containers');
  } finally {
    await workerConnection.close();
  }
});

describe('nodeOverload', () => {
  const nodeAlert = (): TalonAlert =>
    podAlert({ alertName: 'TalonNodeOverloaded', target: { kind: 'node', node: 'edge-1' } });

  it('taints, evicts the heaviest pod, waits, then untaints exactly once', async () => {
    const stubs = newStubs();
    const alert = nodeAlert();
    const result = await withWorker(
      stubs,
      async (talon) => {
        const { workflowId } = await talon.remediate(alert);
        expect(workflowId).toBe(`node-overload/TalonNodeOverloaded/edge-1/${alert.fingerprint}`);
        return (await client.workflow.getHandle(workflowId).result()) as NodeOverloadResult;
      },
      { nodeOverload: { untaintAfterSeconds: 2 } },
    );
    expect(result).toMatchObject({ outcome: 'resolved', node: 'edge-1', evicted: 'shop/hog' });
    expect(stubs.nodeCalls).toEqual(['taint', 'heaviest', 'evict', 'untaint']);
  });

  it('reports a PDB-blocked eviction and still untaints when cancelled during the wait', async () => {
    const stubs = newStubs({ evictOutcome: 'blocked' });
    const alert = nodeAlert();
    const result = await withWorker(
      stubs,
      async (talon) => {
        const { workflowId } = await talon.remediate(alert);
        await waitUntil(async () => (await talon.status(workflowId)).step === 'cooldown');
        await talon.cancel(workflowId, 'test');
        return (await client.workflow.getHandle(workflowId).result()) as NodeOverloadResult;
      },
      { nodeOverload: { untaintAfterSeconds: 600 } },
    );
    expect(result.outcome).toBe('cancelled');
    expect(result.reason).toMatch(/blocked: PodDisruptionBudget hog-pdb/);
    expect(stubs.nodeCalls).toEqual(['taint', 'heaviest', 'evict', 'untaint']);
  });

  it('untaints even when the workflow itself is cancelled through Temporal', async () => {
    const stubs = newStubs();
    const alert = nodeAlert();
    const err = await withWorker(
      stubs,
      async (talon) => {
        const { workflowId } = await talon.remediate(alert);
        await waitUntil(async () => (await talon.status(workflowId)).step === 'cooldown');
        const handle = client.workflow.getHandle(workflowId);
        await handle.cancel();
        return (handle.result() as Promise<unknown>).catch((e: unknown) => e);
      },
      { nodeOverload: { untaintAfterSeconds: 600 } },
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(stubs.nodeCalls).toEqual(['taint', 'heaviest', 'evict', 'untaint']);
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not there yet (e.g. the query handler is not registered before the first task)
    }
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}
