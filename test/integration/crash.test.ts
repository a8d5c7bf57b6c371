/**
 * Durability on the real local stack: the worker is a separate process, killed with SIGKILL in the
 * middle of a remediation (inside gather, infer and apply — held there by TALON_FAULT_HOLD — during
 * verification, during the cool-down, during the node-overload wait, inside the alert intake's dispatch)
 * and restarted; the remediation finishes and no change is applied twice, and no queued alert is lost.
 *
 * Each test runs on its own task queue and stops every worker it started, even when it fails: a worker left
 * polling by an earlier test would otherwise take the next test's work past its held worker. The node-overload
 * test acts on a node of its own, so "the heaviest pod" can only be its hog.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Client, Connection } from '@temporalio/client';
import { TalonClient } from '../../src/client/talon-client';
import { alertWorkflowId, type TalonAlert } from '../../src/domain/alert';
import { parseQuantity } from '../../src/domain/quantity';
import { MEMORY_OFF } from '../../src/domain/target-memory';
import { alertResolvedSignal } from '../../src/contracts/alert-episode';
import { intakeWorkflowId } from '../../src/contracts/alert-intake';
import { repoRoot } from '../../src/config/repo-root';
import { loadTalonConfig } from '../../src/config/talon-config';
import type { NodeOverloadResult } from '../../src/contracts/node-overload';
import type { RemediateAlertResult } from '../../src/contracts/remediate-alert';
import {
  createLoadedDeployment,
  createNamespace,
  createPrivateNode,
  deleteNamespace,
  deleteNode,
  runningPods,
  testKube,
  uniqueName,
  waitFor,
} from '../support/kube';

jest.setTimeout(480_000);

const config = loadTalonConfig(process.env);
const kube = testKube(config.kube.kubeconfigPath!);
const namespace = uniqueName('it-crash');
const nodes: string[] = [];
let connection: Connection;
/** This test's task queue and a client on it (beforeEach). */
let taskQueue: string;
let client: TalonClient;
/** Workers started by the running test; afterEach kills them all. */
let workers: ChildProcess[] = [];

interface StartedWorker {
  readonly child: ChildProcess;
  /** Resolves when the worker prints a line containing the text (e.g. its fault-injection hold). */
  said(text: string | RegExp, timeoutMs: number): Promise<void>;
}

/** What a worker held by TALON_FAULT_HOLD prints, for one workflow's activity (another workflow's does not count). */
function holdLine(activity: string, phase: 'before' | 'after', workflowId: string): RegExp {
  const escaped = workflowId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`holding ${activity} ${phase} its body for \\d+s \\(workflow ${escaped}, attempt \\d+\\)`);
}

/** A real worker process (the CLI), ready once it says it polls. */
async function startWorker(env: Record<string, string> = {}): Promise<ChildProcess> {
  return (await startObservedWorker(env)).child;
}

async function startObservedWorker(env: Record<string, string> = {}): Promise<StartedWorker> {
  // node itself with tsx's loader, not the tsx wrapper: SIGKILL must hit the worker process, not a parent
  // whose death would leave the worker running as an orphan.
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts', 'worker'], {
    cwd: repoRoot(),
    env: { ...process.env, TALON_TASK_QUEUE: taskQueue, TALON_WORKER_METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  workers.push(child);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`worker did not start in 120 s:\n${output.slice(-2000)}`)),
      120_000,
    );
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('worker polling task queue')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}:\n${output.slice(-2000)}`)));
  });
  let seen = output;
  child.stdout.on('data', (chunk: Buffer) => (seen += chunk.toString()));
  const said = async (text: string | RegExp, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (typeof text === 'string' ? !seen.includes(text) : !text.test(seen)) {
      if (Date.now() > deadline)
        throw new Error(`worker did not say "${text}" in ${timeoutMs} ms:\n${seen.slice(-2000)}`);
      if (child.exitCode !== null) throw new Error(`worker exited before saying "${text}":\n${seen.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, said };
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

function podAlert(pod: string): TalonAlert {
  return {
    source: 'api',
    alertName: 'TalonPodCpuNearLimit',
    status: 'firing',
    fingerprint: randomBytes(8).toString('hex'),
    target: { kind: 'pod', namespace, pod, container: 'app' },
    labels: { alertname: 'TalonPodCpuNearLimit', namespace, pod, container: 'app', talon_resource: 'cpu' },
    annotations: { summary: 'crash test' },
    startsAt: new Date().toISOString(),
  };
}

async function stepOf(workflowId: string): Promise<string | undefined> {
  return client.status(workflowId).then(
    (s) => s.step,
    () => undefined,
  );
}

async function scheduledActivities(workflowId: string, type: string): Promise<number> {
  const history = await client.history(workflowId);
  return (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type)
    .length;
}

beforeAll(async () => {
  connection = await Connection.connect({ address: config.temporal.address });
  await createNamespace(kube, namespace);
});

/**
 * A client on this test's task queue whose remediations cool down for this long. The cool-down runs to its end even
 * after the resolved signal, so it is most of a kill-point test's time: only the test that kills inside it needs a
 * long one.
 */
async function connectClient(cooldownSeconds: number): Promise<TalonClient> {
  return TalonClient.connect({
    client: new Client({ connection, namespace: config.temporal.namespace }),
    taskQueue,
    settings: {
      remediation: {
        // The tests await each remediation's result: no watching for a re-fire after the episode.
        memory: MEMORY_OFF,
        maxAttempts: 2,
        cooldown: { defaultSeconds: cooldownSeconds, minSeconds: 5, maxSeconds: 180, historyFactor: 1 },
      },
      nodeOverload: { untaintAfterSeconds: 20 },
    },
  });
}

/** Long enough that a poll every 500 ms cannot miss the step, even on a loaded two-core machine. */
const SHORT_COOLDOWN_SECONDS = 30;

beforeEach(async () => {
  taskQueue = `crash-it-${randomBytes(4).toString('hex')}`;
  client = await connectClient(SHORT_COOLDOWN_SECONDS);
});

afterEach(async () => {
  for (const w of workers) await kill(w);
  workers = [];
});

afterAll(async () => {
  await deleteNamespace(kube, namespace);
  for (const node of nodes) await deleteNode(kube, node);
  await connection?.close();
});

/** The attempt on which an ordinary activity of this type completed (1 = it never had to be retried). */
async function completedAttempt(workflowId: string, type: string): Promise<number | undefined> {
  const events = (await client.history(workflowId)).events ?? [];
  const scheduled = new Set(
    events
      .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type)
      .map((e) => String(e.eventId)),
  );
  const started = events.filter(
    (e) =>
      e.activityTaskStartedEventAttributes &&
      scheduled.has(String(e.activityTaskStartedEventAttributes.scheduledEventId)),
  );
  const completed = events.some(
    (e) =>
      e.activityTaskCompletedEventAttributes &&
      scheduled.has(String(e.activityTaskCompletedEventAttributes.scheduledEventId)),
  );
  return completed ? (started.at(-1)?.activityTaskStartedEventAttributes?.attempt ?? undefined) : undefined;
}

/** Waits until a PromQL query returns at least one series. */
async function waitForQuery(what: string, query: string, timeoutMs: number): Promise<void> {
  await waitFor(
    what,
    timeoutMs,
    async () => {
      const res = await fetch(`${config.prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
      const body = (await res.json()) as { data: { result: unknown[] } };
      return body.data.result.length > 0 ? true : undefined;
    },
    2_000,
  );
}

/** Enough scraped CPU samples for a usable 10-step window, so the model (not the too-little-data rule) decides. */
async function waitForWindow(pod: string): Promise<void> {
  const query = `count_over_time(container_cpu_usage_seconds_total{namespace="${namespace}",pod="${pod}"}[60s]) >= 9`;
  await waitForQuery(`Prometheus to hold a window of ${pod}`, query, 120_000);
}

/** How often a local activity's result was recorded, and whether that happened after a workflow task timed out. */
async function inTaskReads(workflowId: string, type: string): Promise<{ recorded: number; afterTaskTimeout: boolean }> {
  const events = (await client.history(workflowId)).events ?? [];
  const firstTimeout = events.findIndex((e) => e.workflowTaskTimedOutEventAttributes);
  const recordedAt = events.flatMap((e, i) => {
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_local_activity') return [];
    const data = marker.details?.data?.payloads?.[0]?.data;
    const info = JSON.parse(Buffer.from(data ?? new Uint8Array()).toString('utf8')) as { activity_type?: string };
    return info.activity_type === type ? [i] : [];
  });
  return {
    recorded: recordedAt.length,
    afterTaskTimeout: firstTimeout >= 0 && recordedAt.every((i) => i > firstTimeout),
  };
}

interface KillPoint {
  readonly name: string;
  /** Kill when the workflow's state query reports this step… */
  readonly step?: string;
  /**
   * …or when the worker, held by TALON_FAULT_HOLD, says it is inside this activity: a read that runs in the
   * workflow task (a local activity) or an ordinary activity the server retries.
   */
  readonly hold?: { readonly activity: string; readonly phase: 'before' | 'after'; readonly inTask: boolean };
  /** The remediation's cool-down when it is not the short one. */
  readonly cooldownSeconds?: number;
}

const killPoints: KillPoint[] = [
  { name: 'gather', hold: { activity: 'gatherWindow', phase: 'before', inTask: true } },
  { name: 'infer', hold: { activity: 'decidePolicy', phase: 'before', inTask: true } },
  // After the write reached the apiserver, before Temporal heard of it: the retry must find its own change.
  { name: 'apply', hold: { activity: 'applyPolicy', phase: 'after', inTask: false } },
  // Inside verification (a hold, not a poll of the step, which a fast rollout can finish between two polls).
  { name: 'verify', hold: { activity: 'verifyPolicy', phase: 'before', inTask: false } },
  // The cool-down is a durable timer of two minutes: the step query cannot miss it.
  { name: 'cooldown', step: 'cooldown', cooldownSeconds: 120 },
];

it.each(killPoints)(
  'a worker killed during $name is replaced and the remediation finishes with the change applied once',
  async ({ name, step, hold, cooldownSeconds }) => {
    if (cooldownSeconds !== undefined) client = await connectClient(cooldownSeconds);
    const app = `web-${name}`;
    await createLoadedDeployment(kube, namespace, app, { usageCpu: '480m', limitCpu: '500m' });
    const pod = await waitFor('pod', 60_000, async () => (await runningPods(kube, namespace, app))[0]);
    const before = await kube.apps.readNamespacedDeployment({ namespace, name: app });
    if (hold?.activity === 'decidePolicy') await waitForWindow(pod.metadata!.name!);
    const first = await startObservedWorker(hold ? { TALON_FAULT_HOLD: `${hold.activity}:${hold.phase}:600` } : {});
    const { workflowId } = await client.remediate(podAlert(pod.metadata!.name!));
    if (hold) {
      await first.said(holdLine(hold.activity, hold.phase, workflowId), 120_000).catch(async (err: Error) => {
        // Say where the remediation went instead (e.g. a rules fallback that never called the model).
        const state = await client.status(workflowId).catch(() => undefined);
        throw new Error(`${err.message}\nworkflow state: ${JSON.stringify(state)}`);
      });
    } else {
      await waitFor(`step ${step}`, 120_000, async () => ((await stepOf(workflowId)) === step ? true : undefined), 50);
    }
    if (hold?.activity === 'applyPolicy') {
      // The kill lands after the change: the template already moved once.
      const written = await kube.apps.readNamespacedDeployment({ namespace, name: app });
      expect(written.metadata!.generation).toBe(before.metadata!.generation! + 1);
    }
    await kill(first.child);
    await new Promise((r) => setTimeout(r, 2_000));
    await startWorker();
    await waitFor(
      'cool-down after the restart',
      180_000,
      async () => ((await stepOf(workflowId)) === 'cooldown' ? true : undefined),
      500,
    );
    await client.temporal.workflow
      .getHandle(workflowId)
      .signal(alertResolvedSignal, { ...podAlert(pod.metadata!.name!), status: 'resolved' });
    const result = (await client.temporal.workflow.getHandle(workflowId).result()) as RemediateAlertResult;
    expect(result.outcome).toBe('resolved');
    expect(result.attempts.filter((a) => a.applied)).toHaveLength(1);
    if (hold && !hold.inTask) {
      // The killed attempt was retried by the new worker, not skipped or replaced by a fallback.
      expect(await completedAttempt(workflowId, hold.activity)).toBeGreaterThanOrEqual(2);
    } else if (hold) {
      // Reads run inside the workflow task: the killed task timed out, the new worker ran the read again,
      // and exactly one result was recorded.
      expect(await inTaskReads(workflowId, hold.activity)).toEqual({ recorded: 1, afterTaskTimeout: true });
    }
    if (hold?.activity === 'decidePolicy') expect(result.attempts[0]!.fallbackReason).toBeUndefined();

    const after = await kube.apps.readNamespacedDeployment({ namespace, name: app });
    // One template change: the generation moved by exactly one, and the limit was scaled once, not twice.
    expect(after.metadata!.generation).toBe(before.metadata!.generation! + 1);
    const attempt = result.attempts[0]!;
    const limit = parseQuantity(String(after.spec!.template.spec!.containers[0]!.resources!.limits!.cpu));
    if (attempt.policy === 'cpu_scale_up') {
      const once = parseQuantity('500m').asApproximateFloat64() * attempt.magnitude;
      expect(Math.abs(limit.asApproximateFloat64() - once)).toBeLessThan(0.002);
    }
    expect(await scheduledActivities(workflowId, 'applyPolicy')).toBe(1);
  },
);

it('a worker killed during the node-overload wait is replaced and the node is untainted exactly once', async () => {
  // A node of this test's own: the heaviest pod on it can only be the hog, never another test's (or a demo's) pod.
  const node = `${namespace}-hot`;
  nodes.push(node);
  const toleration = await createPrivateNode(kube, node);
  await kube.apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: 'hog' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'hog' } },
        template: {
          metadata: { labels: { app: 'hog' }, annotations: { 'kwok.x-k8s.io/usage-cpu': '3500m' } },
          spec: {
            nodeSelector: { 'kubernetes.io/hostname': node },
            tolerations: [toleration],
            containers: [{ name: 'app', image: 'registry.example/hog:1', resources: { requests: { cpu: '100m' } } }],
          },
        },
      },
    },
  });
  const hog = await waitFor('hog pod', 60_000, async () => (await runningPods(kube, namespace, 'hog'))[0]);
  // The heaviest pod is chosen by measured usage: let Prometheus see the hog's 3.5 cores first.
  const query = `sum(rate(container_cpu_usage_seconds_total{namespace="${namespace}",pod="${hog.metadata!.name!}"}[20s])) > 3`;
  await waitForQuery('Prometheus to see the hog', query, 90_000);
  await startWorker();
  const alert: TalonAlert = {
    source: 'api',
    alertName: 'TalonNodeOverloaded',
    status: 'firing',
    fingerprint: randomBytes(8).toString('hex'),
    target: { kind: 'node', node },
    labels: { alertname: 'TalonNodeOverloaded', node },
    annotations: {},
    startsAt: new Date().toISOString(),
  };
  const { workflowId } = await client.remediate(alert);
  await waitFor('the wait', 120_000, async () => ((await stepOf(workflowId)) === 'cooldown' ? true : undefined), 100);
  const tainted = await kube.core.readNode({ name: node });
  expect(tainted.spec!.taints?.some((t) => t.key === 'talon.io/overloaded')).toBe(true);
  for (const w of workers) await kill(w);
  await new Promise((r) => setTimeout(r, 2_000));
  await startWorker();
  const result = (await client.temporal.workflow.getHandle(workflowId).result()) as NodeOverloadResult;
  expect(result.outcome).toBe('resolved');
  expect(result.evicted).toBe(`${namespace}/${hog.metadata!.name!}`);
  const untainted = await kube.core.readNode({ name: node });
  expect(untainted.spec!.taints?.some((t) => t.key === 'talon.io/overloaded') ?? false).toBe(false);
  expect(await scheduledActivities(workflowId, 'untaintNode')).toBe(1);
  expect(await scheduledActivities(workflowId, 'evictPod')).toBe(1);
  if (process.env.TALON_RECORD_HISTORIES === '1') {
    // The replay tier keeps this run: a worker killed during the untaint wait, then a new worker finishing it.
    const history = await client.temporal.workflow.getHandle(workflowId).fetchHistory();
    await writeFile(
      join(__dirname, '..', 'replay', 'histories', 'node-overload-worker-killed-during-wait.json'),
      historyToJSON(history),
    );
  }
  // The evicted pod is gone; its ReplicaSet replaced it.
  expect(
    await kube.core.readNamespacedPod({ namespace, name: hog.metadata!.name! }).then(
      () => 'present',
      () => 'gone',
    ),
  ).toBe('gone');
});

it('a worker killed inside the alert intake hands every queued alert on after the restart, each once', async () => {
  const shard = 5;
  const intakeId = intakeWorkflowId(taskQueue, shard);
  const first = await startObservedWorker({ TALON_FAULT_HOLD: 'dispatchAlerts:before:600' });
  // Pods that do not exist: each remediation ends quickly (TargetNotFound); what matters is that it exists.
  const alerts = Array.from({ length: 3 }, (_, i) => podAlert(`queued-${i}-${randomBytes(3).toString('hex')}`));
  await client.queueAlerts(shard, alerts);
  await first.said(holdLine('dispatchAlerts', 'before', intakeId), 120_000);
  await kill(first.child);
  await startWorker();
  // The killed attempt times out on its heartbeat (20 s) and the new worker runs it again.
  await waitFor(
    'the intake to hand all three on',
    120_000,
    async () => ((await client.intakeState(shard))?.dispatched === 3 ? true : undefined),
    500,
  );
  expect(await completedAttempt(intakeId, 'dispatchAlerts')).toBeGreaterThanOrEqual(2);
  for (const alert of alerts) {
    const id = alertWorkflowId(alert);
    const described = await client.temporal.workflow.getHandle(id).describe();
    // Visibility is written after the start, asynchronously: wait for the run to be listed, then count.
    const runs = await waitFor(`${id} in visibility`, 30_000, async () => {
      const { count } = await client.temporal.workflow.count(`WorkflowId = "${id}"`);
      return count > 0 ? count : undefined;
    });
    expect({ type: described.type, runs }).toEqual({ type: 'remediateAlert', runs: 1 });
  }
  await client.temporal.workflow
    .getHandle(intakeId)
    .terminate('test over')
    .catch(() => undefined);
});
