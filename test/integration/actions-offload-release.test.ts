/**
 * Task offloading in the running system: the workflow applies it (the alert names the policy), the share of
 * the Deployment lands on another node, and the offloadRelease workflow the apply started gives the replicas
 * back to the scheduler — once the source node has recovered, or at the time limit at the latest. Judged by
 * the pods: where they run and that the Deployment is whole again.
 */
import type { OffloadReleaseResult } from '../../src/contracts/offload-release';
import { offloadReleaseWorkflowId } from '../../src/contracts/offload-release';
import {
  actuatorFixture,
  addNode,
  createDeployment,
  createPod,
  merge,
  readyPodsOf,
  waitUntil,
  type ActuatorFixture,
} from '../support/kube-actuator';
import { nodeLoads } from '../../src/metrics/gather';
import { PrometheusClient } from '../../src/metrics/prometheus';
import { DEFAULT_METRICS_CONFIG } from '../../src/metrics/queries';
import { MEMORY_OFF } from '../../src/domain/target-memory';
import { podAlert, startRealWorker, startRemediation, stateWhen, type RealWorker } from '../support/real-worker';

jest.setTimeout(300_000);

let f: ActuatorFixture;
let tier: string;
let source: string;
let target: string;
let w: RealWorker;

beforeAll(async () => {
  f = await actuatorFixture('it-release');
  tier = `${f.id}-t`;
  source = await addNode(f, 'src', tier, { cpu: '4', memory: '16Gi' });
  target = await addNode(f, 'dst', tier, { cpu: '16', memory: '64Gi' });
  w = await startRealWorker({
    TALON_MODEL_PATH: '',
    TALON_OFFLOAD_RELEASE_AFTER_SECONDS: '40',
    TALON_OFFLOAD_CHECK_EVERY_SECONDS: '3',
    TALON_OFFLOAD_RECOVERED_BELOW: '0.5',
  });
});

afterAll(async () => {
  await w?.stop();
  await f?.cleanup();
});

/** Offloads half of a 2-replica Deployment from the busy source node through the workflow; returns its ReplicaSet. */
async function offloadHalf(name: string): Promise<string> {
  const pods = await createDeployment(f, name, 2, { tier, node: source, cpu: { request: '100m', limit: '500m' } });
  const handle = await startRemediation(
    w,
    podAlert('TalonPodCpuNearLimit', f.namespace, pods[0]!.metadata!.name!, {
      talon_resource: 'cpu',
      talon_policy: 'task_offloading',
      talon_magnitude: '0.5',
    }),
    // The test awaits the result: no watching for a re-fire after the episode.
    {
      memory: MEMORY_OFF,
      maxAttempts: 1,
      cooldown: { defaultSeconds: 2, minSeconds: 1, maxSeconds: 5, historyFactor: 1 },
    },
  );
  const state = await stateWhen(handle, 'the offload verified', (s) => s.attempts[0]?.verified !== undefined);
  expect(state.attempts[0]).toMatchObject({ policy: 'task_offloading', magnitude: 0.5, applied: true, verified: true });
  expect(state.attempts[0]!.detail).toContain(`1 replica(s) of Deployment ${f.namespace}/${name} Ready on ${target}`);
  const onNodes = (await readyPodsOf(f, `app=${name}`, 2)).map((p) => p.spec?.nodeName).sort();
  expect(onNodes).toEqual([source, target].sort());
  await handle.result();
  const rs = (
    await f.clients.apps.listNamespacedReplicaSet({
      namespace: f.namespace,
      labelSelector: `talon.io/offload-of=${name}`,
    })
  ).items[0]!.metadata!.name!;
  return rs;
}

/**
 * Waits until Prometheus sees the source node busy (≥ 0.6 of its CPU) over 20 s: the release's check reads a
 * 10 s rate from the worker's node-usage cache (refreshed every 5 s), so a shorter look could pass while the
 * worker still holds a reading from before the node got busy again.
 */
async function sourceBusy(): Promise<void> {
  const prometheus = new PrometheusClient({ url: w.config.prometheusUrl });
  await waitUntil(`${source} busy in Prometheus`, 90_000, async () => {
    const load = (await nodeLoads(prometheus, DEFAULT_METRICS_CONFIG, 20)).find((n) => n.node === source);
    return load?.cpuCores !== undefined && load.cpuCores / (load.cpuAllocatableCores ?? 4) >= 0.6 ? true : undefined;
  });
}

async function releaseOf(replicaSet: string): Promise<OffloadReleaseResult> {
  const handle = w.client.temporal.workflow.getHandle(offloadReleaseWorkflowId(f.namespace, replicaSet));
  return (await handle.result()) as OffloadReleaseResult;
}

it('the pin is released when the source node has recovered, before the time limit', async () => {
  // The source node is busy (3 of 4 cores) until the test lowers it.
  await createPod(f, 'hog', { node: source, usageCpu: '3', cpu: { request: '100m' } });
  await sourceBusy();
  const replicaSet = await offloadHalf('api');
  const offloadedAt = Date.now();
  await new Promise((r) => setTimeout(r, 8_000));
  expect(await f.clients.apps.readNamespacedReplicaSet({ name: replicaSet, namespace: f.namespace })).toBeDefined();
  await f.clients.core.patchNamespacedPod(
    { name: 'hog', namespace: f.namespace, body: { metadata: { annotations: { 'kwok.x-k8s.io/usage-cpu': '100m' } } } },
    merge,
  );
  const result = await releaseOf(replicaSet);
  expect(result).toMatchObject({ released: true, reason: 'source-recovered', verified: true });
  expect(Date.now() - offloadedAt).toBeLessThan(40_000);
  // The effect: the Deployment whole again, nothing pinned, the offload ReplicaSet gone.
  const pods = await readyPodsOf(f, 'app=api', 2);
  expect(pods.every((p) => p.metadata?.labels?.['talon.io/offload'] === undefined)).toBe(true);
  await waitUntil('the offload ReplicaSet gone', 30_000, async () =>
    f.clients.apps
      .readNamespacedReplicaSet({ name: replicaSet, namespace: f.namespace })
      .then(() => undefined)
      .catch(() => true),
  );
});

it('without recovery the pin is released at the configured time limit', async () => {
  await f.clients.core.patchNamespacedPod(
    { name: 'hog', namespace: f.namespace, body: { metadata: { annotations: { 'kwok.x-k8s.io/usage-cpu': '3' } } } },
    merge,
  );
  await sourceBusy();
  const replicaSet = await offloadHalf('batch');
  const result = await releaseOf(replicaSet);
  expect(result).toMatchObject({ released: true, reason: 'time-limit', verified: true });
  expect(await readyPodsOf(f, 'app=batch', 2)).toHaveLength(2);
});
