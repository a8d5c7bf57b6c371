/**
 * The remediation commands without a server: argument validation (refused before anything connects), the
 * pure formatters, payload parsing, and the what-if walk over stubbed activities.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { Command } from 'commander';
import type { RemediationSummary } from '../../src/client/talon-client';
import { chooseCandidate } from '../../src/domain/escalation';
import {
  explainCandidates,
  formatWhatIf,
  parsePayloads,
  whatIfPayloads,
  type AlertmanagerPayload,
  type WhatIfActivities,
} from '../../src/cli/alerts-replay';
import { CliError } from '../../src/cli/errors';
import { registerRemediationCommands } from '../../src/cli/remediation';
import { answerApprovalAction } from '../../src/cli/remediation/approve';
import { checkWorkflowId } from '../../src/cli/remediation/arguments';
import { cancelAction } from '../../src/cli/remediation/cancel';
import { defaultHistoryPath, historyExportAction, historyFileName } from '../../src/cli/remediation/history';
import { formatIntake } from '../../src/cli/remediation/intake';
import { formatList } from '../../src/cli/remediation/list';
import { alertsReplayAction, describeEngine } from '../../src/cli/remediation/replay';
import { formatStatus, type StatusView } from '../../src/cli/remediation/status';
import type { TalonAlert } from '../../src/domain/alert';
import { MODEL_FEATURES } from '../../src/domain/features';
import type { PolicyDecision } from '../../src/domain/policy';
import type { ApplyPolicyInput, ApplyPolicyResult } from '../../src/domain/remediation';
import type { FeatureWindow } from '../../src/domain/window';
import type { RemediationState } from '../../src/contracts/alert-episode';
import { loadTalonConfig } from '../../src/config/talon-config';

// Nothing in this file may reach a server: a command that got past validation would fail on this address.
const config = loadTalonConfig({ ...process.env, TALON_TEMPORAL_ADDRESS: '127.0.0.1:1' });

function program(): { cmd: Command; errors: string[]; out: string[] } {
  const errors: string[] = [];
  const out: string[] = [];
  const cmd = new Command('talon').exitOverride().configureOutput({
    writeErr: (s) => errors.push(s),
    writeOut: () => undefined,
  });
  registerRemediationCommands(cmd, { config, io: { out: (t) => out.push(t) } });
  return { cmd, errors, out };
}

describe('argument validation', () => {
  it.each([
    [['approve', 'remediate/a/b/c/d'], /required option '--by <who>' not specified/],
    [['reject', 'remediate/a/b/c/d'], /required option '--by <who>' not specified/],
    [['cancel', 'remediate/a/b/c/d'], /required option '--by <who>' not specified/],
    [['approve', 'remediate/a/b/c/d', '--by', '   '], /approve needs --by <who>/],
    [['approve', 'remediate/a/b/c/d', '--by', 'x'.repeat(201)], /--by is at most 200 characters/],
    [['status', ''], /a workflow id is required/],
    [['status', 'bad\u0007id'], /no control characters/],
    [['status'], /missing required argument 'workflowId'/],
    [['list', '--limit', '0'], /--limit must be a whole number from 1 to 10000, got "0"/],
    [['alerts', 'intake', '--shards', '0'], /--shards must be an integer from 1 to 64, got 0/],
    [['alerts', 'intake', '--shards', 'four'], /--shards must be an integer from 1 to 64/],
    [['list', '--limit', 'ten'], /--limit must be a whole number/],
    [['list', '--query', '  '], /--query must not be empty/],
    [['history', 'export', 'remediate/a/b/c/d', '--run', 'latest'], /--run must be a run id \(a UUID\)/],
    [['alerts', 'replay'], /missing required argument 'file'/],
    [['alerts', 'replay', 'x.json', '--max-attempts', '0'], /--max-attempts must be a whole number from 1 to 10/],
  ])('talon %j is refused before connecting', async (args, expected) => {
    const { cmd, errors } = program();
    await expect(cmd.parseAsync(['node', 'talon', ...args])).rejects.toThrow();
    expect(errors.join('')).toMatch(expected);
    expect(errors.join('')).not.toMatch(/cannot reach Temporal/);
  });

  it('the action functions check their arguments too (they are the API tests and scripts call)', async () => {
    await expect(answerApprovalAction('approve', 'remediate/a/b/c/d', {}, { config })).rejects.toThrow(
      new CliError('approve needs --by <who>: the person (or system) answering, for the record'),
    );
    await expect(cancelAction('remediate/a/b/c/d', { by: '' }, { config })).rejects.toThrow(/cancel needs --by/);
    await expect(historyExportAction('remediate/a/b/c/d', { run: 'nope' }, { config })).rejects.toThrow(
      /--run must be a run id/,
    );
    expect(() => checkWorkflowId('x'.repeat(1001))).toThrow(/at most 1000 characters/);
  });

  it('an unreachable Temporal is a clear error', async () => {
    const { cmd } = program();
    await expect(cmd.parseAsync(['node', 'talon', 'status', 'remediate/a/b/c/d'])).rejects.toThrow(
      /cannot reach Temporal at 127.0.0.1:1: /,
    );
  }, 30_000);
});

describe('formatIntake', () => {
  it('sums what waits and says which shards are idle or dropped alerts', () => {
    const text = formatIntake('talon-remediation', [
      {
        shard: 0,
        workflowId: 'talon-intake/talon-remediation/0',
        state: { shard: 0, queued: 7, dispatched: 93, dropped: 0 },
      },
      { shard: 1, workflowId: 'talon-intake/talon-remediation/1' },
      {
        shard: 2,
        workflowId: 'talon-intake/talon-remediation/2',
        state: { shard: 2, queued: 3, dispatched: 10, dropped: 1 },
      },
    ]);
    expect(text.split('\n')).toEqual([
      'alert intake of task queue talon-remediation: 10 alert(s) waiting',
      '  shard 0  7 queued, 93 handed on  talon-intake/talon-remediation/0',
      '  shard 1  idle (not running)',
      '  shard 2  3 queued, 10 handed on, 1 dropped (refused by Temporal, see its history)  talon-intake/talon-remediation/2',
    ]);
  });
});

describe('history file names', () => {
  it('keeps what is safe in a file name and turns the rest into dashes', () => {
    expect(historyFileName('remediate/TalonPodCpuNearLimit/shop/web-7f9/0a1b')).toBe(
      'remediate-TalonPodCpuNearLimit-shop-web-7f9-0a1b.json',
    );
    expect(historyFileName('../../etc/passwd')).toBe('etc-passwd.json');
    expect(historyFileName('///')).toBe('history.json');
    expect(historyFileName('a'.repeat(300))).toHaveLength(205);
    expect(defaultHistoryPath('node-overload/X/edge-0/f', '/repo')).toBe(
      '/repo/test/replay/histories/node-overload-X-edge-0-f.json',
    );
  });
});

const alert: TalonAlert = {
  source: 'alertmanager',
  alertName: 'TalonPodCpuNearLimit',
  status: 'firing',
  fingerprint: 'f00d',
  target: { kind: 'pod', namespace: 'shop', pod: 'web-7f9c4d8b6-x2x4z', container: 'app' },
  labels: { alertname: 'TalonPodCpuNearLimit', talon_resource: 'cpu' },
  annotations: {},
  startsAt: '2026-11-25T10:00:00Z',
};

describe('formatStatus', () => {
  const base = {
    workflowId: 'remediate/TalonPodCpuNearLimit/shop/web-7f9c4d8b6-x2x4z/f00d',
    runId: '0193a0b1-0000-7000-8000-000000000001',
    type: 'remediateAlert',
    taskQueue: 'talon-remediation',
    startTime: '2026-11-25T10:00:05.000Z',
  };

  it('shows the step, what it waits for and how to answer, and every attempt with its source', () => {
    const state: RemediationState = {
      workflowId: base.workflowId,
      alert,
      step: 'awaiting_approval',
      firing: true,
      notifications: 2,
      attempts: [
        {
          attempt: 1,
          policy: 'cpu_scale_up',
          magnitude: 1.5,
          summary: 'cpu ×1.5 on Deployment shop/web: container app limits.cpu 500m→750m (rolling update)',
          applied: true,
          verified: true,
          detail: 'Deployment shop/web rolled out: 1/1 updated',
          source: 'model',
        },
      ],
      lastVerification: 'Deployment shop/web rolled out: 1/1 updated',
      awaitingApprovalFor: 'replica_scale_up ×2 on shop/web-7f9c4d8b6-x2x4z/app',
    };
    const text = formatStatus({ ...base, execution: 'RUNNING', state });
    expect(text.split('\n')).toEqual([
      `remediation  ${base.workflowId}`,
      `workflow     remediateAlert RUNNING, run ${base.runId}, task queue talon-remediation, started 2026-11-25T10:00:05.000Z`,
      'alert        TalonPodCpuNearLimit on shop/web-7f9c4d8b6-x2x4z/app: firing, 2 notifications',
      'step         awaiting_approval',
      'waiting for  approval of replica_scale_up ×2 on shop/web-7f9c4d8b6-x2x4z/app',
      `             answer with: talon approve|reject ${base.workflowId} --by <you> [--comment <text>]`,
      'outcome      none yet (in progress)',
      'verification Deployment shop/web rolled out: 1/1 updated',
      'attempts     #1 cpu_scale_up ×1.5 by the model: applied, verified',
      '                cpu ×1.5 on Deployment shop/web: container app limits.cpu 500m→750m (rolling update)',
      '                Deployment shop/web rolled out: 1/1 updated',
    ]);
  });

  it('shows the operator policy in force, a storm brake holding it, and the version behind each attempt', () => {
    const state: RemediationState = {
      workflowId: base.workflowId,
      alert,
      step: 'guard',
      firing: true,
      notifications: 1,
      attempts: [
        {
          attempt: 1,
          policy: 'cpu_scale_up',
          magnitude: 1.5,
          summary: 'cpu_scale_up ×1.5 on shop/web',
          applied: false,
          detail: 'observe: would apply cpu_scale_up ×1.5 on shop/web',
          policyVersion: 'v2@0123456789ab',
        },
      ],
      operator: {
        policyVersion: 'v3@ba9876543210',
        autonomy: 'approve',
        matched: ['payments-needs-approval'],
        brake: 'storm brake engaged: 30 of 40 pods of namespace shop under remediation (75%), more than 50%',
      },
    };
    const lines = formatStatus({ ...base, execution: 'RUNNING', state }).split('\n');
    expect(lines).toContain('policy       v3@ba9876543210, autonomy approve (overrides: payments-needs-approval)');
    expect(lines).toContain(
      'held         storm brake engaged: 30 of 40 pods of namespace shop under remediation (75%), more than 50%',
    );
    expect(lines).toContain('                decided under policy v2@0123456789ab');
  });

  it('says why the rules answered, and what a refused attempt was', () => {
    const state: RemediationState = {
      workflowId: base.workflowId,
      alert,
      step: 'done',
      firing: true,
      notifications: 1,
      outcome: 'needs_human',
      attempts: [
        {
          attempt: 1,
          policy: 'cpu_scale_up',
          magnitude: 1.5,
          summary: 'cpu_scale_up ×1.5 on shop/web',
          applied: false,
          detail: 'GuardRefused: refused by guard result_bounds: 24 > 16',
          source: 'rules',
          fallbackReason: 'metrics unavailable: Prometheus refused',
        },
      ],
    };
    const text = formatStatus({ ...base, execution: 'COMPLETED', closeTime: '2026-11-25T10:01:00.000Z', state });
    expect(text).toContain('closed 2026-11-25T10:01:00.000Z');
    expect(text).toContain('outcome      needs_human');
    expect(text).toContain(
      '#1 cpu_scale_up ×1.5 by the rules (fallback: metrics unavailable: Prometheus refused): not applied',
    );
    expect(text).toContain('GuardRefused: refused by guard result_bounds: 24 > 16');
    expect(text).not.toContain('waiting for');
  });

  it('shows the pods that joined, the episode, a rollback, what is remembered and until when it watches', () => {
    const state: RemediationState = {
      workflowId: 'remediate/shop/web',
      alert,
      step: 'watching',
      firing: false,
      notifications: 3,
      pods: ['web-7f9c4d8b6-q8w4k', 'web-7f9c4d8b6-x2x4z'],
      outcome: 'resolved',
      episode: 2,
      watchingUntil: '2026-11-26T10:00:00.000Z',
      memory: [
        {
          policy: 'cpu_scale_up',
          magnitude: 1.5,
          at: Date.parse('2026-11-25T10:00:10Z'),
          episode: 1,
          outcome: 'rolled_back',
        },
        {
          policy: 'replica_scale_up',
          magnitude: 2,
          at: Date.parse('2026-11-25T11:00:10Z'),
          episode: 2,
          outcome: 'applied',
        },
      ],
      attempts: [
        {
          attempt: 1,
          policy: 'replica_scale_up',
          magnitude: 2,
          summary: 'replicas of Deployment shop/web: 2→4',
          applied: true,
          verified: true,
          rolledBack: 'cpu at 97 % of its limit after the cool-down, 85 % before the change; restored',
        },
      ],
    };
    const text = formatStatus({ ...base, workflowId: 'remediate/shop/web', execution: 'RUNNING', state }).split('\n');
    expect(text).toEqual(
      expect.arrayContaining([
        'pods         web-7f9c4d8b6-q8w4k, web-7f9c4d8b6-x2x4z',
        'episode      2',
        'watching     for a re-fire until 2026-11-26T10:00:00.000Z (it continues below what was tried)',
        '                rolled back: cpu at 97 % of its limit after the cool-down, 85 % before the change; restored',
        'remembers    2026-11-25T10:00:10.000Z episode 1: cpu_scale_up ×1.5 rolled_back',
        '             2026-11-25T11:00:10.000Z episode 2: replica_scale_up ×2 applied',
      ]),
    );
  });

  it('falls back to the result of a closed run whose state cannot be queried', () => {
    const view: StatusView = {
      ...base,
      execution: 'COMPLETED',
      result: { outcome: 'resolved', reason: 'resolved after cpu_scale_up', attempts: [] },
      note: 'the workflow is closed and its live state cannot be queried (no poller)',
    };
    const text = formatStatus(view);
    expect(text).toContain('outcome      resolved: resolved after cpu_scale_up');
    expect(text).toContain('attempts     none yet');
    expect(text).toContain('note         the workflow is closed');
  });
});

describe('formatList', () => {
  it('is a table with one row per remediation and a count', () => {
    const rows: RemediationSummary[] = [
      {
        workflowId: 'remediate/TalonPodCpuNearLimit/shop/web-1/f1',
        runId: 'r1',
        type: 'remediateAlert',
        status: 'RUNNING',
        startTime: new Date('2026-11-25T10:00:05.123Z'),
        alertName: 'TalonPodCpuNearLimit',
        target: 'shop/web-1/app',
        policies: ['cpu_scale_up', 'replica_scale_up'],
      },
      {
        workflowId: 'node-overload/TalonNodeOverloaded/edge-0/f2',
        runId: 'r2',
        type: 'nodeOverload',
        status: 'COMPLETED',
        startTime: new Date('2026-11-25T09:00:00Z'),
        outcome: 'needs_human',
      },
    ];
    expect(formatList(rows).split('\n')).toEqual([
      'STARTED               STATUS     OUTCOME      ALERT                 TARGET          POLICIES                       WORKFLOW ID',
      '2026-11-25 10:00:05Z  RUNNING    -            TalonPodCpuNearLimit  shop/web-1/app  cpu_scale_up,replica_scale_up  remediate/TalonPodCpuNearLimit/shop/web-1/f1',
      '2026-11-25 09:00:00Z  COMPLETED  needs_human  -                     -               -                              node-overload/TalonNodeOverloaded/edge-0/f2',
      '2 remediations',
    ]);
    expect(formatList([])).toBe('no remediations match');
  });
});

function payload(alerts: AlertmanagerPayload['alerts'], status: 'firing' | 'resolved' = 'firing'): AlertmanagerPayload {
  return {
    version: '4',
    groupKey: '{}:{alertname="TalonPodCpuNearLimit"}',
    truncatedAlerts: 0,
    status,
    receiver: 'talon',
    groupLabels: { alertname: 'TalonPodCpuNearLimit' },
    commonLabels: { alertname: 'TalonPodCpuNearLimit' },
    commonAnnotations: {},
    externalURL: 'http://127.0.0.1:9093',
    alerts,
  };
}

function podAlert(pod: string, overrides: Partial<AlertmanagerPayload['alerts'][number]> = {}) {
  return {
    status: 'firing' as const,
    labels: { alertname: 'TalonPodCpuNearLimit', namespace: 'shop', pod, container: 'app', talon_resource: 'cpu' },
    annotations: { summary: 'hot' },
    startsAt: '2026-11-25T10:00:00Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus/graph',
    fingerprint: `fp${pod.replace(/[^a-z0-9]/g, '')}`,
    ...overrides,
  };
}

describe('parsePayloads', () => {
  const one = payload([podAlert('web-1')]);

  it('reads one payload, an array of payloads, or one payload per line', () => {
    expect(parsePayloads(JSON.stringify(one, null, 2), 'f')).toHaveLength(1);
    expect(parsePayloads(JSON.stringify([one, one]), 'f').map((p) => p.index)).toEqual([1, 2]);
    const ndjson = `${JSON.stringify(one)}\n\n${JSON.stringify(one)}\n`;
    expect(parsePayloads(ndjson, 'f').map((p) => [p.index, p.line])).toEqual([
      [1, 1],
      [2, 3],
    ]);
  });

  it('refuses a file that is empty, not JSON, or holds something that is not a webhook payload', () => {
    expect(() => parsePayloads('  \n', 'rec.json')).toThrow(/rec.json is empty/);
    expect(() => parsePayloads('[]', 'rec.json')).toThrow(/rec.json holds no payloads/);
    expect(() => parsePayloads('{"version": "4",\n  oops', 'rec.json')).toThrow(/rec.json is not valid JSON/);
    expect(() => parsePayloads(`${JSON.stringify(one)}\n${JSON.stringify(one)}\n{oops`, 'rec.json')).toThrow(
      /rec.json line 3 is not valid JSON/,
    );
    // Missing fields are accepted as the webhook accepts them (Go zero values); another version or type is not.
    const grafanaLike = { status: 'firing', version: '1', alerts: [{ labels: {} }] };
    let error: unknown;
    try {
      parsePayloads(`${JSON.stringify(one)}\n${JSON.stringify(grafanaLike)}`, 'rec.json');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CliError);
    expect((error as Error).message).toMatch(
      /^rec.json: 1 of 2 payload\(s\) are not Alertmanager webhook payloads \(version 4\):\n {2}payload 2 \(line 2\): version: /,
    );
  });
});

function window(cpu: number): FeatureWindow {
  return {
    kind: 'window',
    target: { namespace: 'shop', pod: 'web-1' },
    source: 'prometheus',
    end: 1_795_000_000,
    stepSeconds: 5,
    steps: 10,
    features: MODEL_FEATURES,
    values: Array.from({ length: 10 }, () => MODEL_FEATURES.map((f) => (f === 'cpu_usage' ? cpu : 0.2))),
    observed: Array.from({ length: 10 }, () => MODEL_FEATURES.map(() => true)),
    absentFeatures: [],
    quality: { realFraction: 1, stalenessSeconds: 0, freshness: 1, score: 0.97, coverage: 1 },
  };
}

const MODEL_DECISION: PolicyDecision = {
  source: 'model',
  modelVersion: 'outcome-test',
  ranked: [
    { policy: 'cpu_scale_down', score: 0.4, magnitude: 0.8, reason: 'model' },
    { policy: 'cpu_scale_up', score: 0.3, magnitude: 1.456, reason: 'model' },
    { policy: 'no_action', score: 0.2, magnitude: 1, reason: 'model' },
    { policy: 'node_overload', score: 0.05, magnitude: 1, reason: 'model' },
    { policy: 'replica_scale_up', score: 0.05, magnitude: 2, reason: 'model' },
  ],
};

interface Stub {
  activities: WhatIfActivities;
  applied: ApplyPolicyInput[];
}

function stub(
  options: {
    refuse?: string[];
    retryable?: string[];
    gatherFails?: boolean;
    missing?: string[];
    ignoreDryRun?: boolean;
    noChanges?: boolean;
  } = {},
): Stub {
  const applied: ApplyPolicyInput[] = [];
  const activities: WhatIfActivities = {
    readTarget: async (ref) => {
      if (options.missing?.includes(ref.pod)) {
        throw ApplicationFailure.nonRetryable(`pod ${ref.namespace}/${ref.pod} does not exist`, 'TargetNotFound');
      }
      return {
        namespace: ref.namespace,
        name: ref.pod,
        node: 'edge-1',
      } as unknown as Awaited<ReturnType<WhatIfActivities['readTarget']>>;
    },
    gatherWindow: async () => {
      if (options.gatherFails) throw ApplicationFailure.retryable('Prometheus refused the connection', 'Unavailable');
      return window(0.97);
    },
    decidePolicy: async () => MODEL_DECISION,
    applyPolicy: async (input): Promise<ApplyPolicyResult> => {
      applied.push(input);
      if (options.refuse?.includes(input.policy)) {
        throw ApplicationFailure.create({
          message: `refused by guard result_bounds: ${input.policy} would leave limits.cpu above 16`,
          type: 'GuardRefused',
          nonRetryable: true,
          details: ['result_bounds'],
        });
      }
      if (options.retryable?.includes(input.policy)) throw new Error('apiserver unavailable');
      return {
        policy: input.policy,
        magnitude: input.magnitude,
        summary: `[dry run] ${input.policy} ×${input.magnitude} on Deployment shop/web`,
        changes: options.noChanges ? [] : [{ path: 'container app limits.cpu', from: '500m', to: '728m' }],
        // What the activity reports for every dry run: nothing was written.
        noop: true,
        dryRun: options.ignoreDryRun ? false : input.dryRun,
        expectation: { kind: 'none', reason: 'dry run' },
      };
    },
  };
  return { activities, applied };
}

const replayOptions = { file: 'rec.json', engine: 'the test model', maxAttempts: 3, operationPrefix: 'what-if/t' };

describe('the what-if walk', () => {
  it('filters like the workflow: no scale-down for a near-limit alert, no no_action, no node policy', () => {
    const ranked = explainCandidates(MODEL_DECISION, alert);
    expect(ranked.map((c) => [c.policy, c.usable, c.skippedBecause])).toEqual([
      ['cpu_scale_down', false, 'scaling down never relieves a resource near its limit'],
      ['cpu_scale_up', true, undefined],
      ['no_action', false, 'never chosen while the alert fires'],
      ['node_overload', false, 'not a pod action'],
      ['replica_scale_up', true, undefined],
    ]);
    expect(chooseCandidate(MODEL_DECISION, alert, new Set())).toEqual({
      candidate: { policy: 'cpu_scale_up', score: 0.3, magnitude: 1.46, reason: 'model' },
      fromAlert: false,
    });
    // With the engines' candidates used up, the alert's own defaults follow (task_offloading here).
    expect(chooseCandidate(MODEL_DECISION, alert, new Set(['cpu_scale_up', 'replica_scale_up']))).toMatchObject({
      candidate: { policy: 'task_offloading' },
      fromAlert: true,
    });
  });

  it('dry-runs the chosen policy and reports what would change', async () => {
    const s = stub();
    const parsed = parsePayloads(JSON.stringify(payload([podAlert('web-1')])), 'rec.json');
    const report = await whatIfPayloads(parsed, s.activities, replayOptions);
    expect(s.applied).toEqual([
      {
        target: { namespace: 'shop', pod: 'web-1', container: 'app' },
        policy: 'cpu_scale_up',
        magnitude: 1.46,
        operationId: 'what-if/t/1/1',
        dryRun: true,
      },
    ]);
    const [only] = report.alerts;
    expect(only).toMatchObject({
      outcome: 'would_apply',
      verdict: 'would apply cpu_scale_up ×1.46',
      node: 'edge-1',
      decision: { source: 'model', modelVersion: 'outcome-test' },
      workflowId: 'remediate/shop/web',
    });
    const text = formatWhatIf(report);
    expect(text).toContain('decisions by the test model; changes are sent with dryRun=All');
    expect(text).toContain('[1.1] TalonPodCpuNearLimit on shop/web-1/app (firing)');
    expect(text).toContain(
      'gather   prometheus window, 10 steps × 5 s, quality 0.97; CPU 97% of limit, memory 20% of limit',
    );
    expect(text).toContain('infer    model (model outcome-test)');
    expect(text).toMatch(/ranked {3}1\. cpu_scale_down +0\.40 {2}×0\.80 {2}skipped: scaling down never relieves/);
    expect(text).toContain('try 1   cpu_scale_up ×1.46 → dry run accepted by the apiserver: [dry run] cpu_scale_up');
    expect(text).toContain('container app limits.cpu: 500m → 728m');
    expect(text).toContain('verdict  would apply cpu_scale_up ×1.46');
  });

  it('tells a dry run that would change something from one with nothing to change', async () => {
    const parsed = parsePayloads(JSON.stringify(payload([podAlert('web-1')])), 'rec.json');
    const report = await whatIfPayloads(parsed, stub({ noChanges: true }).activities, replayOptions);
    expect(report.alerts[0]?.tries[0]?.noop).toBe(true);
    expect(report.alerts[0]?.verdict).toBe('would apply cpu_scale_up ×1.46 (nothing to change: already in place)');
    const changing = await whatIfPayloads(parsed, stub().activities, replayOptions);
    expect(changing.alerts[0]?.tries[0]?.noop).toBe(false);
  });

  it('moves on to the next candidate when a guard refuses, and calls a human when all are refused', async () => {
    const parsed = parsePayloads(JSON.stringify(payload([podAlert('web-1')])), 'rec.json');
    const once = await whatIfPayloads(parsed, stub({ refuse: ['cpu_scale_up'] }).activities, replayOptions);
    expect(once.alerts[0]?.tries.map((t) => [t.policy, t.outcome, t.guard])).toEqual([
      ['cpu_scale_up', 'refused', 'result_bounds'],
      ['replica_scale_up', 'would_apply', undefined],
    ]);
    expect(formatWhatIf(once)).toContain(
      'try 1   cpu_scale_up ×1.46 → refused by guard result_bounds: refused by guard result_bounds:',
    );

    const all = await whatIfPayloads(
      parsed,
      stub({ refuse: ['cpu_scale_up', 'replica_scale_up', 'task_offloading'] }).activities,
      replayOptions,
    );
    expect(all.alerts[0]).toMatchObject({
      outcome: 'needs_human',
      verdict: 'every policy tried was refused (cpu_scale_up, replica_scale_up, task_offloading): needs a human',
    });
    expect(all.alerts[0]?.tries[2]).toMatchObject({ policy: 'task_offloading', fromAlert: true });
  });

  it('answers with the rules and says why when metrics are unavailable', async () => {
    const parsed = parsePayloads(JSON.stringify(payload([podAlert('web-1')])), 'rec.json');
    const report = await whatIfPayloads(parsed, stub({ gatherFails: true }).activities, replayOptions);
    expect(report.alerts[0]?.decision).toEqual({
      source: 'rules',
      fallbackReason: 'metrics unavailable: Prometheus refused the connection',
    });
    expect(report.alerts[0]?.tries[0]).toMatchObject({ policy: 'cpu_scale_up', magnitude: 1.5 });
    expect(formatWhatIf(report)).toContain(
      'infer    rules, because metrics unavailable: Prometheus refused the connection',
    );
  });

  it('a retryable failure stops the walk: the workflow would retry, not escalate', async () => {
    const parsed = parsePayloads(JSON.stringify(payload([podAlert('web-1')])), 'rec.json');
    const report = await whatIfPayloads(parsed, stub({ retryable: ['cpu_scale_up'] }).activities, replayOptions);
    expect(report.alerts[0]).toMatchObject({
      outcome: 'error',
      verdict: 'cpu_scale_up failed in a way the workflow would retry: apiserver unavailable',
    });
    expect(report.alerts[0]?.tries).toHaveLength(1);
  });

  it('never reports success for a change that was not a dry run', async () => {
    const parsed = parsePayloads(JSON.stringify(payload([podAlert('web-1')])), 'rec.json');
    await expect(whatIfPayloads(parsed, stub({ ignoreDryRun: true }).activities, replayOptions)).rejects.toThrow(
      /the actuator ignored dryRun/,
    );
  });

  it('reports resolved, node, repeated, missing and rejected alerts without deciding on them', async () => {
    const s = stub({ missing: ['gone-1'] });
    const parsed = parsePayloads(
      [
        JSON.stringify(
          payload([
            podAlert('web-1'),
            { ...podAlert('x'), labels: { alertname: 'NoTarget' } },
            { ...podAlert('n'), labels: { alertname: 'TalonNodeOverloaded', node: 'edge-0' } },
            podAlert('gone-1'),
          ]),
        ),
        JSON.stringify(payload([podAlert('web-1')])),
        JSON.stringify(payload([podAlert('web-1', { status: 'resolved' })], 'resolved')),
      ].join('\n'),
      'rec.ndjson',
    );
    const report = await whatIfPayloads(parsed, s.activities, replayOptions);
    expect(report.alerts.map((a) => [`${a.payload}.${a.alert}`, a.outcome])).toEqual([
      ['1.1', 'would_apply'],
      ['1.3', 'skipped'],
      ['1.4', 'needs_human'],
      ['2.1', 'skipped'],
      ['3.1', 'skipped'],
    ]);
    expect(report.rejected).toEqual([
      {
        payload: 1,
        alert: 2,
        alertName: 'NoTarget',
        reason: 'alert has neither namespace+pod nor node labels, so Talon cannot tell what to remediate',
      },
    ]);
    expect(s.applied).toHaveLength(1);
    const text = formatWhatIf(report);
    expect(text).toContain('what-if for rec.json: 3 payload(s), 6 alert(s)');
    expect(text).toContain('a node alert: the nodeOverload workflow');
    expect(text).toContain('pod shop/gone-1 does not exist: nothing to act on, the remediation would end needs_human');
    expect(text).toContain('a repeat of payload 1 alert 1: it would reach the same remediation');
    expect(text).toContain('resolved: Talon would tell the running remediation (if any) and decide nothing');
    expect(text).toContain(
      '[1.2] NoTarget rejected as the webhook would: alert has neither namespace+pod nor node labels',
    );
  });
});

describe('alertsReplayAction', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'talon-replay-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the report, or JSON with --json', async () => {
    const file = join(dir, 'one.json');
    await writeFile(file, JSON.stringify(payload([podAlert('web-1')])));
    const out: string[] = [];
    await alertsReplayAction(file, {}, { io: { out: (t) => out.push(t) }, activities: stub().activities });
    expect(out.join('\n')).toContain('verdict  would apply cpu_scale_up ×1.46');
    const json: string[] = [];
    const report = await alertsReplayAction(
      file,
      { json: true, maxAttempts: 1 },
      { io: { out: (t) => json.push(t) }, activities: stub({ refuse: ['cpu_scale_up'] }).activities },
    );
    expect(JSON.parse(json.join(''))).toEqual(JSON.parse(JSON.stringify(report)));
    expect(report.alerts[0]?.outcome).toBe('needs_human');
  });

  it('refuses a missing or malformed file', async () => {
    await expect(alertsReplayAction(join(dir, 'nope.json'), {}, { activities: stub().activities })).rejects.toThrow(
      /cannot read payload file .*nope.json: ENOENT/,
    );
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"version": "4", "alerts": {}}');
    await expect(alertsReplayAction(bad, {}, { activities: stub().activities })).rejects.toThrow(/payload 1: alerts: /);
  });

  it('runs the injected worker engine and closes it; without one it says how to run it', async () => {
    const file = join(dir, 'engine.json');
    await writeFile(file, JSON.stringify(payload([podAlert('web-1')])));
    let closed = 0;
    const asked: { model?: string }[] = [];
    const report = await alertsReplayAction(
      file,
      { model: 'other.onnx' },
      {
        io: { out: () => undefined },
        config,
        whatIf: async (_config, options) => {
          asked.push(options);
          return { activities: stub().activities, engine: 'the test engine', close: async () => void (closed += 1) };
        },
      },
    );
    expect(report.engine).toBe('the test engine');
    expect(asked).toEqual([{ model: 'other.onnx' }]);
    expect(closed).toBe(1);
    await expect(alertsReplayAction(file, {}, { io: { out: () => undefined } })).rejects.toThrow(
      /alerts replay needs the worker's activities: run it through `talon`/,
    );
  });

  it('names the engine that decides', () => {
    expect(describeEngine(undefined)).toBe('the rule policy (no model configured)');
    expect(describeEngine({ path: 'models/policy.onnx', loaded: true, version: 'v1' })).toBe(
      'the ONNX policy model models/policy.onnx (version v1)',
    );
    expect(describeEngine({ path: 'm.onnx', loaded: false, reason: 'policy model m.onnx unusable: ENOENT' })).toBe(
      'the rule policy, because policy model m.onnx unusable: ENOENT',
    );
  });
});
