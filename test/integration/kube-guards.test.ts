/**
 * The guards on the real apiserver, through the activities the worker registers: protected namespaces and
 * bounds refuse before any write, dry-run asks the apiserver to validate and persists nothing, and the write
 * budget lives in a Lease, so it holds across a worker restart and is shared by several worker replicas racing
 * for it.
 */
import { leaseNameFor } from '../../src/kube/budget';
import { createKubeClients, RequestCounter } from '../../src/kube/client';
import {
  actuatorFixture,
  addNode,
  applyInput,
  createDeployment,
  createPod,
  failureOf,
  remediationActivities,
  type ActuatorFixture,
  type RemediationOverrides,
} from '../support/kube-actuator';

jest.setTimeout(120_000);

let f: ActuatorFixture;
let tier: string;

beforeAll(async () => {
  f = await actuatorFixture('kube-it-grd');
  tier = `${f.id}-t`;
  await addNode(f, 'n1', tier);
});

afterAll(async () => {
  await f.cleanup();
});

const activities = (overrides: RemediationOverrides = {}) => remediationActivities(f, overrides);

async function templateCpu(name: string) {
  const d = await f.clients.apps.readNamespacedDeployment({ name, namespace: f.namespace });
  return {
    generation: d.metadata?.generation,
    resources: JSON.parse(JSON.stringify(d.spec?.template.spec?.containers[0]?.resources ?? {})) as unknown,
  };
}

it('refuses a pod in kube-system, and in Talon’s own namespace, without writing', async () => {
  const system = await f.clients.core.listNamespacedPod({ namespace: 'kube-system', limit: 1 });
  const a = activities();
  f.counter.reset();
  const refused = await failureOf(
    a.applyPolicy(
      applyInput(f, 'cpu_scale_up', system.items[0]?.metadata?.name ?? 'kube-apiserver', 1.5, `${f.id}-sys`, {
        namespace: 'kube-system',
      }),
    ),
  );
  expect(refused).toMatchObject({ type: 'GuardRefused', nonRetryable: true });
  expect(refused.details).toEqual(['protected_namespace', expect.objectContaining({ namespace: 'kube-system' })]);
  const own = await failureOf(
    a.evictPod({ namespace: f.talonNamespace, pod: 'anything', uid: 'u', operationId: `${f.id}-own`, dryRun: false }),
  );
  expect(own.details).toEqual(['protected_namespace', expect.objectContaining({ namespace: f.talonNamespace })]);
  expect(f.counter.total).toBe(0);
});

it('refuses a result above the per-container maximum and leaves the workload as it was', async () => {
  const pods = await createDeployment(f, 'big', 1, { tier, cpu: { request: '1', limit: '2' } });
  const before = await templateCpu('big');
  const a = activities({ guards: { containerCpu: { min: '10m', max: '2500m' } } });
  const refused = await failureOf(
    a.applyPolicy(applyInput(f, 'cpu_scale_up', pods[0]!.metadata!.name!, 1.5, `${f.id}-big`)),
  );
  expect(refused).toMatchObject({ type: 'GuardRefused', nonRetryable: true });
  expect(refused.message).toContain(
    `Deployment ${f.namespace}/big container app limits: cpu would become 3, outside [10m, 2500m]`,
  );
  expect(await templateCpu('big')).toEqual(before);
});

it('dry-run: the apiserver validates, the result reports what would change, nothing is persisted or counted', async () => {
  const pods = await createDeployment(f, 'dry', 1, { tier, cpu: { request: '200m', limit: '400m' } });
  const before = await templateCpu('dry');
  const a = activities({ guards: { writeBudget: { maxWrites: 1, windowSeconds: 600 } } });
  const pod = pods[0]!.metadata!.name!;
  const r = await a.applyPolicy(applyInput(f, 'cpu_scale_up', pod, 2, `${f.id}-dry-1`, { dryRun: true }));
  expect(r).toMatchObject({
    dryRun: true,
    noop: true,
    expectation: { kind: 'none' },
    changes: [
      { path: 'container app requests.cpu', from: '200m', to: '400m' },
      { path: 'container app limits.cpu', from: '400m', to: '800m' },
    ],
  });
  expect(r.summary).toMatch(/^\[dry run\] cpu ×2 on Deployment/);
  expect(await templateCpu('dry')).toEqual(before);
  // Nothing counted: a second dry run still fits a budget of one, and so does a real write afterwards.
  await a.applyPolicy(applyInput(f, 'cpu_scale_up', pod, 2, `${f.id}-dry-2`, { dryRun: true }));
  const real = await a.applyPolicy(applyInput(f, 'cpu_scale_up', pod, 2, `${f.id}-dry-3`));
  expect(real).toMatchObject({ dryRun: false, noop: false });
  expect((await templateCpu('dry')).resources).toEqual({ requests: { cpu: '400m' }, limits: { cpu: '800m' } });
});

it('the write budget holds across a worker restart and across replicas, and counts a retried write once', async () => {
  const budget = { maxWrites: 2, windowSeconds: 600 };
  const ns = `${f.id}-b`;
  await f.clients.core.createNamespace({ body: { metadata: { name: ns, labels: { 'talon.io/test': 'true' } } } });
  try {
    await f.clients.core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'busy' },
        spec: { containers: [{ name: 'app', image: 'x' }], tolerations: [f.isolation] },
      },
    });
    // Each "worker replica" has its own clients and its own Lease store; a replica made later is a restart.
    const replica = () =>
      remediationActivities(
        { ...f, clients: createKubeClients(f.kc, { counter: new RequestCounter() }) },
        { guards: { writeBudget: budget } },
      );
    const [w1, w2] = [replica(), replica()];
    const annotate = (w: ReturnType<typeof replica>, n: number) =>
      w.applyPolicy(applyInput(f, 'data_offloading', 'busy', 0.2, `${f.id}-budget-${n}`, { namespace: ns }));

    // Replicas race for the same Lease (optimistic concurrency): both writes count, neither is lost.
    const [r1, r2] = await Promise.all([annotate(w1, 1), annotate(w2, 2)]);
    expect([r1.noop, r2.noop]).toEqual([false, false]);
    // A retry of write 1 (same operation id) on the other replica is not a new write.
    const retried = await annotate(w2, 1);
    expect(retried.noop).toBe(true);
    expect(retried.summary).toMatch(/^\[already applied\] /);

    const restarted = replica();
    const refused = await failureOf(annotate(restarted, 3));
    expect(refused).toMatchObject({ type: 'GuardRefused', nonRetryable: true });
    expect(refused.details?.[0]).toBe('write_budget');
    expect(refused.details?.[1]).toMatchObject({ namespace: ns, used: 2, maxWrites: 2 });
    expect(refused.message).toMatch(/next write allowed in \d+s/);

    const lease = await f.clients.coordination.readNamespacedLease({
      name: leaseNameFor(ns),
      namespace: f.talonNamespace,
    });
    const entries = JSON.parse(lease.metadata?.annotations?.['talon.io/write-budget'] ?? '[]') as { id: string }[];
    expect(entries.map((e) => e.id).sort()).toEqual([`${f.id}-budget-1`, `${f.id}-budget-2`]);

    // Another namespace has its own budget.
    await createPod(f, 'elsewhere', { tier });
    expect(
      (await restarted.applyPolicy(applyInput(f, 'data_offloading', 'elsewhere', 0.2, `${f.id}-budget-4`))).noop,
    ).toBe(false);
  } finally {
    await f.clients.core.deleteNamespace({ name: ns }).catch(() => undefined);
  }
});

it('dry-run runs the apiserver’s admission: a LimitRange refusal is non-retryable and nothing changes', async () => {
  const pod = await createPod(f, 'limited', { tier, cpu: { request: '800m', limit: '800m' } });
  await f.clients.core.createNamespacedLimitRange({
    namespace: f.namespace,
    body: { metadata: { name: 'max-cpu' }, spec: { limits: [{ type: 'Container', max: { cpu: '1' } }] } },
  });
  const a = activities({ podResize: false });
  const refused = await failureOf(
    a.applyPolicy(applyInput(f, 'cpu_scale_up', 'limited', 1.5, `${f.id}-lr`, { dryRun: true })),
  );
  expect(refused).toMatchObject({ type: 'Forbidden', nonRetryable: true });
  expect(refused.message).toContain('maximum cpu usage per Container is 1');
  const after = await f.clients.core.readNamespacedPod({ name: 'limited', namespace: f.namespace });
  expect(after.metadata?.uid).toBe(pod.metadata?.uid);
});
