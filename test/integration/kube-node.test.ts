/**
 * node_overload's building blocks (D3.6 Rule 2) on the real apiserver, through the activities the worker
 * registers (taintNode, heaviestPod, evictPod, untaintNode, verifyPolicy): the taint is added and removed once
 * however often a step is retried, the real scheduler honours it, the Eviction API evicts only the chosen
 * instance and a PodDisruptionBudget blocks an eviction, which is reported, never forced.
 */
import { PolicyV1Api } from '@kubernetes/client-node';
import {
  actuatorFixture,
  addNode,
  appliedWith,
  createDaemonSet,
  createDeployment,
  createPod,
  failureOf,
  readyPodsOf,
  remediationActivities,
  waitUntil,
  type ActuatorFixture,
  type RemediationOverrides,
} from '../support/kube-actuator';

jest.setTimeout(120_000);

let f: ActuatorFixture;
let tier: string;
let nodeA: string;
let nodeB: string;

beforeAll(async () => {
  f = await actuatorFixture('kube-it-node');
  tier = `${f.id}-t`;
  nodeA = await addNode(f, 'a', tier);
  nodeB = await addNode(f, 'b', tier);
});

afterAll(async () => {
  await f.cleanup();
});

const activities = (maxWrites = 100, overrides: RemediationOverrides = {}) =>
  remediationActivities(f, {
    verifyTimeoutMs: 30_000,
    ...overrides,
    guards: { writeBudget: { maxWrites, windowSeconds: 600 } },
  });
const step = (node: string, operationId: string) => ({ node, operationId, dryRun: false });

async function taintsOf(node: string): Promise<string[]> {
  const n = await f.clients.core.readNode({ name: node });
  return (n.spec?.taints ?? []).map((t) => `${t.key}=${t.value ?? ''}:${t.effect}`);
}

it('taints once, the scheduler avoids the node, untaints once; untaint is never stopped by the budget', async () => {
  const a = activities(1);
  const first = await a.taintNode(step(nodeA, `${f.id}-t1`));
  expect(first).toMatchObject({
    applied: true,
    mechanism: 'taint',
    changes: [{ path: 'taint talon.io/overloaded', to: 'true:NoSchedule' }],
    expect: { kind: 'taint', node: nodeA, present: true },
  });
  expect(await a.verifyPolicy(appliedWith(first))).toMatchObject({ ok: true });
  // A retry, and a second workflow asking for the same taint, change nothing.
  expect((await a.taintNode(step(nodeA, `${f.id}-t1`))).alreadyApplied).toBe(true);
  expect((await a.taintNode(step(nodeA, `${f.id}-t2`))).alreadyApplied).toBe(true);
  expect(await taintsOf(nodeA)).toEqual([
    `talon.io/test-run=${f.id}:NoSchedule`,
    'talon.io/overloaded=true:NoSchedule',
  ]);

  // The real scheduler honours it: three new pods all land on the other node.
  await createDeployment(f, 'spread', 3, { tier, cpu: { request: '10m' } });
  const pods = await readyPodsOf(f, 'app=spread', 3);
  expect(pods.map((p) => p.spec?.nodeName)).toEqual([nodeB, nodeB, nodeB]);

  // The budget of one cluster-scoped write is spent by the taint; the untaint still goes through.
  const blocked = await failureOf(a.taintNode(step(nodeB, `${f.id}-t3`)));
  expect(blocked).toMatchObject({ type: 'GuardRefused', nonRetryable: true });
  expect(blocked.details?.[0]).toBe('write_budget');
  const off = await a.untaintNode(step(nodeA, `${f.id}-u1`));
  expect(off).toMatchObject({ applied: true, mechanism: 'untaint', expect: { present: false } });
  expect(await a.verifyPolicy(appliedWith(off))).toMatchObject({ ok: true });
  expect((await a.untaintNode(step(nodeA, `${f.id}-u1`))).alreadyApplied).toBe(true);
  expect(await taintsOf(nodeA)).toEqual([`talon.io/test-run=${f.id}:NoSchedule`]);
});

it('a taint verification that does not hold says what the node carries', async () => {
  const v = await activities(100, { verifyTimeoutMs: 500 }).verifyPolicy(
    appliedWith({ kind: 'taint', node: nodeB, key: 'talon.io/overloaded', effect: 'NoSchedule', present: true }),
  );
  expect(v.ok).toBe(false);
  expect(v.observed).toContain('does not carry talon.io/overloaded:NoSchedule');
});

it('evicts the chosen instance through the Eviction API; a second eviction finds it gone', async () => {
  const a = activities();
  const [pod] = await createDeployment(f, 'victim', 1, { tier, cpu: { request: '10m' } });
  const name = pod!.metadata!.name!;
  const uid = pod!.metadata!.uid!;
  const evict = { namespace: f.namespace, pod: name, uid, operationId: `${f.id}-e1`, dryRun: false };
  const r = await a.evictPod(evict);
  expect(r).toMatchObject({ outcome: 'evicted', applied: true, expect: { kind: 'evicted', uid } });
  expect(await a.verifyPolicy(appliedWith(r))).toMatchObject({ ok: true });
  const again = await a.evictPod(evict);
  expect(again).toMatchObject({ outcome: 'already-gone', applied: false });
  // The Deployment replaced it; the replacement was not touched.
  const [replacement] = await readyPodsOf(f, 'app=victim', 1);
  expect(replacement!.metadata!.uid).not.toBe(uid);
});

it('a PodDisruptionBudget blocks the eviction: reported as blocked, the pod stays', async () => {
  const a = activities();
  const [pod] = await createDeployment(f, 'guarded', 1, { tier, cpu: { request: '10m' } });
  const policy = f.kc.makeApiClient(PolicyV1Api);
  await policy.createNamespacedPodDisruptionBudget({
    namespace: f.namespace,
    body: { metadata: { name: 'keep-one' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'guarded' } } } },
  });
  await waitUntil('PDB status', 30_000, async () => {
    const pdb = await policy.readNamespacedPodDisruptionBudget({ name: 'keep-one', namespace: f.namespace });
    return pdb.status?.observedGeneration && pdb.status.expectedPods === 1 ? pdb : undefined;
  });
  const r = await a.evictPod({
    namespace: f.namespace,
    pod: pod!.metadata!.name!,
    uid: pod!.metadata!.uid!,
    operationId: `${f.id}-pdb`,
    dryRun: false,
  });
  expect(r).toMatchObject({ outcome: 'blocked', applied: false, expect: { kind: 'none' } });
  expect(r.blockedBy).toContain('disruption budget');
  expect(r.summary).toContain('blocked');
  const still = await f.clients.core.readNamespacedPod({ name: pod!.metadata!.name!, namespace: f.namespace });
  expect(still.metadata?.uid).toBe(pod!.metadata!.uid);
  expect(still.metadata?.deletionTimestamp).toBeUndefined();
});

it('chooses the heaviest evictable pod: by usage when known, else by CPU requests; never a DaemonSet pod', async () => {
  const a = activities();
  const heavy = await createPod(f, 'heavy', { node: nodeA, cpu: { request: '900m' } });
  await createPod(f, 'light', { node: nodeA, cpu: { request: '100m' } });
  await createDaemonSet(f, 'agent', 2, { cpu: { request: '4' } });
  const byRequests = await a.heaviestPod({ node: nodeA });
  expect(byRequests).toMatchObject({
    namespace: f.namespace,
    pod: 'heavy',
    uid: heavy.metadata?.uid,
    basis: 'requests',
  });
  expect(byRequests?.cpuCores).toBeCloseTo(0.9);

  const withUsage = activities(100, {
    podUsage: async () => [
      { namespace: f.namespace, pod: 'light', cpuCores: 2.5 },
      { namespace: f.namespace, pod: 'heavy', cpuCores: 0.2 },
    ],
  });
  expect(await withUsage.heaviestPod({ node: nodeA })).toMatchObject({
    pod: 'light',
    basis: 'usage',
    cpuCores: 2.5,
  });
  // Prometheus down: an overloaded node is not left waiting; CPU requests decide.
  const blind = activities(100, {
    podUsage: async () => {
      throw new Error('Prometheus unavailable');
    },
  });
  expect(await blind.heaviestPod({ node: nodeA })).toMatchObject({ pod: 'heavy', basis: 'requests' });
  expect(await a.heaviestPod({ node: 'no-such-node' })).toBeNull();
});
