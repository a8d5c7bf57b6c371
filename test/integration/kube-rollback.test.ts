/**
 * Rollback against the real kube-apiserver of the local KWOK cluster (issue 14, gap 6), through the activities the
 * worker registers (applyPolicy, verifyPolicy, rollbackPolicy): a change is restored to the pre-change snapshot it
 * recorded, by effect (the template, the replica count, a recreated pod's resources), once however often the
 * rollback is retried, never over a later change. The undo of task offloading, data offloading and network QoS is
 * in kube-rollback-undo.test.ts.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { createRollbackActivities } from '../../activities/rollback';
import type { ApplyPolicyResult } from '../../src/domain/remediation';
import type { RollbackPolicyInput, RollbackPolicyResult } from '../../src/domain/rollback';
import {
  actuatorFixture,
  addNode,
  applyInput,
  createDeployment,
  createJob,
  createPod,
  readyPodsOf,
  remediationActivities,
  waitPodReady,
  type ActuatorFixture,
} from '../support/kube-actuator';

jest.setTimeout(240_000);

let f: ActuatorFixture;
let tier: string;

beforeAll(async () => {
  f = await actuatorFixture('kube-it-undo');
  tier = `${f.id}-t`;
  await addNode(f, 'n1', tier);
});

afterAll(async () => {
  await f.cleanup();
});

function activities(podResize?: boolean) {
  return {
    ...remediationActivities(f, {
      verifyTimeoutMs: 90_000,
      ...(podResize === undefined ? {} : { podResize }),
      guards: { writeBudget: { maxWrites: 1000, windowSeconds: 60 } },
    }),
    ...createRollbackActivities({
      clients: f.clients,
      guards: { talonNamespace: f.talonNamespace },
      ...(podResize === undefined ? {} : { podResize }),
    }),
  };
}

function undoInput(applied: ApplyPolicyResult, appliedOperationId: string): RollbackPolicyInput {
  return { applied, appliedOperationId, operationId: `${appliedOperationId}/rollback`, dryRun: false };
}

function resourcesOf(spec: { containers: { name: string; resources?: unknown }[] } | undefined) {
  return JSON.parse(JSON.stringify(spec?.containers.find((c) => c.name === 'app')?.resources ?? {})) as {
    requests?: Record<string, string>;
    limits?: Record<string, string>;
  };
}

async function deployment(name: string) {
  return f.clients.apps.readNamespacedDeployment({ name, namespace: f.namespace });
}

function record(meta: { annotations?: Record<string, string> } | undefined): Record<string, unknown> {
  return JSON.parse(meta?.annotations?.['talon.io/operation'] ?? '{}') as Record<string, unknown>;
}

describe('rollbackPolicy', () => {
  it('restores a Deployment’s template to the values before the change, rolls out, and does it once', async () => {
    const a = activities();
    const pods = await createDeployment(f, 'web', 2, { tier, cpu: { request: '500m', limit: '1' } });
    const original = resourcesOf((await deployment('web')).spec!.template.spec);
    const op = `${f.id}-web-1`;
    const applied = await a.applyPolicy(applyInput(f, 'cpu_scale_up', pods[0]!.metadata!.name!, 1.5, op));
    expect((await a.verifyPolicy({ applied })).ok).toBe(true);
    const changed = await deployment('web');
    expect(record(changed.metadata)).toMatchObject({
      id: op,
      previous: [{ container: 'app', requests: '500m', limits: '1' }],
    });

    const undone = await a.rollbackPolicy(undoInput(applied, op));
    expect(undone).toMatchObject({
      rolledBack: true,
      alreadyRolledBack: false,
      changes: [
        { path: 'container app requests.cpu', from: '750m', to: '500m' },
        { path: 'container app limits.cpu', from: '1500m', to: '1' },
      ],
    });
    expect(undone.summary).toContain(`rolled back cpu_scale_up on Deployment ${f.namespace}/web`);
    const check = await a.verifyPolicy({ applied: { ...applied, expectation: undone.expectation } });
    expect(check).toMatchObject({ ok: true });
    // By effect: the template and every running pod are back at the original values.
    const restored = await deployment('web');
    expect(resourcesOf(restored.spec!.template.spec)).toEqual(original);
    expect(restored.metadata!.generation).toBe(changed.metadata!.generation! + 1);
    expect(record(restored.metadata)).toMatchObject({ id: `${op}/rollback`, policy: 'rollback', undoes: op });
    for (const pod of await readyPodsOf(f, 'app=web', 2)) expect(resourcesOf(pod.spec)).toEqual(original);

    // A retry of the same rollback (a worker killed after the write) changes nothing.
    const again = await a.rollbackPolicy(undoInput(applied, op));
    expect(again).toMatchObject({ rolledBack: true, alreadyRolledBack: true, changes: [] });
    expect((await deployment('web')).metadata!.generation).toBe(restored.metadata!.generation);
  });

  it('restores from the record even when the apply was retried and reported no changes', async () => {
    const a = activities();
    const pods = await createDeployment(f, 'retried', 1, { tier, memory: { request: '100Mi', limit: '200Mi' } });
    const op = `${f.id}-retried-1`;
    const input = applyInput(f, 'memory_scale_up', pods[0]!.metadata!.name!, 2, op);
    await a.applyPolicy(input);
    const now = (await readyPodsOf(f, 'app=retried', 1))[0]!;
    const retried = await a.applyPolicy({ ...input, target: { ...input.target, pod: now.metadata!.name! } });
    expect(retried).toMatchObject({ noop: true, changes: [] });
    const undone = await a.rollbackPolicy(undoInput(retried, op));
    expect(undone.rolledBack).toBe(true);
    expect(resourcesOf((await deployment('retried')).spec!.template.spec)).toEqual({
      requests: { memory: '100Mi' },
      limits: { memory: '200Mi' },
    });
  });

  it('never undoes over a later change, and writes nothing then', async () => {
    const a = activities();
    const pods = await createDeployment(f, 'later', 1, { tier, cpu: { request: '100m', limit: '200m' } });
    const first = await a.applyPolicy(applyInput(f, 'cpu_scale_up', pods[0]!.metadata!.name!, 1.5, `${f.id}-later-1`));
    const pod = (await readyPodsOf(f, 'app=later', 1))[0]!.metadata!.name!;
    await a.applyPolicy(applyInput(f, 'cpu_scale_up', pod, 2, `${f.id}-later-2`));
    const before = await deployment('later');
    const undone = await a.rollbackPolicy(undoInput(first, `${f.id}-later-1`));
    expect(undone).toMatchObject({ rolledBack: false, alreadyRolledBack: false });
    expect(undone.reason).toBe(`changed since by cpu_scale_up (${f.id}-later-2); cpu_scale_up is not undone over it`);
    // Nothing written: the same generation and the later operation's record (the controller may update status).
    const after = await deployment('later');
    expect(after.metadata!.generation).toBe(before.metadata!.generation);
    expect(record(after.metadata)).toMatchObject({ id: `${f.id}-later-2` });
    expect(resourcesOf(after.spec!.template.spec)).toEqual(resourcesOf(before.spec!.template.spec));
  });

  it('restores a replica count', async () => {
    const a = activities();
    const pods = await createDeployment(f, 'api', 2, { tier, cpu: { request: '10m' } });
    const op = `${f.id}-api-up`;
    const up = await a.applyPolicy(applyInput(f, 'replica_scale_up', pods[0]!.metadata!.name!, 2, op));
    expect(up.changes).toEqual([{ path: 'spec.replicas', from: '2', to: '4' }]);
    const undone = await a.rollbackPolicy(undoInput(up, op));
    expect(undone).toMatchObject({ rolledBack: true, changes: [{ path: 'spec.replicas', from: '4', to: '2' }] });
    expect((await a.verifyPolicy({ applied: { ...up, expectation: undone.expectation } })).ok).toBe(true);
    expect((await deployment('api')).spec!.replicas).toBe(2);
    expect(await readyPodsOf(f, 'app=api', 2)).toHaveLength(2);
  });

  it('recreates a standalone pod with its old values; a retry after the delete finishes from the checkpoint', async () => {
    const a = activities(false);
    const original = await createPod(f, 'solo', { tier, cpu: { request: '100m', limit: '200m' } });
    const op = `${f.id}-solo-1`;
    const applied = await a.applyPolicy(applyInput(f, 'cpu_scale_up', 'solo', 2, op));
    expect(applied.summary).toContain('(pod recreated)');
    await waitPodReady(f, 'solo');

    // Run as an activity: the checkpoint (the manifest to create) rides on the heartbeat before the delete.
    const heartbeats: unknown[] = [];
    const env = new MockActivityEnvironment({ activityId: `${op}/rollback` });
    env.on('heartbeat', (d: unknown) => heartbeats.push(d));
    type Undo = (i: RollbackPolicyInput) => Promise<RollbackPolicyResult>;
    const undo: Undo = (i) => a.rollbackPolicy(i);
    const undone = await env.run<[RollbackPolicyInput], RollbackPolicyResult, Undo>(undo, undoInput(applied, op));
    expect(undone.summary).toContain('(pod recreated)');
    expect((await a.verifyPolicy({ applied: { ...applied, expectation: undone.expectation } })).ok).toBe(true);
    const now = await waitPodReady(f, 'solo');
    expect(now.metadata!.uid).not.toBe(original.metadata!.uid);
    expect(resourcesOf(now.spec)).toEqual({ requests: { cpu: '100m' }, limits: { cpu: '200m' } });
    expect(heartbeats[0]).toMatchObject({ operationId: `${op}/rollback`, kind: 'Pod', name: 'solo' });

    // The worker died after the delete: the pod is gone, the retry creates it from the checkpoint, once.
    await f.clients.core.deleteNamespacedPod({ name: 'solo', namespace: f.namespace, gracePeriodSeconds: 0 });
    await new Promise((r) => setTimeout(r, 1_000));
    const retry = new MockActivityEnvironment({
      activityId: `${op}/rollback`,
      attempt: 2,
      heartbeatDetails: heartbeats[0],
    });
    const finished = await retry.run<[RollbackPolicyInput], RollbackPolicyResult, Undo>(undo, undoInput(applied, op));
    expect(finished.rolledBack).toBe(true);
    const recreated = await waitPodReady(f, 'solo');
    expect(resourcesOf(recreated.spec)).toEqual({ requests: { cpu: '100m' }, limits: { cpu: '200m' } });
    expect(record(recreated.metadata)).toMatchObject({ id: `${op}/rollback`, undoes: op });
  });

  it('recreates a Job with its old values', async () => {
    const a = activities();
    const pod = await createJob(f, 'batch', { tier, cpu: { request: '1', limit: '2' } });
    const op = `${f.id}-batch-1`;
    const applied = await a.applyPolicy(applyInput(f, 'cpu_scale_up', pod.metadata!.name!, 1.5, op));
    const undone = await a.rollbackPolicy(undoInput(applied, op));
    expect(undone.summary).toContain('(Job recreated)');
    const job = await f.clients.batch.readNamespacedJob({ name: 'batch', namespace: f.namespace });
    expect(resourcesOf(job.spec!.template.spec)).toEqual({ requests: { cpu: '1' }, limits: { cpu: '2' } });
    expect((await a.verifyPolicy({ applied: { ...applied, expectation: undone.expectation } })).ok).toBe(true);
  });

  it('refuses a malformed input and a protected namespace', async () => {
    const a = activities();
    await expect(a.rollbackPolicy({} as RollbackPolicyInput)).rejects.toMatchObject({ type: 'InvalidInput' });
    const applied: ApplyPolicyResult = {
      policy: 'cpu_scale_up',
      magnitude: 1.5,
      summary: '',
      changes: [],
      noop: false,
      dryRun: false,
      expectation: {
        kind: 'rollout',
        workload: { kind: 'Deployment', namespace: 'kube-system', name: 'x' },
        generation: 1,
      },
    };
    await expect(a.rollbackPolicy(undoInput(applied, 'op'))).rejects.toMatchObject({ type: 'GuardRefused' });
  });
});
