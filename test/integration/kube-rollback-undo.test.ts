/**
 * Undoing task offloading, data offloading and network QoS against the real kube-apiserver of the local KWOK
 * cluster (issue 14, gap 6), through the activities the worker registers (applyPolicy, verifyPolicy,
 * rollbackPolicy, releaseOffload): each change is restored to the snapshot its apply recorded — judged by the
 * object (its annotations, node constraints and replica count equal to the ones before the change; only Talon's
 * own operation record differs), once however often the rollback is repeated, never over someone else's change,
 * and a change recorded by older code (without the snapshot) is left alone with the reason.
 */
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { createRollbackActivities } from '../../activities/rollback';
import type { ApplyPolicyResult } from '../../src/domain/remediation';
import type { RollbackPolicyInput } from '../../src/domain/rollback';
import {
  actuatorFixture,
  addNode,
  applyInput,
  createDeployment,
  createJob,
  createPod,
  createStatefulSet,
  merge,
  readyPodsOf,
  remediationActivities,
  waitPodReady,
  waitUntil,
  type ActuatorFixture,
} from '../support/kube-actuator';

jest.setTimeout(240_000);

const OPERATION = 'talon.io/operation';
let f: ActuatorFixture;
let tier: string;
let n1: string;
let n2: string;

beforeAll(async () => {
  f = await actuatorFixture('kube-it-undo2');
  tier = `${f.id}-t`;
  n1 = await addNode(f, 'n1', tier);
  n2 = await addNode(f, 'n2', tier);
});

afterAll(async () => {
  await f.cleanup();
});

function activities() {
  return {
    ...remediationActivities(f, {
      verifyTimeoutMs: 90_000,
      guards: { writeBudget: { maxWrites: 1000, windowSeconds: 60 } },
    }),
    ...createRollbackActivities({ clients: f.clients, guards: { talonNamespace: f.talonNamespace } }),
  };
}

function undoInput(applied: ApplyPolicyResult, appliedOperationId: string): RollbackPolicyInput {
  return { applied, appliedOperationId, operationId: `${appliedOperationId}/rollback`, dryRun: false };
}

/**
 * An object's annotations without Talon's operation record (the one thing a rollback leaves different). "Nothing
 * written" is judged by the annotations too (the whole map): the kubelet's status updates move a pod's
 * resourceVersion.
 */
function annotationsOf(meta: V1ObjectMeta | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(meta?.annotations ?? {}).filter(([k]) => k !== OPERATION));
}

function record(meta: V1ObjectMeta | undefined): Record<string, unknown> {
  return JSON.parse(meta?.annotations?.[OPERATION] ?? '{}') as Record<string, unknown>;
}

function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value ?? null)) as T;
}

const readPod = (name: string) => f.clients.core.readNamespacedPod({ name, namespace: f.namespace });
const readDeployment = (name: string) => f.clients.apps.readNamespacedDeployment({ name, namespace: f.namespace });
const readStatefulSet = (name: string) => f.clients.apps.readNamespacedStatefulSet({ name, namespace: f.namespace });

describe('network_qos', () => {
  it('restores the Kube-OVN rates exactly (a rate that was there back, one that was absent removed), once', async () => {
    const a = activities();
    await createPod(f, 'gw', { tier, annotations: { 'ovn.kubernetes.io/ingress_rate': '800', team: 'edge' } });
    const before = await readPod('gw');
    const op = `${f.id}-qos-1`;
    const applied = await a.applyPolicy(applyInput(f, 'network_qos', 'gw', 0.25, op));
    expect(applied.changes).toEqual([
      { path: 'annotation ovn.kubernetes.io/ingress_rate', from: '800', to: '250' },
      { path: 'annotation ovn.kubernetes.io/egress_rate', to: '250' },
    ]);
    expect(record((await readPod('gw')).metadata)).toMatchObject({
      id: op,
      previousAnnotations: { 'ovn.kubernetes.io/ingress_rate': '800', 'ovn.kubernetes.io/egress_rate': null },
    });

    const undone = await a.rollbackPolicy(undoInput(applied, op));
    expect(undone).toMatchObject({
      rolledBack: true,
      alreadyRolledBack: false,
      changes: [
        { path: 'annotation ovn.kubernetes.io/ingress_rate', from: '250', to: '800' },
        { path: 'annotation ovn.kubernetes.io/egress_rate', from: '250' },
      ],
    });
    expect((await a.verifyPolicy({ applied: { ...applied, expectation: undone.expectation } })).ok).toBe(true);
    const after = await readPod('gw');
    expect(annotationsOf(after.metadata)).toEqual(annotationsOf(before.metadata));
    expect(record(after.metadata)).toMatchObject({ id: `${op}/rollback`, policy: 'rollback', undoes: op });

    const again = await a.rollbackPolicy(undoInput(applied, op));
    expect(again).toMatchObject({ rolledBack: true, alreadyRolledBack: true, changes: [] });
    expect((await readPod('gw')).metadata!.annotations).toEqual(after.metadata!.annotations);
  });

  it('refuses when someone changed the rates after Talon, and writes nothing', async () => {
    const a = activities();
    await createPod(f, 'gw-edited', { tier });
    const op = `${f.id}-qos-2`;
    const applied = await a.applyPolicy(applyInput(f, 'network_qos', 'gw-edited', 0.5, op));
    await f.clients.core.patchNamespacedPod(
      {
        name: 'gw-edited',
        namespace: f.namespace,
        body: { metadata: { annotations: { 'ovn.kubernetes.io/egress_rate': '900' } } },
      },
      merge,
    );
    const edited = await readPod('gw-edited');
    const undone = await a.rollbackPolicy(undoInput(applied, op));
    expect(undone).toMatchObject({ rolledBack: false, alreadyRolledBack: false });
    expect(undone.reason).toBe('changed since by someone else: ovn.kubernetes.io/egress_rate is 900, not 500');
    expect((await readPod('gw-edited')).metadata!.annotations).toEqual(edited.metadata!.annotations);
  });
});

describe('data_offloading', () => {
  it('withdraws the request: the pod’s annotations as before the change, once', async () => {
    const a = activities();
    await createPod(f, 'store', { tier, annotations: { 'kwok.x-k8s.io/usage-fs-write': '100Mi' } });
    const before = await readPod('store');
    const op = `${f.id}-data-1`;
    const applied = await a.applyPolicy(applyInput(f, 'data_offloading', 'store', 0.3, op));
    expect(annotationsOf((await readPod('store')).metadata)).toMatchObject({
      'talon.io/data-offload': '0.3',
      'talon.io/data-offload-id': op,
    });

    const undone = await a.rollbackPolicy(undoInput(applied, op));
    expect(undone.rolledBack).toBe(true);
    expect(undone.changes.map((c) => c.path).sort()).toEqual([
      'annotation talon.io/data-offload',
      'annotation talon.io/data-offload-id',
      'annotation talon.io/data-offload-requested-at',
    ]);
    expect(undone.changes.every((c) => c.to === undefined)).toBe(true);
    expect((await a.verifyPolicy({ applied: { ...applied, expectation: undone.expectation } })).ok).toBe(true);
    const after = await readPod('store');
    expect(annotationsOf(after.metadata)).toEqual(annotationsOf(before.metadata));

    const again = await a.rollbackPolicy(undoInput(applied, op));
    expect(again).toMatchObject({ rolledBack: true, alreadyRolledBack: true, changes: [] });
    expect((await readPod('store')).metadata!.annotations).toEqual(after.metadata!.annotations);
  });

  it('leaves a request recorded by older code (no snapshot) alone, and says why', async () => {
    const a = activities();
    const op = `${f.id}-data-old`;
    // What the apply wrote before it recorded the annotations it replaced.
    const old = { 'talon.io/data-offload': '0.4', 'talon.io/data-offload-id': op };
    const oldRecord = JSON.stringify({ id: op, policy: 'data_offloading', at: new Date().toISOString() });
    await createPod(f, 'legacy', { tier, annotations: { ...old, [OPERATION]: oldRecord } });
    const before = await readPod('legacy');
    const applied: ApplyPolicyResult = {
      policy: 'data_offloading',
      magnitude: 0.4,
      summary: 'data offload of 40%',
      changes: [{ path: 'annotation talon.io/data-offload', to: '0.4' }],
      noop: false,
      dryRun: false,
      expectation: {
        kind: 'io-drop',
        namespace: f.namespace,
        pod: 'legacy',
        uid: before.metadata!.uid!,
        requestId: op,
        share: 0.4,
        requestedAt: Date.now() / 1000,
        minDropFraction: 0.5,
      },
    };
    const undone = await a.rollbackPolicy(undoInput(applied, op));
    expect(undone).toMatchObject({ rolledBack: false });
    expect(undone.reason).toBe(
      `${op} was applied before Talon recorded the annotations it replaced, so there is nothing to restore from`,
    );
    expect((await readPod('legacy')).metadata!.annotations).toEqual(before.metadata!.annotations);
  });
});

describe('task_offloading', () => {
  it('a Deployment’s share offload: the replicas back, the pinned ReplicaSet gone, once; its release then gives nothing back', async () => {
    const a = activities();
    const pods = await createDeployment(f, 'web', 2, { tier, cpu: { request: '100m' } });
    const before = await readDeployment('web');
    const op = `${f.id}-web-off`;
    const applied = await a.applyPolicy(applyInput(f, 'task_offloading', pods[0]!.metadata!.name!, 0.5, op));
    const offload = applied.expectation as { kind: string; replicaSet: string; moved: number };
    expect(offload).toMatchObject({ kind: 'offload', moved: 1, remaining: 1 });
    expect((await a.verifyPolicy({ applied })).ok).toBe(true);
    expect(record((await readDeployment('web')).metadata)).toMatchObject({
      id: op,
      previousReplicas: 2,
      previousAnnotations: { 'talon.io/offloaded-to': null },
    });

    const undone = await a.rollbackPolicy(undoInput(applied, op));
    expect(undone).toMatchObject({ rolledBack: true, alreadyRolledBack: false });
    expect(undone.changes).toEqual(
      expect.arrayContaining([
        { path: 'spec.replicas', from: '1', to: '2' },
        { path: `ReplicaSet ${offload.replicaSet}`, from: '1', to: 'deleted' },
      ]),
    );
    expect((await a.verifyPolicy({ applied: { ...applied, expectation: undone.expectation } })).ok).toBe(true);
    // By effect: the Deployment as before (replicas, template, annotations), all its pods its own again.
    const after = await readDeployment('web');
    expect(after.spec!.replicas).toBe(2);
    expect(plain(after.spec!.template)).toEqual(plain(before.spec!.template));
    expect(annotationsOf(after.metadata)).toEqual(annotationsOf(before.metadata));
    await waitUntil('the offload ReplicaSet and its pods gone', 60_000, async () => {
      const list = await f.clients.core.listNamespacedPod({ namespace: f.namespace, labelSelector: 'app=web' });
      return list.items.some((p) => p.metadata?.labels?.['talon.io/offload']) ? undefined : true;
    });
    expect(await readyPodsOf(f, 'app=web', 2)).toHaveLength(2);

    const again = await a.rollbackPolicy(undoInput(applied, op));
    expect(again).toMatchObject({ rolledBack: true, alreadyRolledBack: true, changes: [] });
    // The offloadRelease workflow's release, when its time comes, gives nothing back a second time.
    const released = await a.releaseOffload({
      namespace: f.namespace,
      deployment: 'web',
      replicaSet: offload.replicaSet,
      moved: offload.moved,
      operationId: `${op}/release`,
    });
    expect(released).toMatchObject({ noop: true, changes: [] });
    expect((await readDeployment('web')).spec!.replicas).toBe(2);
  });

  it('an offload its release already ended counts as rolled back, and nothing is written', async () => {
    const a = activities();
    const pods = await createDeployment(f, 'api', 2, { tier, cpu: { request: '100m' } });
    const op = `${f.id}-api-off`;
    const applied = await a.applyPolicy(applyInput(f, 'task_offloading', pods[0]!.metadata!.name!, 0.5, op));
    const offload = applied.expectation as { replicaSet: string; moved: number };
    await a.releaseOffload({
      namespace: f.namespace,
      deployment: 'api',
      replicaSet: offload.replicaSet,
      moved: offload.moved,
      operationId: `${op}/release`,
    });
    const released = await readDeployment('api');
    expect(released.spec!.replicas).toBe(2);
    const undone = await a.rollbackPolicy(undoInput(applied, op));
    expect(undone).toMatchObject({ rolledBack: true, alreadyRolledBack: true, changes: [] });
    expect(undone.summary).toContain(`was ended by its release (${op}/release) before`);
    // Nothing written: the same generation and the release's record (the controller may update the status).
    const after = await readDeployment('api');
    expect(after.metadata!.generation).toBe(released.metadata!.generation);
    expect(record(after.metadata)).toMatchObject({ id: `${op}/release`, releases: offload.replicaSet });
    expect(after.spec!.replicas).toBe(2);
  });

  it('a standalone pod’s pin: recreated with its node constraints before, once', async () => {
    const a = activities();
    await createPod(f, 'solo', { tier, node: n1 });
    const before = await readPod('solo');
    const op = `${f.id}-solo-off`;
    const applied = await a.applyPolicy(applyInput(f, 'task_offloading', 'solo', 0.5, op));
    expect(applied.expectation).toMatchObject({ kind: 'pod', node: n2 });
    const pinned = await waitPodReady(f, 'solo');
    expect(pinned.spec!.affinity).toBeDefined();

    const undone = await a.rollbackPolicy(undoInput(applied, op));
    expect(undone).toMatchObject({ rolledBack: true, alreadyRolledBack: false });
    expect(undone.summary).toContain('(pod recreated)');
    expect(undone.changes).toEqual(
      expect.arrayContaining([{ path: 'node affinity', from: `pinned to ${n2}`, to: 'none' }]),
    );
    expect((await a.verifyPolicy({ applied: { ...applied, expectation: undone.expectation } })).ok).toBe(true);
    const after = await waitPodReady(f, 'solo');
    expect(after.metadata!.uid).not.toBe(pinned.metadata!.uid);
    expect(after.spec!.affinity).toBeUndefined();
    expect(after.spec!.nodeSelector).toEqual(before.spec!.nodeSelector);
    expect(annotationsOf(after.metadata)).toEqual(annotationsOf(before.metadata));

    const again = await a.rollbackPolicy(undoInput(applied, op));
    expect(again).toMatchObject({ rolledBack: true, alreadyRolledBack: true, changes: [] });
    expect((await readPod('solo')).metadata!.uid).toBe(after.metadata!.uid);
  });

  it('a Job’s pin: the Job recreated with its node constraints before', async () => {
    const a = activities();
    const pod = await createJob(f, 'batch', { tier });
    const before = await f.clients.batch.readNamespacedJob({ name: 'batch', namespace: f.namespace });
    const op = `${f.id}-batch-off`;
    const applied = await a.applyPolicy(applyInput(f, 'task_offloading', pod.metadata!.name!, 0.5, op));
    expect(applied.expectation).toMatchObject({ kind: 'job' });
    const undone = await a.rollbackPolicy(undoInput(applied, op));
    expect(undone).toMatchObject({ rolledBack: true });
    expect(undone.summary).toContain('(Job recreated)');
    const job = await f.clients.batch.readNamespacedJob({ name: 'batch', namespace: f.namespace });
    expect(job.spec!.template.spec!.affinity).toBeUndefined();
    expect(job.spec!.template.spec!.nodeSelector).toEqual(before.spec!.template.spec!.nodeSelector);
    expect(annotationsOf(job.metadata)).toEqual(annotationsOf(before.metadata));
    expect((await a.verifyPolicy({ applied: { ...applied, expectation: undone.expectation } })).ok).toBe(true);
    const again = await a.rollbackPolicy(undoInput(applied, op));
    expect(again).toMatchObject({ rolledBack: true, alreadyRolledBack: true });
  });

  it('a StatefulSet’s pinned template: refused while someone’s edit is there, restored exactly once it is gone', async () => {
    const a = activities();
    const preferred = [
      { weight: 5, preference: { matchExpressions: [{ key: 'talon.io/tier', operator: 'In', values: [tier] }] } },
    ];
    const pods = await createStatefulSet(f, 'db', 1, { tier });
    // The template's own affinity (a preference) must come back as it was, around the pin.
    await f.clients.apps.patchNamespacedStatefulSet(
      {
        name: 'db',
        namespace: f.namespace,
        body: {
          spec: {
            template: {
              spec: { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: preferred } } },
            },
          },
        },
      },
      merge,
    );
    await waitUntil('the StatefulSet rolled out', 90_000, async () => {
      const s = await readStatefulSet('db');
      return s.status?.updateRevision === s.status?.currentRevision && s.status?.readyReplicas === 1 ? true : undefined;
    });
    const before = await readStatefulSet('db');
    const pod = (await readyPodsOf(f, 'app=db', 1))[0] ?? pods[0]!;
    const op = `${f.id}-db-off`;
    const applied = await a.applyPolicy(applyInput(f, 'task_offloading', pod.metadata!.name!, 0.5, op));
    expect(applied.expectation).toMatchObject({ kind: 'rollout' });
    expect((await a.verifyPolicy({ applied })).ok).toBe(true);

    // Someone edits the pinned template's node constraints (its preference): the rollback must not write over it.
    const edit = (terms: typeof preferred) =>
      f.clients.apps.patchNamespacedStatefulSet(
        {
          name: 'db',
          namespace: f.namespace,
          body: {
            spec: {
              template: {
                spec: { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: terms } } },
              },
            },
          },
        },
        merge,
      );
    await edit([{ ...preferred[0]!, weight: 50 }]);
    const edited = await readStatefulSet('db');
    const refused = await a.rollbackPolicy(undoInput(applied, op));
    expect(refused).toMatchObject({ rolledBack: false });
    expect(refused.reason).toBe(
      'changed since by someone else: the node constraints are not the ones task_offloading left',
    );
    expect((await readStatefulSet('db')).metadata!.generation).toBe(edited.metadata!.generation);
    await edit(preferred);

    const undone = await a.rollbackPolicy(undoInput(applied, op));
    expect(undone).toMatchObject({ rolledBack: true, alreadyRolledBack: false });
    expect((await a.verifyPolicy({ applied: { ...applied, expectation: undone.expectation } })).ok).toBe(true);
    const after = await readStatefulSet('db');
    expect(plain(after.spec!.template.spec!.affinity)).toEqual(plain(before.spec!.template.spec!.affinity));
    expect(after.spec!.template.spec!.nodeSelector).toEqual(before.spec!.template.spec!.nodeSelector);
    expect(annotationsOf(after.metadata)).toEqual(annotationsOf(before.metadata));
    const pinnedTerms = (await readyPodsOf(f, 'app=db', 1))[0]!.spec!.affinity?.nodeAffinity
      ?.requiredDuringSchedulingIgnoredDuringExecution;
    expect(pinnedTerms).toBeUndefined();

    const again = await a.rollbackPolicy(undoInput(applied, op));
    expect(again).toMatchObject({ rolledBack: true, alreadyRolledBack: true, changes: [] });
    expect((await readStatefulSet('db')).metadata!.generation).toBe(after.metadata!.generation);
  });
});

it('a policy that changes no specification still has no automatic undo, and says so', async () => {
  const a = activities();
  await createPod(f, 'restarted', { tier });
  const pod = await readPod('restarted');
  const applied: ApplyPolicyResult = {
    policy: 'container_restart',
    magnitude: 1,
    summary: 'restart',
    changes: [],
    noop: false,
    dryRun: false,
    expectation: { kind: 'restarted', namespace: f.namespace, pod: 'restarted', oldUid: pod.metadata!.uid! },
  };
  const undone = await a.rollbackPolicy(undoInput(applied, `${f.id}-restart`));
  expect(undone).toMatchObject({ rolledBack: false, reason: 'container_restart has no automatic undo' });
  expect((await readPod('restarted')).metadata!.annotations).toEqual(pod.metadata!.annotations);
});
