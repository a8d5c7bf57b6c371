/**
 * The node cache behind offloading on the real apiserver: the first list, then every add, change and delete
 * arrives through the watch, and an offload decided from the cache lands where the LIST-based one would.
 */
import { NodeCache } from '../../src/kube/node-cache';
import {
  actuatorFixture,
  addNode,
  applyInput,
  createPod,
  merge,
  remediationActivities,
  waitUntil,
  type ActuatorFixture,
} from '../support/kube-actuator';

jest.setTimeout(120_000);

let f: ActuatorFixture;
let cache: NodeCache;

beforeAll(async () => {
  f = await actuatorFixture('kube-it-nc');
  cache = new NodeCache(f.kc, f.clients);
  expect(cache.isSynced).toBe(false);
  await cache.start();
});

afterAll(async () => {
  await cache.stop();
  await f.cleanup();
});

it('follows nodes as they come, change and go', async () => {
  expect(cache.isSynced).toBe(true);
  const tier = `${f.id}-t`;
  const name = await addNode(f, 'n1', tier, { cpu: '8', memory: '16Gi' });
  const seen = await waitUntil('the new node in the cache', 30_000, async () => {
    const nodes = await cache.list(tier);
    return nodes.find((n) => n.name === name && n.ready);
  });
  expect(seen).toMatchObject({ allocatable: { cpuCores: 8, memoryBytes: 16 * 2 ** 30 }, unschedulable: false });
  f.counter.reset();
  expect((await cache.list(tier)).map((n) => n.name)).toEqual([name]);
  expect(f.counter.total).toBe(0); // answered from memory

  await f.clients.core.patchNode({ name, body: { spec: { unschedulable: true } } }, merge);
  await waitUntil('the cordon in the cache', 30_000, async () =>
    (await cache.list(tier)).find((n) => n.name === name && n.unschedulable),
  );

  await f.clients.core.deleteNode({ name });
  await waitUntil('the node gone from the cache', 30_000, async () =>
    (await cache.list(tier)).length === 0 ? true : undefined,
  );
});

it('an offload decided from the cache picks the same node as one decided from a LIST', async () => {
  const tier = `${f.id}-o`;
  const a1 = await addNode(f, 'o1', tier);
  const a2 = await addNode(f, 'o2', tier);
  await waitUntil('both in the cache', 30_000, async () =>
    (await cache.list(tier)).filter((n) => n.ready).length === 2 ? true : undefined,
  );
  const usage = async () => [
    { node: a1, cpuCores: 12, memoryBytes: 40 * 2 ** 30 },
    { node: a2, cpuCores: 1, memoryBytes: 2 ** 30 },
  ];
  await createPod(f, 'from-cache', { node: a1 });
  await createPod(f, 'from-list', { node: a1 });
  const cached = remediationActivities(f, { nodeUsage: usage, nodeSource: cache, offloadTier: tier });
  const listed = remediationActivities(f, { nodeUsage: usage, offloadTier: tier });
  f.counter.reset();
  const r1 = await cached.applyPolicy(
    applyInput(f, 'task_offloading', 'from-cache', 0.5, `${f.id}-c`, { dryRun: true }),
  );
  const withCache = f.counter.snapshot().byRoute;
  const r2 = await listed.applyPolicy(
    applyInput(f, 'task_offloading', 'from-list', 0.5, `${f.id}-l`, { dryRun: true }),
  );
  expect(r1.changes).toEqual([{ path: 'node', from: a1, to: a2 }]);
  expect(r2.changes).toEqual([{ path: 'node', from: a1, to: a2 }]);
  expect(withCache['GET /api/v1/nodes']).toBeUndefined();
  expect(f.counter.snapshot().byRoute['GET /api/v1/nodes']).toBe(1);
});
