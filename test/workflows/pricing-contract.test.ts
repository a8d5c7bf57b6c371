/**
 * pricingContract on a real Temporal dev server (the local stack's, or TALON_TEMPORAL_PORT), with stubbed
 * activities: submissions admitted while the contract can pay for them and refused after, each Job charged
 * once however often metering sees it, the simultaneous-vCPU bound, expiry, close and the final statement.
 */
import { randomBytes } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { EstimateInput, MeterInput, MeteredJobs } from '../../activities/contract';
import type { CreateTaskJobInput, TaskJobOutcome, TaskNodes } from '../../activities/task';
import { ContractClient, ContractRefusedError } from '../../src/client/pricing';
import type { NodeCandidate } from '../../src/domain/placement';
import type { ContractTerms, JobUsage } from '../../src/domain/pricing/metering';
import type { Taxonomy } from '../../src/domain/taxonomy';
import type { ContractStatus } from '../../src/contracts/pricing-contract';
import { loadTaxonomy } from '../../src/tasks/taxonomy-store';
import { temporalHarness } from '../support/temporal-harness';

jest.setTimeout(120_000);

const temporal = temporalHarness();
let taxonomy: Taxonomy;

beforeAll(async () => {
  taxonomy = await loadTaxonomy();
});

const GIB = 1024 ** 3;
const node = (name: string): NodeCandidate => ({
  name,
  tier: 'edge',
  allocatable: { cpuCores: 8, memoryBytes: 16 * GIB },
  usage: { cpuCores: 0.1, memoryBytes: GIB },
});

interface Stubs {
  created: CreateTaskJobInput[];
  /** Jobs wait until released. */
  hold: boolean;
  /** Every Job's observed run time (s) and requests. */
  seconds: number;
  vcpus: number;
  memoryGb: number;
  /** Metering reports each Job twice, and the first read of a task also a still-running Job. */
  noisyMeter: boolean;
  meterCalls: MeterInput[];
  estimates: EstimateInput[];
}

function stubs(partial: Partial<Stubs> = {}): Stubs {
  return {
    created: [],
    hold: false,
    seconds: 60,
    vcpus: 1,
    memoryGb: 1,
    noisyMeter: false,
    meterCalls: [],
    estimates: [],
    ...partial,
  };
}

function activities(s: Stubs) {
  return {
    loadTaskTaxonomy: async () => taxonomy,
    taskNodes: async (): Promise<TaskNodes> => ({ nodes: [node('edge-0')], simulated: ['edge-0'], notes: [] }),
    createTaskJob: async (input: CreateTaskJobInput) => {
      s.created.push(input);
      return {
        namespace: input.namespace,
        name: input.name,
        uid: `uid-${input.name}`,
        created: true,
        createdAt: new Date().toISOString(),
      };
    },
    awaitTaskJob: async (): Promise<TaskJobOutcome> => {
      const ctx = Context.current();
      while (s.hold) {
        ctx.heartbeat();
        await ctx.sleep(100);
      }
      return { outcome: 'succeeded', active: 0, node: 'edge-0' };
    },
    collectTaskRun: async (input: { simulated: boolean }) => ({ observed: {}, simulated: input.simulated, notes: [] }),
    deleteTaskJob: async () => ({ deleted: true }),
    estimateContractTask: async (input: EstimateInput) => {
      s.estimates.push(input);
      return { algorithm: 'linear', vcpus: s.vcpus, memoryGb: s.memoryGb, expectedSeconds: 5 };
    },
    meterTaskJobs: async (input: MeterInput): Promise<MeteredJobs> => {
      s.meterCalls.push(input);
      const mine = s.created.filter((c) => c.taskIdLabel === input.taskIdLabel);
      const usage = (c: CreateTaskJobInput): JobUsage => ({
        uid: `uid-${c.name}`,
        job: c.name,
        namespace: c.namespace,
        node: c.node,
        userOwned: false,
        vcpus: s.vcpus,
        memoryGb: s.memoryGb,
        seconds: s.seconds,
      });
      const firstRead = s.meterCalls.filter((m) => m.taskIdLabel === input.taskIdLabel).length === 1;
      if (s.noisyMeter) {
        return { jobs: [...mine.map(usage), ...mine.map(usage)], running: firstRead ? ['still-terminating'] : [] };
      }
      return { jobs: mine.map(usage), running: [] };
    },
  };
}

function withWorker<T>(s: Stubs, fn: (contracts: ContractClient) => Promise<T>): Promise<T> {
  return temporal.withWorker('wf-contract', activities(s), (taskQueue) =>
    fn(new ContractClient(temporal.client(), taskQueue)),
  );
}

const bundleTerms = (over: Partial<ContractTerms> = {}): ContractTerms => ({
  kind: 'bundle',
  bundle: 'basic',
  // 3 vCPU-minutes: two one-minute tasks of 1 vCPU fit, a third's worst case does not.
  vcpuHours: 0.05,
  ramGbHours: 4,
  maxSimultaneousVcpus: 2,
  pricePerVcpuHour: 0.08,
  pricePerGbHour: 0.01,
  userOwnedIncentivePercent: 15,
  ...over,
});
const id = () => `t-${randomBytes(4).toString('hex')}`;
const submission = { task: 'interpolation', priorities: { quality: 70, energy: 30 }, settings: { maxAttempts: 1 } };

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const metered = (n: number) => (s: ContractStatus) => s.tasks.length >= n;

it('meters tasks until the bundle cannot pay for another, then refuses; the statement adds up', async () => {
  const s = stubs();
  const final = await withWorker(s, async (contracts) => {
    const contract = await contracts.buy({
      contractId: id(),
      terms: bundleTerms(),
      settings: { closeWhenExhaustedAfterSeconds: 1 },
    });
    const first = await contract.submit(submission);
    // 0.05 vCPU-h left, 1 vCPU, 1 attempt: 180 s affordable, the task's own 600 s deadline is shortened to it.
    expect(first.runTimeoutSeconds).toBe(180);
    await waitFor('first metering', async () => metered(1)(await contract.status()));
    expect(s.created[0]!.activeDeadlineSeconds).toBe(180);
    const second = await contract.submit(submission);
    expect(second.runTimeoutSeconds).toBe(120);
    await waitFor('second metering', async () => metered(2)(await contract.status()));
    const status = await contract.status();
    expect(status.used.vcpuHours).toBeCloseTo(2 / 60, 12);
    expect(status.remaining.vcpuHours).toBeCloseTo(1 / 60, 12);
    expect(status.jobsMetered).toBe(2);
    // 60 s left: one attempt of 60 s would still fit, two attempts of 30 s are under the 60 s minimum run.
    const refusal = await contract.submit({ ...submission, settings: { maxAttempts: 2 } }).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(ContractRefusedError);
    expect((refusal as ContractRefusedError).code).toBe('ContractExhausted');
    expect((refusal as ContractRefusedError).message).toMatch(/0\.0167 vCPU-hours left/);
    expect((await contract.status()).refused).toBe(1);
    await contract.close('test done');
    return contract.result();
  });
  expect(final.state).toBe('closed');
  expect(final.cost).toBeCloseTo((2 / 60) * 0.08 + (2 / 60) * 0.01, 12);
  expect(final.tasks.map((t) => t.outcome)).toEqual(['succeeded', 'succeeded']);
  expect(s.created).toHaveLength(2);
});

it('charges each Job once however often metering reports it, re-reading while one still runs', async () => {
  const s = stubs({ noisyMeter: true });
  await withWorker(s, async (contracts) => {
    const contract = await contracts.buy({
      contractId: id(),
      terms: bundleTerms({ vcpuHours: 10 }),
      settings: { meterRetrySeconds: 1 },
    });
    await contract.submit(submission);
    await waitFor('metering', async () => metered(1)(await contract.status()));
    const status = await contract.status();
    expect(s.meterCalls.length).toBe(2);
    expect(status.jobsMetered).toBe(1);
    expect(status.used.vcpuHours).toBeCloseTo(1 / 60, 12);
    expect(status.tasks[0]).toMatchObject({ jobs: 1 });
    await contract.close();
  });
});

it('refuses beyond the simultaneous vCPUs while a task runs', async () => {
  const s = stubs({ hold: true, vcpus: 1.5 });
  await withWorker(s, async (contracts) => {
    const contract = await contracts.buy({ contractId: id(), terms: bundleTerms({ vcpuHours: 10 }) });
    await contract.submit(submission);
    const refusal = await contract.submit(submission).catch((e: unknown) => e);
    expect((refusal as ContractRefusedError).code).toBe('ContractBusy');
    const status = await contract.status();
    expect(status.running).toHaveLength(1);
    expect(status.remaining.vcpuHours).toBeCloseTo(10 - (1.5 * 600) / 3600, 9);
    s.hold = false;
    await waitFor('metering', async () => metered(1)(await contract.status()));
    expect((await contract.status()).running).toHaveLength(0);
    await contract.close();
  });
});

it('a pay-as-you-go contract refuses after its period and ends with an expired statement', async () => {
  const s = stubs();
  await withWorker(s, async (contracts) => {
    const terms: ContractTerms = {
      kind: 'payg',
      pricePerVcpuHour: 0.08,
      pricePerGbHour: 0.01,
      userOwnedIncentivePercent: 15,
      validUntil: new Date(Date.now() + 4000).toISOString(),
      budget: 1,
    };
    const contract = await contracts.buy({ contractId: id(), terms });
    await contract.submit(submission);
    await waitFor('metering', async () => metered(1)(await contract.status()));
    const final = await contract.result();
    expect(final.state).toBe('expired');
    expect(final.cost).toBeCloseTo((1 / 60) * 0.09, 12);
    const refusal = await contract.submit(submission).catch((e: unknown) => e);
    expect((refusal as ContractRefusedError).code).toBe('ContractExpired');
  });
});
