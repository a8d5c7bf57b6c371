/**
 * The task activities over fake Kubernetes clients: idempotent Job creation (AlreadyExists of our own Job
 * is success, a foreign one is permanent), invalid input is non-retryable, the wait heartbeats until the
 * Job finishes, deletion of a gone Job is success, and a KWOK run is labelled simulated.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import {
  createTaskActivities,
  type CollectedRun,
  type CreateTaskJobInput,
  type TaskActivityDeps,
  type TaskNodes,
} from '../../activities/task';
import type { KubeClients } from '../../src/kube/client';
import type { Taxonomy } from '../../src/domain/taxonomy';

const httpError = (code: number) => Object.assign(new Error(`HTTP ${code}`), { code, body: { code } });

function fakeClients(state: { jobs: Map<string, V1Job>; pods: V1Pod[]; deletes: string[]; reads: number }) {
  const batch = {
    createNamespacedJob: async ({ body }: { body: V1Job }) => {
      const name = body.metadata!.name!;
      if (state.jobs.has(name)) throw httpError(409);
      const job = { ...body, metadata: { ...body.metadata, uid: `uid-${name}`, creationTimestamp: new Date() } };
      state.jobs.set(name, job);
      return job;
    },
    readNamespacedJob: async ({ name }: { name: string }) => {
      state.reads += 1;
      const job = state.jobs.get(name);
      if (!job) throw httpError(404);
      return job;
    },
    deleteNamespacedJob: async ({ name }: { name: string }) => {
      if (!state.jobs.delete(name)) throw httpError(404);
      state.deletes.push(name);
      return {};
    },
  };
  const core = {
    listNamespacedPod: async () => ({ items: state.pods }),
    listNode: async () => ({ items: [] }),
  };
  return { batch, core } as unknown as Pick<KubeClients, 'core' | 'batch'>;
}

const input: CreateTaskJobInput = {
  namespace: 'ns',
  name: 'talon-task-x-1',
  workflowId: 'task-x',
  taskIdLabel: 'talon-task-x',
  attempt: 1,
  task: 'interpolation',
  algorithm: 'linear',
  image: 'talon-orchestrator:0.1.0',
  command: ['node', 'run.js'],
  requests: { cpu: '10m', memory: '80Mi' },
  node: 'edge-0',
  tier: 'edge',
  activeDeadlineSeconds: 60,
  ttlSecondsAfterFinished: 60,
};

function setup() {
  const state = { jobs: new Map<string, V1Job>(), pods: [] as V1Pod[], deletes: [] as string[], reads: 0 };
  let loads = 0;
  const activities = createTaskActivities({
    clients: fakeClients(state),
    taxonomy: async () => {
      loads += 1;
      return { schemaVersion: 1 } as Taxonomy;
    },
    nodeUsage: async () => [],
    pollMs: 10,
  });
  return { state, activities, loads: () => loads };
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

it('creates the Job once: a retry finds its own Job, a foreign Job of that name is permanent', async () => {
  const { state, activities } = setup();
  const env = new MockActivityEnvironment();
  const first = await env.run(() => activities.createTaskJob(input));
  expect(first).toMatchObject({ name: 'talon-task-x-1', created: true, uid: 'uid-talon-task-x-1' });
  const again = await env.run(() => activities.createTaskJob(input));
  expect(again).toMatchObject({ created: false, uid: 'uid-talon-task-x-1' });
  expect(state.jobs.size).toBe(1);
  const foreign = await failureOf(
    env.run(() => activities.createTaskJob({ ...input, taskIdLabel: 'talon-task-other' })),
  );
  expect(foreign).toMatchObject({ type: 'JobNameTaken', nonRetryable: true });
});

it('refuses invalid input as non-retryable', async () => {
  const { activities } = setup();
  const env = new MockActivityEnvironment();
  const f = await failureOf(
    env.run(() => activities.createTaskJob({ ...input, name: 'Not_A_Name', requests: { cpu: '' } } as never)),
  );
  expect(f).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
  expect(f.message).toContain('name');
});

it('waits for the Job, heartbeating, and reports its node; a deleted Job is a failure', async () => {
  const { state, activities } = setup();
  const env = new MockActivityEnvironment();
  const beats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => beats.push(d));
  await env.run(() => activities.createTaskJob(input));
  state.pods = [
    { metadata: { name: 'p', creationTimestamp: new Date() }, spec: { nodeName: 'edge-0', containers: [] } },
  ];
  const job = state.jobs.get('talon-task-x-1')!;
  setTimeout(() => {
    job.status = {
      conditions: [{ type: 'Complete', status: 'True' }],
      startTime: new Date(),
      completionTime: new Date(),
    };
  }, 50);
  const done = await env.run(() =>
    activities.awaitTaskJob({ namespace: 'ns', name: 'talon-task-x-1', timeoutSeconds: 10 }),
  );
  expect(done).toMatchObject({ outcome: 'succeeded', node: 'edge-0' });
  expect(beats.length).toBeGreaterThan(1);
  expect(beats[0]).toMatchObject({ outcome: 'running', node: 'edge-0' });
  const gone = await env.run(() =>
    activities.awaitTaskJob({ namespace: 'ns', name: 'talon-task-x-9', timeoutSeconds: 10 }),
  );
  expect(gone).toMatchObject({ outcome: 'failed', reason: 'JobDeleted' });
});

it('labels a KWOK run simulated and reads no log; deleting a gone Job is success', async () => {
  const { activities } = setup();
  const env = new MockActivityEnvironment();
  await env.run(() => activities.createTaskJob(input));
  const run = await env.run<[], CollectedRun, () => Promise<CollectedRun>>(() =>
    activities.collectTaskRun({ namespace: 'ns', name: 'talon-task-x-1', simulated: true }),
  );
  expect(run.simulated).toBe(true);
  expect(run.reported).toBeUndefined();
  expect(run.notes.join(' ')).toContain('KWOK');
  expect(await env.run(() => activities.deleteTaskJob({ namespace: 'ns', name: 'talon-task-x-1' }))).toEqual({
    deleted: true,
  });
  expect(await env.run(() => activities.deleteTaskJob({ namespace: 'ns', name: 'talon-task-x-1' }))).toEqual({
    deleted: false,
  });
});

it('reuses a loaded taxonomy', async () => {
  const { activities, loads } = setup();
  const env = new MockActivityEnvironment();
  await env.run(() => activities.loadTaskTaxonomy());
  await env.run(() => activities.loadTaskTaxonomy());
  expect(loads()).toBe(1);
});

it('prices the nodes from the offer for placement; a failing offer only adds a note', async () => {
  const state = { jobs: new Map<string, V1Job>(), pods: [] as V1Pod[], deletes: [] as string[], reads: 0 };
  const clients = fakeClients(state);
  const edge = (name: string, labels: Record<string, string> = {}) => ({
    metadata: { name, labels: { 'talon.io/tier': 'edge', ...labels } },
    spec: {},
    status: { allocatable: { cpu: '4', memory: '8Gi' }, conditions: [{ type: 'Ready', status: 'True' }] },
  });
  (clients.core as unknown as { listNode: () => Promise<unknown> }).listNode = async () => ({
    items: [edge('shop'), edge('home', { 'talon.io/user-owned': 'true' })],
  });
  const prices = { commercialPerVcpuHour: 0.04, userOwnedPerVcpuHour: 0.034, userOwnedLabel: 'talon.io/user-owned' };
  const base = { clients, taxonomy: async () => ({ schemaVersion: 1 }) as Taxonomy, nodeUsage: async () => [] };
  const env = new MockActivityEnvironment();

  const taskNodes = (nodePrices: TaskActivityDeps['nodePrices']): Promise<TaskNodes> => {
    const activities = createTaskActivities({ ...base, ...(nodePrices ? { nodePrices } : {}) });
    return env.run(() => activities.taskNodes({}));
  };
  const priced = await taskNodes(async () => prices);
  expect(priced.nodes.map((n) => [n.name, n.pricePerVcpuHour])).toEqual([
    ['home', 0.034],
    ['shop', 0.04],
  ]);

  const failing = await taskNodes(async () => {
    throw new Error('Prometheus down');
  });
  expect(failing.nodes.map((n) => n.pricePerVcpuHour)).toEqual([undefined, undefined]);
  expect(failing.notes).toContain('no offer prices for placement: Prometheus down');
});
