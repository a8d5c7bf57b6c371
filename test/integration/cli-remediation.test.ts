/**
 * The remediation commands against the real local stack. Remediations run in real Temporal on a private
 * task queue with stubbed activities; the commands are called as functions (and once as a process for the
 * exit codes). `alerts replay` runs with the worker's real activities against a real KWOK Deployment under
 * load and must leave the cluster exactly as it found it.
 */
import { STUB_PROFILE, stubPodSnapshot, stubWindow } from '../support/stub-activities';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoordinationV1Api, type V1Deployment } from '@kubernetes/client-node';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createMetricsActivities } from '../../activities/metrics';
import { nullOperatorActivities } from '../../activities/operator';
import { MEMORY_OFF } from '../../src/domain/target-memory';
import { TalonClient } from '../../src/client/talon-client';
import type { WhatIfReport } from '../../src/cli/alerts-replay';
import type { RemediationCliDeps } from '../../src/cli/remediation';
import { answerApprovalAction } from '../../src/cli/remediation/approve';
import { cancelAction } from '../../src/cli/remediation/cancel';
import { historyExportAction } from '../../src/cli/remediation/history';
import { listAction } from '../../src/cli/remediation/list';
import { alertsReplayAction } from '../../src/cli/remediation/replay';
import { workerWhatIf } from '../../workers/what-if';
import { statusAction, type StatusView } from '../../src/cli/remediation/status';
import { alertWorkflowId, type TalonAlert } from '../../src/domain/alert';
import type { PolicyDecision } from '../../src/domain/policy';
import type { ApplyPolicyInput, ApplyPolicyResult } from '../../src/domain/remediation';
import { recentMean } from '../../src/domain/window';
import { leaseNameFor } from '../../src/kube/budget';
import { PrometheusClient } from '../../src/metrics/prometheus';
import type { RemediationState } from '../../src/contracts/alert-episode';
import { loadTalonConfig } from '../../src/config/talon-config';
import { bundleWorkflows } from '../../workers/bundle';
import type { RemediateAlertResult } from '../../src/contracts/remediate-alert';
import {
  createLoadedDeployment,
  createNamespace,
  deleteNamespace,
  runningPods,
  setPodCpuUsage,
  testKube,
  uniqueName,
  waitFor,
} from '../support/kube';

jest.setTimeout(240_000);

const run = promisify(execFile);
const repo = join(__dirname, '..', '..');
const taskQueue = `cli-it-${randomBytes(4).toString('hex')}`;
const config = loadTalonConfig({ ...process.env, TALON_TASK_QUEUE: taskQueue });

/** Runs a command's action with its output captured. */
async function capture<T>(fn: (deps: RemediationCliDeps) => Promise<T>): Promise<{ value: T; text: string }> {
  const lines: string[] = [];
  const value = await fn({ config, io: { out: (t) => lines.push(t) }, whatIf: workerWhatIf });
  return { value, text: lines.join('\n') };
}

/** `npx tsx workers/main.ts …` as a user runs it: exit code and both streams. */
async function talonProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('npx', ['tsx', 'workers/main.ts', ...args], {
      cwd: repo,
      env: { ...process.env, TALON_TASK_QUEUE: taskQueue, TALON_WORKER_METRICS_PORT: '0' },
      timeout: 120_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const DECISION: PolicyDecision = {
  source: 'model',
  ranked: [
    { policy: 'cpu_scale_up', score: 0.7, magnitude: 1.5, reason: 'cpu near limit' },
    { policy: 'replica_scale_up', score: 0.2, magnitude: 2, reason: 'spread load' },
  ],
};

const applied: ApplyPolicyInput[] = [];
const stubActivities = {
  ...nullOperatorActivities(),
  readTarget: async (ref: { namespace: string; pod: string }) => stubPodSnapshot(ref),
  gatherWindow: async () => stubWindow(5),
  decidePolicy: async () => DECISION,
  workloadProfile: async () => STUB_PROFILE,
  recordOutcome: async () => ({ written: true }),
  applyPolicy: async (input: ApplyPolicyInput): Promise<ApplyPolicyResult> => {
    applied.push(input);
    return {
      policy: input.policy,
      magnitude: input.magnitude,
      summary: `cpu ×${input.magnitude} on Deployment shop/web (stub)`,
      changes: [],
      noop: false,
      dryRun: input.dryRun,
      expectation: { kind: 'none', reason: 'test' },
    };
  },
  verifyPolicy: async () => ({ ok: true, observed: 'rollout complete (stub)' }),
};

let bundle: WorkflowBundleWithSourceMap;
let workerConnection: NativeConnection;
let worker: Worker;
let workerDone: Promise<void>;
let talon: TalonClient;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'talon-cli-it-'));
  bundle = await bundleWorkflows();
  workerConnection = await NativeConnection.connect({ address: config.temporal.address });
  worker = await Worker.create({
    connection: workerConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: stubActivities,
  });
  workerDone = worker.run();
  talon = await TalonClient.connect({
    address: config.temporal.address,
    taskQueue,
    settings: {
      remediation: {
        memory: MEMORY_OFF,
        maxAttempts: 1,
        requireApproval: ['cpu_scale_up'],
        approvalTimeoutSeconds: 180,
        cooldown: { defaultSeconds: 60, minSeconds: 1, maxSeconds: 120, historyFactor: 1.5 },
      },
    },
  });
});

afterAll(async () => {
  await talon?.close();
  worker?.shutdown();
  await workerDone;
  await workerConnection?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A fresh alert whose remediation waits for approval of cpu_scale_up ×1.5. */
async function awaitingApproval(): Promise<{ alert: TalonAlert; workflowId: string }> {
  const fingerprint = randomBytes(8).toString('hex');
  const alert: TalonAlert = {
    source: 'alertmanager',
    alertName: 'TalonPodCpuNearLimit',
    status: 'firing',
    fingerprint,
    // one workload per alert (`a…` is no generated suffix)
    target: { kind: 'pod', namespace: 'cli-it', pod: `web-a${fingerprint.slice(0, 6)}`, container: 'app' },
    labels: { alertname: 'TalonPodCpuNearLimit', talon_resource: 'cpu' },
    annotations: {},
    startsAt: new Date().toISOString(),
  };
  const { workflowId } = await talon.remediate(alert);
  expect(workflowId).toBe(alertWorkflowId(alert));
  await waitFor('the remediation to wait for approval', 90_000, async () =>
    (await talon.status(workflowId)).step === 'awaiting_approval' ? true : undefined,
  );
  return { alert, workflowId };
}

async function resultOf(workflowId: string): Promise<RemediateAlertResult> {
  return (await talon.temporal.workflow.getHandle(workflowId).result()) as RemediateAlertResult;
}

describe('status, approve, list and history export of one remediation', () => {
  let alert: TalonAlert;
  let workflowId: string;
  beforeAll(async () => {
    ({ alert, workflowId } = await awaitingApproval());
  });

  it('status shows the live state: step, the change waiting for approval, no attempts yet', async () => {
    const { value, text } = await capture((deps) => statusAction(workflowId, {}, deps));
    expect(value.execution).toBe('RUNNING');
    expect(value.state).toMatchObject({ step: 'awaiting_approval', firing: true, notifications: 1, attempts: [] });
    expect(text).toContain(`remediation  ${workflowId}`);
    expect(text).toContain(`task queue ${taskQueue}`);
    expect(text).toMatch(/^step {9}awaiting_approval$/m);
    expect(text).toMatch(/^waiting for {2}approval of cpu_scale_up ×1\.5 on cli-it\/web-a[0-9a-f]{6}\/app$/m);
    expect(text).toContain(`talon approve|reject ${workflowId} --by <you>`);

    const json = await capture((deps) => statusAction(workflowId, { json: true }, deps));
    const parsed = JSON.parse(json.text) as StatusView & { state: RemediationState };
    expect(parsed.state.awaitingApprovalFor).toMatch(/^cpu_scale_up ×1.5 on /);
    expect(parsed.state.alert.fingerprint).toBe(alert.fingerprint);
  });

  it('as a process: status exits 0 with the state, and 1 with a clear message for an unknown id', async () => {
    const ok = await talonProcess(['status', workflowId]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^step {9}awaiting_approval$/m);
    const unknown = await talonProcess([
      'status',
      `remediate/NoSuchAlert/cli-it/nobody/${randomBytes(4).toString('hex')}`,
    ]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^talon: no remediation with workflow id "remediate\/NoSuchAlert\/.*" in Temporal/m);
    const noBy = await talonProcess(['approve', workflowId]);
    expect(noBy.code).toBe(1);
    expect(noBy.stderr).toContain("error: required option '--by <who>' not specified");
    // Nothing was approved by the refused command.
    expect((await talon.status(workflowId)).step).toBe('awaiting_approval');
  });

  it('list finds it by a visibility query over Talon’s search attributes', async () => {
    const query = `WorkflowId = "${workflowId}" AND TalonAlertName = "TalonPodCpuNearLimit"`;
    const rows = await waitFor('the remediation in visibility', 60_000, async () => {
      const { value } = await capture((deps) => listAction({ query, limit: 5 }, deps));
      return value.length === 1 && value[0]?.target ? value : undefined;
    });
    expect(rows[0]).toMatchObject({
      workflowId,
      status: 'RUNNING',
      target: `cli-it/${(alert.target as { pod: string }).pod}/app`,
    });
    const { text } = await capture((deps) => listAction({ query, limit: 5 }, deps));
    expect(text.split('\n')[0]).toMatch(/^STARTED +STATUS +OUTCOME +ALERT +TARGET +POLICIES +WORKFLOW ID$/);
    expect(text).toMatch(
      new RegExp(`RUNNING +- +TalonPodCpuNearLimit +cli-it/web-a[0-9a-f]{6}/app +cpu_scale_up +${workflowId}`),
    );
    await expect(capture((deps) => listAction({ query: 'NoSuchAttribute = "x"' }, deps))).rejects.toThrow(
      /Temporal refused --query "NoSuchAttribute = \\"x\\"": .*NoSuchAttribute/,
    );
  });

  it('approve records who approved; a second approval is refused with the workflow’s reason', async () => {
    const before = applied.length;
    const { value, text } = await capture((deps) =>
      answerApprovalAction('approve', workflowId, { by: 'alice@sre', comment: 'go ahead' }, deps),
    );
    expect(value.accepted).toBe(true);
    expect(text).toMatch(/^approved cpu_scale_up ×1\.5 on cli-it\/web-a[0-9a-f]{6}\/app by alice@sre$/);
    await waitFor('the change to be applied', 90_000, async () =>
      (await talon.status(workflowId)).step === 'cooldown' ? true : undefined,
    );
    expect(applied.slice(before).map((a) => a.policy)).toEqual(['cpu_scale_up']);
    await expect(capture((deps) => answerApprovalAction('approve', workflowId, { by: 'bob' }, deps))).rejects.toThrow(
      'nothing is waiting for approval',
    );
  });

  it('status after the alert resolves shows the outcome and the verified attempt', async () => {
    await talon.remediate({ ...alert, status: 'resolved' });
    expect((await resultOf(workflowId)).outcome).toBe('resolved');
    const { text } = await capture((deps) => statusAction(workflowId, {}, deps));
    expect(text).toMatch(/^workflow {5}remediateAlert COMPLETED, /m);
    expect(text).toMatch(/^outcome {6}resolved$/m);
    expect(text).toMatch(/^attempts {5}#1 cpu_scale_up ×1\.5 by the model: applied, verified$/m);
    expect(text).toContain('rollout complete (stub)');
  });

  it('history export writes JSON that Worker.runReplayHistories replays without non-determinism', async () => {
    const out = join(dir, 'approved.json');
    const { value, text } = await capture((deps) => historyExportAction(workflowId, { out }, deps));
    expect(value.path).toBe(out);
    expect(value.events).toBeGreaterThan(10);
    expect(text).toBe(`wrote ${value.events} events of ${workflowId} to ${out}`);
    const history = historyFromJSON(JSON.parse(await readFile(out, 'utf8')));
    expect(history.events).toHaveLength(value.events);
    const results: { workflowId: string; error?: Error }[] = [];
    for await (const r of Worker.runReplayHistories({ workflowBundle: bundle }, [{ workflowId, history }])) {
      results.push(r);
    }
    expect(results).toHaveLength(1);
    expect(results[0]?.error).toBeUndefined();

    await expect(capture((deps) => historyExportAction(workflowId, { out }, deps))).rejects.toThrow(
      /exists: pass --force/,
    );
    const runId = (await talon.temporal.workflow.getHandle(workflowId).describe()).runId;
    const again = await capture((deps) => historyExportAction(workflowId, { out, run: runId, force: true }, deps));
    expect(again.value.events).toBe(value.events);
  });
});

describe('reject and cancel', () => {
  it('reject ends the remediation "rejected" without applying anything', async () => {
    const { workflowId } = await awaitingApproval();
    const before = applied.length;
    const { text } = await capture((deps) =>
      answerApprovalAction('reject', workflowId, { by: 'carol', comment: 'not during the sale' }, deps),
    );
    expect(text).toMatch(/^rejected cpu_scale_up ×1\.5 on .* by carol$/);
    const result = await resultOf(workflowId);
    expect(result.outcome).toBe('rejected');
    expect(result.reason).toMatch(/rejected by carol$/);
    expect(applied.length).toBe(before);
  });

  it('cancel stops a running remediation and records who; a closed one cannot be cancelled', async () => {
    const { workflowId } = await awaitingApproval();
    const { text } = await capture((deps) => cancelAction(workflowId, { by: 'dave', reason: 'false alarm' }, deps));
    expect(text).toBe(
      `asked ${workflowId} to stop (by dave: false alarm); it ends "cancelled" at its next step (talon status ${workflowId})`,
    );
    const result = await resultOf(workflowId);
    expect(result).toMatchObject({ outcome: 'cancelled', reason: 'cancelled by dave' });
    await expect(capture((deps) => cancelAction(workflowId, { by: 'dave' }, deps))).rejects.toThrow(
      `${workflowId} is already closed (COMPLETED): nothing to cancel`,
    );
  });
});

describe('bad input', () => {
  const unknown = `remediate/NoSuchAlert/cli-it/nobody/${randomBytes(4).toString('hex')}`;
  const notFound = new RegExp(`no remediation with workflow id "${unknown}" in Temporal namespace default`);

  it('an unknown workflow id is a clear error for every command that takes one', async () => {
    await expect(capture((deps) => statusAction(unknown, {}, deps))).rejects.toThrow(notFound);
    await expect(capture((deps) => answerApprovalAction('approve', unknown, { by: 'x' }, deps))).rejects.toThrow(
      notFound,
    );
    await expect(capture((deps) => cancelAction(unknown, { by: 'x' }, deps))).rejects.toThrow(notFound);
    await expect(
      capture((deps) => historyExportAction(unknown, { out: join(dir, 'unknown.json') }, deps)),
    ).rejects.toThrow(notFound);
  });

  it('approve, reject and cancel without --by are refused before Temporal is asked', async () => {
    const { workflowId } = await awaitingApproval();
    await expect(capture((deps) => answerApprovalAction('approve', workflowId, {}, deps))).rejects.toThrow(
      /approve needs --by <who>/,
    );
    await expect(capture((deps) => answerApprovalAction('reject', workflowId, { by: ' ' }, deps))).rejects.toThrow(
      /reject needs --by <who>/,
    );
    await expect(capture((deps) => cancelAction(workflowId, {}, deps))).rejects.toThrow(/cancel needs --by <who>/);
    expect((await talon.status(workflowId)).step).toBe('awaiting_approval');
    await talon.cancel(workflowId, 'test cleanup');
    expect((await resultOf(workflowId)).outcome).toBe('cancelled');
  });

  it('a malformed payload file is refused with the failing fields, before anything is gathered', async () => {
    const notJson = join(dir, 'not-json.json');
    await writeFile(notJson, '{"version": "4", "alerts": [');
    await expect(capture((deps) => alertsReplayAction(notJson, {}, deps))).rejects.toThrow(
      /not-json.json is not valid JSON/,
    );
    const wrongShape = join(dir, 'wrong-shape.ndjson');
    // Missing fields are what Alertmanager's decoder reads as empty (accepted, as by the webhook); wrong types are not.
    await writeFile(wrongShape, `${JSON.stringify({ version: '4', status: 'firing', groupKey: 7, alerts: {} })}\n`);
    await expect(capture((deps) => alertsReplayAction(wrongShape, {}, deps))).rejects.toThrow(
      /wrong-shape.ndjson: 1 of 1 payload\(s\) are not Alertmanager webhook payloads \(version 4\):\n {2}payload 1: groupKey: .*alerts: /,
    );
  });
});

describe('alerts replay on a real Deployment under load', () => {
  const kube = testKube(config.kube.kubeconfigPath!);
  const coordination = kube.kc.makeApiClient(CoordinationV1Api);
  const namespace = uniqueName('it-cli-whatif');
  let pod: string;
  let file: string;

  /** Everything a remediation could touch: the Deployment, its ReplicaSets, its pods. */
  async function clusterState(): Promise<{
    deployment: Pick<V1Deployment, 'spec'> & { resourceVersion?: string; generation?: number };
    replicaSets: string[];
    pods: string[];
  }> {
    const d = await kube.apps.readNamespacedDeployment({ namespace, name: 'web' });
    const rs = await kube.apps.listNamespacedReplicaSet({ namespace });
    const pods = await kube.core.listNamespacedPod({ namespace });
    return {
      deployment: {
        spec: d.spec,
        ...(d.metadata?.resourceVersion ? { resourceVersion: d.metadata.resourceVersion } : {}),
        ...(d.metadata?.generation !== undefined ? { generation: d.metadata.generation } : {}),
      },
      replicaSets: rs.items.map((r) => `${r.metadata?.name}@${r.metadata?.resourceVersion}`).sort(),
      pods: pods.items.map((p) => `${p.metadata?.uid}:${JSON.stringify(p.spec?.containers)}`).sort(),
    };
  }

  async function noBudgetLease(leaseNamespace: string): Promise<boolean> {
    try {
      await coordination.readNamespacedLease({ namespace: leaseNamespace, name: leaseNameFor(namespace) });
      return false;
    } catch (err) {
      return (err as { code?: number }).code === 404;
    }
  }

  beforeAll(async () => {
    await createNamespace(kube, namespace);
    await createLoadedDeployment(kube, namespace, 'web', { usageCpu: '50m', limitCpu: '500m' });
    const running = await waitFor('the pod to run', 60_000, async () => (await runningPods(kube, namespace, 'web'))[0]);
    pod = running.metadata!.name!;
    await setPodCpuUsage(kube, namespace, pod, '480m');
    // Decide on a window that shows the load, as the workflow would once the alert fired.
    const metrics = createMetricsActivities({
      prometheus: new PrometheusClient({ url: config.prometheusUrl }),
      gather: { stepSeconds: config.windowStepSeconds },
    });
    await waitFor(
      'a window with the CPU near its limit',
      150_000,
      async () => {
        const w = await metrics.gatherWindow({ target: { namespace, pod } });
        return w.kind === 'window' && recentMean(w, 'cpu_usage', 2) > 0.85 ? w : undefined;
      },
      2_500,
    );
    // What Alertmanager 0.25 posts for TalonPodCpuNearLimit (recorded shape; this pod's labels).
    const labels = {
      alertname: 'TalonPodCpuNearLimit',
      container: 'app',
      namespace,
      pod,
      severity: 'warning',
      talon_resource: 'cpu',
      talon_scope: 'pod',
    };
    const recorded = {
      receiver: 'talon',
      status: 'firing',
      alerts: [
        {
          status: 'firing',
          labels,
          annotations: { summary: `Container app of ${namespace}/${pod} uses 96% of its CPU limit` },
          startsAt: new Date(Date.now() - 30_000).toISOString(),
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'http://127.0.0.1:9090/graph?g0.expr=...',
          fingerprint: randomBytes(8).toString('hex'),
        },
      ],
      groupLabels: { alertname: 'TalonPodCpuNearLimit' },
      commonLabels: labels,
      commonAnnotations: {},
      externalURL: 'http://127.0.0.1:9093',
      version: '4',
      groupKey: '{}:{alertname="TalonPodCpuNearLimit"}',
      truncatedAlerts: 0,
    };
    file = join(dir, 'recorded.json');
    await writeFile(file, JSON.stringify(recorded, null, 2));
  });

  afterAll(async () => {
    await deleteNamespace(kube, namespace);
  });

  it('prints what Talon would do and why, from the model, with the apiserver’s dry run, and changes nothing', async () => {
    const before = await clusterState();
    const { value: report, text } = await capture((deps) => alertsReplayAction(file, {}, deps));
    process.stdout.write(`${text}\n`);

    expect(report.engine).toMatch(/^the ONNX policy model models\/policy.onnx \(version .+\)$/);
    expect(report.alerts).toHaveLength(1);
    const verdict = report.alerts[0]!;
    expect(verdict.target).toBe(`${namespace}/${pod}/app`);
    expect(verdict.gather).toMatchObject({ kind: 'window', source: 'prometheus' });
    expect(verdict.decision?.source).toBe('model');
    expect(verdict.outcome).toBe('would_apply');
    const firstUsable = verdict.candidates.find((c) => c.usable)!;
    const chosen = verdict.tries.at(-1)!;
    expect(chosen.outcome).toBe('would_apply');
    if (verdict.tries.length === 1) expect(chosen.policy).toBe(firstUsable.policy);
    expect(chosen.policy).not.toMatch(/_scale_down$/);
    expect(chosen.summary).toMatch(/^\[dry run\] /);

    expect(text).toContain('decisions by the ONNX policy model models/policy.onnx');
    expect(text).toContain(`TalonPodCpuNearLimit on ${namespace}/${pod}/app (firing)`);
    expect(text).toMatch(/gather {3}prometheus window, 10 steps × 5 s, quality \d\.\d\d; CPU \d+% of limit/);
    expect(text).toMatch(/infer {4}model \(model .+\)/);
    expect(text).toMatch(/ranked {3}1\. /);
    expect(text).toContain(`→ dry run accepted by the apiserver: [dry run] `);
    expect(text).toMatch(new RegExp(`verdict  would apply ${chosen.policy} ×${chosen.magnitude}$`, 'm'));
    expect(chosen.noop).toBe(false);
    expect(chosen.changes?.length).toBeGreaterThan(0);

    expect(await clusterState()).toEqual(before);
    expect(await noBudgetLease(config.talonNamespace)).toBe(true);
  });

  it('reports the guard that refuses, here Talon’s own namespace, and still changes nothing', async () => {
    const before = await clusterState();
    const guarded = loadTalonConfig({ ...process.env, TALON_TASK_QUEUE: taskQueue, TALON_NAMESPACE: namespace });
    const lines: string[] = [];
    const report: WhatIfReport = await alertsReplayAction(
      file,
      { maxAttempts: 2 },
      { config: guarded, io: { out: (t) => lines.push(t) }, whatIf: workerWhatIf },
    );
    const text = lines.join('\n');
    const verdict = report.alerts[0]!;
    expect(verdict.outcome).toBe('needs_human');
    expect(verdict.tries).toHaveLength(2);
    for (const t of verdict.tries) expect(t).toMatchObject({ outcome: 'refused', guard: 'protected_namespace' });
    expect(text).toMatch(/try 1 {3}\S+ ×[\d.]+ → refused by guard protected_namespace: /);
    expect(text).toContain('verdict  every policy tried was refused');
    expect(await clusterState()).toEqual(before);
    expect(await noBudgetLease(namespace)).toBe(true);
  });
});
