/**
 * The offloadRelease workflow on the real Temporal dev server with stubbed cluster activities: it releases an
 * offload once its source node has recovered, at the time limit when it never does, and at once (not never)
 * when cancelled; the release is one operation, verified after. With TALON_RECORD_HISTORIES=1 the recovered
 * path's history is exported for the replay tier.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { loadStackConfig, stackEndpoints } from '../../src/config/local-stack';
import type { OffloadReleaseInput, OffloadReleaseResult } from '../../src/contracts/offload-release';
import type { ApplyPolicyResult } from '../../src/domain/remediation';
import { bundleWorkflows } from '../../workers/bundle';

jest.setTimeout(120_000);

const address = stackEndpoints(loadStackConfig()).temporalAddress;
const record = process.env.TALON_RECORD_HISTORIES === '1';
let bundle: WorkflowBundleWithSourceMap;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  bundle = await bundleWorkflows();
  connection = await Connection.connect({ address });
  client = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
});

interface Calls {
  recovered: { node: string; below: number; returning?: { namespace: string; replicaSet: string } }[];
  released: { operationId: string; replicaSet: string; moved: number }[];
  verified: number;
}

const released: ApplyPolicyResult = {
  policy: 'task_offloading',
  magnitude: 1,
  summary: 'offload web-offload-1 of Deployment shop/web released',
  changes: [{ path: 'spec.replicas', from: '2', to: '4' }],
  noop: false,
  dryRun: false,
  expectation: {
    kind: 'replicas',
    workload: { kind: 'Deployment', namespace: 'shop', name: 'web' },
    replicas: 4,
    generation: 3,
  },
};

async function run(
  input: Partial<OffloadReleaseInput>,
  recoveredAfterChecks: number,
  during?: (handle: ReturnType<Client['workflow']['getHandle']>) => Promise<void>,
): Promise<{ result: OffloadReleaseResult; calls: Calls; workflowId: string }> {
  const taskQueue = `offload-release-${randomBytes(4).toString('hex')}`;
  const calls: Calls = { recovered: [], released: [], verified: 0 };
  const workerConnection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection: workerConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: {
      offloadSourceRecovered: async (i: Calls['recovered'][number]) => {
        calls.recovered.push(i);
        const recovered = calls.recovered.length >= recoveredAfterChecks;
        return { recovered, detail: `${i.node} ${recovered ? 'recovered' : 'busy'}` };
      },
      releaseOffload: async (i: { operationId: string; replicaSet: string; moved: number }) => {
        calls.released.push({ operationId: i.operationId, replicaSet: i.replicaSet, moved: i.moved });
        return released;
      },
      verifyPolicy: async () => {
        calls.verified += 1;
        return { ok: true, observed: 'Deployment shop/web runs 4 ready replicas' };
      },
    },
  });
  const workflowId = `offload-release-test-${randomBytes(4).toString('hex')}`;
  try {
    const result = await worker.runUntil(async () => {
      const handle = await client.workflow.start('offloadRelease', {
        taskQueue,
        workflowId,
        args: [
          {
            namespace: 'shop',
            deployment: 'web',
            replicaSet: 'web-offload-1',
            moved: 2,
            sourceNode: 'edge-1',
            releaseAfterSeconds: 30,
            recoveredBelow: 0.6,
            checkEverySeconds: 1,
            operationId: 'remediate/x/1',
            ...input,
          } satisfies OffloadReleaseInput,
        ],
      });
      await during?.(handle);
      return (await handle.result()) as OffloadReleaseResult;
    });
    return { result, calls, workflowId };
  } finally {
    await workerConnection.close();
  }
}

it('releases once the source node has recovered, as one operation, then verifies', async () => {
  const { result, calls, workflowId } = await run({}, 2);
  expect(result).toMatchObject({ released: true, reason: 'source-recovered', verified: true });
  // The check counts the moved pods coming back: the node must stay under the threshold with them.
  const check = { node: 'edge-1', below: 0.6, returning: { namespace: 'shop', replicaSet: 'web-offload-1' } };
  expect(calls.recovered).toEqual([check, check]);
  expect(calls.released).toEqual([{ operationId: 'remediate/x/1/release', replicaSet: 'web-offload-1', moved: 2 }]);
  expect(calls.verified).toBe(1);
  if (record) {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    await writeFile(
      join(__dirname, '..', 'replay', 'histories', 'offload-release-recovered.json'),
      historyToJSON(history),
    );
  }
});

it('releases at the time limit when the source never recovers (and without a source node, only the time counts)', async () => {
  const busy = await run({ releaseAfterSeconds: 3 }, Number.POSITIVE_INFINITY);
  expect(busy.result).toMatchObject({ released: true, reason: 'time-limit' });
  expect(busy.calls.recovered.length).toBeGreaterThanOrEqual(1);
  expect(busy.calls.released).toHaveLength(1);
  const timeOnly = await run({ releaseAfterSeconds: 2, sourceNode: undefined }, 1);
  expect(timeOnly.result.reason).toBe('time-limit');
  expect(timeOnly.calls.recovered).toEqual([]);
});

it('a cancelled release releases at once instead of leaving the pin', async () => {
  const { result, calls } = await run({ releaseAfterSeconds: 600 }, Number.POSITIVE_INFINITY, async (handle) => {
    await new Promise((r) => setTimeout(r, 1_500));
    await handle.cancel();
  });
  expect(result).toMatchObject({ released: true, reason: 'cancelled' });
  expect(calls.released).toHaveLength(1);
});
