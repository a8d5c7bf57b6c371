/**
 * task_offloading end to end on the local stack (D3.6 3.1.2, Figure 11), through the activities the worker
 * registers: node load comes from the real Prometheus (KWOK's simulated kubelet metrics, driven by pod usage
 * annotations) over the apiserver's allocatable, and the workload lands on the least-loaded eligible node of
 * the wanted tier — a Job is recreated with node affinity, a Deployment moves the magnitude's share of its
 * replicas (a pinned offload ReplicaSet; released later), a standalone pod is recreated.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import type { NodeLoad } from '../../src/domain/node-load';
import type { ApplyPolicyInput, ApplyPolicyResult } from '../../src/domain/remediation';
import { nodeLoads } from '../../src/metrics/gather';
import { prometheusNodeUsage } from '../../src/metrics/node-usage';
import { PrometheusClient } from '../../src/metrics/prometheus';
import { DEFAULT_METRICS_CONFIG } from '../../src/metrics/queries';
import {
  actuatorFixture,
  addNode,
  applyInput,
  createDeployment,
  createJob,
  createPod,
  createStatefulSet,
  failureOf,
  merge,
  readyPodsOf,
  remediationActivities,
  waitUntil,
  type ActuatorFixture,
} from '../support/kube-actuator';
import { localStack } from '../support/stack';

jest.setTimeout(240_000);

const RANGE_SECONDS = 20;
let f: ActuatorFixture;
let edge: string;
let cloud: string;
let edgeNode: string;
let cloudA: string;
let cloudB: string;
let cloudC: string;
const prometheus = new PrometheusClient({ url: localStack().prometheusUrl });

/** The worker's activities, offloading into the cloud tier with node usage from the real Prometheus. */
function activities() {
  return remediationActivities(f, {
    nodeUsage: prometheusNodeUsage(prometheus, DEFAULT_METRICS_CONFIG, RANGE_SECONDS),
    offloadTier: cloud,
    verifyTimeoutMs: 90_000,
  });
}

/** Waits until Prometheus sees each node's CPU usage in the given order (most loaded first). */
async function prometheusSees(order: string[]): Promise<NodeLoad[]> {
  return waitUntil(`Prometheus to rank ${order.join(' > ')}`, 120_000, async () => {
    const loads = await nodeLoads(prometheus, DEFAULT_METRICS_CONFIG, RANGE_SECONDS);
    const cpu = order.map((n) => loads.find((l) => l.node === n)?.cpuCores ?? -1);
    const ordered = cpu.every((c, i) => c >= 0 && (i === 0 || (cpu[i - 1] ?? 0) > c + 0.2));
    return ordered ? loads : undefined;
  });
}

beforeAll(async () => {
  f = await actuatorFixture('kube-it-off');
  edge = `${f.id}-edge`;
  cloud = `${f.id}-cloud`;
  edgeNode = await addNode(f, 'e1', edge, { cpu: '4', memory: '8Gi' });
  cloudA = await addNode(f, 'c-a', cloud);
  cloudB = await addNode(f, 'c-b', cloud);
  cloudC = await addNode(f, 'c-c', cloud);
  // Load the cloud tier: c-a busy, c-c half busy, c-b nearly idle. Ties would go to c-a (name order).
  await createPod(f, 'hog-a', { node: cloudA, usageCpu: '12', usageMemory: '40Gi' });
  await createPod(f, 'hog-c', { node: cloudC, usageCpu: '6', usageMemory: '20Gi' });
  await createPod(f, 'idle-b', { node: cloudB, usageCpu: '500m', usageMemory: '1Gi' });
  await prometheusSees([cloudA, cloudC, cloudB]);
});

afterAll(async () => {
  await f.cleanup();
});

it('a Job on the edge is recreated on the least-loaded cloud node with node affinity (Figure 11)', async () => {
  const a = activities();
  const pod = await createJob(f, 'yolo-performance', { tier: edge, cpu: { request: '500m' }, usageCpu: '400m' });
  expect(pod.spec?.nodeName).toBe(edgeNode);
  const oldJob = await f.clients.batch.readNamespacedJob({ name: 'yolo-performance', namespace: f.namespace });
  // Run as a real activity: the heartbeat checkpoint is what a retry gets back.
  const input = applyInput(f, 'task_offloading', pod.metadata!.name!, 0.5, `${f.id}-yolo`);
  const heartbeats: unknown[] = [];
  const first = new MockActivityEnvironment({ activityId: `${f.id}-yolo` });
  first.on('heartbeat', (d: unknown) => heartbeats.push(d));
  type Apply = (i: ApplyPolicyInput) => Promise<ApplyPolicyResult>;
  const apply: Apply = (i) => a.applyPolicy(i);
  const r = await first.run<[ApplyPolicyInput], ApplyPolicyResult, Apply>(apply, input);
  expect(r).toMatchObject({
    changes: [{ path: 'node', from: edgeNode, to: cloudB }],
    expectation: { kind: 'job', node: cloudB },
  });
  expect(r.summary).toContain(`Job ${f.namespace}/yolo-performance offloaded to ${cloudB} (load`);
  expect(r.summary).toContain('(Job recreated with node affinity)');
  const v = await a.verifyPolicy({ applied: r });
  expect(v.ok).toBe(true);
  expect(v.observed).toContain(`on ${cloudB}`);

  const job = await f.clients.batch.readNamespacedJob({ name: 'yolo-performance', namespace: f.namespace });
  expect(job.metadata?.uid).not.toBe(oldJob.metadata?.uid);
  expect(job.metadata?.annotations?.['talon.io/offloaded-to']).toBe(cloudB);
  const spec = job.spec?.template.spec;
  expect(spec?.nodeSelector?.['talon.io/tier']).toBe(cloud);
  expect(spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms).toEqual([
    { matchFields: [{ key: 'metadata.name', operator: 'In', values: [cloudB] }] },
  ]);

  // A retry of the same activity (the original pod is gone with the old Job) finds the Job it created.
  expect(heartbeats.at(-1)).toMatchObject({ kind: 'Job', name: 'yolo-performance' });
  const retry = new MockActivityEnvironment({
    activityId: `${f.id}-yolo`,
    attempt: 2,
    heartbeatDetails: heartbeats.at(-1),
  });
  const again = await retry.run<[ApplyPolicyInput], ApplyPolicyResult, Apply>(apply, input);
  expect(again).toMatchObject({ noop: true, changes: [] });
  expect(again.summary).toMatch(/^\[already applied\] /);
  expect(
    (await f.clients.batch.readNamespacedJob({ name: 'yolo-performance', namespace: f.namespace })).metadata?.uid,
  ).toBe(job.metadata?.uid);
});

it('a Deployment moves the share the magnitude names to the chosen node, the rest stays with the scheduler; release restores it; a standalone pod is recreated there', async () => {
  const a = activities();
  const pods = await createDeployment(f, 'svc', 4, { tier: edge, cpu: { request: '100m' } });
  const r = await a.applyPolicy(applyInput(f, 'task_offloading', pods[0]!.metadata!.name!, 0.5, `${f.id}-svc`));
  expect(r.expectation).toMatchObject({
    kind: 'offload',
    node: cloudB,
    moved: 2,
    remaining: 2,
    sourceNode: edgeNode,
    sourceBefore: 4,
  });
  const replicaSet = (r.expectation as { replicaSet: string }).replicaSet;
  expect(r.changes).toEqual([
    { path: `ReplicaSet ${replicaSet} (pinned to ${cloudB}) replicas`, from: '0', to: '2' },
    { path: 'spec.replicas', from: '4', to: '2' },
  ]);
  const v = await a.verifyPolicy({ applied: r });
  expect(v).toMatchObject({ ok: true });
  expect(v.observed).toContain(
    `2 replica(s) of Deployment ${f.namespace}/svc Ready on ${cloudB}, 2 placed by the scheduler, 4→2 on ${edgeNode}`,
  );
  // The effect: two pods moved and Ready on the chosen node, two left where the scheduler put them, the
  // Deployment's own template unpinned (no rolling update of the rest).
  const all = await readyPodsOf(f, 'app=svc', 4);
  expect(all.filter((p) => p.spec?.nodeName === cloudB)).toHaveLength(2);
  expect(all.filter((p) => p.spec?.nodeName === edgeNode)).toHaveLength(2);
  const deployment = await f.clients.apps.readNamespacedDeployment({ name: 'svc', namespace: f.namespace });
  expect(deployment.spec?.template.spec?.affinity).toBeUndefined();
  const ownRs = (await f.clients.apps.listNamespacedReplicaSet({ namespace: f.namespace })).items.filter((rs) =>
    rs.metadata?.ownerReferences?.some((o) => o.controller && o.name === 'svc'),
  );
  expect(ownRs).toHaveLength(1); // no rollout of the Deployment: its pods stayed where they were
  // The same operation again (a retry) moves nothing more.
  const again = await a.applyPolicy(applyInput(f, 'task_offloading', all[0]!.metadata!.name!, 0.5, `${f.id}-svc`));
  expect(again).toMatchObject({ noop: true, changes: [], expectation: { kind: 'offload', replicaSet, moved: 2 } });

  // Has the source node recovered? Only if it stays under the threshold with the moved pods back (their CPU
  // requests here: these activities read no pod usage): 1 of 4 cores busy is 0.25 alone, 0.30 with them.
  const judged = remediationActivities(f, {
    nodeUsage: async () => [{ node: edgeNode, cpuCores: 1, memoryBytes: 0, cpuAllocatableCores: 4 }],
  });
  expect(await judged.offloadSourceRecovered({ node: edgeNode, below: 0.28 })).toMatchObject({ recovered: true });
  const withBack = await judged.offloadSourceRecovered({
    node: edgeNode,
    below: 0.28,
    returning: { namespace: f.namespace, replicaSet },
  });
  expect(withBack).toEqual({
    recovered: false,
    detail: `${edgeNode} CPU busy 0.30 with the 2 moved pod(s) back (0.20 cores by requests) ≥ 0.28`,
  });

  const released = await a.releaseOffload({
    namespace: f.namespace,
    deployment: 'svc',
    replicaSet,
    moved: 2,
    operationId: `${f.id}-svc/release`,
  });
  expect(released.changes).toEqual([
    { path: 'spec.replicas', from: '2', to: '4' },
    { path: `ReplicaSet ${replicaSet}`, from: '2', to: 'deleted' },
  ]);
  expect(await a.verifyPolicy({ applied: released })).toMatchObject({ ok: true });
  const back = await readyPodsOf(f, 'app=svc', 4);
  expect(back.every((p) => p.metadata?.labels?.['talon.io/offload'] === undefined)).toBe(true);
  await waitUntil('the offload ReplicaSet gone', 30_000, async () =>
    f.clients.apps
      .readNamespacedReplicaSet({ name: replicaSet, namespace: f.namespace })
      .then(() => undefined)
      .catch(() => true),
  );
  // Releasing twice is harmless.
  const twice = await a.releaseOffload({
    namespace: f.namespace,
    deployment: 'svc',
    replicaSet,
    moved: 2,
    operationId: `${f.id}-svc/release`,
  });
  expect(twice).toMatchObject({ noop: true, changes: [] });

  const before = await createPod(f, 'solo', { tier: edge, cpu: { request: '100m' } });
  const s = await a.applyPolicy(applyInput(f, 'task_offloading', 'solo', 0.5, `${f.id}-solo`));
  expect(s.expectation).toMatchObject({ kind: 'pod', node: cloudB });
  expect(s.summary).toContain('(pod recreated with node affinity)');
  expect((await a.verifyPolicy({ applied: s })).ok).toBe(true);
  const moved = await f.clients.core.readNamespacedPod({ name: 'solo', namespace: f.namespace });
  expect(moved.metadata?.uid).not.toBe(before.metadata?.uid);
  expect(moved.spec?.nodeName).toBe(cloudB);
});

it('a StatefulSet: a share of its replicas is refused (one template would pin them all); a share that rounds to all of them (0.9 of 3) moves it whole', async () => {
  const a = activities();
  const pods = await createStatefulSet(f, 'db', 3, { tier: edge, cpu: { request: '100m' } });
  const template = async () =>
    (await f.clients.apps.readNamespacedStatefulSet({ name: 'db', namespace: f.namespace })).spec!.template.spec!;
  const before = await template();
  const failure = await failureOf(
    a.applyPolicy(applyInput(f, 'task_offloading', pods[0]!.metadata!.name!, 0.5, `${f.id}-db-share`)),
  );
  expect(failure).toMatchObject({ type: 'UnsupportedTarget', nonRetryable: true });
  expect(failure.message).toContain('cannot offload 2 of the 3 replicas of StatefulSet');
  // Nothing was written: the template still lets the scheduler place every replica.
  expect((await template()).affinity).toEqual(before.affinity);

  const whole = await a.applyPolicy(applyInput(f, 'task_offloading', pods[0]!.metadata!.name!, 0.9, `${f.id}-db-all`));
  expect(whole.expectation).toMatchObject({ kind: 'rollout', node: expect.any(String) });
  const node = (whole.expectation as { node: string }).node;
  const pinned = (await template()).affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  expect(JSON.stringify(pinned)).toContain(node);
});

it('follows the load: when the idle node gets busy, the next offload goes to the now least-loaded one', async () => {
  await createPod(f, 'hog-b', { node: cloudB, usageCpu: '15', usageMemory: '60Gi' });
  await prometheusSees([cloudB, cloudA, cloudC]);
  const a = activities();
  await createPod(f, 'late', { tier: edge, cpu: { request: '100m' } });
  const r = await a.applyPolicy(applyInput(f, 'task_offloading', 'late', 0.5, `${f.id}-late`));
  expect(r.expectation).toMatchObject({ kind: 'pod', node: cloudC });
  expect((await a.verifyPolicy({ applied: r })).ok).toBe(true);
});

it('skips cordoned nodes, and with no eligible node fails non-retryably saying why', async () => {
  const a = activities();
  const cordon = (name: string, unschedulable: boolean) =>
    f.clients.core.patchNode({ name, body: { spec: { unschedulable } } }, merge);
  // The least-loaded cloud node (c-c since c-b got busy) is cordoned: the next one (c-a) is chosen.
  await cordon(cloudC, true);
  try {
    await createPod(f, 'detour', { tier: edge, cpu: { request: '100m' } });
    const r = await a.applyPolicy(applyInput(f, 'task_offloading', 'detour', 0.5, `${f.id}-detour`));
    expect(r.expectation).toMatchObject({ kind: 'pod', node: cloudA });
    expect(r.summary).not.toContain(`offloaded to ${cloudC}`);

    await cordon(cloudA, true);
    await cordon(cloudB, true);
    await createPod(f, 'nowhere', { tier: edge });
    const failure = await failureOf(a.applyPolicy(applyInput(f, 'task_offloading', 'nowhere', 0.5, `${f.id}-none`)));
    expect(failure).toMatchObject({ type: 'NoEligibleNode', nonRetryable: true });
    expect(failure.message).toContain(`no eligible node in tier ${cloud}`);
    for (const node of [cloudA, cloudB, cloudC]) expect(failure.message).toContain(`${node}: cordoned`);
    const pod = await f.clients.core.readNamespacedPod({ name: 'nowhere', namespace: f.namespace });
    expect(pod.spec?.nodeName).toBe(edgeNode);
  } finally {
    await Promise.all([cloudA, cloudB, cloudC].map((n) => cordon(n, false)));
  }
});
