/**
 * Every scaling action and its verification against the real kube-apiserver of the local KWOK cluster:
 * per owner kind (Deployment, StatefulSet, DaemonSet, standalone pod with and without in-place resize, Job),
 * idempotency under retries, the crash-between-delete-and-create checkpoint, replica scaling (Rule 1),
 * annotations (data offloading, network QoS) and verification's clear failures.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createKubeActivities, type KubeActivityDeps, type RemediationInput } from '../../activities/kube';
import { KubeActuator } from '../../src/kube/actions';
import { ClusterCapabilities } from '../../src/kube/capabilities';
import { guardConfig } from '../../src/domain/guards';
import type { ActionResult, Checkpoint } from '../../src/kube/types';
import {
  actuatorFixture,
  addNode,
  createDaemonSet,
  createDeployment,
  createJob,
  createPod,
  createStatefulSet,
  kubeletReportsResources,
  readyPodsOf,
  waitPodReady,
  waitUntil,
  type ActuatorFixture,
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

function activities(extra: Partial<KubeActivityDeps> = {}) {
  return createKubeActivities({
    kubeConfig: f.kc,
    clients: f.clients,
    talonNamespace: f.talonNamespace,
    guards: { writeBudget: { maxWrites: 1000, windowSeconds: 60 } },
    ...extra,
  });
}

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApplicationFailure) return err;
    throw err;
  }
  throw new Error('expected an ApplicationFailure');
}

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
    const input = {
      policy: 'cpu_scale_up' as const,
      magnitude: 1.5,
      namespace: f.namespace,
      pod: old[0]!.metadata!.name!,
      operationId: `${f.id}-web-1`,
    };
    const r = await a.applyRemediation(input);
    expect(r).toMatchObject({
      policy: 'cpu_scale_up',
      target: `Deployment ${f.namespace}/web`,
      applied: true,
      alreadyApplied: false,
      dryRun: false,
      mechanism: 'rolling-update',
      changes: [
        { path: 'container app requests.cpu', from: '500m', to: '750m' },
        { path: 'container app limits.cpu', from: '1', to: '1500m' },
      ],
      expect: { kind: 'rollout', workload: { kind: 'Deployment', name: 'web' } },
    });
    const v = await a.verifyAction({ expect: r.expect, timeoutMs: 90_000 });
    expect(v.verified).toBe(true);
    expect(v.detail).toContain('rolled out: 2/2 updated');
    const now = await readyPodsOf(f, 'app=web', 2);
    const oldUids = new Set(old.map((p) => p.metadata!.uid));
    expect(now.every((p) => !oldUids.has(p.metadata!.uid))).toBe(true);
    expect(now.map((p) => resourcesOf(p))).toEqual([
      { requests: { cpu: '750m', memory: '128Mi' }, limits: { cpu: '1500m', memory: '256Mi' } },
      { requests: { cpu: '750m', memory: '128Mi' }, limits: { cpu: '1500m', memory: '256Mi' } },
    ]);
    const generation = (await f.clients.apps.readNamespacedDeployment({ name: 'web', namespace: f.namespace })).metadata
      ?.generation;

    const again = await a.applyRemediation({ ...input, pod: now[0]!.metadata!.name! });
    expect(again).toMatchObject({ applied: false, alreadyApplied: true, changes: [] });
    const after = await f.clients.apps.readNamespacedDeployment({ name: 'web', namespace: f.namespace });
    expect(after.metadata?.generation).toBe(generation);
    expect(resourcesOf(after.spec!.template)).toEqual({
      requests: { cpu: '750m', memory: '128Mi' },
      limits: { cpu: '1500m', memory: '256Mi' },
    });
    expect((await a.verifyAction({ expect: again.expect, timeoutMs: 30_000 })).verified).toBe(true);
  });

  it('StatefulSet: memory_scale_down rolls every replica to 0.7× (whole bytes)', async () => {
    const a = activities();
    const pods = await createStatefulSet(f, 'db', 2, { tier, memory: { request: '1Gi', limit: '2Gi' } });
    const r = await a.scaleResources({
      policy: 'memory_scale_down',
      namespace: f.namespace,
      pod: pods[0]!.metadata!.name!,
      factor: 0.7,
      operationId: `${f.id}-db-1`,
    });
    expect(r.changes).toEqual([
      { path: 'container app requests.memory', from: '1Gi', to: '751619277' },
      { path: 'container app limits.memory', from: '2Gi', to: '1503238554' },
    ]);
    const v = await a.verifyAction({ expect: r.expect, timeoutMs: 90_000 });
    expect(v).toMatchObject({ verified: true });
    const now = await readyPodsOf(f, 'app=db', 2);
    for (const p of now) expect(resourcesOf(p).requests).toEqual({ memory: '751619277' });
  });

  it('DaemonSet: cpu_scale_down rolls out on every node', async () => {
    const a = activities();
    const pods = await createDaemonSet(f, 'agent', 2, { cpu: { request: '200m', limit: '400m' } });
    const r = await a.scaleResources({
      policy: 'cpu_scale_down',
      namespace: f.namespace,
      pod: pods[0]!.metadata!.name!,
      factor: 0.5,
      operationId: `${f.id}-agent-1`,
    });
    expect(r).toMatchObject({ target: `DaemonSet ${f.namespace}/agent`, mechanism: 'rolling-update' });
    const v = await a.verifyAction({ expect: r.expect, timeoutMs: 90_000 });
    expect(v.verified).toBe(true);
    const now = await readyPodsOf(f, 'app=agent', 2);
    for (const p of now) expect(resourcesOf(p)).toEqual({ requests: { cpu: '100m' }, limits: { cpu: '200m' } });
  });

  it('standalone pod on a resize-capable node: resized in place, same pod; verified once the kubelet reports it', async () => {
    const a = activities();
    await createPod(f, 'solo', {
      tier,
      cpu: { request: '250m', limit: '500m' },
      memory: { request: '64Mi', limit: '128Mi' },
    });
    await kubeletReportsResources(f, 'solo'); // the node advertises resize support, as a 1.33+ kubelet does
    const before = await f.clients.core.readNamespacedPod({ name: 'solo', namespace: f.namespace });
    const r = await a.scaleResources({
      policy: 'memory_scale_up',
      namespace: f.namespace,
      pod: 'solo',
      factor: 2,
      operationId: `${f.id}-solo-1`,
    });
    expect(r).toMatchObject({
      mechanism: 'in-place-resize',
      expect: { kind: 'pod', uid: before.metadata!.uid, resized: true },
    });
    const resized = await f.clients.core.readNamespacedPod({ name: 'solo', namespace: f.namespace });
    expect(resized.metadata?.uid).toBe(before.metadata?.uid);
    expect(resourcesOf(resized)).toEqual({
      requests: { cpu: '250m', memory: '128Mi' },
      limits: { cpu: '500m', memory: '256Mi' },
    });

    const early = await a.verifyAction({ expect: r.expect, timeoutMs: 1_500 });
    expect(early.verified).toBe(false);
    expect(early.detail).toMatch(
      /^not verified after \ds: the kubelet does not report the new memory of solo\/app yet/,
    );
    expect(early.observed).toMatchObject({ name: 'solo', ready: true });

    await kubeletReportsResources(f, 'solo');
    const v = await a.verifyAction({ expect: r.expect, timeoutMs: 30_000 });
    expect(v).toMatchObject({ verified: true });
    expect(v.detail).toContain('applied in place');

    const again = await a.scaleResources({
      policy: 'memory_scale_up',
      namespace: f.namespace,
      pod: 'solo',
      factor: 2,
      operationId: `${f.id}-solo-1`,
    });
    expect(again).toMatchObject({ alreadyApplied: true, applied: false });
    const still = await f.clients.core.readNamespacedPod({ name: 'solo', namespace: f.namespace });
    expect(resourcesOf(still).limits).toEqual({ cpu: '500m', memory: '256Mi' });
  });

  it('standalone pod whose node does not report container resources: detected, deleted and recreated', async () => {
    const a = activities();
    const before = await createPod(f, 'plain', { tier, cpu: { request: '100m', limit: '200m' } });
    const r = await a.scaleResources({
      policy: 'cpu_scale_up',
      namespace: f.namespace,
      pod: 'plain',
      factor: 2,
      operationId: `${f.id}-plain-1`,
    });
    expect(r.mechanism).toBe('recreate');
    if (r.expect.kind !== 'pod') throw new Error('expected a pod expectation');
    expect(r.expect.uid).not.toBe(before.metadata?.uid);
    const v = await a.verifyAction({ expect: r.expect, timeoutMs: 60_000 });
    expect(v.verified).toBe(true);
    const now = await waitPodReady(f, 'plain');
    expect(resourcesOf(now)).toEqual({ requests: { cpu: '200m' }, limits: { cpu: '400m' } });
    const again = await a.scaleResources({
      policy: 'cpu_scale_up',
      namespace: f.namespace,
      pod: 'plain',
      factor: 2,
      operationId: `${f.id}-plain-1`,
    });
    expect(again).toMatchObject({ alreadyApplied: true, mechanism: 'recreate' });
    expect((await waitPodReady(f, 'plain')).metadata?.uid).toBe(now.metadata?.uid);
  });

  it('standalone pod when the cluster does not serve resize: recreated without trying', async () => {
    const a = activities({ podResize: false });
    await createPod(f, 'legacy', { tier, memory: { request: '100Mi', limit: '100Mi' } });
    await kubeletReportsResources(f, 'legacy');
    const r = await a.scaleResources({
      policy: 'memory_scale_up',
      namespace: f.namespace,
      pod: 'legacy',
      factor: 1.25,
      operationId: `${f.id}-legacy-1`,
    });
    expect(r.mechanism).toBe('recreate');
    expect((await a.verifyAction({ expect: r.expect, timeoutMs: 60_000 })).verified).toBe(true);
    expect(resourcesOf(await waitPodReady(f, 'legacy'))).toEqual({
      requests: { memory: '125Mi' },
      limits: { memory: '125Mi' },
    });
  });

  it('Job: recreated with the new values (D3.6 Figure 11), verified on the new Job’s pods', async () => {
    const a = activities();
    const oldPod = await createJob(f, 'yolo', { tier, cpu: { request: '1', limit: '2' } });
    const oldJob = await f.clients.batch.readNamespacedJob({ name: 'yolo', namespace: f.namespace });
    const r = await a.scaleResources({
      policy: 'cpu_scale_up',
      namespace: f.namespace,
      pod: oldPod.metadata!.name!,
      factor: 1.5,
      operationId: `${f.id}-yolo-1`,
    });
    expect(r).toMatchObject({ mechanism: 'recreate', target: `Job ${f.namespace}/yolo` });
    if (r.expect.kind !== 'job') throw new Error('expected a job expectation');
    expect(r.expect.uid).not.toBe(oldJob.metadata?.uid);
    const v = await a.verifyAction({ expect: r.expect, timeoutMs: 60_000 });
    expect(v.verified).toBe(true);
    const pods = await f.clients.core.listNamespacedPod({ namespace: f.namespace, labelSelector: 'app=yolo' });
    expect(pods.items.map((p) => p.metadata?.uid)).not.toContain(oldPod.metadata?.uid);
    expect(pods.items.length).toBeGreaterThan(0);
    for (const p of pods.items) {
      expect(resourcesOf(p)).toEqual({ requests: { cpu: '1500m' }, limits: { cpu: '3' } });
    }
  });

  it('a crash between delete and create is finished from the heartbeat checkpoint, not repeated', async () => {
    await createPod(f, 'crashy', { tier, cpu: { request: '100m', limit: '100m' } });
    const actuator = new KubeActuator(f.clients, {
      guards: guardConfig({ talonNamespace: f.talonNamespace }),
      capabilities: new ClusterCapabilities(f.clients, { podResize: false }),
    });
    let saved: Checkpoint | undefined;
    const operationId = `${f.id}-crashy-1`;
    const crash = actuator.scaleResources(
      { policy: 'cpu_scale_up', namespace: f.namespace, pod: 'crashy', factor: 3 },
      {
        operationId,
        checkpoint: (c) => {
          saved = c;
          throw new Error('worker crashed');
        },
      },
    );
    await expect(crash).rejects.toThrow('worker crashed');
    expect(saved).toMatchObject({ kind: 'Pod', name: 'crashy', operationId });
    // The crash happened right after the delete: the pod is gone, nothing was created.
    await f.clients.core.deleteNamespacedPod({ name: 'crashy', namespace: f.namespace, gracePeriodSeconds: 0 });
    await waitUntil('crashy deleted', 30_000, async () =>
      f.clients.core.readNamespacedPod({ name: 'crashy', namespace: f.namespace }).then(
        () => undefined,
        () => true,
      ),
    );
    const retry = await actuator.scaleResources(
      { policy: 'cpu_scale_up', namespace: f.namespace, pod: 'crashy', factor: 3 },
      { operationId, ...(saved ? { restored: saved } : {}) },
    );
    expect(retry.summary).toContain('recreated from the checkpoint');
    const pod = await waitPodReady(f, 'crashy');
    expect(resourcesOf(pod)).toEqual({ requests: { cpu: '300m' }, limits: { cpu: '300m' } });
    expect(
      (
        await actuator.scaleResources(
          { policy: 'cpu_scale_up', namespace: f.namespace, pod: 'crashy', factor: 3 },
          { operationId },
        )
      ).alreadyApplied,
    ).toBe(true);
  });

  it('inside a real activity context the operation id comes from the activity, so a retry is recognised', async () => {
    const a = activities();
    const pods = await createDeployment(f, 'ctx', 1, { tier, cpu: { request: '100m', limit: '100m' } });
    const env = new MockActivityEnvironment({ activityId: `${f.id}-ctx`, attempt: 1 });
    const heartbeats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => heartbeats.push(d));
    const input = { policy: 'cpu_scale_up' as const, namespace: f.namespace, pod: pods[0]!.metadata!.name!, factor: 2 };
    const first = await env.run<[typeof input], ActionResult, (i: typeof input) => Promise<ActionResult>>(
      (i) => a.scaleResources(i),
      input,
    );
    // Temporal hands the last heartbeat back to the retry; the pod may already be gone by then.
    const retry = new MockActivityEnvironment({
      activityId: `${f.id}-ctx`,
      attempt: 2,
      heartbeatDetails: heartbeats.at(-1),
    });
    const second = await retry.run<[typeof input], ActionResult, (i: typeof input) => Promise<ActionResult>>(
      (i) => a.scaleResources(i),
      input,
    );
    expect(first.applied).toBe(true);
    expect(second).toMatchObject({ alreadyApplied: true, operationId: first.operationId });
    const d = await f.clients.apps.readNamespacedDeployment({ name: 'ctx', namespace: f.namespace });
    expect(resourcesOf(d.spec!.template)).toEqual({ requests: { cpu: '200m' }, limits: { cpu: '200m' } });
  });

  it('a retry after the rollout replaced the pod, and a retry after another operation, both change nothing', async () => {
    const a = activities();
    const pods = await createDeployment(f, 'twice', 1, {
      tier,
      cpu: { request: '100m', limit: '200m' },
      memory: { request: '100Mi', limit: '100Mi' },
    });
    const input = {
      policy: 'cpu_scale_up' as const,
      namespace: f.namespace,
      pod: pods[0]!.metadata!.name!,
      factor: 1.5,
    };
    type In = typeof input;
    const scale = (i: In) => a.scaleResources(i);
    const heartbeats: unknown[] = [];
    const env = new MockActivityEnvironment({ activityId: `${f.id}-twice-A` });
    env.on('heartbeat', (d: unknown) => heartbeats.push(d));
    const first = await env.run<[In], ActionResult, typeof scale>(scale, input);
    expect((await a.verifyAction({ expect: first.expect, timeoutMs: 60_000 })).verified).toBe(true);
    // Another workflow changes memory meanwhile.
    const other = await a.scaleResources({
      policy: 'memory_scale_up',
      namespace: f.namespace,
      pod: (await readyPodsOf(f, 'app=twice', 1))[0]!.metadata!.name!,
      factor: 2,
      operationId: `${f.id}-twice-B`,
    });
    expect((await a.verifyAction({ expect: other.expect, timeoutMs: 60_000 })).verified).toBe(true);
    // The first activity is retried (its pod is long gone): recognised from the history, not applied again.
    const retry = new MockActivityEnvironment({
      activityId: `${f.id}-twice-A`,
      attempt: 2,
      heartbeatDetails: heartbeats[0],
    });
    const again = await retry.run<[In], ActionResult, typeof scale>(scale, input);
    expect(again).toMatchObject({ alreadyApplied: true, applied: false });
    expect(again.summary).toContain(`memory_scale_up (${f.id}-twice-B) changed it since`);
    const d = await f.clients.apps.readNamespacedDeployment({ name: 'twice', namespace: f.namespace });
    expect(resourcesOf(d.spec!.template)).toEqual({
      requests: { cpu: '150m', memory: '200Mi' },
      limits: { cpu: '300m', memory: '200Mi' },
    });
    // Without the heartbeat (a plain call naming the vanished pod) the answer is a clear, permanent not-found.
    const lost = await failureOf(a.scaleResources({ ...input, operationId: `${f.id}-twice-C` }));
    expect(lost).toMatchObject({ type: 'KubeNotFoundError', nonRetryable: true });
  });

  it('a container name narrows the step; an unknown container or resource is refused', async () => {
    const a = activities();
    const multi = await createPod(f, 'multi', {
      tier,
      cpu: { request: '100m', limit: '200m' },
      extraContainers: [{ name: 'side', image: 'x', resources: { requests: { cpu: '50m' } } }],
    });
    const r = await a.scaleResources({
      policy: 'cpu_scale_up',
      namespace: f.namespace,
      pod: 'multi',
      container: 'side',
      factor: 2,
      operationId: `${f.id}-multi-1`,
      dryRun: true,
    });
    expect(r.changes).toEqual([{ path: 'container side requests.cpu', from: '50m', to: '100m' }]);
    expect(r).toMatchObject({ dryRun: true, applied: false, expect: { kind: 'none' } });
    const untouched = await f.clients.core.readNamespacedPod({ name: 'multi', namespace: f.namespace });
    expect(untouched.metadata?.uid).toBe(multi.metadata?.uid);
    expect(resourcesOf(untouched, 'side')).toEqual({ requests: { cpu: '50m' } });
    const unknown = await failureOf(
      a.scaleResources({
        policy: 'cpu_scale_up',
        namespace: f.namespace,
        pod: 'multi',
        container: 'nope',
        factor: 2,
        operationId: 'x',
      }),
    );
    expect(unknown).toMatchObject({ type: 'GuardRefused', nonRetryable: true });
    expect(unknown.message).toContain('has no container named nope');
    const nothing = await failureOf(
      a.scaleResources({
        policy: 'memory_scale_up',
        namespace: f.namespace,
        pod: 'multi',
        factor: 2,
        operationId: 'y',
      }),
    );
    expect(nothing.message).toContain('nothing to scale');
  });
});

describe('replicas (D3.6 Rule 1)', () => {
  it('replica_scale_down then up, within bounds, each once, verified', async () => {
    const a = activities({
      guards: { replicas: { min: 1, max: 4 }, writeBudget: { maxWrites: 100, windowSeconds: 60 } },
    });
    const pods = await createDeployment(f, 'api', 3, { tier, cpu: { request: '10m' } });
    // Run as an activity and retry it with the heartbeat details Temporal would hand back: the alerting pod
    // may well be one of the two the scale-down removed, and the retry must still recognise its change.
    const input: RemediationInput = {
      policy: 'replica_scale_down',
      magnitude: 0.5,
      namespace: f.namespace,
      pod: pods[0]!.metadata!.name!,
    };
    const heartbeats: unknown[] = [];
    const env = new MockActivityEnvironment({ activityId: `${f.id}-api-down` });
    env.on('heartbeat', (d: unknown) => heartbeats.push(d));
    const apply = (i: RemediationInput) => a.applyRemediation(i);
    const down = await env.run<[RemediationInput], ActionResult, typeof apply>(apply, input);
    expect(down).toMatchObject({ mechanism: 'scale', changes: [{ path: 'spec.replicas', from: '3', to: '1' }] });
    // The checkpoint names the Deployment before the write. A write that lost a race (409) is planned and
    // checkpointed again, so how many heartbeats carry it depends on timing; every one must be this checkpoint.
    expect(heartbeats.length).toBeGreaterThan(0);
    for (const h of heartbeats) {
      expect(h).toEqual({
        operationId: down.operationId,
        kind: 'Workload',
        workload: { kind: 'Deployment', namespace: f.namespace, name: 'api' },
      });
    }
    expect(await a.verifyAction({ expect: down.expect, timeoutMs: 60_000 })).toMatchObject({ verified: true });
    await f.clients.core
      .deleteNamespacedPod({ name: pods[0]!.metadata!.name!, namespace: f.namespace, gracePeriodSeconds: 0 })
      .catch(() => undefined);
    const retry = new MockActivityEnvironment({
      activityId: `${f.id}-api-down`,
      attempt: 2,
      heartbeatDetails: heartbeats[0],
    });
    const again = await retry.run<[RemediationInput], ActionResult, typeof apply>(apply, input);
    expect(again).toMatchObject({ alreadyApplied: true, operationId: down.operationId });
    expect(
      (await f.clients.apps.readNamespacedDeployment({ name: 'api', namespace: f.namespace })).spec?.replicas,
    ).toBe(1);

    const floor = await failureOf(
      a.scaleReplicas({
        policy: 'replica_scale_down',
        namespace: f.namespace,
        workload: { kind: 'Deployment', name: 'api' },
        factor: 0.5,
        operationId: `${f.id}-api-down-2`,
      }),
    );
    expect(floor).toMatchObject({ type: 'GuardRefused', nonRetryable: true });
    expect(floor.details?.[0]).toMatchObject({ guard: 'replica_bounds', current: 1, min: 1 });

    const up = await a.scaleReplicas({
      policy: 'replica_scale_up',
      namespace: f.namespace,
      workload: { kind: 'Deployment', name: 'api' },
      factor: 4,
      operationId: `${f.id}-api-up`,
    });
    expect(up.changes).toEqual([{ path: 'spec.replicas', from: '1', to: '4' }]);
    const v = await a.verifyAction({ expect: up.expect, timeoutMs: 60_000 });
    expect(v).toMatchObject({ verified: true, observed: { specReplicas: 4, readyReplicas: 4 } });
  });

  it('refuses pods without replicas to change', async () => {
    const a = activities();
    await createPod(f, 'lonely', { tier });
    const r = await failureOf(
      a.scaleReplicas({
        policy: 'replica_scale_up',
        namespace: f.namespace,
        pod: 'lonely',
        factor: 2,
        operationId: 'z',
      }),
    );
    expect(r).toMatchObject({ type: 'UnsupportedTargetError', nonRetryable: true });
  });
});

describe('annotations: data offloading and network QoS', () => {
  it('data_offloading annotates the pod for the data-offload workflow, once', async () => {
    const a = activities();
    await createPod(f, 'data', { tier });
    const r = await a.applyRemediation({
      policy: 'data_offloading',
      magnitude: 0.3,
      namespace: f.namespace,
      pod: 'data',
      operationId: `${f.id}-data-1`,
    });
    expect(r.mechanism).toBe('annotate');
    expect(r.changes).toEqual([
      { path: 'annotation talon.io/data-offload', to: '0.3' },
      { path: 'annotation talon.io/data-offload-requested-at', to: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
    ]);
    expect(await a.verifyAction({ expect: r.expect })).toMatchObject({ verified: true });
    const again = await a.applyRemediation({
      policy: 'data_offloading',
      magnitude: 0.3,
      namespace: f.namespace,
      pod: 'data',
      operationId: `${f.id}-data-1`,
    });
    expect(again.alreadyApplied).toBe(true);
    expect(await a.verifyAction({ expect: again.expect })).toMatchObject({ verified: true });
    const bad = await failureOf(
      a.applyRemediation({
        policy: 'data_offloading',
        magnitude: 0.95,
        namespace: f.namespace,
        pod: 'data',
        operationId: 'q',
      }),
    );
    expect(bad.details?.[0]).toMatchObject({ guard: 'factor_bounds' });
  });

  it('network_qos sets Kube-OVN ingress/egress rates (Mbit/s) from a share of the ceiling or explicit rates', async () => {
    const a = activities({ networkCeilingMbps: 1000 });
    await createPod(f, 'gateway-api', { tier });
    const r = await a.applyRemediation({
      policy: 'network_qos',
      magnitude: 0.25,
      namespace: f.namespace,
      pod: 'gateway-api',
      operationId: `${f.id}-qos-1`,
    });
    expect(r.changes).toEqual([
      { path: 'annotation ovn.kubernetes.io/ingress_rate', to: '250' },
      { path: 'annotation ovn.kubernetes.io/egress_rate', to: '250' },
    ]);
    expect(await a.verifyAction({ expect: r.expect })).toMatchObject({ verified: true });
    const explicit = await a.setNetworkQos({
      namespace: f.namespace,
      pod: 'gateway-api',
      ingressMbps: 300,
      egressMbps: 100,
      operationId: `${f.id}-qos-2`,
    });
    expect(explicit.changes).toEqual([
      { path: 'annotation ovn.kubernetes.io/ingress_rate', from: '250', to: '300' },
      { path: 'annotation ovn.kubernetes.io/egress_rate', from: '250', to: '100' },
    ]);
    const pod = await f.clients.core.readNamespacedPod({ name: 'gateway-api', namespace: f.namespace });
    expect(pod.metadata?.annotations).toMatchObject({
      'ovn.kubernetes.io/ingress_rate': '300',
      'ovn.kubernetes.io/egress_rate': '100',
    });
    const tooMuch = await failureOf(
      a.setNetworkQos({ namespace: f.namespace, pod: 'gateway-api', ingressMbps: 5000, operationId: `${f.id}-qos-3` }),
    );
    expect(tooMuch.details?.[0]).toMatchObject({ guard: 'result_bounds', value: 5000 });
  });
});

describe('verification reports clear failures', () => {
  it('a pod that is not there, a replica count changed by someone else, annotations that differ', async () => {
    const a = activities();
    const missing = await a.verifyAction({
      expect: { kind: 'pod', namespace: f.namespace, pod: 'ghost' },
      timeoutMs: 600,
    });
    expect(missing).toMatchObject({ verified: false });
    expect(missing.detail).toContain('pod');
    expect(missing.detail).toContain('ghost does not exist');
    expect(missing.polls).toBeGreaterThan(1);

    await createDeployment(f, 'drift', 1, { tier });
    const d = await f.clients.apps.readNamespacedDeployment({ name: 'drift', namespace: f.namespace });
    const drift = await a.verifyAction({
      expect: {
        kind: 'replicas',
        workload: { kind: 'Deployment', namespace: f.namespace, name: 'drift' },
        replicas: 3,
        generation: d.metadata?.generation ?? 1,
      },
    });
    expect(drift).toMatchObject({ verified: false, observed: { specReplicas: 1 } });
    expect(drift.detail).toContain('spec.replicas is 1, expected 3');

    await createPod(f, 'plainann', { tier });
    const ann = await a.verifyAction({
      expect: {
        kind: 'annotations',
        namespace: f.namespace,
        pod: 'plainann',
        annotations: { 'talon.io/data-offload': '0.5' },
      },
    });
    expect(ann).toMatchObject({ verified: false, detail: 'annotations differ: talon.io/data-offload=∅ (want 0.5)' });
  });
});
