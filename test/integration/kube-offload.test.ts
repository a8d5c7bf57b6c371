/**
 * task_offloading end to end on the local stack (D3.6 3.1.2, Figure 11): node load comes from the real
 * Prometheus (KWOK's simulated kubelet metrics, driven by pod usage annotations) over the apiserver's
 * allocatable, and the workload lands on the least-loaded eligible node of the wanted tier — a Job is
 * recreated with node affinity, a Deployment's template is pinned, a standalone pod is recreated.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createKubeActivities, prometheusNodeUsage, type RemediationInput } from '../../activities/kube';
import type { NodeLoad } from '../../src/domain/node-load';
import type { ActionResult } from '../../src/kube/types';
import { nodeLoads } from '../../src/metrics/gather';
import { PrometheusClient } from '../../src/metrics/prometheus';
import { DEFAULT_METRICS_CONFIG } from '../../src/metrics/queries';
import {
  actuatorFixture,
  addNode,
  createDeployment,
  createJob,
  createPod,
  merge,
  readyPodsOf,
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

function activities() {
  return createKubeActivities({
    kubeConfig: f.kc,
    clients: f.clients,
    talonNamespace: f.talonNamespace,
    nodeUsage: prometheusNodeUsage(prometheus, DEFAULT_METRICS_CONFIG, RANGE_SECONDS),
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
  const input: RemediationInput = {
    policy: 'task_offloading',
    magnitude: 0.5,
    namespace: f.namespace,
    pod: pod.metadata!.name!,
    tier: cloud,
  };
  const heartbeats: unknown[] = [];
  const first = new MockActivityEnvironment({ activityId: `${f.id}-yolo` });
  first.on('heartbeat', (d: unknown) => heartbeats.push(d));
  const apply = (i: RemediationInput) => a.applyRemediation(i);
  const r = await first.run<[RemediationInput], ActionResult, typeof apply>(apply, input);
  expect(r).toMatchObject({
    mechanism: 'recreate',
    target: `Job ${f.namespace}/yolo-performance`,
    changes: [{ path: 'node', from: edgeNode, to: cloudB }],
    expect: { kind: 'job', node: cloudB },
  });
  expect(r.summary).toContain(`offloaded to ${cloudB} (load`);
  const v = await a.verifyAction({ expect: r.expect, timeoutMs: 60_000 });
  expect(v).toMatchObject({ verified: true });
  expect(v.detail).toContain(`on ${cloudB}`);

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
  const again = await retry.run<[RemediationInput], ActionResult, typeof apply>(apply, input);
  expect(again).toMatchObject({ alreadyApplied: true, applied: false });
  expect(
    (await f.clients.batch.readNamespacedJob({ name: 'yolo-performance', namespace: f.namespace })).metadata?.uid,
  ).toBe(job.metadata?.uid);
});

it('a Deployment is pinned by its template and rolls out onto the chosen node; a standalone pod is recreated there', async () => {
  const a = activities();
  const pods = await createDeployment(f, 'svc', 2, { tier: edge, cpu: { request: '100m' } });
  const r = await a.offloadTask({
    namespace: f.namespace,
    pod: pods[0]!.metadata!.name!,
    tier: cloud,
    operationId: `${f.id}-svc`,
  });
  expect(r).toMatchObject({ mechanism: 'rolling-update', expect: { kind: 'rollout', node: cloudB } });
  const v = await a.verifyAction({ expect: r.expect, timeoutMs: 90_000 });
  expect(v).toMatchObject({ verified: true });
  const now = await readyPodsOf(f, 'app=svc', 2);
  expect(now.map((p) => p.spec?.nodeName)).toEqual([cloudB, cloudB]);

  await createPod(f, 'solo', { tier: edge, cpu: { request: '100m' } });
  const s = await a.offloadTask({ namespace: f.namespace, pod: 'solo', tier: cloud, operationId: `${f.id}-solo` });
  expect(s).toMatchObject({ mechanism: 'recreate', expect: { kind: 'pod', node: cloudB } });
  expect((await a.verifyAction({ expect: s.expect, timeoutMs: 60_000 })).verified).toBe(true);
});

it('follows the load: when the idle node gets busy, the next offload goes to the now least-loaded one', async () => {
  await createPod(f, 'hog-b', { node: cloudB, usageCpu: '15', usageMemory: '60Gi' });
  await prometheusSees([cloudB, cloudA, cloudC]);
  const a = activities();
  await createPod(f, 'late', { tier: edge, cpu: { request: '100m' } });
  const r = await a.offloadTask({ namespace: f.namespace, pod: 'late', tier: cloud, operationId: `${f.id}-late` });
  expect(r.expect).toMatchObject({ kind: 'pod', node: cloudC });
  expect((await a.verifyAction({ expect: r.expect, timeoutMs: 60_000 })).verified).toBe(true);
});

it('skips cordoned nodes, and with no eligible node fails non-retryably saying why', async () => {
  const a = activities();
  await f.clients.core.patchNode({ name: cloudC, body: { spec: { unschedulable: true } } }, merge);
  try {
    await createPod(f, 'nowhere', { tier: edge });
    const err = await a
      .offloadTask({ namespace: f.namespace, pod: 'nowhere', tier: cloud, maxLoad: 0.5, operationId: `${f.id}-none` })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    const failure = err as ApplicationFailure;
    expect(failure).toMatchObject({ type: 'NoEligibleNodeError', nonRetryable: true });
    expect(failure.message).toContain(`no eligible node in tier ${cloud}`);
    expect(failure.message).toContain(`${cloudC}: cordoned`);
    expect(failure.message).toContain(`${cloudA}: load above 0.5`);
    const pod = await f.clients.core.readNamespacedPod({ name: 'nowhere', namespace: f.namespace });
    expect(pod.spec?.nodeName).toBe(edgeNode);
  } finally {
    await f.clients.core.patchNode({ name: cloudC, body: { spec: { unschedulable: false } } }, merge);
  }
});
