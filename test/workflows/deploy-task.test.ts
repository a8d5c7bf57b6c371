/**
 * deployTask on the real Temporal dev server of the local stack, with stubbed activities: selection and
 * placement decide the Job, a failed Job is retried on a node not tried yet, two failures are a reported
 * failure, and cancellation deletes the running Job.
 */
import { randomBytes } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type { CreateTaskJobInput, TaskJobOutcome, TaskNodes } from '../../activities/task';
import type { NodeCandidate } from '../../src/domain/placement';
import type { Taxonomy } from '../../src/domain/taxonomy';
import { TalonClient } from '../../src/client/talon-client';
import { loadTaxonomy } from '../../src/tasks/taxonomy-store';
import { temporalHarness } from '../support/temporal-harness';
import { waitFor } from '../support/kube';

jest.setTimeout(120_000);

const temporal = temporalHarness();
let taxonomy: Taxonomy;

beforeAll(async () => {
  taxonomy = await loadTaxonomy();
});

const GIB = 1024 ** 3;
function node(name: string, tier: 'edge' | 'cloud', cpuUsed = 0.2): NodeCandidate {
  return {
    name,
    tier,
    allocatable: tier === 'edge' ? { cpuCores: 4, memoryBytes: 8 * GIB } : { cpuCores: 16, memoryBytes: 64 * GIB },
    usage: { cpuCores: cpuUsed, memoryBytes: GIB },
  };
}

interface Stubs {
  /** Nodes whose Job fails. */
  failOn: Set<string>;
  /** Jobs wait until cancelled. */
  hang?: boolean;
  created: CreateTaskJobInput[];
  excluded: string[][];
  deleted: string[];
  cancelledWaits: number;
}

function stubs(partial: Partial<Stubs> = {}): Stubs {
  return { failOn: new Set(), created: [], excluded: [], deleted: [], cancelledWaits: 0, ...partial };
}

function activities(s: Stubs) {
  const nodes = [node('edge-0', 'edge', 0.1), node('edge-1', 'edge', 1.5), node('cloud-0', 'cloud', 2)];
  return {
    loadTaskTaxonomy: async () => taxonomy,
    taskNodes: async (input: { exclude?: string[] }): Promise<TaskNodes> => {
      s.excluded.push(input.exclude ?? []);
      return {
        nodes: nodes.filter((n) => !(input.exclude ?? []).includes(n.name)),
        simulated: nodes.map((n) => n.name),
        notes: [],
      };
    },
    createTaskJob: async (input: CreateTaskJobInput) => {
      s.created.push(input);
      return {
        namespace: input.namespace,
        name: input.name,
        uid: 'uid',
        created: true,
        createdAt: new Date().toISOString(),
      };
    },
    awaitTaskJob: async (input: { name: string }): Promise<TaskJobOutcome> => {
      const job = s.created.find((c) => c.name === input.name);
      if (!job) throw ApplicationFailure.nonRetryable(`no Job ${input.name}`, 'KubeNotFoundError');
      if (s.hang) {
        const ctx = Context.current();
        try {
          for (;;) {
            ctx.heartbeat();
            await ctx.sleep(100);
          }
        } catch (err) {
          if (err instanceof CancelledFailure) s.cancelledWaits += 1;
          throw err;
        }
      }
      if (s.failOn.has(job.node)) {
        return { outcome: 'failed', reason: 'BackoffLimitExceeded', message: 'pod failed', active: 0, node: job.node };
      }
      return {
        outcome: 'succeeded',
        active: 0,
        node: job.node,
        startTime: '2026-11-25T10:00:00.000Z',
        completionTime: '2026-11-25T10:00:02.000Z',
      };
    },
    collectTaskRun: async (input: { simulated: boolean }) => ({
      observed: {
        jobStartTime: '2026-11-25T10:00:00.000Z',
        jobCompletionTime: '2026-11-25T10:00:02.000Z',
        jobDurationSeconds: 2,
      },
      simulated: input.simulated,
      notes: [],
    }),
    deleteTaskJob: async (input: { name: string }) => {
      s.deleted.push(input.name);
      return { deleted: true };
    },
  };
}

function withWorker<T>(s: Stubs, fn: (talon: TalonClient) => Promise<T>): Promise<T> {
  return temporal.withWorker('wf-task', activities(s), async (taskQueue) =>
    fn(await TalonClient.connect({ client: temporal.client(), taskQueue, taxonomy })),
  );
}

it('selects by priorities, places, runs the Job and reports metrics; state is queryable', async () => {
  const s = stubs();
  const result = await withWorker(s, async (talon) => {
    const handle = await talon.submitTask({ task: 'interpolation', priorities: { quality: 70, energy: 30 } });
    const result = await handle.result();
    const state = await handle.state();
    expect(state.step).toBe('done');
    expect(state.outcome).toBe('succeeded');
    expect(state.algorithm?.id).toBe(result.algorithm.id);
    return result;
  });
  // D3.3's example: quality 70 / energy 30 between linear and pad → linear (better MAE).
  expect(result.algorithm.id).toBe('linear');
  expect(s.created).toHaveLength(1);
  const job = s.created[0]!;
  expect(job).toMatchObject({
    algorithm: 'linear',
    attempt: 1,
    image: 'talon-orchestrator:0.1.0',
    node: result.placement.node,
  });
  expect(job.command).toEqual(['node', 'dist/src/tasks/run.js', '--task', 'interpolation', '--algorithm', 'linear']);
  expect(job.requests.cpu).toMatch(/^\d+m$/);
  expect(result.placement.node).toBe('edge-0'); // least loaded, and no heavy compute
  expect(result.metrics.observed.jobDurationSeconds).toBe(2);
  expect(result.metrics.simulated).toBe(true);
  expect(result.metrics.taxonomy.metrics.mae).toBe(1.26);
  expect(result.timings.toJobCreatedMs).toBeGreaterThanOrEqual(0);
  expect(s.deleted).toEqual([]);
});

it('retries a failed Job on another node, then succeeds', async () => {
  const s = stubs({ failOn: new Set(['edge-0']) });
  const result = await withWorker(s, async (talon) =>
    (await talon.submitTask({ task: 'interpolation', priorities: { quality: 70, energy: 30 } })).result(),
  );
  // edge-0 is excluded after its failure; cloud-0 has the most headroom of the rest.
  expect(s.created.map((c) => c.node)).toEqual(['edge-0', 'cloud-0']);
  expect(s.created[0]!.name).not.toBe(s.created[1]!.name);
  expect(s.excluded).toEqual([[], ['edge-0']]);
  expect(result.attempts.map((a) => [a.node, a.outcome])).toEqual([
    ['edge-0', 'failed'],
    ['cloud-0', 'succeeded'],
  ]);
  expect(result.attempts[0]!.reason).toContain('BackoffLimitExceeded');
  expect(result.placement).toMatchObject({ node: 'cloud-0', tier: 'cloud' });
});

it('reports failure after the Job failed on two nodes', async () => {
  const s = stubs({ failOn: new Set(['edge-0', 'cloud-0']) });
  const err = await withWorker(s, async (talon) => {
    const handle = await talon.submitTask({ task: 'interpolation', priorities: { quality: 70, energy: 30 } });
    const failure = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    const state = await handle.state();
    expect(state.outcome).toBe('failed');
    expect(state.attempts.map((a) => a.outcome)).toEqual(['failed', 'failed']);
    return failure;
  });
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect((cause as ApplicationFailure).type).toBe('TaskFailed');
  expect(cause!.message).toContain('edge-0');
  expect(cause!.message).toContain('cloud-0');
  expect(s.created).toHaveLength(2);
});

it('fails at once, without a Job, on an unknown task', async () => {
  const s = stubs();
  const err = await withWorker(s, async (talon) => {
    // Bypass the client's own check to see the workflow's.
    const handle = await talon.temporal.workflow.start('deployTask', {
      workflowId: `task-bad-${randomBytes(4).toString('hex')}`,
      taskQueue: talon.taskQueue,
      args: [{ task: 'no-such-task', priorities: { quality: 1 } }],
    });
    return handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
  });
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe('UnknownTaskError');
  expect(s.created).toHaveLength(0);
});

it('cancellation deletes the running Job', async () => {
  const s = stubs({ hang: true });
  const err = await withWorker(s, async (talon) => {
    const handle = await talon.submitTask({ task: 'interpolation', priorities: { speed: 1 } });
    // Polled until it says so, however long a loaded server takes (a query before the first task fails).
    await waitFor(
      'the Job to run',
      60_000,
      async () => ((await handle.state()).step === 'running' ? true : undefined),
      100,
    );
    await handle.cancel();
    const failure = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    const state = await handle.state();
    expect(state.outcome).toBe('cancelled');
    return failure;
  });
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  expect(s.created).toHaveLength(1);
  expect(s.deleted).toEqual([s.created[0]!.name]);
});
