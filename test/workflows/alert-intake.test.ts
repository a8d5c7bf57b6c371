/**
 * The alert intake on the real Temporal dev server: batches appended by signal are handed on, in order
 * per alert, to real remediation workflows (stubbed cluster activities, the real dispatchAlerts activity
 * talking to the same Temporal); the shard continues as new without losing its backlog and finishes when
 * idle. With TALON_RECORD_HISTORIES=1 the intake's history is exported for the replay tier.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Connection, type WorkflowClientInterceptor } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { MockActivityEnvironment } from '@temporalio/testing';
import { NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createIntakeActivities, type IntakeActivities } from '../../activities/intake';
import { MEMORY_OFF } from '../../src/domain/target-memory';
import { TalonClient } from '../../src/client/talon-client';
import { alertWorkflowId, type TalonAlert } from '../../src/domain/alert';
import type { DispatchAlertsInput, DispatchResult } from '../../src/contracts/alert-intake';
import { INTAKE_WORKFLOW_TYPE, intakeWorkflowId, type AlertIntakeInput } from '../../src/contracts/alert-intake';
import { loadStackConfig, stackEndpoints } from '../../src/config/local-stack';
import { bundleWorkflows } from '../../workers/bundle';
import { loadTalonConfig } from '../../src/config/talon-config';
import { intakeAction } from '../../src/cli/remediation/intake';
import type { RemediateAlertResult } from '../../src/contracts/remediate-alert';
import { waitFor } from '../support/kube';
import { stubActivities } from '../support/stub-activities';

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

function podAlert(pod: string, status: 'firing' | 'resolved' = 'firing', fingerprint = pod): TalonAlert {
  return {
    source: 'alertmanager',
    alertName: 'TalonPodCpuNearLimit',
    status,
    fingerprint,
    target: { kind: 'pod', namespace: 'shop', pod, container: 'app' },
    labels: { alertname: 'TalonPodCpuNearLimit', talon_resource: 'cpu' },
    annotations: {},
    startsAt: '2026-11-25T10:00:00Z',
  };
}

/** support's waitFor with the probe first and a short interval: these waits are on a local dev server. */
const eventually = <T>(probe: () => Promise<T | undefined>, what: string, ms = 60_000): Promise<T> =>
  waitFor(what, ms, probe, 200);

async function withIntakeWorker<T>(
  fn: (talon: TalonClient, taskQueue: string, dispatched: DispatchResult[]) => Promise<T>,
): Promise<T> {
  const taskQueue = `intake-test-${randomBytes(4).toString('hex')}`;
  const dispatched: DispatchResult[] = [];
  const workerConnection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection: workerConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: {
      ...stubActivities(0),
      ...createIntakeActivities({ temporal: client, onDispatched: (r) => dispatched.push(r) }),
    },
  });
  // A short cool-down and no watching for a re-fire, so a resolved remediation finishes inside the test.
  const talon = await TalonClient.connect({
    client,
    taskQueue,
    settings: {
      remediation: {
        cooldown: { defaultSeconds: 2, minSeconds: 1, maxSeconds: 5, historyFactor: 1 },
        memory: MEMORY_OFF,
      },
    },
  });
  try {
    return await worker.runUntil(fn(talon, taskQueue, dispatched));
  } finally {
    await workerConnection.close();
  }
}

describe('alertIntake', () => {
  it('hands queued alerts on to their remediations, each alert in the order it was queued', async () => {
    await withIntakeWorker(async (talon, taskQueue, dispatched) => {
      const a = podAlert(`web-a-${randomBytes(3).toString('hex')}`);
      const b = podAlert(`web-b-${randomBytes(3).toString('hex')}`);
      await talon.queueAlerts(0, [a, b]);
      await talon.queueAlerts(0, [{ ...a, status: 'resolved' }, b]);

      const state = await eventually(async () => {
        const s = await talon.intakeState(0);
        return s && s.dispatched === 4 && s.queued === 0 ? s : undefined;
      }, 'four alerts handed on');
      expect(state).toEqual({ shard: 0, queued: 0, dispatched: 4, dropped: 0 });
      expect(dispatched.reduce((n, r) => n + r.startedOrSignalled, 0)).toBe(3);
      expect(dispatched.reduce((n, r) => n + r.resolvedSignalled, 0)).toBe(1);

      // a: fired, then resolved → the remediation ends resolved. b: fired twice → one remediation, two notifications.
      const resultA = (await client.workflow.getHandle(alertWorkflowId(a)).result()) as RemediateAlertResult;
      expect(resultA.outcome).toBe('resolved');
      const stateB = await eventually(async () => {
        const s = await talon.status(alertWorkflowId(b));
        return s.notifications === 2 ? s : undefined;
      }, 'b notified twice');
      expect(stateB.alert.target).toEqual(b.target);
      const started = await client.workflow.count(`TaskQueue = "${taskQueue}" AND WorkflowType = "remediateAlert"`);
      expect(started.count).toBe(2);

      // `talon alerts intake` shows the shard and what it handed on.
      const printed: string[] = [];
      const views = await intakeAction(
        { shards: 2 },
        {
          config: loadTalonConfig({ ...process.env, TALON_TASK_QUEUE: taskQueue }),
          io: { out: (text) => printed.push(text) },
        },
      );
      expect(views.map((v) => v.state?.dispatched)).toEqual([4, undefined]);
      expect(printed.join('\n')).toContain(`alert intake of task queue ${taskQueue}: 0 alert(s) waiting`);
      expect(printed.join('\n')).toContain('shard 1  idle (not running)');

      // The shard runs on the remediations' queue, with a summary the UI shows.
      const described = await client.workflow.getHandle(intakeWorkflowId(taskQueue, 0)).describe();
      expect(described.type).toBe(INTAKE_WORKFLOW_TYPE);
      expect(described.taskQueue).toBe(taskQueue);
      if (record) {
        const history = await client.workflow.getHandle(intakeWorkflowId(taskQueue, 0)).fetchHistory();
        await writeFile(join(__dirname, '..', 'replay', 'histories', 'alert-intake.json'), historyToJSON(history));
      }
      await client.workflow.getHandle(alertWorkflowId(b)).terminate('test over');
      await client.workflow.getHandle(intakeWorkflowId(taskQueue, 0)).terminate('test over');
    });
  });

  it('continues as new with its backlog and count, and finishes when idle; the next batch starts it again', async () => {
    await withIntakeWorker(async (talon, taskQueue) => {
      const shard = 1;
      const id = intakeWorkflowId(taskQueue, shard);
      const input: AlertIntakeInput = { taskQueue, shard, maxHistoryEvents: 15, idleSeconds: 3 };
      const first = await client.workflow.start(INTAKE_WORKFLOW_TYPE, { workflowId: id, taskQueue, args: [input] });
      const alerts = Array.from({ length: 6 }, (_, i) => podAlert(`web-c${i}-${randomBytes(3).toString('hex')}`));
      // One at a time, each after the previous was handed on: every batch adds its own events to the history.
      for (const [i, alert] of alerts.entries()) {
        await talon.queueAlerts(shard, [alert]);
        await eventually(
          async () => {
            const s = await talon.intakeState(shard);
            return s && s.dispatched === i + 1 ? s : undefined;
          },
          `alert ${i + 1} handed on`,
        );
      }
      const latest = await client.workflow.getHandle(id).describe();
      expect(latest.runId).not.toBe(first.firstExecutionRunId);
      const firstRun = await client.workflow.getHandle(id, first.firstExecutionRunId).describe();
      expect(firstRun.status.name).toBe('CONTINUED_AS_NEW');
      for (const alert of alerts) {
        const s = await eventually(() => talon.status(alertWorkflowId(alert)), `remediation of ${alert.fingerprint}`);
        expect(s.notifications).toBe(1);
      }

      // Idle: the run completes on its own.
      await eventually(async () => {
        const d = await client.workflow.getHandle(id).describe();
        return d.status.name === 'COMPLETED' ? d : undefined;
      }, 'the idle shard to finish');
      // The next batch starts it again (signal-with-start), and it is handed on.
      const late = podAlert(`web-late-${randomBytes(3).toString('hex')}`);
      await talon.queueAlerts(shard, [late]);
      const s = await eventually(() => talon.status(alertWorkflowId(late)), 'the late alert handed on');
      expect(s.notifications).toBe(1);
      for (const alert of [...alerts, late]) await client.workflow.getHandle(alertWorkflowId(alert)).terminate('over');
      await client.workflow
        .getHandle(id)
        .terminate('over')
        .catch(() => undefined);
    });
  });

  it('answers intakeState with undefined for a shard that is not running', async () => {
    const talon = await TalonClient.connect({ client, taskQueue: `intake-none-${randomBytes(4).toString('hex')}` });
    await expect(talon.intakeState(3)).resolves.toBeUndefined();
  });
});

/** Runs the activity in an activity context (heartbeats, info) without a worker; its client is real. */
function dispatchIn(
  env: MockActivityEnvironment,
  activities: IntakeActivities,
  input: DispatchAlertsInput,
): Promise<DispatchResult> {
  return env.run<[DispatchAlertsInput], DispatchResult, IntakeActivities['dispatchAlerts']>(
    activities.dispatchAlerts,
    input,
  );
}

describe('dispatchAlerts', () => {
  it('never runs more hand-offs at once than its worker-wide bound, across concurrent calls', async () => {
    let active = 0;
    let peak = 0;
    const countCalls: WorkflowClientInterceptor = {
      async signalWithStart(input, next) {
        active++;
        peak = Math.max(peak, active);
        try {
          return await next(input);
        } finally {
          active--;
        }
      },
    };
    const counting = new Client({ connection, interceptors: { workflow: [countCalls] } });
    const taskQueue = `intake-gate-${randomBytes(4).toString('hex')}`; // no worker: workflows only start
    const intake = createIntakeActivities({ temporal: counting, concurrency: 3 });
    const alerts = Array.from({ length: 24 }, (_, i) => podAlert(`web-g${i}-${randomBytes(3).toString('hex')}`));
    const env = () => new MockActivityEnvironment();
    const results = await Promise.all([
      dispatchIn(env(), intake, { taskQueue, batches: [{ alerts: alerts.slice(0, 12), queuedAt: '' }] }),
      dispatchIn(env(), intake, { taskQueue, batches: [{ alerts: alerts.slice(12), queuedAt: '' }] }),
    ]);
    expect(results.map((r) => r.startedOrSignalled)).toEqual([12, 12]);
    expect(peak).toBeLessThanOrEqual(3);
    expect(peak).toBeGreaterThan(1);
    const started = await client.workflow.count(`TaskQueue = "${taskQueue}"`);
    expect(started.count).toBeLessThanOrEqual(24); // visibility may lag; every id is checked below
    for (const alert of alerts) {
      const d = await client.workflow.getHandle(alertWorkflowId(alert)).describe();
      expect(d.taskQueue).toBe(taskQueue);
      await client.workflow.getHandle(alertWorkflowId(alert)).terminate('test over');
    }
  });

  it('skips what its previous attempt reported done, and drops (reports) an alert Temporal refuses as invalid', async () => {
    const taskQueue = `intake-retry-${randomBytes(4).toString('hex')}`;
    const intake = createIntakeActivities({ temporal: client });
    const done = podAlert(`web-done-${randomBytes(3).toString('hex')}`);
    const fresh = podAlert(`web-fresh-${randomBytes(3).toString('hex')}`);
    // A workflow id past Temporal's 1,000-character limit: refused with INVALID_ARGUMENT, never retryable. (A node
    // alert: its id carries the fingerprint; a pod alert's is keyed by its workload, whose name is bounded.)
    const invalid: TalonAlert = {
      ...podAlert('unused', 'firing', 'f'.repeat(1_100)),
      alertName: 'TalonNodeOverloaded',
      target: { kind: 'node', node: `edge-bad-${randomBytes(3).toString('hex')}` },
    };
    const heartbeats: unknown[] = [];
    const env = new MockActivityEnvironment({ heartbeatDetails: [alertWorkflowId(done)] });
    env.on('heartbeat', (d: unknown) => heartbeats.push(d));
    const result = await dispatchIn(env, intake, {
      taskQueue,
      batches: [{ alerts: [done, invalid, fresh], queuedAt: '' }],
    });
    expect(result.startedOrSignalled).toBe(1);
    expect(result.dropped).toEqual([
      { workflowId: alertWorkflowId(invalid), reason: expect.stringMatching(/WorkflowId|length|limit/i) },
    ]);
    await expect(client.workflow.getHandle(alertWorkflowId(done)).describe()).rejects.toThrow();
    await client.workflow.getHandle(alertWorkflowId(fresh)).terminate('test over');
    // Progress is heartbeated: a retry would skip all three.
    expect(heartbeats.at(-1)).toEqual(
      expect.arrayContaining([alertWorkflowId(done), alertWorkflowId(invalid), alertWorkflowId(fresh)]),
    );
  });

  it('fails (so Temporal retries it) when Temporal does not answer, rather than dropping the alerts', async () => {
    // A deadline already past: every call ends DEADLINE_EXCEEDED, as with a server that is down or too slow.
    const intake = createIntakeActivities({ temporal: client });
    const alert = podAlert(`web-late-${randomBytes(3).toString('hex')}`);
    const env = new MockActivityEnvironment();
    await expect(
      client.withDeadline(Date.now() - 1, () =>
        dispatchIn(env, intake, { taskQueue: 'intake-none', batches: [{ alerts: [alert], queuedAt: '' }] }),
      ),
    ).rejects.toThrow();
  });
});
