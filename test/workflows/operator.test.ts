/**
 * The operator policy inside remediateAlert and nodeOverload, on the test stack's Temporal with stubbed cluster
 * activities and the real operator activities over fake sources (policy, brake counts, Event recorder): observe
 * and recommend change nothing and record the decision, approve waits for an allowed identity (a disallowed one
 * is refused), the storm brake holds and releases, allowed policies and growth caps shape the choice, and a
 * policy reload between attempts is recorded as a new version.
 */
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createOperatorActivities, type BrakeSources } from '../../activities/operator';
import { TalonClient } from '../../src/client/talon-client';
import { parsePolicyFile } from '../../src/config/policy-file';
import { loadStackConfig, stackEndpoints } from '../../src/config/local-stack';
import { AUDIT_MEMO_KEY, type AuditEntry, type OperatorEventInput } from '../../src/contracts/operator';
import type { RemediateAlertResult } from '../../src/contracts/remediate-alert';
import type { NodeOverloadResult } from '../../src/contracts/node-overload';
import type { TalonAlert } from '../../src/domain/alert';
import type { OperatorPolicy } from '../../src/domain/autonomy';
import type { PolicyDecision } from '../../src/domain/policy';
import type { ApplyPolicyInput, ApplyPolicyResult } from '../../src/domain/remediation';
import type { BrakeLatch } from '../../src/kube/storm-brake';
import { TalonMetrics } from '../../src/observability/metrics';
import { MEMORY_OFF } from '../../src/domain/target-memory';
import { bundleWorkflows } from '../../workers/bundle';
import { metricsSinks } from '../../workers/telemetry';
import { STUB_PROFILE, stubPodSnapshot, stubWindow } from '../support/stub-activities';

jest.setTimeout(120_000);

const address = stackEndpoints(loadStackConfig()).temporalAddress;
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

const HEAD = "apiVersion: talon.io/v1alpha1\nkind: TalonPolicy\nversion: 'v1'\n";
const FAST = 'defaults:\n  maxAttempts: 2\n  cooldown: { defaultSeconds: 1, minSeconds: 1, maxSeconds: 2 }\n';
const policyOf = (yaml: string): OperatorPolicy => parsePolicyFile(HEAD + yaml, 'test-policy.yaml');

const RANKED: PolicyDecision = {
  source: 'model',
  ranked: [
    { policy: 'cpu_scale_up', score: 0.7, magnitude: 2.5, reason: 'cpu near limit' },
    { policy: 'replica_scale_up', score: 0.2, magnitude: 2, reason: 'spread load' },
    { policy: 'no_action', score: 0.1, magnitude: 1, reason: '' },
  ],
};

function podAlert(): TalonAlert {
  const fingerprint = randomBytes(8).toString('hex');
  return {
    source: 'alertmanager',
    alertName: 'High CPU usage',
    status: 'firing',
    fingerprint,
    target: { kind: 'pod', namespace: 'shop', pod: `web-${fingerprint.slice(0, 5)}`, container: 'app' },
    // A workload of its own per test: remediations are keyed by workload (remediate/<namespace>/<workload>).
    labels: { alertname: 'High CPU usage', talon_resource: 'cpu', team: 'blue', talon_workload: `web-${fingerprint}` },
    annotations: {},
    startsAt: '2026-11-25T10:00:00Z',
  };
}

/** Brake counts the test turns up and down, and a latch store in memory. */
class Sources implements BrakeSources {
  running = 0;
  async countWorkflows() {
    return this.running;
  }
  /** One pod per remediated workload, of the namespace's 10. */
  async listWorkflowIds() {
    return Array.from({ length: this.running }, (_, i) => `remediate/shop/web-${i}`);
  }
  async namespacePods() {
    return Array.from({ length: 10 }, (_, i) => `web-${i}`);
  }
  async countNodes() {
    return 4;
  }
  stored: BrakeLatch[] = [];
  readonly latches = { read: async () => [...this.stored], latch: async () => [...this.stored] };
}

interface World {
  policy: OperatorPolicy | undefined;
  readonly sources: Sources;
  readonly applied: ApplyPolicyInput[];
  readonly events: OperatorEventInput[];
  readonly nodeCalls: string[];
  readonly metrics: TalonMetrics;
}

function world(policy: OperatorPolicy | undefined): World {
  return {
    policy,
    sources: new Sources(),
    applied: [],
    events: [],
    nodeCalls: [],
    metrics: new TalonMetrics({ defaultMetrics: false }),
  };
}

function activities(w: World) {
  const operator = createOperatorActivities({
    policy: () => w.policy,
    talonNamespace: 'talon-system',
    taskQueue: 'unused',
    brake: w.sources,
    cacheMs: 0,
  });
  const node = (summary: string) => ({
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
    ...operator,
    recordEvent: async (input: OperatorEventInput) => {
      w.events.push(input);
      return { written: true };
    },
    readTarget: async (ref: { namespace: string; pod: string }) => stubPodSnapshot(ref),
    gatherWindow: async () => stubWindow(),
    decidePolicy: async () => RANKED,
    workloadProfile: async () => STUB_PROFILE,
    recordOutcome: async () => ({ written: true }),
    applyPolicy: async (input: ApplyPolicyInput): Promise<ApplyPolicyResult> => {
      w.applied.push(input);
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
    verifyPolicy: async () => ({ ok: true, observed: 'rollout complete' }),
    taintNode: async () => {
      w.nodeCalls.push('taint');
      return node('taint edge-1');
    },
    untaintNode: async () => {
      w.nodeCalls.push('untaint');
      return node('untaint edge-1');
    },
    heaviestPod: async () => {
      w.nodeCalls.push('heaviest');
      return null;
    },
    evictPod: async () => {
      w.nodeCalls.push('evict');
      return { ...node('evict'), outcome: 'evicted' };
    },
  };
}

async function withWorker<T>(w: World, fn: (talon: TalonClient) => Promise<T>, identity = 'alice@sre'): Promise<T> {
  const taskQueue = `op-test-${randomBytes(4).toString('hex')}`;
  const workerConnection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection: workerConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: activities(w),
    sinks: metricsSinks(w.metrics),
  });
  // No memory between episodes: each test's remediation ends with its episode instead of watching for a re-fire.
  const talon = await TalonClient.connect({
    client,
    taskQueue,
    identity,
    settings: { remediation: { memory: MEMORY_OFF } },
  });
  try {
    return await worker.runUntil(fn(talon));
  } finally {
    await workerConnection.close();
  }
}

async function waitUntil(check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not there yet (e.g. the query before the first task)
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function audit(workflowId: string): Promise<AuditEntry[]> {
  const description = await client.workflow.getHandle(workflowId).describe();
  return (description.memo?.[AUDIT_MEMO_KEY] as AuditEntry[] | undefined) ?? [];
}

async function run(w: World, alert = podAlert()): Promise<{ result: RemediateAlertResult; workflowId: string }> {
  return withWorker(w, async (talon) => {
    const { workflowId } = await talon.remediate(alert);
    const result = (await client.workflow.getHandle(workflowId).result()) as RemediateAlertResult;
    return { result, workflowId };
  });
}

it('observe: changes nothing, records what Talon would do with the policy version, as an Event and in the memo', async () => {
  const w = world(policyOf(`${FAST.replace('defaults:', 'defaults:\n  autonomy: observe')}`));
  const { result, workflowId } = await run(w);
  expect(w.applied).toEqual([]);
  expect(result.outcome).toBe('no_action');
  expect(result.reason).toMatch(/^observe: would apply cpu_scale_up ×2\.5 on shop\/web-/);
  expect(result.attempts[0]).toMatchObject({ applied: false, policyVersion: w.policy!.version });
  expect(w.events.map((e) => e.reason)).toEqual(['TalonObserved', 'TalonFinished']);
  expect(w.events[0]).toMatchObject({ target: { kind: 'Pod', namespace: 'shop' }, policyVersion: w.policy!.version });
  const trail = await audit(workflowId);
  expect(trail.map((e) => e.decision)).toEqual(['observe', 'outcome_no_action']);
  expect(trail[0]).toMatchObject({ who: 'talon', policy: 'cpu_scale_up', policyVersion: w.policy!.version });
  expect((await w.metrics.operatorDecisions.get()).values.find((v) => v.labels.decision === 'observe')?.value).toBe(1);
});

it('recommend: posts the recommendation and changes nothing', async () => {
  const w = world(
    policyOf(
      `${FAST}overrides:\n  - name: shop\n    match: { namespaces: [shop] }\n    set: { autonomy: recommend }\n`,
    ),
  );
  const { result } = await run(w);
  expect(w.applied).toEqual([]);
  expect(result.reason).toMatch(/^recommend: cpu_scale_up/);
  expect(w.events[0]!.reason).toBe('TalonRecommendation');
});

it('approve: refuses a disallowed identity, applies once an allowed one approves; both recorded', async () => {
  const w = world(policyOf(`${FAST.replace('defaults:', "defaults:\n  autonomy: approve\n  approvers: ['alice@*']")}`));
  const alert = podAlert();
  const { result, workflowId, refusal } = await withWorker(w, async (talon) => {
    const { workflowId } = await talon.remediate(alert);
    await waitUntil(async () => (await talon.status(workflowId)).step === 'awaiting_approval', 'awaiting approval');
    const mallory = await TalonClient.connect({ client, taskQueue: talon.taskQueue, identity: 'mallory@laptop' });
    const refusal = await mallory.approve(workflowId, 'alice@sre').catch((err: Error) => err);
    expect(w.applied).toEqual([]);
    await talon.approve(workflowId, 'alice', 'go');
    await waitUntil(async () => w.applied.length === 1, 'the change');
    await talon.remediate({ ...alert, status: 'resolved' });
    return {
      result: (await client.workflow.getHandle(workflowId).result()) as RemediateAlertResult,
      workflowId,
      refusal,
    };
  });
  expect(refusal).toBeInstanceOf(Error);
  expect((refusal as Error).message).toMatch(
    /"mallory@laptop" may not approve or reject here: policy v1@[0-9a-f]{12} allows alice@\*/,
  );
  expect(result.outcome).toBe('resolved');
  expect(w.applied.map((a) => [a.policy, a.limits?.policyVersion])).toEqual([['cpu_scale_up', w.policy!.version]]);
  const trail = await audit(workflowId);
  expect(trail.map((e) => [e.decision, e.who])).toEqual([
    ['approval_requested', 'talon'],
    ['approved', 'alice@sre'],
    ['applied', 'talon'],
    ['outcome_resolved', 'talon'],
  ]);
  expect(w.events.map((e) => e.reason)).toEqual([
    'TalonApprovalRequested',
    'TalonApproved',
    'TalonApplied',
    'TalonFinished',
  ]);
});

it('the storm brake holds a remediation while engaged (visible in the state) and lets it go once released', async () => {
  const w = world(policyOf(`${FAST}stormBrake: { maxAlerts: 5, recheckSeconds: 1, maxWaitSeconds: 120 }\n`));
  w.sources.running = 30;
  const alert = podAlert();
  const { workflowId, brakeLine } = await withWorker(w, async (talon) => {
    const { workflowId } = await talon.remediate(alert);
    let brakeLine = '';
    await waitUntil(async () => {
      brakeLine = (await talon.status(workflowId)).operator?.brake ?? '';
      return brakeLine !== '';
    }, 'the brake in the state');
    await new Promise((r) => setTimeout(r, 2_500));
    expect(w.applied).toEqual([]);
    // What the Temporal UI shows as the workflow's current details while it is held.
    const metadata = await client.workflow
      .getHandle(workflowId)
      .query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toMatch(
      /^\*\*Storm brake engaged\*\* — cpu_scale_up ×2\.5 on shop\/web-\w+\/app waits\./,
    );
    w.sources.running = 1;
    await waitUntil(async () => w.applied.length === 1, 'the change after the release');
    await talon.remediate({ ...alert, status: 'resolved' });
    await client.workflow.getHandle(workflowId).result();
    return { workflowId, brakeLine };
  });
  expect(brakeLine).toMatch(/^storm brake engaged: 30 alert remediations running, more than maxAlerts 5/);
  const decisions = (await audit(workflowId)).map((e) => e.decision);
  expect(decisions).toEqual(['brake_wait', 'brake_released', 'applied', 'outcome_resolved']);
  expect(w.events[0]).toMatchObject({ reason: 'TalonStormBrake', type: 'Warning' });
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const timers = history.events?.filter((e) => e.timerStartedEventAttributes) ?? [];
  expect(timers.length).toBeGreaterThanOrEqual(2); // at least two rechecks while held
});

it('an approved change is held if the storm brake engaged while it waited for the approval', async () => {
  const w = world(
    policyOf(
      `${FAST.replace('defaults:', "defaults:\n  autonomy: approve\n  approvers: ['*']")}stormBrake: { maxAlerts: 5, recheckSeconds: 1 }\n`,
    ),
  );
  const alert = podAlert();
  const workflowId = await withWorker(w, async (talon) => {
    const { workflowId } = await talon.remediate(alert);
    await waitUntil(async () => (await talon.status(workflowId)).step === 'awaiting_approval', 'awaiting approval');
    w.sources.running = 30;
    await talon.approve(workflowId, 'alice');
    await waitUntil(
      async () => (await talon.status(workflowId)).operator?.brake !== undefined,
      'the brake after approval',
    );
    await new Promise((r) => setTimeout(r, 2_000));
    expect(w.applied).toEqual([]);
    w.sources.running = 1;
    await waitUntil(async () => w.applied.length === 1, 'the change after the release');
    await talon.remediate({ ...alert, status: 'resolved' });
    await client.workflow.getHandle(workflowId).result();
    return workflowId;
  });
  expect((await audit(workflowId)).map((e) => e.decision)).toEqual([
    'approval_requested',
    'approved',
    'brake_wait',
    'brake_released',
    'applied',
    'outcome_resolved',
  ]);
});

it('the storm brake in observe mode turns the remediation into an observation', async () => {
  const w = world(policyOf(`${FAST}stormBrake: { maxAlerts: 5, action: observe }\n`));
  w.sources.running = 30;
  const { result } = await run(w);
  expect(w.applied).toEqual([]);
  expect(result.reason).toMatch(
    /^storm brake engaged: 30 alert remediations running.*; observe: would apply cpu_scale_up/,
  );
});

it('allowed policies and growth caps shape the choice; a protected namespace is left alone', async () => {
  const capped = world(
    policyOf(
      `${FAST}  allowedPolicies: [replica_scale_up, cpu_scale_up]\n  growth: { maxFactor: { cpu_scale_up: 1.5 } }\n`,
    ),
  );
  const alert = podAlert();
  await withWorker(capped, async (talon) => {
    const { workflowId } = await talon.remediate(alert);
    await waitUntil(async () => capped.applied.length === 1, 'the change');
    await talon.remediate({ ...alert, status: 'resolved' });
    await client.workflow.getHandle(workflowId).result();
  });
  expect(capped.applied.map((a) => [a.policy, a.magnitude])).toEqual([['cpu_scale_up', 1.5]]);

  const noCpu = world(policyOf(`${FAST}  allowedPolicies: [replica_scale_up]\n`));
  const a2 = podAlert();
  await withWorker(noCpu, async (talon) => {
    const { workflowId } = await talon.remediate(a2);
    await waitUntil(async () => noCpu.applied.length === 1, 'the change');
    await talon.remediate({ ...a2, status: 'resolved' });
    await client.workflow.getHandle(workflowId).result();
  });
  expect(noCpu.applied.map((a) => a.policy)).toEqual(['replica_scale_up']);

  const guarded = world(policyOf(`${FAST}protectedNamespaces: [shop]\n`));
  const { result } = await run(guarded);
  expect(guarded.applied).toEqual([]);
  expect(result.reason).toBe('namespace shop is protected (shop): Talon changes nothing there');
});

it('a policy change between attempts takes effect at the next one, and each attempt records its version', async () => {
  const first = policyOf(FAST);
  const w = world(first);
  const alert = podAlert();
  const result = await withWorker(w, async (talon) => {
    const { workflowId } = await talon.remediate(alert);
    await waitUntil(async () => w.applied.length === 1, 'the first change');
    // The file changes while the first attempt cools down (a PolicyStore reload, as the worker would see it).
    w.policy = parsePolicyFile(HEAD.replace("'v1'", "'v2'") + FAST + '  autonomy: observe\n', 'test-policy.yaml');
    return (await client.workflow.getHandle(workflowId).result()) as RemediateAlertResult;
  });
  expect(w.applied).toHaveLength(1);
  expect(result.attempts.map((a) => [a.policy, a.applied, a.policyVersion?.split('@')[0]])).toEqual([
    ['cpu_scale_up', true, 'v1'],
    ['replica_scale_up', false, 'v2'],
  ]);
  expect(result.reason).toMatch(/^observe: would apply replica_scale_up/);
});

it('nodeOverload: observe taints nothing; approve waits for an allowed identity, then taints and untaints', async () => {
  const node = (fp: string): TalonAlert => ({
    source: 'alertmanager',
    alertName: 'TalonNodeOverloaded',
    status: 'firing',
    fingerprint: fp,
    target: { kind: 'node', node: 'edge-1' },
    labels: { alertname: 'TalonNodeOverloaded', node: 'edge-1' },
    annotations: {},
    startsAt: '2026-11-25T10:00:00Z',
  });
  const observed = world(policyOf('defaults:\n  autonomy: observe\n'));
  const o = await withWorker(observed, async (talon) => {
    const { workflowId } = await talon.remediate(node(randomBytes(8).toString('hex')));
    return (await client.workflow.getHandle(workflowId).result()) as NodeOverloadResult;
  });
  expect(observed.nodeCalls).toEqual([]);
  expect(o).toMatchObject({ outcome: 'no_action' });
  expect(o.reason).toMatch(/^observe: would apply node_overload on edge-1/);

  const approved = world(policyOf('defaults:\n  autonomy: approve\n  approvers: [bob]\n  untaintAfterSeconds: 1\n'));
  const a = await withWorker(
    approved,
    async (talon) => {
      const { workflowId } = await talon.remediate(node(randomBytes(8).toString('hex')));
      await waitUntil(
        async () => (await talon.status(workflowId)).awaitingApprovalFor !== undefined,
        'awaiting approval',
      );
      expect(approved.nodeCalls).toEqual([]);
      await talon.approve(workflowId, 'bob');
      return (await client.workflow.getHandle(workflowId).result()) as NodeOverloadResult;
    },
    'bob',
  );
  expect(approved.nodeCalls).toEqual(['taint', 'heaviest', 'untaint']);
  expect(a.outcome).toBe('needs_human'); // nothing evictable, still firing
});
