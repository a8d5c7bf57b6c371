/**
 * A one-replica Deployment's task offload is make-before-break, on the local stack through the activities the
 * worker registers (found by the lab's chaos run: the Deployment went to 0 while the moved pod was starting,
 * and the release deleted the pinned pod before the returned one was Ready, two outages of ~15 s each).
 * The moved pod is held back the way a real cluster holds it: the chosen node has room by requests but no pod
 * slot left (allocatable pods: 1), so the scheduler leaves it Pending ("Too many pods") until a blocker pod goes.
 * A node without room by requests is never chosen at all. Judged by effect: which pods exist and are Ready.
 */
import type { V1Pod } from '@kubernetes/client-node';
import {
  actuatorFixture,
  addNode,
  applyInput,
  createDeployment,
  createPod,
  failureOf,
  readyPodsOf,
  remediationActivities,
  waitUntil,
  type ActuatorFixture,
} from '../support/kube-actuator';

jest.setTimeout(240_000);

let f: ActuatorFixture;
let edge: string;
let cloud: string;
let edgeNode: string;
let cloudNode: string;

beforeAll(async () => {
  f = await actuatorFixture('kube-it-hand');
  edge = `${f.id}-edge`;
  cloud = `${f.id}-cloud`;
  edgeNode = await addNode(f, 'e1', edge, { cpu: '2', memory: '8Gi' });
  cloudNode = await addNode(f, 'c1', cloud, { cpu: '4', memory: '8Gi', pods: '1' });
});

afterAll(async () => {
  await f.cleanup();
});

function activities(handoverTimeoutMs: { offload?: number; release?: number }) {
  return remediationActivities(f, { offloadTier: cloud, handoverTimeoutMs, verifyTimeoutMs: 60_000 });
}

const isReady = (p: V1Pod) =>
  !p.metadata?.deletionTimestamp &&
  (p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false);

async function podsOf(app: string): Promise<V1Pod[]> {
  return (await f.clients.core.listNamespacedPod({ namespace: f.namespace, labelSelector: `app=${app}` })).items;
}

/** A pod bound to a node, requesting `cpu`: on a one-slot node it leaves no room for another pod. */
async function block(name: string, node: string, cpu: string): Promise<void> {
  await createPod(f, name, { node, cpu: { request: cpu } });
}

async function unblock(name: string): Promise<void> {
  await f.clients.core.deleteNamespacedPod({ name, namespace: f.namespace, gracePeriodSeconds: 0 });
}

async function replicasOf(name: string): Promise<number | undefined> {
  return (await f.clients.apps.readNamespacedDeployment({ name, namespace: f.namespace })).spec?.replicas;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('passes over a node without room by requests: with no other, the offload fails before writing anything', async () => {
  await block('cloud-requested', cloudNode, '4');
  try {
    const [pod] = await createDeployment(f, 'full', 1, { tier: edge, cpu: { request: '500m' } });
    const failure = await failureOf(
      activities({ offload: 8_000 }).applyPolicy(
        applyInput(f, 'task_offloading', pod!.metadata!.name!, 0.5, `${f.id}-full`),
      ),
    );
    expect(failure).toMatchObject({ type: 'NoEligibleNode', nonRetryable: true });
    expect(failure.message).toContain(`${cloudNode}: no room by requests (CPU: 1 × 0.500 requested, 0.000 free)`);
    expect(await replicasOf('full')).toBe(1);
    const rs = await f.clients.apps.listNamespacedReplicaSet({
      namespace: f.namespace,
      labelSelector: 'talon.io/offload-of=full',
    });
    expect(rs.items).toHaveLength(0);
  } finally {
    await unblock('cloud-requested');
  }
});

it('withdraws an offload whose moved replica never becomes Ready: the Deployment keeps its pod, nothing is left pinned', async () => {
  await block('cloud-full', cloudNode, '100m');
  try {
    const [pod] = await createDeployment(f, 'solo', 1, { tier: edge, cpu: { request: '500m' } });
    const failure = await failureOf(
      activities({ offload: 8_000 }).applyPolicy(
        applyInput(f, 'task_offloading', pod!.metadata!.name!, 0.5, `${f.id}-solo`),
      ),
    );
    expect(failure).toMatchObject({ type: 'NoEligibleNode', nonRetryable: true });
    expect(failure.message).toContain(`0 of its 1 moved replicas were Ready on ${cloudNode} after 8s`);
    expect(failure.message).toContain('withdrawn and the Deployment keeps its 1 replicas');
    expect(await replicasOf('solo')).toBe(1);
    const serving = (await podsOf('solo')).filter(isReady);
    expect(serving.map((p) => p.metadata?.uid)).toEqual([pod!.metadata!.uid]);
    await waitUntil('the withdrawn offload ReplicaSet and its pod gone', 60_000, async () => {
      const rs = await f.clients.apps.listNamespacedReplicaSet({
        namespace: f.namespace,
        labelSelector: 'talon.io/offload-of=solo',
      });
      const pinned = (await podsOf('solo')).filter((p) => p.metadata?.labels?.['talon.io/offload']);
      return rs.items.length === 0 && pinned.length === 0 ? true : undefined;
    });
  } finally {
    await unblock('cloud-full');
  }
});

it('hands over: the Deployment gives up its pod only once the moved one is Ready, and the release deletes the pinned pod only once the returned one is', async () => {
  await block('cloud-busy', cloudNode, '100m');
  const [own] = await createDeployment(f, 'web', 1, { tier: edge, cpu: { request: '500m' } });
  const offloading = activities({ offload: 90_000 }).applyPolicy(
    applyInput(f, 'task_offloading', own!.metadata!.name!, 0.5, `${f.id}-web`),
  );
  const pinned = await waitUntil('the moved pod created, Pending', 30_000, async () =>
    (await podsOf('web')).find((p) => p.metadata?.labels?.['talon.io/offload'] && !p.spec?.nodeName),
  );
  await sleep(3_000);
  // Still Pending on a full node: the Deployment has not given its own pod up.
  expect(await replicasOf('web')).toBe(1);
  expect((await podsOf('web')).filter(isReady).map((p) => p.metadata?.uid)).toEqual([own!.metadata!.uid]);
  await unblock('cloud-busy');
  const applied = await offloading;
  expect(applied.changes).toEqual([
    { path: expect.stringContaining(`(pinned to ${cloudNode}) replicas`), from: '0', to: '1' },
    { path: 'spec.replicas', from: '1', to: '0' },
  ]);
  const [moved] = await readyPodsOf(f, 'app=web', 1);
  expect(moved!.metadata?.name).toBe(pinned.metadata?.name);
  expect(moved!.spec?.nodeName).toBe(cloudNode);

  // The release: the returned replica cannot land while the edge node is full.
  await block('edge-full', edgeNode, '2');
  const replicaSet = (applied.expectation as { replicaSet: string }).replicaSet;
  const release = {
    namespace: f.namespace,
    deployment: 'web',
    replicaSet,
    moved: 1,
    operationId: `${f.id}-web/release`,
  };
  const early = await failureOf(activities({ release: 5_000 }).releaseOffload(release));
  expect(early).toMatchObject({ type: 'KubeUnavailableError', nonRetryable: false });
  expect(early.message).toContain(`the offload ReplicaSet ${replicaSet} keeps serving until it does`);
  expect(await replicasOf('web')).toBe(1);
  expect((await podsOf('web')).filter(isReady).map((p) => p.metadata?.name)).toEqual([moved!.metadata!.name]);
  // The retry (same operation) gives nothing back twice and deletes the pinned pod once the returned one is Ready.
  const retry = activities({ release: 60_000 }).releaseOffload(release);
  await sleep(2_000);
  expect((await podsOf('web')).filter(isReady).map((p) => p.metadata?.name)).toEqual([moved!.metadata!.name]);
  await unblock('edge-full');
  const released = await retry;
  expect(released.changes).toEqual([{ path: `ReplicaSet ${replicaSet}`, from: '1', to: 'deleted' }]);
  expect(await replicasOf('web')).toBe(1);
  const [back] = await readyPodsOf(f, 'app=web', 1);
  expect(back!.metadata?.labels?.['talon.io/offload']).toBeUndefined();
  expect(back!.spec?.nodeName).toBe(edgeNode);
});
