/**
 * Issue 14 on a real Temporal server with scripted activities (test/support/remediation-harness.ts): one
 * remediation per workload, escalation memory across episodes and the growth cap, rollback of a change that
 * failed or made things worse, the node-overload loop judged by the node's usage, and the adaptive cool-down
 * fed with recorded outcomes. With TALON_RECORD_HISTORIES=1 the new paths' histories are exported for replay.
 */
import { Client, Connection } from '@temporalio/client';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { loadStackConfig, stackEndpoints } from '../../src/config/local-stack';
import type { TalonClient } from '../../src/client/talon-client';
import type { RemediationState } from '../../src/contracts/alert-episode';
import type { NodeOverloadResult } from '../../src/contracts/node-overload';
import type { RemediateAlertResult, RemediationSettings } from '../../src/contracts/remediate-alert';
import { MEMORY_OFF } from '../../src/domain/target-memory';
import { bundleWorkflows } from '../../workers/bundle';
import {
  exportHistory,
  freshWorkload,
  newCalls,
  newScript,
  waitUntil,
  withScriptedWorker,
  workloadAlert,
} from '../support/remediation-harness';

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

const env = () => ({ address, bundle, client });

/** Short cool-downs; no memory unless a test asks for it (then the workflow watches for a re-fire). */
const FAST: Partial<RemediationSettings> = {
  maxAttempts: 3,
  cooldown: { defaultSeconds: 3, minSeconds: 1, maxSeconds: 5, historyFactor: 1.5 },
  memory: MEMORY_OFF,
};

describe('one incident, one remediation (gap 0)', () => {
  it('joins the alerts of two pods of one Deployment into one workflow that changes it once', async () => {
    const script = newScript();
    const calls = newCalls();
    const workload = freshWorkload('web');
    const a = workloadAlert(workload, 'x2x9z');
    const b = workloadAlert(workload, 'q8w4k');
    const result = await withScriptedWorker(
      env(),
      script,
      calls,
      { remediation: { ...FAST, cooldown: { ...FAST.cooldown!, defaultSeconds: 30, maxSeconds: 60 } } },
      async ({ talon }) => {
        const first = await talon.remediate(a);
        const second = await talon.remediate(b);
        expect(first.workflowId).toBe(`remediate/shop/${workload}`);
        expect(second.workflowId).toBe(first.workflowId);
        await waitUntil(async () => (await talon.status(first.workflowId)).pods?.length === 2);
        await waitUntil(async () => (await talon.status(first.workflowId)).step === 'cooldown');
        // One pod's alert resolving is not the incident resolving: the other pod still fires.
        await talon.remediate({ ...a, status: 'resolved' });
        await new Promise((r) => setTimeout(r, 1_000));
        expect((await talon.status(first.workflowId)).firing).toBe(true);
        await talon.remediate({ ...b, status: 'resolved' });
        const done = (await client.workflow.getHandle(first.workflowId).result()) as RemediateAlertResult;
        await exportHistory(client, first.workflowId, 'workload-two-pods-one-change');
        return done;
      },
    );
    expect(result.outcome).toBe('resolved');
    expect(calls.applied.map((x) => [x.policy, x.magnitude])).toEqual([['cpu_scale_up', 1.5]]);
    expect(result.notifications).toBe(2);
  });

  it('acts on the newest firing pod that still exists when the first one is gone', async () => {
    const workload = freshWorkload('api');
    const a = workloadAlert(workload, 'x2x9z');
    const b = workloadAlert(workload, 'q8w4k');
    const script = newScript({ gone: new Set([a.target.kind === 'pod' ? a.target.pod : '']) });
    const calls = newCalls();
    const workflowId = `remediate/shop/${workload}`;
    const result = await withScriptedWorker(
      env(),
      script,
      calls,
      { remediation: { ...FAST, maxAttempts: 1 } },
      async ({ talon }) => {
        await waitUntil(async () => (await talon.status(workflowId)).step === 'cooldown');
        await talon.remediate({ ...b, status: 'resolved' });
        await talon.remediate({ ...a, status: 'resolved' });
        return (await client.workflow.getHandle(workflowId).result()) as RemediateAlertResult;
      },
      // Both alerts are in before the workflow's first task: b starts it, a (whose pod is gone) is the newest.
      async ({ talon }) => {
        await talon.remediate(b);
        await talon.remediate(a);
      },
    );
    expect(calls.applied).toHaveLength(1);
    expect(calls.applied[0]!.target.pod).toBe(b.target.kind === 'pod' ? b.target.pod : '');
    expect(result.outcome).toBe('resolved');
  });
});

describe('escalation memory across episodes (gap 5)', () => {
  const remembering = (memory: Partial<RemediationSettings['memory']>) => ({
    remediation: { ...FAST, memory: { windowSeconds: 600, growthCap: 4, growthWindowSeconds: 600, ...memory } },
  });

  async function episodeEnded(talon: TalonClient, workflowId: string, episode: number): Promise<RemediationState> {
    let state: RemediationState | undefined;
    await waitUntil(async () => {
      state = await talon.status(workflowId);
      return state.step === 'watching' && state.episode === episode;
    });
    return state!;
  }

  it('continues a re-fire within the memory window with the next-best policy, not the first', async () => {
    const script = newScript();
    const calls = newCalls();
    const alert = workloadAlert(freshWorkload('shop'), 'x2x9z');
    const result = await withScriptedWorker(env(), script, calls, remembering({}), async ({ talon }) => {
      const { workflowId } = await talon.remediate(alert);
      await waitUntil(async () => (await talon.status(workflowId)).step === 'cooldown');
      await talon.remediate({ ...alert, status: 'resolved' });
      const first = await episodeEnded(talon, workflowId, 1);
      expect(first.outcome).toBe('resolved');
      expect(first.memory).toEqual([
        expect.objectContaining({ policy: 'cpu_scale_up', outcome: 'applied', episode: 1 }),
      ]);
      expect(Date.parse(first.watchingUntil!)).toBeGreaterThan(Date.now() + 500_000);
      // The same alert fires again a little later: a new episode of the same workflow, remembering the first.
      await talon.remediate(alert);
      await waitUntil(async () => {
        const s = await talon.status(workflowId);
        return s.episode === 2 && s.step === 'cooldown';
      });
      await talon.remediate({ ...alert, status: 'resolved' });
      await episodeEnded(talon, workflowId, 2);
      await talon.cancel(workflowId, 'test over');
      const done = (await client.workflow.getHandle(workflowId).result()) as RemediateAlertResult;
      await exportHistory(client, workflowId, 'memory-refire-next-policy');
      return done;
    });
    expect(calls.applied.map((a) => a.policy)).toEqual(['cpu_scale_up', 'replica_scale_up']);
    expect(new Set(calls.applied.map((a) => a.operationId)).size).toBe(2);
    expect(calls.applied[1]!.operationId).toMatch(/\/e2\.1$/);
    expect(result).toMatchObject({ outcome: 'resolved', episodes: 2 });
  });

  it('ends needs_human when the next change would take the target past its growth cap', async () => {
    const script = newScript();
    const calls = newCalls();
    const alert = workloadAlert(freshWorkload('cap'), 'x2x9z');
    // A one-second memory window: the re-fire may try cpu_scale_up again, but ×1.5 × ×1.5 breaks a cap of ×2.
    const state = await withScriptedWorker(
      env(),
      script,
      calls,
      remembering({ windowSeconds: 1, growthCap: 2 }),
      async ({ talon }) => {
        const { workflowId } = await talon.remediate(alert);
        await waitUntil(async () => (await talon.status(workflowId)).step === 'cooldown');
        await talon.remediate({ ...alert, status: 'resolved' });
        await episodeEnded(talon, workflowId, 1);
        await new Promise((r) => setTimeout(r, 1_500));
        await talon.remediate(alert);
        const second = await episodeEnded(talon, workflowId, 2);
        // A repeat of the still-firing alert is no re-fire: the episode is a person's now.
        await talon.remediate(alert);
        await new Promise((r) => setTimeout(r, 1_000));
        expect(await talon.status(workflowId)).toMatchObject({ episode: 2, step: 'watching', outcome: 'needs_human' });
        await talon.cancel(workflowId, 'test over');
        await client.workflow.getHandle(workflowId).result();
        await exportHistory(client, workflowId, 'memory-growth-cap-needs-human');
        return second;
      },
    );
    expect(calls.applied.map((a) => [a.policy, a.magnitude])).toEqual([['cpu_scale_up', 1.5]]);
    expect(state.outcome).toBe('needs_human');
    expect(state.attempts).toEqual([
      expect.objectContaining({
        policy: 'cpu_scale_up',
        applied: false,
        detail: expect.stringMatching(/growth cap: cpu .* ×2\.25, above the cap of ×2/),
      }),
    ]);
  });

  it('keeps the memory across continue-as-new while watching', async () => {
    const script = newScript();
    const calls = newCalls();
    const workload = freshWorkload('long');
    const alert = workloadAlert(workload, 'x2x9z');
    const workflowId = `remediate/shop/${workload}`;
    const settings = remembering({});
    const result = await withScriptedWorker(env(), script, calls, settings, async ({ talon, taskQueue }) => {
      const handle = await client.workflow.start('remediateAlert', {
        taskQueue,
        workflowId,
        args: [{ alert, settings: settings.remediation, maxWatchHistoryEvents: 10 }],
      });
      await waitUntil(async () => (await talon.status(workflowId)).step === 'cooldown');
      await talon.remediate({ ...alert, status: 'resolved' });
      // The first run hands its memory to a second one, which watches.
      await waitUntil(async () => {
        const d = await client.workflow.getHandle(workflowId).describe();
        const s = await talon.status(workflowId);
        return d.runId !== handle.firstExecutionRunId && s.step === 'watching' && (s.memory ?? []).length === 1;
      });
      await talon.remediate(alert);
      await waitUntil(async () => {
        const s = await talon.status(workflowId);
        return s.episode === 2 && s.step === 'cooldown';
      });
      await talon.cancel(workflowId, 'test over');
      return (await client.workflow.getHandle(workflowId).result()) as RemediateAlertResult;
    });
    expect(calls.applied.map((a) => a.policy)).toEqual(['cpu_scale_up', 'replica_scale_up']);
    expect(result.episodes).toBe(2);
  });

  it('ends the workflow once nothing is remembered any more', async () => {
    const script = newScript();
    const calls = newCalls();
    const alert = workloadAlert(freshWorkload('brief'), 'x2x9z');
    const result = await withScriptedWorker(
      env(),
      script,
      calls,
      remembering({ windowSeconds: 2, growthWindowSeconds: 2 }),
      async ({ talon }) => {
        const { workflowId } = await talon.remediate(alert);
        await waitUntil(async () => (await talon.status(workflowId)).step === 'cooldown');
        await talon.remediate({ ...alert, status: 'resolved' });
        return (await client.workflow.getHandle(workflowId).result()) as RemediateAlertResult;
      },
    );
    expect(result).toMatchObject({ outcome: 'resolved', episodes: 1 });
  });
});

describe('rollback of a change that failed or made things worse (gap 6)', () => {
  it('undoes a change that verification did not see take effect, then tries the next policy', async () => {
    const script = newScript({ verify: [false, true, true] });
    const calls = newCalls();
    const alert = workloadAlert(freshWorkload('fail'), 'x2x9z');
    const result = await withScriptedWorker(env(), script, calls, { remediation: FAST }, async ({ talon }) => {
      const { workflowId } = await talon.remediate(alert);
      await waitUntil(async () => {
        const s = await talon.status(workflowId);
        return s.step === 'cooldown' && s.attempts.length === 2;
      });
      await talon.remediate({ ...alert, status: 'resolved' });
      const done = (await client.workflow.getHandle(workflowId).result()) as RemediateAlertResult;
      await exportHistory(client, workflowId, 'rollback-after-failed-verification');
      return done;
    });
    expect(calls.applied.map((a) => a.policy)).toEqual(['cpu_scale_up', 'replica_scale_up']);
    expect(calls.rolledBack).toEqual([
      {
        policy: 'cpu_scale_up',
        appliedOperationId: calls.applied[0]!.operationId,
        operationId: `${calls.applied[0]!.operationId}/rollback`,
      },
    ]);
    // The apply, its failed verification, the rollback's verification, then the next policy's.
    expect(calls.verified).toHaveLength(3);
    // The rollback is a change: it is in the operator's audit as an Event on the pod too.
    expect(calls.events).toContain('TalonRolledBack');
    expect(result.attempts[0]).toMatchObject({ policy: 'cpu_scale_up', applied: true, verified: false });
    expect(result.attempts[0]!.rolledBack).toMatch(
      /^not verified: .*; restored cpu_scale_up on the workload \(rollout complete\)$/,
    );
    expect(result.attempts[1]).toMatchObject({ policy: 'replica_scale_up', verified: true });
    expect(result.attempts[1]!.rolledBack).toBeUndefined();
    expect(result.outcome).toBe('resolved');
  });

  it('undoes a change after whose cool-down the signal is worse, waits, then tries the next policy', async () => {
    // Windows: 0.85 before the first change, 0.97 after its cool-down (worse), 0.9 after the rollback's.
    const script = newScript({ cpuShares: [0.85, 0.97, 0.9] });
    const calls = newCalls();
    const alert = workloadAlert(freshWorkload('worse'), 'x2x9z');
    const result = await withScriptedWorker(env(), script, calls, { remediation: FAST }, async ({ talon }) => {
      const { workflowId } = await talon.remediate(alert);
      await waitUntil(async () => (await talon.status(workflowId)).attempts.length === 2, 90_000);
      await talon.remediate({ ...alert, status: 'resolved' });
      const done = (await client.workflow.getHandle(workflowId).result()) as RemediateAlertResult;
      await exportHistory(client, workflowId, 'rollback-after-worse-signal');
      return done;
    });
    expect(calls.applied.map((a) => a.policy)).toEqual(['cpu_scale_up', 'replica_scale_up']);
    expect(calls.rolledBack.map((r) => r.policy)).toEqual(['cpu_scale_up']);
    // Before the change, after its cool-down (worse: undone), after the rollback's cool-down (the next policy).
    expect(calls.gathered).toHaveLength(3);
    expect(result.attempts[0]!.rolledBack).toMatch(
      /^cpu at 97 % of its limit after the cool-down, 85 % before the change \(worse by more than 5 %\); restored/,
    );
    expect(result.attempts.map((a) => a.attempt)).toEqual([1, 3]);
  });

  it('keeps a change after whose cool-down the signal is no worse, and escalates on top of it', async () => {
    const script = newScript({ cpuShares: [0.9, 0.92] });
    const calls = newCalls();
    const alert = workloadAlert(freshWorkload('same'), 'x2x9z');
    await withScriptedWorker(env(), script, calls, { remediation: { ...FAST, maxAttempts: 2 } }, async ({ talon }) => {
      const { workflowId } = await talon.remediate(alert);
      return (await client.workflow.getHandle(workflowId).result()) as RemediateAlertResult;
    });
    expect(calls.applied.map((a) => a.policy)).toEqual(['cpu_scale_up', 'replica_scale_up']);
    expect(calls.rolledBack).toEqual([]);
  });

  it('judges an I/O alert’s change on the pod’s I/O, not its CPU: a CPU rise keeps it, an I/O rise undoes it', async () => {
    const ioAlert = (workload: string) =>
      workloadAlert(workload, 'x2x9z', {
        alertName: 'TalonPodIoHigh',
        labels: {
          alertname: 'TalonPodIoHigh',
          talon_resource: 'io',
          talon_policy: 'data_offloading',
          talon_magnitude: '0.4',
        },
      });
    const run = async (script: ReturnType<typeof newScript>, name: string) => {
      const calls = newCalls();
      const settings = { remediation: { ...FAST, maxAttempts: 2 } };
      const result = await withScriptedWorker(env(), script, calls, settings, async ({ talon }) => {
        const { workflowId } = await talon.remediate(ioAlert(freshWorkload(name)));
        const done = (await client.workflow.getHandle(workflowId).result()) as RemediateAlertResult;
        if (name === 'io-worse') await exportHistory(client, workflowId, 'rollback-io-alert-own-signal');
        return done;
      });
      return { calls, result };
    };
    // CPU far worse after the cool-down, the disk I/O the same: the data offload stays.
    const kept = await run(newScript({ cpuShares: [0.5, 0.95], ioRates: [100e6, 100e6] }), 'io-same');
    expect(kept.calls.applied[0]?.policy).toBe('data_offloading');
    // Judged: the window after the cool-down was gathered (and compared) before the next policy.
    expect(kept.calls.gathered.length).toBeGreaterThanOrEqual(2);
    expect(kept.calls.applied.length).toBe(2);
    expect(kept.calls.rolledBack).toEqual([]);
    // The disk I/O higher than before the change: undone, on the I/O's own account.
    const undone = await run(newScript({ cpuShares: [0.5, 0.5], ioRates: [100e6, 150e6] }), 'io-worse');
    expect(undone.calls.rolledBack.map((r) => r.policy)).toEqual(['data_offloading']);
    expect(undone.result.attempts[0]!.rolledBack).toMatch(
      /^disk I\/O at 150 MB\/s after the cool-down, 100 MB\/s before the change \(worse by more than 5 %\); /,
    );
  });

  it('rolls nothing back when rollback is switched off', async () => {
    const script = newScript({ verify: [false] });
    const calls = newCalls();
    const alert = workloadAlert(freshWorkload('off'), 'x2x9z');
    const settings = {
      remediation: { ...FAST, maxAttempts: 1, rollback: { enabled: false, worseBy: 0.05, steps: 3 } },
    };
    await withScriptedWorker(env(), script, calls, settings, async ({ talon }) => {
      const { workflowId } = await talon.remediate(alert);
      return (await client.workflow.getHandle(workflowId).result()) as RemediateAlertResult;
    });
    expect(calls.applied).toHaveLength(1);
    expect(calls.rolledBack).toEqual([]);
  });
});

describe('node overload judged by the node’s usage (gap 7)', () => {
  const nodeAlert = (node: string, labels: Record<string, string> = {}) =>
    workloadAlert('unused', 'x2x9z', {
      alertName: 'TalonNodeOverloaded',
      fingerprint: `n${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`,
      target: { kind: 'node', node },
      labels: { alertname: 'TalonNodeOverloaded', ...labels },
    });
  const quick = { untaintAfterSeconds: 2, checkEverySeconds: 1, cpuThreshold: 0.9, maxEvictions: 3 };

  it('evicts the next heaviest pod while the node stays over its threshold, and resolves once it is under', async () => {
    const script = newScript({ nodeShares: [0.95, 0.5] });
    const calls = newCalls();
    const result = await withScriptedWorker(env(), script, calls, { nodeOverload: quick }, async ({ talon }) => {
      const { workflowId } = await talon.remediate(nodeAlert('edge-1'));
      const done = (await client.workflow.getHandle(workflowId).result()) as NodeOverloadResult;
      await exportHistory(client, workflowId, 'node-overload-evicts-until-relieved');
      return done;
    });
    expect(result).toMatchObject({
      outcome: 'resolved',
      node: 'edge-1',
      evicted: 'shop/hog-1',
      evictions: ['shop/hog-1', 'shop/hog-2'],
      cpuShare: 0.5,
    });
    expect(result.reason).toBe('evicted shop/hog-1, shop/hog-2; edge-1 at 50 % CPU, under 90 %');
    expect(calls.node.filter((c) => !c.startsWith('usage'))).toEqual([
      'taint',
      'heaviest',
      'evict hog-1',
      'heaviest',
      'evict hog-2',
      'untaint',
    ]);
  });

  it('hands to a human after the bounded evictions when the node stays overloaded', async () => {
    const script = newScript({ nodeShares: [0.97] });
    const calls = newCalls();
    const result = await withScriptedWorker(
      env(),
      script,
      calls,
      { nodeOverload: { ...quick, maxEvictions: 2 } },
      async ({ talon }) => {
        const { workflowId } = await talon.remediate(nodeAlert('edge-1'));
        return (await client.workflow.getHandle(workflowId).result()) as NodeOverloadResult;
      },
    );
    expect(result.outcome).toBe('needs_human');
    expect(result.reason).toBe(
      'edge-1 still at 97 % CPU (threshold 90 %) after evicting shop/hog-1, shop/hog-2; at most 2 evictions',
    );
    expect(calls.node.filter((c) => c.startsWith('evict'))).toHaveLength(2);
    expect(calls.node.at(-1)).toBe('untaint');
  });

  it('maps an alert that names the node by address to the node, and acts on the node', async () => {
    const script = newScript({ addresses: { '10.0.0.7': 'edge-1' } });
    const calls = newCalls();
    const result = await withScriptedWorker(env(), script, calls, { nodeOverload: quick }, async ({ talon }) => {
      const { workflowId } = await talon.remediate(nodeAlert('10.0.0.7'));
      expect(workflowId).toMatch(/^node-overload\/TalonNodeOverloaded\/10\.0\.0\.7\//);
      const done = (await client.workflow.getHandle(workflowId).result()) as NodeOverloadResult;
      await exportHistory(client, workflowId, 'node-overload-by-address');
      return done;
    });
    expect(result).toMatchObject({ outcome: 'resolved', node: 'edge-1', alertedAs: '10.0.0.7' });
    expect(calls.node[0]).toBe('resolve 10.0.0.7 → edge-1');
  });
});

describe('adaptive cool-down fed with recorded outcomes (gap 8)', () => {
  /** The cool-down timer the workflow started, in seconds (from its history). */
  async function cooldownTimers(workflowId: string): Promise<number[]> {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    return (history.events ?? []).flatMap((e) => {
      const timer = e.timerStartedEventAttributes;
      const seconds = timer?.startToFireTimeout?.seconds;
      return seconds === undefined || seconds === null ? [] : [Number(seconds)];
    });
  }

  it('waits the recorded mean time to resolve × the factor, stretched for later attempts, within bounds', async () => {
    // Past remediations of this workload resolved in 4 s on average: 4 × 1.5 = 6 s, then 6 × 1.25 = 7.5 → 8 s.
    const script = newScript({ meanResolveSeconds: 4 });
    const calls = newCalls();
    const alert = workloadAlert(freshWorkload('hist'), 'x2x9z');
    const cooldown = { defaultSeconds: 30, minSeconds: 1, maxSeconds: 60, historyFactor: 1.5 };
    const { workflowId, result } = await withScriptedWorker(
      env(),
      script,
      calls,
      { remediation: { ...FAST, maxAttempts: 2, cooldown } },
      async ({ talon }) => {
        const started = await talon.remediate(alert);
        const r = (await client.workflow.getHandle(started.workflowId).result()) as RemediateAlertResult;
        return { workflowId: started.workflowId, result: r };
      },
    );
    expect(result.outcome).toBe('needs_human');
    expect(await cooldownTimers(workflowId)).toEqual([6, 8]);
  });

  it('falls back to the default without history, and clamps a long history to the maximum', async () => {
    const none = newScript();
    const slow = newScript({ meanResolveSeconds: 600 });
    const cooldown = { defaultSeconds: 2, minSeconds: 1, maxSeconds: 3, historyFactor: 1.5 };
    const timers: number[][] = [];
    for (const script of [none, slow]) {
      const alert = workloadAlert(freshWorkload('cd'), 'x2x9z');
      const id = await withScriptedWorker(
        env(),
        script,
        newCalls(),
        { remediation: { ...FAST, maxAttempts: 1, cooldown } },
        async ({ talon }) => {
          const { workflowId } = await talon.remediate(alert);
          await client.workflow.getHandle(workflowId).result();
          return workflowId;
        },
      );
      timers.push(await cooldownTimers(id));
    }
    expect(timers).toEqual([[2], [3]]);
  });
});
