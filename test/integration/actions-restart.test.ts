/**
 * container_restart on the live stack (D3.6 2.6 / 3.2 "restarts malfunctioning containers"): a container is
 * made to crash-loop the way the kubelet reports it (its status), Prometheus' TalonContainerCrashLooping rule
 * fires from the kube-state-metrics series KWOK simulates, the rules rank container_restart first, and the
 * action replaces the pod — through the Eviction API, so a PodDisruptionBudget can refuse it, and counted
 * against the write budget. Judged by the effect: the broken instance is gone and a healthy one runs.
 */
import { PolicyV1Api } from '@kubernetes/client-node';
import { createPolicyActivities } from '../../activities/policy';
import { readWorkloadContext } from '../../src/kube/workload-context';
import { PrometheusClient } from '../../src/metrics/prometheus';
import { loadTalonConfig } from '../../src/config/talon-config';
import type { FeatureWindow } from '../../src/domain/window';
import { fixtureWindow } from '../support/windows';
import {
  actuatorFixture,
  addNode,
  applyInput,
  createDeployment,
  createPod,
  expectationOf,
  failureOf,
  merge,
  readyPodsOf,
  remediationActivities,
  waitUntil,
  type ActuatorFixture,
} from '../support/kube-actuator';

jest.setTimeout(240_000);

let f: ActuatorFixture;
let tier: string;
const prometheus = new PrometheusClient({ url: loadTalonConfig(process.env).prometheusUrl });

beforeAll(async () => {
  f = await actuatorFixture('it-restart');
  tier = `${f.id}-t`;
  await addNode(f, 'n1', tier);
});

afterAll(async () => {
  await f?.cleanup();
});

const pdbs = () => f.kc.makeApiClient(PolicyV1Api);

function activities(maxWrites = 100, talonNamespace = f.talonNamespace) {
  return remediationActivities(f, {
    verifyTimeoutMs: 60_000,
    guards: { talonNamespace, writeBudget: { maxWrites, windowSeconds: 600 } },
  });
}

/**
 * What the kubelet reports for a container that keeps crashing: waiting in CrashLoopBackOff, not ready. KWOK's
 * simulated kube-state-metrics cannot read container statuses, so the annotations it reads go along.
 */
async function crashLoop(pod: string, restarts = 5): Promise<void> {
  const now = new Date().toISOString();
  await f.clients.core.patchNamespacedPod(
    {
      name: pod,
      namespace: f.namespace,
      body: {
        metadata: {
          annotations: {
            'kwok.x-k8s.io/status-restarts': String(restarts),
            'kwok.x-k8s.io/status-waiting-reason': 'CrashLoopBackOff',
          },
        },
      },
    },
    merge,
  );
  await f.clients.core.patchNamespacedPodStatus(
    {
      name: pod,
      namespace: f.namespace,
      body: {
        status: {
          conditions: [
            { type: 'Ready', status: 'False', lastTransitionTime: now, reason: 'ContainersNotReady' },
            { type: 'ContainersReady', status: 'False', lastTransitionTime: now, reason: 'ContainersNotReady' },
          ],
          containerStatuses: [
            {
              name: 'app',
              image: 'registry.example/app:1',
              imageID: '',
              ready: false,
              started: false,
              restartCount: restarts,
              state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 5m0s restarting failed container' } },
              lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: now, finishedAt: now } },
            },
          ],
        },
      },
    },
    merge,
  );
}

async function podGone(name: string, uid: string): Promise<void> {
  await waitUntil(`pod ${name} (${uid}) gone`, 60_000, async () => {
    const pod = await f.clients.core.readNamespacedPod({ name, namespace: f.namespace }).catch(() => undefined);
    return !pod || pod.metadata?.uid !== uid ? true : undefined;
  });
}

describe('container_restart', () => {
  it('the alert wiring fires, the rules choose it, eviction replaces the pod, verified because a healthy instance runs', async () => {
    const pods = await createDeployment(f, 'flaky', 2, { tier, cpu: { request: '100m', limit: '500m' } });
    await pdbs().createNamespacedPodDisruptionBudget({
      namespace: f.namespace,
      body: { metadata: { name: 'flaky' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'flaky' } } } },
    });
    const broken = pods[0]!;
    const name = broken.metadata!.name!;
    await crashLoop(name);

    // Alert wiring: Prometheus' rule fires for exactly that container.
    await waitUntil('TalonContainerCrashLooping to fire', 120_000, async () => {
      const rows = await prometheus.query(
        `ALERTS{alertname="TalonContainerCrashLooping",alertstate="firing",namespace="${f.namespace}",pod="${name}"}`,
      );
      return rows.length === 1 && rows[0]!.metric.container === 'app' ? true : undefined;
    });

    // The rules: with the pod's health in the workload context, restarting ranks first.
    const policy = createPolicyActivities({
      workloadContext: (t) => readWorkloadContext(f.clients, t.namespace, t.pod),
    });
    const calm: FeatureWindow = {
      ...fixtureWindow({ values: { cpu_usage: 0.1, memory_usage: 0.1 } }),
      target: { namespace: f.namespace, pod: name },
    };
    const decision = await policy.decidePolicy(calm);
    expect(decision.ranked[0]).toMatchObject({ policy: 'container_restart', magnitude: 1 });
    expect(decision.ranked[0]!.reason).toContain('container app is in CrashLoopBackOff after 5 restarts');

    const a = activities();
    const applied = await a.applyPolicy(applyInput(f, 'container_restart', name, 1, `${f.id}-restart-1`));
    expect(applied.summary).toContain(
      `Pod ${f.namespace}/${name} evicted because container app is in CrashLoopBackOff`,
    );
    expect(expectationOf(applied)).toMatchObject({ kind: 'restarted', oldUid: broken.metadata!.uid });
    const verified = await a.verifyPolicy({ applied });
    expect(verified.ok).toBe(true);
    expect(verified.observed).toContain('replaced the malfunctioning pod');
    // The effect: the broken instance is gone, two healthy pods run, none restarting.
    await podGone(name, broken.metadata!.uid!);
    const now = await readyPodsOf(f, 'app=flaky', 2);
    expect(
      now.every((p) => (p.status?.containerStatuses ?? []).every((c) => c.ready && (c.restartCount ?? 0) === 0)),
    ).toBe(true);
  });

  it('a PodDisruptionBudget that forbids it refuses the restart (disruption_budget), and the pod stays', async () => {
    const pods = await createDeployment(f, 'guarded', 2, { tier, cpu: { request: '100m' } });
    await pdbs().createNamespacedPodDisruptionBudget({
      namespace: f.namespace,
      body: { metadata: { name: 'guarded' }, spec: { minAvailable: 2, selector: { matchLabels: { app: 'guarded' } } } },
    });
    await waitUntil('the PDB to observe its pods', 30_000, async () => {
      const pdb = await pdbs().readNamespacedPodDisruptionBudget({ name: 'guarded', namespace: f.namespace });
      return pdb.status?.expectedPods === 2 ? true : undefined;
    });
    const name = pods[0]!.metadata!.name!;
    await crashLoop(name);
    await waitUntil('the PDB to see one healthy pod', 30_000, async () => {
      const pdb = await pdbs().readNamespacedPodDisruptionBudget({ name: 'guarded', namespace: f.namespace });
      return pdb.status?.currentHealthy === 1 ? true : undefined;
    });
    const refused = await failureOf(
      activities().applyPolicy(applyInput(f, 'container_restart', name, 1, `${f.id}-restart-2`)),
    );
    expect(refused).toMatchObject({ type: 'GuardRefused', nonRetryable: true });
    expect(refused.details?.[0]).toBe('disruption_budget');
    const still = await f.clients.core.readNamespacedPod({ name, namespace: f.namespace });
    expect(still.metadata?.uid).toBe(pods[0]!.metadata!.uid);
  });

  it('counts against the write budget; a standalone pod is recreated; a healthy pod is not restarted', async () => {
    // A budget of its own (its Leases in a fresh Talon namespace): one write in this namespace.
    const budgetHome = `${f.id}-budget`;
    await f.clients.core.createNamespace({
      body: { metadata: { name: budgetHome, labels: { 'talon.io/test': 'true' } } },
    });
    const a = activities(1, budgetHome);
    await createPod(f, 'solo', { tier, cpu: { request: '100m' } });
    const healthy = await failureOf(a.applyPolicy(applyInput(f, 'container_restart', 'solo', 1, `${f.id}-restart-3`)));
    expect(healthy).toMatchObject({ type: 'UnsupportedTarget', nonRetryable: true });
    expect(healthy.message).toContain('nothing to restart');

    const before = await f.clients.core.readNamespacedPod({ name: 'solo', namespace: f.namespace });
    await crashLoop('solo');
    const applied = await a.applyPolicy(applyInput(f, 'container_restart', 'solo', 1, `${f.id}-restart-4`));
    expect(applied.summary).toContain('recreated because container app is in CrashLoopBackOff');
    expect((await a.verifyPolicy({ applied })).ok).toBe(true);
    const after = await f.clients.core.readNamespacedPod({ name: 'solo', namespace: f.namespace });
    expect(after.metadata?.uid).not.toBe(before.metadata?.uid);

    // The namespace's one write is spent: the next restart is refused by the budget.
    await createPod(f, 'solo-2', { tier, cpu: { request: '100m' } });
    await crashLoop('solo-2');
    const spent = await failureOf(a.applyPolicy(applyInput(f, 'container_restart', 'solo-2', 1, `${f.id}-restart-5`)));
    expect(spent.details?.[0]).toBe('write_budget');
    await f.clients.core.deleteNamespace({ name: budgetHome }).catch(() => undefined);
  });
});
