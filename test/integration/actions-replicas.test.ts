/**
 * Replica scaling on the live stack, judged by its effect (pods landed and Ready), never by the write:
 * - through an owning HorizontalPodAutoscaler: Talon moves the HPA's bounds and the HPA controller (the real
 *   kube-controller-manager's) brings the Deployment there; Talon never writes spec.replicas;
 * - chosen by the rules inside the workflow: a hot Deployment already scaled out gets replica_scale_up first;
 * - D3.6 Rule 1 end to end: a pod of a redundant Deployment on a busy node → Prometheus rule
 *   TalonPodNodeCpuHigh → Alertmanager → webhook → remediateAlert → replica_scale_down, one replica fewer.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { createMetricsActivities } from '../../activities/metrics';
import { PrometheusClient } from '../../src/metrics/prometheus';
import {
  actuatorFixture,
  addNode,
  applyInput,
  createDeployment,
  merge,
  readyPodsOf,
  remediationActivities,
  waitUntil,
  type ActuatorFixture,
} from '../support/kube-actuator';
import { MEMORY_OFF } from '../../src/domain/target-memory';
import { podAlert, startRealWorker, startRemediation, stateWhen, type RealWorker } from '../support/real-worker';

jest.setTimeout(300_000);

let f: ActuatorFixture;
let tier: string;
let w: RealWorker;

// The tests await each remediation's result: no watching for a re-fire after the episode.
const SHORT = {
  memory: MEMORY_OFF,
  maxAttempts: 1,
  cooldown: { defaultSeconds: 2, minSeconds: 1, maxSeconds: 5, historyFactor: 1 },
};

beforeAll(async () => {
  f = await actuatorFixture('it-replicas');
  tier = `${f.id}-t`;
  await addNode(f, 'n1', tier, { cpu: '4', memory: '16Gi' });
  // No model: the rules answer, so which policy comes first is the rules' (the model is covered in unit tests).
  w = await startRealWorker({ TALON_MODEL_PATH: '' });
});

afterAll(async () => {
  await w?.stop();
  await f?.cleanup();
});

/** Waits until Prometheus holds a usable 10-step window for the pod (what the workflow's decision needs). */
async function windowReady(pod: string): Promise<void> {
  const metrics = createMetricsActivities({
    prometheus: new PrometheusClient({ url: w.config.prometheusUrl }),
    gather: { stepSeconds: 5 },
  });
  let last = 'nothing gathered';
  await waitUntil(`a metrics window for ${pod}`, 120_000, async () => {
    const g = await metrics
      .gatherWindow({ target: { namespace: f.namespace, pod }, withHistory: false })
      .catch((err: unknown) => {
        last = String(err);
        throw err;
      });
    last = g.kind === 'window' ? 'window' : g.reason;
    return g.kind === 'window' ? true : undefined;
  }).catch((err: unknown) => {
    throw new Error(`${String(err)}; last: ${last}`);
  });
}

async function setUsage(pod: string, cpu: string): Promise<void> {
  await f.clients.core.patchNamespacedPod(
    { name: pod, namespace: f.namespace, body: { metadata: { annotations: { 'kwok.x-k8s.io/usage-cpu': cpu } } } },
    merge,
  );
}

function managedSpecReplicasBy(deployment: {
  metadata?: { managedFields?: { manager?: string; fieldsV1?: unknown }[] };
}) {
  return (deployment.metadata?.managedFields ?? [])
    .filter((m) => JSON.stringify(m.fieldsV1 ?? {}).includes('"f:replicas"'))
    .map((m) => m.manager);
}

describe('through an owning HorizontalPodAutoscaler', () => {
  it('scale up raises minReplicas, scale down lowers maxReplicas; the HPA controller moves the pods, Talon never writes spec.replicas', async () => {
    const a = remediationActivities(f, {
      verifyTimeoutMs: 120_000,
      guards: { writeBudget: { maxWrites: 100, windowSeconds: 60 } },
    });
    const pods = await createDeployment(f, 'api', 2, { tier, cpu: { request: '100m', limit: '500m' } });
    await f.clients.autoscaling.createNamespacedHorizontalPodAutoscaler({
      namespace: f.namespace,
      body: {
        metadata: { name: 'api' },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' },
          minReplicas: 2,
          maxReplicas: 4,
          metrics: [
            { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } },
          ],
        },
      },
    });

    const up = await a.applyPolicy(applyInput(f, 'replica_scale_up', pods[0]!.metadata!.name!, 1.5, `${f.id}-hpa-up`));
    expect(up.changes).toEqual([{ path: 'HPA api spec.minReplicas', from: '2', to: '3' }]);
    expect(up.summary).toContain('through HorizontalPodAutoscaler api');
    const upVerified = await a.verifyPolicy({ applied: up });
    expect(upVerified).toMatchObject({ ok: true });
    expect(upVerified.observed).toContain('runs 3 ready replicas (scaled by HPA api)');
    // The effect, seen independently: three Ready pods, and spec.replicas was the HPA controller's write.
    expect(await readyPodsOf(f, 'app=api', 3)).toHaveLength(3);
    const scaled = await f.clients.apps.readNamespacedDeployment({ name: 'api', namespace: f.namespace });
    expect(managedSpecReplicasBy(scaled)).not.toContain('talon');
    const hpa = await f.clients.autoscaling.readNamespacedHorizontalPodAutoscaler({
      name: 'api',
      namespace: f.namespace,
    });
    expect(hpa.spec).toMatchObject({ minReplicas: 3, maxReplicas: 4 });
    expect(JSON.parse(hpa.metadata!.annotations!['talon.io/operation']!)).toMatchObject({
      policy: 'replica_scale_up',
      replicas: 3,
      hpaBefore: { minReplicas: 2, maxReplicas: 4 },
    });

    // The same operation again changes nothing.
    const again = await a.applyPolicy(
      applyInput(f, 'replica_scale_up', pods[0]!.metadata!.name!, 1.5, `${f.id}-hpa-up`),
    );
    expect(again).toMatchObject({ noop: true, changes: [] });

    const current = (await readyPodsOf(f, 'app=api', 3))[0]!.metadata!.name!;
    const down = await a.applyPolicy(applyInput(f, 'replica_scale_down', current, 0.5, `${f.id}-hpa-down`));
    expect(down.changes).toEqual([
      { path: 'HPA api spec.minReplicas', from: '3', to: '1' },
      { path: 'HPA api spec.maxReplicas', from: '4', to: '1' },
    ]);
    expect(await a.verifyPolicy({ applied: down })).toMatchObject({ ok: true });
    expect(await readyPodsOf(f, 'app=api', 1)).toHaveLength(1);
  });
});

describe('chosen by the rules in the workflow', () => {
  it('a hot Deployment already scaled out gets replica_scale_up first, and runs more Ready pods', async () => {
    const pods = await createDeployment(f, 'web', 2, {
      tier,
      cpu: { request: '200m', limit: '200m' },
      memory: { request: '256Mi', limit: '256Mi' },
      usageCpu: '195m',
      usageMemory: '128Mi',
    });
    const pod = pods[0]!.metadata!.name!;
    await windowReady(pod);
    const handle = await startRemediation(
      w,
      podAlert('TalonPodCpuNearLimit', f.namespace, pod, { talon_resource: 'cpu', container: 'app' }),
      SHORT,
    );
    const state = await stateWhen(handle, 'the first attempt verified', (s) => s.attempts[0]?.verified !== undefined);
    expect(state.attempts[0]).toMatchObject({
      policy: 'replica_scale_up',
      source: 'rules',
      applied: true,
      verified: true,
    });
    expect(state.attempts[0]!.fallbackReason).toBe('no policy model configured');
    const deployment = await f.clients.apps.readNamespacedDeployment({ name: 'web', namespace: f.namespace });
    expect(deployment.spec!.replicas).toBe(3);
    expect(await readyPodsOf(f, 'app=web', 3)).toHaveLength(3);
    await handle.result();
    // Its CPU alert must not reach the webhook the next test starts.
    await f.clients.apps.deleteNamespacedDeployment({ name: 'web', namespace: f.namespace });
  });
});

describe('D3.6 Rule 1 through the alert wiring', () => {
  it('a busy node and a redundant Deployment: TalonPodNodeCpuHigh fires, the workflow removes one replica', async () => {
    const pods: V1Pod[] = await createDeployment(f, 'worker', 3, {
      tier,
      cpu: { request: '100m', limit: '4' },
      memory: { request: '256Mi', limit: '256Mi' },
      usageCpu: '50m',
      usageMemory: '128Mi',
    });
    const heavy = pods[0]!.metadata!.name!;
    await windowReady(heavy);
    await w.startWebhook();
    // 2.9 + 0.05 + 0.05 of 4 cores: the node is 74 % busy, and the heavy pod uses 98 % of that.
    await setUsage(heavy, '2900m');
    const started = await waitUntil('a remediation started by TalonPodNodeCpuHigh', 180_000, async () => {
      const found = await w.client.list(`TalonNamespace = "${f.namespace}"`);
      return found.find(
        (s) => s.alertName === 'TalonPodNodeCpuHigh' && s.target?.startsWith(`${f.namespace}/${heavy}`),
      );
    });
    const handle = w.client.temporal.workflow.getHandle(started.workflowId);
    const state = await stateWhen(handle, 'the first attempt verified', (s) => s.attempts[0]?.verified !== undefined);
    expect(state.alert.labels.talon_resource).toBe('node-cpu');
    expect(state.attempts[0]).toMatchObject({ policy: 'replica_scale_down', applied: true, verified: true });
    // Chosen by the rules on the pod's window (node busy share, 3 replicas), not by the alert's default list.
    expect(state.attempts[0]!.fallbackReason ?? '').not.toMatch(/too little data|metrics unavailable/);
    const deployment = await f.clients.apps.readNamespacedDeployment({ name: 'worker', namespace: f.namespace });
    expect(deployment.spec!.replicas).toBe(2);
    expect(await readyPodsOf(f, 'app=worker', 2)).toHaveLength(2);
    await w.client.cancel(started.workflowId, 'test', 'done');
    await handle.result().catch(() => undefined);
  });
});
