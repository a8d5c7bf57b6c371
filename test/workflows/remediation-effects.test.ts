/**
 * Issue 14 on a real Temporal server with scripted activities (test/support/remediation-harness.ts): one
 * remediation per workload, escalation memory across episodes and the growth cap, rollback of a change that
 * failed or made things worse, the node-overload loop judged by the node's usage, and the adaptive cool-down
 * fed with recorded outcomes. With TALON_RECORD_HISTORIES=1 the new paths' histories are exported for replay.
 */
import { Client, Connection } from '@temporalio/client';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { loadStackConfig, stackEndpoints } from '../../src/config/local-stack';
import type { RemediateAlertResult, RemediationSettings } from '../../src/contracts/remediate-alert';
import { bundleWorkflows } from '../../workers/bundle';
import {
  exportHistory,
  freshWorkload,
  newCalls,
  newScript,
  waitUntil,
  withScriptedWorker,
  workloadAlert,
} from '../support/remediation-harness';

jest.setTimeout(120_000);

const address = stackEndpoints(loadStackConfig()).temporalAddress;
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

const env = () => ({ address, bundle, client });

const FAST: Partial<RemediationSettings> = {
  maxAttempts: 3,
  cooldown: { defaultSeconds: 3, minSeconds: 1, maxSeconds: 5, historyFactor: 1.5 },
};

describe('one incident, one remediation (gap 0)', () => {
  it('joins the alerts of two pods of one Deployment into one workflow that changes it once', async () => {
    const script = newScript();
    const calls = newCalls();
    const workload = freshWorkload('web');
    const a = workloadAlert(workload, 'x2x9z');
    const b = workloadAlert(workload, 'q8w4k');
    const result = await withScriptedWorker(
      env(),
      script,
      calls,
      { remediation: { ...FAST, cooldown: { ...FAST.cooldown!, defaultSeconds: 30, maxSeconds: 60 } } },
      async ({ talon }) => {
        const first = await talon.remediate(a);
        const second = await talon.remediate(b);
        expect(first.workflowId).toBe(`remediate/shop/${workload}`);
        expect(second.workflowId).toBe(first.workflowId);
        await waitUntil(async () => (await talon.status(first.workflowId)).pods?.length === 2);
        await waitUntil(async () => (await talon.status(first.workflowId)).step === 'cooldown');
        // One pod's alert resolving is not the incident resolving: the other pod still fires.
        await talon.remediate({ ...a, status: 'resolved' });
        await new Promise((r) => setTimeout(r, 1_000));
        expect((await talon.status(first.workflowId)).firing).toBe(true);
        await talon.remediate({ ...b, status: 'resolved' });
        await exportHistory(client, first.workflowId, 'workload-two-pods-one-change');
        return (await client.workflow.getHandle(first.workflowId).result()) as RemediateAlertResult;
      },
    );
    expect(result.outcome).toBe('resolved');
    expect(calls.applied.map((x) => [x.policy, x.magnitude])).toEqual([['cpu_scale_up', 1.5]]);
    expect(result.notifications).toBe(2);
  });

  it('acts on the newest firing pod that still exists when the first one is gone', async () => {
    const workload = freshWorkload('api');
    const a = workloadAlert(workload, 'x2x9z');
    const b = workloadAlert(workload, 'q8w4k');
    const script = newScript({ gone: new Set([a.target.kind === 'pod' ? a.target.pod : '']) });
    const calls = newCalls();
    const workflowId = `remediate/shop/${workload}`;
    const result = await withScriptedWorker(
      env(),
      script,
      calls,
      { remediation: { ...FAST, maxAttempts: 1 } },
      async ({ talon }) => {
        await waitUntil(async () => (await talon.status(workflowId)).step === 'cooldown');
        await talon.remediate({ ...b, status: 'resolved' });
        await talon.remediate({ ...a, status: 'resolved' });
        return (await client.workflow.getHandle(workflowId).result()) as RemediateAlertResult;
      },
      // Both alerts are in before the workflow's first task: b starts it, a (whose pod is gone) is the newest.
      async ({ talon }) => {
        await talon.remediate(b);
        await talon.remediate(a);
      },
    );
    expect(calls.applied).toHaveLength(1);
    expect(calls.applied[0]!.target.pod).toBe(b.target.kind === 'pod' ? b.target.pod : '');
    expect(result.outcome).toBe('resolved');
  });
});
