/**
 * Every scaling action and its verification against the real kube-apiserver of the local KWOK cluster, through
 * the activities the worker registers (applyPolicy, verifyPolicy): per owner kind (Deployment, StatefulSet,
 * DaemonSet, standalone pod with and without in-place resize, Job), idempotency under retries, the
 * crash-between-delete-and-create checkpoint, replica scaling (Rule 1), annotations (data offloading, network
 * QoS) and verification's clear failures.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import type { ApplyPolicyInput, ApplyPolicyResult } from '../../src/domain/remediation';
import {
  actuatorFixture,
  addNode,
  appliedWith,
  applyInput,
  createDaemonSet,
  createDeployment,
  createJob,
  createPod,
  createStatefulSet,
  expectationOf,
  failureOf,
  kubeletReportsResources,
  readyPodsOf,
  remediationActivities,
  waitPodReady,
  waitUntil,
  type ActuatorFixture,
  type RemediationOverrides,
} from '../support/kube-actuator';

jest.setTimeout(180_000);

let f: ActuatorFixture;
let tier: string;

beforeAll(async () => {
  f = await actuatorFixture('kube-it-act');
  tier = `${f.id}-t`;
  await addNode(f, 'n1', tier);
  await addNode(f, 'n2', tier);
});

afterAll(async () => {
  await f.cleanup();
});

function activities(overrides: RemediationOverrides = {}) {
  return remediationActivities(f, {
    verifyTimeoutMs: 90_000,
    ...overrides,
    guards: { writeBudget: { maxWrites: 1000, windowSeconds: 60 }, ...overrides.guards },
  });
}

type Apply = (i: ApplyPolicyInput) => Promise<ApplyPolicyResult>;

function resourcesOf(pod: { spec?: { containers: { name: string; resources?: unknown }[] } }, container = 'app') {
  return JSON.parse(JSON.stringify(pod.spec?.containers.find((c) => c.name === container)?.resources ?? {})) as {
    requests?: Record<string, string>;
    limits?: Record<string, string>;
  };
}

describe('cpu/memory scaling by owner kind', () => {
  it('Deployment: patches the template, rolls out, the old pods go away; the same operation twice changes once', async () => {
    const a = activities();
    const old = await createDeployment(f, 'web', 2, {
      tier,
      cpu: { request: '500m', limit: '1' },
      memory: { request: '128Mi', limit: '256Mi' },
    });
    const input = applyInput(f, 'cpu_scale_up', old[0]!.metadata!.name!, 1.5, `${f.id}-web-1`);
    const r = await a.applyPolicy(input);
    expect(r).toMatchObject({
      policy: 'cpu_scale_up',
      magnitude: 1.5,
      noop: false,
      dryRun: false,
      changes: [
        { path: 'container app requests.cpu', from: '500m', to: '750m' },
        { path: 'container app limits.cpu', from: '1', to: '1500m' },
      ],
      expectation: { kind: 'rollout', workload: { kind: 'Deployment', name: 'web' } },
    });
    expect(r.summary).toContain(`on Deployment ${f.namespace}/web`);
    expect(r.summary).toContain('(rolling update)');
    const v = await a.verifyPolicy({ applied: r });
    expect(v.ok).toBe(true);
    expect(v.observed).toContain('rolled out: 2/2 updated');
    const now = await readyPodsOf(f, 'app=web', 2);
    const oldUids = new Set(old.map((p) => p.metadata!.uid));
    expect(now.every((p) => !oldUids.has(p.metadata!.uid))).toBe(true);
    expect(now.map((p) => resourcesOf(p))).toEqual([
      { requests: { cpu: '750m', memory: '128Mi' }, limits: { cpu: '1500m', memory: '256Mi' } },
      { requests: { cpu: '750m', memory: '128Mi' }, limits: { cpu: '1500m', memory: '256Mi' } },
    ]);
    const generation = (await f.clients.apps.readNamespacedDeployment({ name: 'web', namespace: f.namespace })).metadata
      ?.generation;

    const again = await a.applyPolicy({ ...input, target: { ...input.target, pod: now[0]!.metadata!.name! } });
    expect(again).toMatchObject({ noop: true, changes: [] });
    expect(again.summary).toMatch(/^\[already applied\] /);
    const after = await f.clients.apps.readNamespacedDeployment({ name: 'web', namespace: f.namespace });
    expect(after.metadata?.generation).toBe(generation);
    expect(resourcesOf(after.spec!.template)).toEqual({
      requests: { cpu: '750m', memory: '128Mi' },
      limits: { cpu: '1500m', memory: '256Mi' },
    });
    expect((await a.verifyPolicy({ applied: again })).ok).toBe(true);
  });

  it('StatefulSet: memory_scale_down rolls every replica to 0.7× (whole bytes)', async () => {
    const a = activities();
    const pods = await createStatefulSet(f, 'db', 2, { tier, memory: { request: '1Gi', limit: '2Gi' } });
    const r = await a.applyPolicy(applyInput(f, 'memory_scale_down', pods[0]!.metadata!.name!, 0.7, `${f.id}-db-1`));
    expect(r.changes).toEqual([
      { path: 'container app requests.memory', from: '1Gi', to: '751619277' },
      { path: 'container app limits.memory', from: '2Gi', to: '1503238554' },
    ]);
    expect(await a.verifyPolicy({ applied: r })).toMatchObject({ ok: true });
    const now = await readyPodsOf(f, 'app=db', 2);
    for (const p of now) expect(resourcesOf(p).requests).toEqual({ memory: '751619277' });
  });

  it('DaemonSet: cpu_scale_down rolls out on every node', async () => {
    const a = activities();
    const pods = await createDaemonSet(f, 'agent', 2, { cpu: { request: '200m', limit: '400m' } });
    const r = await a.applyPolicy(applyInput(f, 'cpu_scale_down', pods[0]!.metadata!.name!, 0.5, `${f.id}-agent-1`));
    expect(r.expectation).toMatchObject({ kind: 'rollout', workload: { kind: 'DaemonSet', name: 'agent' } });
    expect((await a.verifyPolicy({ applied: r })).ok).toBe(true);
    const now = await readyPodsOf(f, 'app=agent', 2);
    for (const p of now) expect(resourcesOf(p)).toEqual({ requests: { cpu: '100m' }, limits: { cpu: '200m' } });
  });

  it('standalone pod on a resize-capable node: resized in place, same pod; verified once the kubelet reports it', async () => {
    const a = activities({ verifyTimeoutMs: 30_000 });
    await createPod(f, 'solo', {
      tier,
      cpu: { request: '250m', limit: '500m' },
      memory: { request: '64Mi', limit: '128Mi' },
    });
    await kubeletReportsResources(f, 'solo'); // the node advertises resize support, as a 1.33+ kubelet does
    const before = await f.clients.core.readNamespacedPod({ name: 'solo', namespace: f.namespace });
    const input = applyInput(f, 'memory_scale_up', 'solo', 2, `${f.id}-solo-1`);
    const r = await a.applyPolicy(input);
    expect(r.summary).toContain('(resized in place)');
    expect(r.expectation).toMatchObject({ kind: 'pod', uid: before.metadata!.uid, resized: true });
    const resized = await f.clients.core.readNamespacedPod({ name: 'solo', namespace: f.namespace });
    expect(resized.metadata?.uid).toBe(before.metadata?.uid);
    expect(resourcesOf(resized)).toEqual({
      requests: { cpu: '250m', memory: '128Mi' },
      limits: { cpu: '500m', memory: '256Mi' },
    });

    const early = await activities({ verifyTimeoutMs: 1_500 }).verifyPolicy({ applied: r });
    expect(early.ok).toBe(false);
    expect(early.observed).toMatch(
      /^not verified after \ds: the kubelet does not report the new memory of solo\/app yet/,
    );

    await kubeletReportsResources(f, 'solo');
    const v = await a.verifyPolicy({ applied: r });
    expect(v.ok).toBe(true);
    expect(v.observed).toContain('applied in place');

    const again = await a.applyPolicy(input);
    expect(again).toMatchObject({ noop: true, changes: [] });
    expect(again.summary).toMatch(/^\[already applied\] /);
    const still = await f.clients.core.readNamespacedPod({ name: 'solo', namespace: f.namespace });
    expect(resourcesOf(still).limits).toEqual({ cpu: '500m', memory: '256Mi' });
  });

  it('standalone pod whose node does not report container resources: detected, deleted and recreated', async () => {
    const a = activities({ verifyTimeoutMs: 60_000 });
    const before = await createPod(f, 'plain', { tier, cpu: { request: '100m', limit: '200m' } });
    const input = applyInput(f, 'cpu_scale_up', 'plain', 2, `${f.id}-plain-1`);
    const r = await a.applyPolicy(input);
    expect(r.summary).toContain('(pod recreated)');
    const expectation = expectationOf(r);
    if (expectation.kind !== 'pod') throw new Error('expected a pod expectation');
    expect(expectation.uid).not.toBe(before.metadata?.uid);
    expect((await a.verifyPolicy({ applied: r })).ok).toBe(true);
    const now = await waitPodReady(f, 'plain');
    expect(now.metadata?.uid).toBe(expectation.uid);
    expect(resourcesOf(now)).toEqual({ requests: { cpu: '200m' }, limits: { cpu: '400m' } });
    const again = await a.applyPolicy(input);
    expect(again).toMatchObject({ noop: true, expectation: { kind: 'pod', uid: expectation.uid } });
    expect((await waitPodReady(f, 'plain')).metadata?.uid).toBe(now.metadata?.uid);
  });

  it('standalone pod when the cluster does not serve resize: recreated without trying', async () => {
    const a = activities({ podResize: false, verifyTimeoutMs: 60_000 });
    const before = await createPod(f, 'legacy', { tier, memory: { request: '100Mi', limit: '100Mi' } });
    await kubeletReportsResources(f, 'legacy');
    const r = await a.applyPolicy(applyInput(f, 'memory_scale_up', 'legacy', 1.25, `${f.id}-legacy-1`));
    expect(r.summary).toContain('(pod recreated)');
    expect(r.summary).not.toContain('in-place resize refused');
    expect((await a.verifyPolicy({ applied: r })).ok).toBe(true);
    const now = await waitPodReady(f, 'legacy');
    expect(now.metadata?.uid).not.toBe(before.metadata?.uid);
    expect(resourcesOf(now)).toEqual({ requests: { memory: '125Mi' }, limits: { memory: '125Mi' } });
  });

  it('Job: recreated with the new values (D3.6 Figure 11), verified on the new Job’s pods', async () => {
    const a = activities({ verifyTimeoutMs: 60_000 });
    const oldPod = await createJob(f, 'yolo', { tier, cpu: { request: '1', limit: '2' } });
    const oldJob = await f.clients.batch.readNamespacedJob({ name: 'yolo', namespace: f.namespace });
    const r = await a.applyPolicy(applyInput(f, 'cpu_scale_up', oldPod.metadata!.name!, 1.5, `${f.id}-yolo-1`));
    expect(r.summary).toContain(`on Job ${f.namespace}/yolo`);
    expect(r.summary).toContain('(Job recreated)');
    const expectation = expectationOf(r);
    if (expectation.kind !== 'job') throw new Error('expected a job expectation');
    expect(expectation.uid).not.toBe(oldJob.metadata?.uid);
    expect((await a.verifyPolicy({ applied: r })).ok).toBe(true);
    const pods = await f.clients.core.listNamespacedPod({ namespace: f.namespace, labelSelector: 'app=yolo' });
    expect(pods.items.map((p) => p.metadata?.uid)).not.toContain(oldPod.metadata?.uid);
    expect(pods.items.length).toBeGreaterThan(0);
    for (const p of pods.items) {
      expect(resourcesOf(p)).toEqual({ requests: { cpu: '1500m' }, limits: { cpu: '3' } });
    }
  });

  it('a crash between delete and create is finished from the heartbeat checkpoint, not repeated', async () => {
    const a = activities({ podResize: false });
    await createPod(f, 'crashy', { tier, cpu: { request: '100m', limit: '100m' } });
    const input = applyInput(f, 'cpu_scale_up', 'crashy', 3, `${f.id}-crashy-1`);
    const apply: Apply = (i) => a.applyPolicy(i);
    // The worker dies the moment the checkpoint is heartbeated, right before the delete.
    let saved: unknown;
    const crashing = new MockActivityEnvironment({ activityId: `${f.id}-crashy` });
    crashing.on('heartbeat', (d: unknown) => {
      saved = d;
      throw new Error('worker crashed');
    });
    await expect(crashing.run<[ApplyPolicyInput], ApplyPolicyResult, Apply>(apply, input)).rejects.toThrow(
      'worker crashed',
    );
    expect(saved).toMatchObject({ kind: 'Pod', name: 'crashy', operationId: input.operationId });
    // Suppose the delete went through before the worker died: the pod is gone, nothing was created.
    await f.clients.core.deleteNamespacedPod({ name: 'crashy', namespace: f.namespace, gracePeriodSeconds: 0 });
    await waitUntil('crashy deleted', 30_000, async () =>
      f.clients.core.readNamespacedPod({ name: 'crashy', namespace: f.namespace }).then(
        () => undefined,
        () => true,
      ),
    );
    // Temporal hands the last heartbeat to the retry.
    const retry = new MockActivityEnvironment({ activityId: `${f.id}-crashy`, attempt: 2, heartbeatDetails: saved });
    const resumed = await retry.run<[ApplyPolicyInput], ApplyPolicyResult, Apply>(apply, input);
    expect(resumed.summary).toContain('recreated from the checkpoint');
    const pod = await waitPodReady(f, 'crashy');
    expect(resourcesOf(pod)).toEqual({ requests: { cpu: '300m' }, limits: { cpu: '300m' } });
    const third = await a.applyPolicy(input);
    expect(third.noop).toBe(true);
    expect(third.summary).toMatch(/^\[already applied\] /);
    expect((await f.clients.core.readNamespacedPod({ name: 'crashy', namespace: f.namespace })).metadata?.uid).toBe(
      pod.metadata?.uid,
    );
  });

  it('inside an activity, a retry gets the checkpoint back and recognises its change after the pod was replaced', async () => {
    const a = activities();
    const pods = await createDeployment(f, 'ctx', 1, { tier, cpu: { request: '100m', limit: '100m' } });
    const env = new MockActivityEnvironment({ activityId: `${f.id}-ctx`, attempt: 1 });
    const heartbeats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => heartbeats.push(d));
    const input = applyInput(f, 'cpu_scale_up', pods[0]!.metadata!.name!, 2, `${f.id}-ctx-1`);
    const apply: Apply = (i) => a.applyPolicy(i);
    const first = await env.run<[ApplyPolicyInput], ApplyPolicyResult, Apply>(apply, input);
    expect((await a.verifyPolicy({ applied: first })).ok).toBe(true);
    // The rollout replaced the pod the input names; only the checkpoint still leads to the Deployment.
    expect(heartbeats.at(-1)).toMatchObject({ kind: 'Workload', workload: { kind: 'Deployment', name: 'ctx' } });
    const retry = new MockActivityEnvironment({
      activityId: `${f.id}-ctx`,
      attempt: 2,
      heartbeatDetails: heartbeats.at(-1),
    });
    const second = await retry.run<[ApplyPolicyInput], ApplyPolicyResult, Apply>(apply, input);
    expect(first.noop).toBe(false);
    expect(second).toMatchObject({ noop: true, changes: [] });
    const d = await f.clients.apps.readNamespacedDeployment({ name: 'ctx', namespace: f.namespace });
    expect(resourcesOf(d.spec!.template)).toEqual({ requests: { cpu: '200m' }, limits: { cpu: '200m' } });
  });

  it('a retry after the rollout replaced the pod, and a retry after another operation, both change nothing', async () => {
    const a = activities({ verifyTimeoutMs: 60_000 });
    const pods = await createDeployment(f, 'twice', 1, {
      tier,
      cpu: { request: '100m', limit: '200m' },
      memory: { request: '100Mi', limit: '100Mi' },
    });
    const input = applyInput(f, 'cpu_scale_up', pods[0]!.metadata!.name!, 1.5, `${f.id}-twice-A`);
    const apply: Apply = (i) => a.applyPolicy(i);
    const heartbeats: unknown[] = [];
    const env = new MockActivityEnvironment({ activityId: `${f.id}-twice-A` });
    env.on('heartbeat', (d: unknown) => heartbeats.push(d));
    const first = await env.run<[ApplyPolicyInput], ApplyPolicyResult, Apply>(apply, input);
    expect((await a.verifyPolicy({ applied: first })).ok).toBe(true);
    // Another workflow changes memory meanwhile.
    const current = (await readyPodsOf(f, 'app=twice', 1))[0]!.metadata!.name!;
    const other = await a.applyPolicy(applyInput(f, 'memory_scale_up', current, 2, `${f.id}-twice-B`));
    expect((await a.verifyPolicy({ applied: other })).ok).toBe(true);
    // The first activity is retried (its pod is long gone): recognised from the history, not applied again.
    const retry = new MockActivityEnvironment({
      activityId: `${f.id}-twice-A`,
      attempt: 2,
      heartbeatDetails: heartbeats[0],
    });
    const again = await retry.run<[ApplyPolicyInput], ApplyPolicyResult, Apply>(apply, input);
    expect(again).toMatchObject({ noop: true, changes: [] });
    expect(again.summary).toContain(`memory_scale_up (${f.id}-twice-B) changed it since`);
    const d = await f.clients.apps.readNamespacedDeployment({ name: 'twice', namespace: f.namespace });
    expect(resourcesOf(d.spec!.template)).toEqual({
      requests: { cpu: '150m', memory: '200Mi' },
      limits: { cpu: '300m', memory: '200Mi' },
    });
    // Without the heartbeat (a plain call naming the vanished pod) the answer is a clear, permanent not-found.
    const lost = await failureOf(a.applyPolicy({ ...input, operationId: `${f.id}-twice-C` }));
    expect(lost).toMatchObject({ type: 'TargetNotFound', nonRetryable: true });
  });

  it('a container name narrows the step; an unknown container or resource is refused', async () => {
    const a = activities();
    const multi = await createPod(f, 'multi', {
      tier,
      cpu: { request: '100m', limit: '200m' },
      extraContainers: [{ name: 'side', image: 'x', resources: { requests: { cpu: '50m' } } }],
    });
    const r = await a.applyPolicy(
      applyInput(f, 'cpu_scale_up', 'multi', 2, `${f.id}-multi-1`, { container: 'side', dryRun: true }),
    );
    expect(r.changes).toEqual([{ path: 'container side requests.cpu', from: '50m', to: '100m' }]);
    expect(r).toMatchObject({ dryRun: true, noop: true, expectation: { kind: 'none' } });
    const untouched = await f.clients.core.readNamespacedPod({ name: 'multi', namespace: f.namespace });
    expect(untouched.metadata?.uid).toBe(multi.metadata?.uid);
    expect(resourcesOf(untouched, 'side')).toEqual({ requests: { cpu: '50m' } });
    const unknown = await failureOf(
      a.applyPolicy(applyInput(f, 'cpu_scale_up', 'multi', 2, 'x', { container: 'nope' })),
    );
    expect(unknown).toMatchObject({ type: 'GuardRefused', nonRetryable: true });
    expect(unknown.message).toContain('has no container named nope');
    const nothing = await failureOf(a.applyPolicy(applyInput(f, 'memory_scale_up', 'multi', 2, 'y')));
    expect(nothing.message).toContain('nothing to scale');
  });
});

describe('replicas (D3.6 Rule 1)', () => {
  it('replica_scale_down then up, within bounds, each once, verified', async () => {
    const a = activities({
      guards: { replicas: { min: 1, max: 4 }, writeBudget: { maxWrites: 100, windowSeconds: 60 } },
      verifyTimeoutMs: 60_000,
    });
    const pods = await createDeployment(f, 'api', 3, { tier, cpu: { request: '10m' } });
    // Run as an activity and retry it with the heartbeat details Temporal would hand back: the alerting pod
    // may well be one of the two the scale-down removed, and the retry must still recognise its change.
    const input = applyInput(f, 'replica_scale_down', pods[0]!.metadata!.name!, 0.5, `${f.id}-api-down`);
    const heartbeats: unknown[] = [];
    const env = new MockActivityEnvironment({ activityId: `${f.id}-api-down` });
    env.on('heartbeat', (d: unknown) => heartbeats.push(d));
    const apply: Apply = (i) => a.applyPolicy(i);
    const down = await env.run<[ApplyPolicyInput], ApplyPolicyResult, Apply>(apply, input);
    expect(down).toMatchObject({
      changes: [{ path: 'spec.replicas', from: '3', to: '1' }],
      expectation: { kind: 'replicas', replicas: 1 },
    });
    // The checkpoint names the Deployment before the write. A write that lost a race (409) is planned and
    // checkpointed again, so how many heartbeats carry it depends on timing; every one must be this checkpoint.
    expect(heartbeats.length).toBeGreaterThan(0);
    for (const h of heartbeats) {
      expect(h).toEqual({
        operationId: input.operationId,
        kind: 'Workload',
        workload: { kind: 'Deployment', namespace: f.namespace, name: 'api' },
      });
    }
    expect(await a.verifyPolicy({ applied: down })).toMatchObject({ ok: true });
    await f.clients.core
      .deleteNamespacedPod({ name: pods[0]!.metadata!.name!, namespace: f.namespace, gracePeriodSeconds: 0 })
      .catch(() => undefined);
    const retry = new MockActivityEnvironment({
      activityId: `${f.id}-api-down`,
      attempt: 2,
      heartbeatDetails: heartbeats[0],
    });
    const again = await retry.run<[ApplyPolicyInput], ApplyPolicyResult, Apply>(apply, input);
    expect(again).toMatchObject({ noop: true, changes: [] });
    expect(again.summary).toMatch(/^\[already applied\] /);
    expect(
      (await f.clients.apps.readNamespacedDeployment({ name: 'api', namespace: f.namespace })).spec?.replicas,
    ).toBe(1);

    const remaining = (await readyPodsOf(f, 'app=api', 1))[0]!.metadata!.name!;
    const floor = await failureOf(
      a.applyPolicy(applyInput(f, 'replica_scale_down', remaining, 0.5, `${f.id}-api-down-2`)),
    );
    expect(floor).toMatchObject({ type: 'GuardRefused', nonRetryable: true });
    expect(floor.details?.[0]).toBe('replica_bounds');
    expect(floor.details?.[1]).toMatchObject({ current: 1, min: 1 });

    const up = await a.applyPolicy(applyInput(f, 'replica_scale_up', remaining, 4, `${f.id}-api-up`));
    expect(up.changes).toEqual([{ path: 'spec.replicas', from: '1', to: '4' }]);
    const v = await a.verifyPolicy({ applied: up });
    expect(v).toMatchObject({ ok: true, observed: `Deployment ${f.namespace}/api runs 4 ready replicas` });
    expect(await readyPodsOf(f, 'app=api', 4)).toHaveLength(4);
  });

  it('refuses pods without replicas to change', async () => {
    const a = activities();
    await createPod(f, 'lonely', { tier });
    const r = await failureOf(a.applyPolicy(applyInput(f, 'replica_scale_up', 'lonely', 2, 'z')));
    expect(r).toMatchObject({ type: 'UnsupportedTarget', nonRetryable: true });
    expect(r.message).toContain('standalone');
  });
});

describe('annotations: data offloading and network QoS', () => {
  it('data_offloading writes the contract’s request once; without a metrics source it is never “verified”', async () => {
    const a = activities();
    await createPod(f, 'data', { tier });
    const input = applyInput(f, 'data_offloading', 'data', 0.3, `${f.id}-data-1`);
    const r = await a.applyPolicy(input);
    expect(r.expectation).toMatchObject({ kind: 'io-drop', pod: 'data', share: 0.3, requestId: `${f.id}-data-1` });
    expect(r.changes).toEqual([
      { path: 'annotation talon.io/data-offload', to: '0.3' },
      { path: 'annotation talon.io/data-offload-requested-at', to: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
      { path: 'annotation talon.io/data-offload-id', to: `${f.id}-data-1` },
    ]);
    // The annotation is there, but that is not an effect: verification needs the pod's I/O (actions-effects.test.ts).
    expect(await a.verifyPolicy({ applied: r })).toEqual({
      ok: false,
      observed: 'io-drop: no metrics source configured to see the effect',
    });
    const again = await a.applyPolicy(input);
    expect(again.noop).toBe(true);
    expect(again.summary).toMatch(/^\[already applied\] /);
    expect(again.expectation).toMatchObject({
      kind: 'io-drop',
      requestedAt: (r.expectation as { requestedAt: number }).requestedAt,
    });
    const bad = await failureOf(a.applyPolicy(applyInput(f, 'data_offloading', 'data', 0.95, 'q')));
    expect(bad.details?.[0]).toBe('factor_bounds');
  });

  it('network_qos sets Kube-OVN ingress/egress rates (Mbit/s) as a share of the ceiling, verified only by the rates', async () => {
    const a = activities({ networkCeilingMbps: 1000 });
    await createPod(f, 'gateway-api', { tier });
    const r = await a.applyPolicy(applyInput(f, 'network_qos', 'gateway-api', 0.25, `${f.id}-qos-1`));
    expect(r.changes).toEqual([
      { path: 'annotation ovn.kubernetes.io/ingress_rate', to: '250' },
      { path: 'annotation ovn.kubernetes.io/egress_rate', to: '250' },
    ]);
    expect(r.expectation).toMatchObject({ kind: 'rate-cap', ingressMbps: 250, egressMbps: 250 });
    expect((await a.verifyPolicy({ applied: r })).ok).toBe(false);
    const wider = await a.applyPolicy(applyInput(f, 'network_qos', 'gateway-api', 0.3, `${f.id}-qos-2`));
    expect(wider.changes).toEqual([
      { path: 'annotation ovn.kubernetes.io/ingress_rate', from: '250', to: '300' },
      { path: 'annotation ovn.kubernetes.io/egress_rate', from: '250', to: '300' },
    ]);
    const pod = await f.clients.core.readNamespacedPod({ name: 'gateway-api', namespace: f.namespace });
    expect(pod.metadata?.annotations).toMatchObject({
      'ovn.kubernetes.io/ingress_rate': '300',
      'ovn.kubernetes.io/egress_rate': '300',
    });
    const tooMuch = await failureOf(a.applyPolicy(applyInput(f, 'network_qos', 'gateway-api', 1.5, `${f.id}-qos-3`)));
    expect(tooMuch.details?.[0]).toBe('factor_bounds');
  });
});

describe('verification reports clear failures', () => {
  it('a pod that is not there, a replica count changed by someone else, annotations that differ', async () => {
    const a = activities({ verifyTimeoutMs: 600 });
    const missing = await a.verifyPolicy(appliedWith({ kind: 'pod', namespace: f.namespace, pod: 'ghost' }));
    expect(missing.ok).toBe(false);
    expect(missing.observed).toMatch(/^not verified after \ds: pod .*ghost does not exist/);

    await createDeployment(f, 'drift', 1, { tier });
    const d = await f.clients.apps.readNamespacedDeployment({ name: 'drift', namespace: f.namespace });
    const drift = await a.verifyPolicy(
      appliedWith({
        kind: 'replicas',
        workload: { kind: 'Deployment', namespace: f.namespace, name: 'drift' },
        replicas: 3,
        generation: d.metadata?.generation ?? 1,
      }),
    );
    expect(drift.ok).toBe(false);
    expect(drift.observed).toContain('spec.replicas is 1, expected 3');

    await createPod(f, 'plainann', { tier });
    const ann = await a.verifyPolicy(
      appliedWith({
        kind: 'annotations',
        namespace: f.namespace,
        pod: 'plainann',
        annotations: { 'talon.io/data-offload': '0.5' },
      }),
    );
    expect(ann.ok).toBe(false);
    expect(ann.observed).toContain('annotations differ: talon.io/data-offload=∅ (want 0.5)');
  });
});
