/**
 * The operator policy on the real local stack (issue 17's bars): one worker with its real activities, one policy
 * file edited between the phases (each edit taking effect without restarting the worker), alerts posted to the
 * webhook as Alertmanager posts them, the cluster judged by what it holds.
 * - observe: nothing changes in the cluster; the decision is recorded (Event on the pod, `talon audit`).
 * - approve: the change waits; `talon approve` from an identity the policy does not allow is refused; an allowed
 *   identity approves and the Deployment's CPU limit is raised; Events on the target.
 * - storm brake: 15 of a namespace's 20 workloads (30 of its 40 pods) alerting engages it (CLI, metric, the held
 *   workflows' state), nothing is changed while it holds; resolving most alerts releases it and the held
 *   remediations go on.
 */
import { stateQuery } from '../../src/contracts/alert-episode';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TalonClient } from '../../src/client/talon-client';
import { answerApprovalAction } from '../../src/cli/remediation/approve';
import { auditAction } from '../../src/cli/remediation/audit';
import { brakeEngageAction, brakeReleaseAction, brakeStatusAction } from '../../src/cli/operator-commands';
import { CliError } from '../../src/cli/errors';
import { loadTalonConfig } from '../../src/config/talon-config';
import { parseQuantity } from '../../src/domain/quantity';
import { TalonMetrics } from '../../src/observability/metrics';
import type { RemediationState } from '../../src/contracts/alert-episode';
import { startWebhookServer, type RunningWebhook } from '../../src/webhook/server';
import { createTalonWorker, type TalonWorker } from '../../workers/worker';
import { alertmanagerBody } from '../support/alertmanager';
import {
  createLoadedDeployment,
  createNamespace,
  deleteNamespace,
  runningPods,
  testKube,
  uniqueName,
  waitFor,
} from '../support/kube';

jest.setTimeout(600_000);

const id = randomBytes(3).toString('hex');
const namespace = uniqueName('it-op');
const stormNamespace = uniqueName('it-storm');
const STORM_WORKLOADS = 20;
const talonNamespace = `it-op-talon-${id}`;
const TOKEN = `operator-it-${id}`;
let dir: string;
let policyPath: string;
const env = (extra: Record<string, string> = {}) => ({
  ...process.env,
  TALON_TASK_QUEUE: `op-it-${id}`,
  TALON_NAMESPACE: talonNamespace,
  TALON_POLICY_FILE: policyPath,
  TALON_POLICY_RELOAD_SECONDS: '1',
  TALON_WORKER_METRICS_PORT: '0',
  TALON_WINDOW_STEP_SECONDS: '5',
  ...extra,
});
let config: ReturnType<typeof loadTalonConfig>;
let kube: ReturnType<typeof testKube>;
let worker: TalonWorker;
let workerDone: Promise<void>;
let talon: TalonClient;
let webhook: RunningWebhook;

const HEAD = 'apiVersion: talon.io/v1alpha1\nkind: TalonPolicy\n';
const COMMON =
  '  maxAttempts: 1\n' +
  '  cooldown: { defaultSeconds: 5, minSeconds: 1, maxSeconds: 10 }\n' +
  '  approvalTimeoutSeconds: 300\n' +
  '  approvers: [alice@sre]\n';
const BRAKE =
  'stormBrake: { maxNamespacePodsPercent: 50, minRemediations: 3, maxAlerts: 1000, recheckSeconds: 2, maxWaitSeconds: 600 }\n';

/** Rewrites the policy file as a ConfigMap update does (a new file renamed into place). */
async function writePolicy(version: string, autonomy: string): Promise<void> {
  const next = join(dir, 'next.yaml');
  await writeFile(next, `${HEAD}version: '${version}'\ndefaults:\n  autonomy: ${autonomy}\n${COMMON}${BRAKE}`);
  await rename(next, policyPath);
}

async function policyInForce(version: string): Promise<void> {
  await waitFor(`policy ${version} in the worker`, 30_000, async () => {
    const { values } = await worker.metrics.policyInfo.get();
    return values.some((v) => String(v.labels.version).startsWith(`${version}@`) && v.value === 1) ? true : undefined;
  });
}

// Each test's alert is its own remediation (talon_workload): a workload's remediation outlives its episode and
// would otherwise carry one test's episode into the next.
let workloadSeq = 0;
function alertFor(ns: string, pod: string, status: 'firing' | 'resolved' = 'firing'): Record<string, unknown> {
  const workload = status === 'firing' ? `web-t${++workloadSeq}` : `web-t${workloadSeq}`;
  return {
    status,
    labels: {
      alertname: 'TalonPodCpuNearLimit',
      namespace: ns,
      pod,
      container: 'app',
      talon_resource: 'cpu',
      ...(ns === namespace ? { talon_workload: workload } : {}),
    },
    annotations: { summary: `${pod} near its CPU limit` },
    startsAt: '2026-05-17T10:00:00Z',
    endsAt: status === 'resolved' ? '2026-05-17T10:05:00Z' : '0001-01-01T00:00:00Z',
    fingerprint: `f${randomBytes(7).toString('hex')}`,
  };
}

async function post(alerts: Record<string, unknown>[]): Promise<{ workflowId: string }[]> {
  const res = await fetch(`${webhook.url}/api/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(alertmanagerBody(alerts)),
  });
  const body = (await res.json()) as { accepted: { workflowId: string }[] };
  expect(res.status).toBe(202);
  return body.accepted;
}

async function eventReasons(ns: string, pod: string): Promise<string[]> {
  const list = await kube.core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${pod}` });
  return list.items.filter((e) => e.source?.component === 'talon').map((e) => e.reason ?? '');
}

async function cpuLimit(ns: string, name: string): Promise<string> {
  const d = await kube.apps.readNamespacedDeployment({ namespace: ns, name });
  return String(d.spec!.template.spec!.containers[0]!.resources!.limits!.cpu);
}

const status = (workflowId: string): Promise<RemediationState> => talon.status(workflowId);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'talon-op-it-'));
  policyPath = join(dir, 'policy.yaml');
  await writePolicy('v1', 'observe');
  config = loadTalonConfig(env());
  kube = testKube(config.kube.kubeconfigPath!);
  await createNamespace(kube, talonNamespace);
  await createNamespace(kube, namespace);
  await createNamespace(kube, stormNamespace);
  await createLoadedDeployment(kube, namespace, 'web', { usageCpu: '950m', limitCpu: '1' });
  // Twenty workloads of two pods: a storm is many remediations at once (one workload's pods are one incident).
  for (let i = 0; i < STORM_WORKLOADS; i++)
    await createLoadedDeployment(kube, stormNamespace, `storm-${i}`, {
      usageCpu: '50m',
      limitCpu: '500m',
      replicas: 2,
    });
  worker = await createTalonWorker(config, { shutdownGraceMs: 1_000 });
  workerDone = worker.run();
  talon = await TalonClient.connect({ address: config.temporal.address, taskQueue: config.temporal.taskQueue });
  webhook = await startWebhookServer(talon, new TalonMetrics({ defaultMetrics: false }), {
    host: '127.0.0.1',
    port: 0,
    auth: { bearerToken: TOKEN },
  });
  // Port 0 asked for any free port; the URL says which one the server got.
  Object.assign(webhook, { url: `http://127.0.0.1:${(webhook.server.address() as { port: number }).port}` });
  await policyInForce('v1');
});

afterAll(async () => {
  await webhook?.close();
  await talon?.close();
  worker?.shutdown();
  await workerDone;
  await Promise.all([namespace, stormNamespace, talonNamespace].map((n) => deleteNamespace(kube, n)));
});

it('observe: nothing changes, the decision is recorded as an Event on the pod and in the audit trail', async () => {
  const pod = (await waitFor('web running', 60_000, async () => (await runningPods(kube, namespace, 'web'))[0]))
    .metadata!.name!;
  const [accepted] = await post([alertFor(namespace, pod)]);
  // A workload's remediation outlives its episode (it watches for a re-fire, issue 14), so the episode's
  // outcome is read from the workflow's state rather than awaited as its result.
  const state = await waitFor('the observed episode to end', 120_000, async () => {
    const s = await talon.temporal.workflow.getHandle(accepted!.workflowId).query(stateQuery);
    return s.outcome === undefined ? undefined : s;
  });
  expect(state.outcome).toBe('no_action');
  expect(JSON.stringify(state.attempts)).toMatch(/observe/);
  expect(await cpuLimit(namespace, 'web')).toBe('1');
  expect(await eventReasons(namespace, pod)).toEqual(expect.arrayContaining(['TalonObserved']));
  const lines: string[] = [];
  const trail = await auditAction(
    { since: '10m', query: `TalonNamespace = "${namespace}"` },
    { config, io: { out: (t) => lines.push(t) } },
  );
  expect(trail.map((e) => e.decision)).toEqual(expect.arrayContaining(['observe']));
  expect(trail.find((e) => e.decision === 'observe')?.policyVersion).toMatch(/^v1@/);
  expect(lines.join('\n')).toContain('observe');
});

it('approve: the change waits; a disallowed identity is refused; an allowed one approves and the limit is raised', async () => {
  await writePolicy('v2', 'approve');
  await policyInForce('v2'); // the same worker, no restart
  const pod = (await runningPods(kube, namespace, 'web'))[0]!.metadata!.name!;
  const [accepted] = await post([alertFor(namespace, pod)]);
  const workflowId = accepted!.workflowId;
  await waitFor('awaiting approval', 120_000, async () =>
    (await status(workflowId)).step === 'awaiting_approval' ? true : undefined,
  );
  await new Promise((r) => setTimeout(r, 3_000));
  expect(await cpuLimit(namespace, 'web')).toBe('1');
  expect((await status(workflowId)).operator).toMatchObject({
    autonomy: 'approve',
    policyVersion: expect.stringMatching(/^v2@/),
  });

  const as = (identity: string) => ({
    config: loadTalonConfig(env({ TALON_IDENTITY: identity })),
    io: { out: () => undefined },
  });
  const refused = await answerApprovalAction('approve', workflowId, { by: 'alice' }, as('mallory@laptop')).catch(
    (e: Error) => e,
  );
  expect(refused).toBeInstanceOf(CliError);
  expect((refused as Error).message).toMatch(
    /"mallory@laptop" may not approve or reject here: policy v2@\w+ allows alice@sre/,
  );
  await new Promise((r) => setTimeout(r, 1_000));
  expect(await cpuLimit(namespace, 'web')).toBe('1');

  await answerApprovalAction('approve', workflowId, { by: 'alice', comment: 'go' }, as('alice@sre'));
  const raised = await waitFor('the CPU limit raised', 120_000, async () => {
    const limit = await cpuLimit(namespace, 'web');
    return parseQuantity(limit).cmp(parseQuantity('1')) > 0 ? limit : undefined;
  });
  process.stdout.write(`approved change: cpu limit 1 → ${raised}\n`);
  await waitFor('the Events', 60_000, async () => {
    const reasons = await eventReasons(namespace, pod);
    return ['TalonApprovalRequested', 'TalonApproved', 'TalonApplied'].every((r) => reasons.includes(r))
      ? true
      : undefined;
  });
  // Visibility follows the workflow's memo a moment later.
  const trail = await waitFor('the change in the audit trail', 30_000, async () => {
    const entries = await talon.audit({ since: new Date(Date.now() - 600_000), query: `WorkflowId = "${workflowId}"` });
    return entries.some((e) => e.decision === 'applied') ? entries : undefined;
  });
  expect(trail.map((e) => [e.decision, e.who])).toEqual(
    expect.arrayContaining([
      ['approval_requested', 'talon'],
      ['approved', 'alice@sre'],
      ['applied', 'talon'],
    ]),
  );
  await talon.cancel(workflowId, 'test');
});

it('storm brake: 15 of 20 workloads (30 of 40 pods) alerting engages it, nothing changes while it holds, it releases once they resolve', async () => {
  await writePolicy('v3', 'approve');
  await policyInForce('v3');
  const workloads = Array.from({ length: STORM_WORKLOADS }, (_, i) => `storm-${i}`);
  const podsOf = await waitFor('40 storm pods running', 180_000, async () => {
    const each = await Promise.all(workloads.map((w) => runningPods(kube, stormNamespace, w)));
    return each.every((p) => p.length === 2) ? each.map((p) => p.map((x) => x.metadata!.name!)) : undefined;
  });
  // Every pod of the first 15 workloads fires: 15 remediations (one per workload), 30 of the 40 pods.
  const hot = podsOf.slice(0, 15);
  const alerts = hot.flat().map((pod) => alertFor(stormNamespace, pod));
  const accepted = await post(alerts);
  expect(accepted).toHaveLength(30);
  const ids = [...new Set(accepted.map((a) => a.workflowId))];
  expect(ids).toHaveLength(15);
  const started = Date.now();

  const held = await waitFor(
    'remediations held by the brake',
    180_000,
    async () => {
      const states = await Promise.all(ids.map((w) => status(w).catch(() => undefined)));
      const braked = states.filter((s) => s?.operator?.brake);
      return braked.length >= 10 ? braked : undefined;
    },
    2_000,
  );
  process.stdout.write(
    `brake engaged for ${held.length} remediations within ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  expect(held[0]!.operator!.brake).toMatch(
    new RegExp(`\\d+ of 40 pods of namespace ${stormNamespace} under remediation \\(\\d+%, \\d+ remediations\\)`),
  );
  const report = await brakeStatusAction({ namespace: [stormNamespace] }, { config, out: () => undefined });
  const scope = report.scopes.find((s) => s.scope === `namespace/${stormNamespace}`)!;
  expect(scope.state.engaged).toBe(true);
  expect(scope.state.counts.namespace).toMatchObject({ pods: 40, underRemediation: 30, remediations: 15 });
  const gauge = (await worker.metrics.stormBrakeEngaged.get()).values.find(
    (v) => v.labels.scope === `namespace/${stormNamespace}`,
  );
  expect(gauge?.value).toBe(1);
  // Nothing in the namespace changes. The brake counts what runs, so the first remediations of the burst may
  // have passed it before the count showed the burst: those wait for an approval, and are checked again after it.
  const states = await Promise.all(ids.map(status));
  expect(states.filter((s) => s.operator?.brake === undefined && s.step !== 'awaiting_approval')).toHaveLength(0);
  process.stdout.write(
    `${states.filter((s) => s.step === 'awaiting_approval').length} of 15 passed before the count showed the burst\n`,
  );
  for (const w of workloads) expect(await cpuLimit(stormNamespace, w)).toBe('500m');
  // The Event follows the brake in the workflow's state (the state is set first, then the Event is written), on
  // the pod the workload's remediation names: either pod of the workload, whichever alert opened it.
  await waitFor('the TalonStormBrake Event on the first workload', 30_000, async () => {
    const reasons = (await Promise.all(hot[0]!.map((pod) => eventReasons(stormNamespace, pod)))).flat();
    return reasons.includes('TalonStormBrake') ? true : undefined;
  });

  // 13 workloads resolve: their remediations end the episode (watching for a re-fire is not remediating), and the
  // 2 left cover 4 of 40 pods (10 %), fewer than minRemediations.
  const resolvedPods = hot.slice(0, 13).flat();
  await post(
    resolvedPods.map((pod, i) => ({
      ...alertFor(stormNamespace, pod, 'resolved'),
      fingerprint: (alerts[i] as { fingerprint: string }).fingerprint,
    })),
  );
  const released = Date.now();
  const rest = ids.slice(13);
  await waitFor(
    'the held remediations to go on after the release',
    180_000,
    async () => {
      const after = await Promise.all(rest.map(status));
      return after.every((s) => s.step === 'awaiting_approval') ? true : undefined;
    },
    2_000,
  );
  process.stdout.write(
    `brake released; held remediations went on within ${((Date.now() - released) / 1000).toFixed(1)} s\n`,
  );
  const after = await brakeStatusAction({ namespace: [stormNamespace] }, { config, out: () => undefined });
  const afterScope = after.scopes.find((s) => s.scope === `namespace/${stormNamespace}`)!;
  expect(afterScope.state.engaged).toBe(false);
  expect(afterScope.state.counts.namespace).toMatchObject({ remediations: 2, underRemediation: 4 });
  await Promise.all(rest.map((w) => talon.cancel(w, 'test')));
});

it('talon brake engage holds a scope by hand (a Lease shared by every worker) until talon brake release', async () => {
  const quiet = { config, out: () => undefined };
  await brakeEngageAction({ scope: `namespace/${namespace}`, reason: 'maintenance window', by: 'bob' }, quiet);
  const lease = await kube.kc
    .makeApiClient((await import('@kubernetes/client-node')).CoordinationV1Api)
    .readNamespacedLease({ name: 'talon-storm-brake', namespace: talonNamespace });
  expect(JSON.parse(lease.metadata!.annotations!['talon.io/storm-brake']!)).toEqual([
    expect.objectContaining({ scope: `namespace/${namespace}`, reason: 'maintenance window', by: 'bob' }),
  ]);
  const held = await brakeStatusAction({ namespace: [namespace] }, quiet);
  const scope = held.scopes.find((s) => s.scope === `namespace/${namespace}`)!;
  expect(scope.state.engaged).toBe(true);
  expect(scope.state.trips).toEqual([]);
  expect(held.scopes.find((s) => s.scope === 'cluster')!.state.engaged).toBe(false);
  // A new remediation in that namespace is held (the policy in force is v3, autonomy approve).
  const pod = (await runningPods(kube, namespace, 'web'))[0]!.metadata!.name!;
  const [accepted] = await post([alertFor(namespace, pod)]);
  await waitFor('the remediation held by hand', 60_000, async () =>
    (await status(accepted!.workflowId)).operator?.brake?.includes('maintenance window') ? true : undefined,
  );
  expect(await brakeReleaseAction({ scope: `namespace/${namespace}`, by: 'bob' }, quiet)).toHaveLength(1);
  await waitFor('the remediation to go on after the release', 60_000, async () =>
    (await status(accepted!.workflowId)).step === 'awaiting_approval' ? true : undefined,
  );
  expect((await brakeStatusAction({ namespace: [namespace] }, quiet)).latches).toEqual([]);
  await talon.cancel(accepted!.workflowId, 'test');
});
