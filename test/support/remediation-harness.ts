/**
 * remediateAlert / nodeOverload on a real Temporal server with scripted activities: each stub answers from a
 * script the test controls (which pods exist, what each gathered window shows, whether verification passes,
 * the workload's recorded outcomes, the node's usage) and records what the workflow asked, so a test asserts
 * on the effect the workflow would have had. Used by test/workflows/remediation-effects.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { TalonClient, type RemediationStartSettings } from '../../src/client/talon-client';
import type { TalonAlert } from '../../src/domain/alert';
import type { RankedNode } from '../../src/domain/node-load';
import type { PolicyDecision } from '../../src/domain/policy';
import type { ApplyPolicyInput, ApplyPolicyResult } from '../../src/domain/remediation';
import type { FeatureWindow } from '../../src/domain/window';
import { STUB_PROFILE, stubPodSnapshot, stubWindow } from './stub-activities';

export const RANKED: PolicyDecision = {
  source: 'model',
  ranked: [
    { policy: 'cpu_scale_up', score: 0.7, magnitude: 1.5, reason: 'cpu near limit' },
    { policy: 'no_action', score: 0.1, magnitude: 1, reason: '' },
    { policy: 'replica_scale_up', score: 0.1, magnitude: 2, reason: 'spread load' },
    { policy: 'task_offloading', score: 0.05, magnitude: 0.5, reason: 'move' },
  ],
};

export interface Script {
  /** Pods readTarget reports as gone (TargetNotFound). */
  readonly gone: Set<string>;
  /** cpu_usage of each successive gathered window (the last one repeats); 0.9 by default. */
  cpuShares: number[];
  /** The pod's disk write rate (bytes/s) in each successive window (the last one repeats); absent by default. */
  ioRates?: number[];
  /** Verification answers, in order (the last one repeats); ok by default. */
  verify: boolean[];
  /** What workloadProfile reports as the mean time past remediations took to resolve. */
  meanResolveSeconds?: number;
  /** CPU share of the node after each eviction (nodeOverload), in order; the last one repeats. */
  nodeShares: number[];
  /** Nodes resolveNode knows by address. */
  readonly addresses: Record<string, string>;
}

export interface Calls {
  readonly applied: ApplyPolicyInput[];
  readonly gathered: string[];
  readonly rolledBack: { operationId: string; appliedOperationId: string; policy: string }[];
  readonly verified: string[];
  readonly node: string[];
  /** Reasons of the Kubernetes Events the operator activities were asked to write. */
  readonly events: string[];
}

export function newScript(extra: Partial<Script> = {}): Script {
  return { gone: new Set(), cpuShares: [0.9], verify: [true], nodeShares: [0.5], addresses: {}, ...extra };
}

export function newCalls(): Calls {
  return { applied: [], gathered: [], rolledBack: [], verified: [], node: [], events: [] };
}

function next<T>(list: T[], fallback: T): T {
  return (list.length > 1 ? list.shift() : list[0]) ?? fallback;
}

function windowWith(cpuShare: number, pod: string, ioRate?: number): FeatureWindow {
  const base = stubWindow();
  return {
    ...base,
    target: { namespace: 'shop', pod },
    values: base.values.map((row) => row.map((v, i) => (i === 0 ? cpuShare : v))),
    ...(ioRate === undefined ? {} : { signals: { fs_write_bytes: base.values.map(() => ioRate) } }),
  };
}

/** The activities the worker registers, scripted. */
export function scriptedActivities(script: Script, calls: Calls) {
  const action = (summary: string, mechanism = 'taint') => ({
    policy: 'node_overload',
    operationId: 'x',
    target: 'node',
    applied: true,
    alreadyApplied: false,
    dryRun: false,
    mechanism,
    summary,
    changes: [],
    expect: { kind: 'none', reason: 'test' },
  });
  let evictions = 0;
  return {
    readTarget: async (ref: { namespace: string; pod: string }) => {
      if (script.gone.has(ref.pod)) {
        throw ApplicationFailure.nonRetryable(`Pod ${ref.namespace}/${ref.pod} not found`, 'TargetNotFound');
      }
      return stubPodSnapshot(ref);
    },
    gatherWindow: async (input: { target: { pod: string } }) => {
      calls.gathered.push(input.target.pod);
      const io = script.ioRates ? next(script.ioRates, 0) : undefined;
      return windowWith(next(script.cpuShares, 0.9), input.target.pod, io);
    },
    decidePolicy: async () => RANKED,
    workloadProfile: async () => ({
      ...STUB_PROFILE,
      remediations: {
        total: script.meanResolveSeconds === undefined ? 0 : 4,
        byOutcome: script.meanResolveSeconds === undefined ? {} : { resolved: 4 },
        ...(script.meanResolveSeconds === undefined ? {} : { meanResolveSeconds: script.meanResolveSeconds }),
      },
    }),
    recordOutcome: async () => ({ written: true }),
    applyPolicy: async (input: ApplyPolicyInput): Promise<ApplyPolicyResult> => {
      calls.applied.push(input);
      return {
        policy: input.policy,
        magnitude: input.magnitude,
        summary: `${input.policy} ×${input.magnitude} on ${input.target.pod}`,
        changes: [{ path: 'container app limits.cpu', from: '500m', to: '750m' }],
        noop: false,
        dryRun: input.dryRun,
        expectation: { kind: 'none', reason: 'test' },
      };
    },
    verifyPolicy: async (input: { applied: ApplyPolicyResult }) => {
      calls.verified.push(input.applied.summary);
      const ok = next(script.verify, true);
      return { ok, observed: ok ? 'rollout complete' : 'not verified after 120s: 1/2 updated' };
    },
    rollbackPolicy: async (input: { applied: ApplyPolicyResult; operationId: string; appliedOperationId: string }) => {
      calls.rolledBack.push({
        operationId: input.operationId,
        appliedOperationId: input.appliedOperationId,
        policy: input.applied.policy,
      });
      return {
        rolledBack: true,
        alreadyRolledBack: false,
        summary: `restored ${input.applied.policy} on the workload`,
        changes: [{ path: 'container app limits.cpu', from: '750m', to: '500m' }],
        expectation: { kind: 'none', reason: 'test' },
      };
    },
    taintNode: async () => {
      calls.node.push('taint');
      return action('taint edge-1');
    },
    untaintNode: async () => {
      calls.node.push('untaint');
      return action('untaint edge-1', 'untaint');
    },
    heaviestPod: async () => {
      calls.node.push('heaviest');
      return {
        namespace: 'shop',
        pod: `hog-${evictions + 1}`,
        uid: `u${evictions + 1}`,
        cpuCores: 3.2,
        basis: 'usage',
      };
    },
    evictPod: async (input: { pod: string }) => {
      evictions += 1;
      calls.node.push(`evict ${input.pod}`);
      return { ...action(`evict shop/${input.pod}`, 'evict'), outcome: 'evicted' };
    },
    rankNodes: async (): Promise<RankedNode[]> => {
      const share =
        evictions === 0 ? 0.95 : (script.nodeShares[Math.min(evictions, script.nodeShares.length) - 1] ?? 0.5);
      calls.node.push(`usage ${share}`);
      return [{ node: 'edge-1', cpuCores: share * 4, memoryBytes: 1, cpuAllocatableCores: 4, cpuShare: share }];
    },
    // The operator activities as `talon worker` serves them without a policy file. Left unregistered, the workflow
    // would take its fallback, which does not replay: on replay the SDK schedules the unregistered local activity.
    resolveOperatorPolicy: async () => null,
    recordEvent: async (input: { reason: string }) => {
      calls.events.push(input.reason);
      return { written: true };
    },
    resolveNode: async (input: { node: string }) => {
      const name = script.addresses[input.node] ?? input.node;
      calls.node.push(`resolve ${input.node} → ${name}`);
      return { node: name, matchedBy: name === input.node ? 'name' : 'address' };
    },
  };
}

export interface Harness {
  readonly talon: TalonClient;
  readonly taskQueue: string;
}

/**
 * Runs `fn` against a worker on a fresh task queue with the scripted activities. `before` runs before the worker
 * polls (e.g. to deliver several alerts before the workflow's first task).
 */
export async function withScriptedWorker<T>(
  env: { address: string; bundle: WorkflowBundleWithSourceMap; client: Client },
  script: Script,
  calls: Calls,
  settings: RemediationStartSettings,
  fn: (h: Harness) => Promise<T>,
  before?: (h: Harness) => Promise<void>,
): Promise<T> {
  const taskQueue = `wf-effects-${randomBytes(4).toString('hex')}`;
  const connection = await NativeConnection.connect({ address: env.address });
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowBundle: env.bundle,
    activities: scriptedActivities(script, calls),
  });
  const talon = await TalonClient.connect({ client: env.client, taskQueue, settings });
  try {
    await before?.({ talon, taskQueue });
    return await worker.runUntil(fn({ talon, taskQueue }));
  } finally {
    await connection.close();
  }
}

/** A pod alert of workload `workload` in namespace shop, one pod of its Deployment per `podSuffix`. */
export function workloadAlert(workload: string, podSuffix: string, overrides: Partial<TalonAlert> = {}): TalonAlert {
  const pod = `${workload}-7c9f8b6d4-${podSuffix}`;
  return {
    source: 'alertmanager',
    alertName: 'TalonPodCpuNearLimit',
    status: 'firing',
    fingerprint: `${workload}${podSuffix}`.replace(/[^A-Za-z0-9_-]/g, ''),
    target: { kind: 'pod', namespace: 'shop', pod, container: 'app' },
    labels: { alertname: 'TalonPodCpuNearLimit', talon_resource: 'cpu' },
    annotations: {},
    startsAt: '2026-11-25T10:00:00Z',
    ...overrides,
  };
}

/** A workload name no other test (or earlier run on the same server) uses. */
export function freshWorkload(prefix: string): string {
  // Letters only after the prefix: a generated-looking suffix would be stripped from the key.
  const letters = 'aeiou';
  const tail = [...randomBytes(6)].map((b) => letters[b % letters.length]).join('');
  return `${prefix}-${tail}`;
}

export async function waitUntil(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not there yet (e.g. the query handler is not registered before the first task)
    }
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** With TALON_RECORD_HISTORIES=1, writes the workflow's history into test/replay/histories/<name>.json. */
export async function exportHistory(client: Client, workflowId: string, name: string): Promise<void> {
  if (process.env.TALON_RECORD_HISTORIES !== '1') return;
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  await writeFile(join(__dirname, '..', 'replay', 'histories', `${name}.json`), historyToJSON(history));
}
