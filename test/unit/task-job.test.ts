/** The pure Kubernetes side of task submission: Job names, manifests, status reading, node candidates, run reports. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Job, V1Node, V1Pod } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import {
  observeJob,
  observedRun,
  parseRunReport,
  taskCommand,
  taskJobManifest,
  taskNodeCandidates,
} from '../../src/kube/task-job';
import { taskIdLabelValue, taskJobName } from '../../src/contracts/deploy-task';

describe('taskJobName', () => {
  it('is stable for one workflow and attempt, distinct across attempts and workflows, and a valid name', () => {
    const id = 'task-interpolation-0123456789ab';
    expect(taskJobName(id, 1)).toBe(taskJobName(id, 1));
    expect(taskJobName(id, 1)).not.toBe(taskJobName(id, 2));
    expect(taskJobName(id, 1)).not.toBe(taskJobName('task-interpolation-0123456789ac', 1));
    for (const wf of [id, 'X'.repeat(900), '///', 'Task/With Spaces/ünïcode']) {
      const name = taskJobName(wf, 12);
      // The pod name adds "-xxxxx": the Job name must leave room within 63 characters.
      expect(name.length).toBeLessThanOrEqual(52);
      expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(taskIdLabelValue(wf).length).toBeLessThanOrEqual(63);
      expect(taskIdLabelValue(wf)).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
  });
});

describe('taskJobManifest', () => {
  const spec = {
    namespace: 'ns',
    name: 'talon-task-x-1',
    workflowId: 'task-x',
    taskIdLabel: 'talon-task-x',
    attempt: 1,
    task: 'interpolation',
    algorithm: 'linear',
    image: 'talon-orchestrator:0.1.0',
    command: ['node', 'run.js', '--task', 'interpolation'],
    requests: { cpu: '500m', memory: '80Mi' },
    node: 'edge-0',
    tier: 'edge' as const,
    input: { path: '/data/in.csv', output: '/data/out.csv' },
    activeDeadlineSeconds: 600,
    ttlSecondsAfterFinished: 3600,
  };

  it('runs the registry entry once on the chosen node with the measured requests and Talon labels', () => {
    const job = taskJobManifest(spec);
    expect(job.metadata?.labels).toMatchObject({ 'talon.io/task-id': 'talon-task-x', 'talon.io/task-attempt': '1' });
    expect(job.metadata?.annotations).toEqual({ 'talon.io/workflow-id': 'task-x' });
    expect(job.spec?.backoffLimit).toBe(0);
    expect(job.spec?.activeDeadlineSeconds).toBe(600);
    const pod = job.spec!.template.spec!;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms).toEqual([
      { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['edge-0'] }] },
    ]);
    expect(pod.containers[0]).toMatchObject({
      image: 'talon-orchestrator:0.1.0',
      command: ['node', 'run.js', '--task', 'interpolation', '--input', '/data/in.csv', '--output', '/data/out.csv'],
      resources: { requests: { cpu: '500m', memory: '80Mi' } },
    });
    expect(job.spec!.template.metadata?.labels?.['talon.io/task-id']).toBe('talon-task-x');
  });

  it('adds pod annotations without letting them replace Talon’s own', () => {
    const job = taskJobManifest({
      ...spec,
      podAnnotations: { 'talon.io/simulate-failure-on': 'edge-0', 'talon.io/workflow-id': 'forged' },
    });
    expect(job.spec!.template.metadata?.annotations).toEqual({
      'talon.io/simulate-failure-on': 'edge-0',
      'talon.io/workflow-id': 'task-x',
    });
    expect(job.metadata?.annotations).toEqual({ 'talon.io/workflow-id': 'task-x' });
  });

  it('adds no data arguments when no input is given', () => {
    expect(taskCommand(['a'], undefined)).toEqual(['a']);
    expect(taskCommand(['a'], { dataSite: 'x' })).toEqual(['a']);
  });
});

describe('observeJob', () => {
  const job = (conditions: { type: string; status: string; reason?: string; message?: string }[]): V1Job => ({
    status: {
      active: 0,
      startTime: new Date('2026-11-25T10:00:00Z'),
      ...(conditions.length ? { conditions: conditions } : {}),
    },
  });
  it('reads running, succeeded and failed Jobs', () => {
    expect(observeJob({ status: { active: 1 } }).outcome).toBe('running');
    expect(observeJob(job([{ type: 'Complete', status: 'True' }])).outcome).toBe('succeeded');
    expect(observeJob(job([{ type: 'SuccessCriteriaMet', status: 'True' }])).outcome).toBe('succeeded');
    expect(observeJob(job([{ type: 'Complete', status: 'False' }])).outcome).toBe('running');
    expect(
      observeJob(job([{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'has failed' }])),
    ).toMatchObject({ outcome: 'failed', reason: 'BackoffLimitExceeded', message: 'has failed' });
    // FailureTarget comes before Failed while pods terminate: already a failure.
    expect(observeJob(job([{ type: 'FailureTarget', status: 'True', reason: 'DeadlineExceeded' }])).outcome).toBe(
      'failed',
    );
  });
});

describe('taskNodeCandidates', () => {
  const node = (name: string, labels: Record<string, string>, extra: Partial<V1Node> = {}): V1Node => ({
    metadata: { name, labels, annotations: { 'kwok.x-k8s.io/node': 'fake' } },
    spec: {},
    status: {
      allocatable: { cpu: '4', memory: '8Gi' },
      conditions: [{ type: 'Ready', status: 'True' }],
    },
    ...extra,
  });
  it('keeps ready, schedulable, untainted tier nodes not excluded, with usage from Prometheus', () => {
    const nodes = [
      node('edge-0', { 'talon.io/tier': 'edge', 'talon.io/site': 'plant-a', 'talon.io/energy-per-core-watts': '6.5' }),
      node('edge-1', { 'talon.io/tier': 'edge' }),
      node('cloud-0', { 'talon.io/tier': 'cloud' }),
      node(
        'tainted',
        { 'talon.io/tier': 'edge' },
        { spec: { taints: [{ key: 'talon.io/overloaded', effect: 'NoSchedule' }] } },
      ),
      node('cordoned', { 'talon.io/tier': 'edge' }, { spec: { unschedulable: true } }),
      node('odd-tier', { 'talon.io/tier': 'fog' }),
    ];
    const { candidates, simulated, notes } = taskNodeCandidates(
      nodes,
      [
        { node: 'edge-0', cpuCores: 1, memoryBytes: 2 ** 30 },
        { node: 'cloud-0', cpuCores: 2, memoryBytes: 2 ** 31 },
      ],
      { exclude: ['edge-1'], dataSite: 'plant-a' },
    );
    expect(candidates.map((c) => c.name)).toEqual(['cloud-0', 'edge-0']);
    expect(candidates[1]).toEqual({
      name: 'edge-0',
      tier: 'edge',
      allocatable: { cpuCores: 4, memoryBytes: 8 * 2 ** 30 },
      usage: { cpuCores: 1, memoryBytes: 2 ** 30 },
      energyPerCoreWatts: 6.5,
      nearData: true,
    });
    expect(simulated).toEqual(['edge-0', 'cloud-0']);
    expect(notes).toEqual([]);
    const idle = taskNodeCandidates([nodes[1]!], []);
    expect(idle.candidates[0]?.usage).toEqual({ cpuCores: 0, memoryBytes: 0 });
    expect(idle.notes[0]).toContain('no usage in Prometheus');
  });

  it('prices each node from the offer: user-owned nodes (label true, any case) at the incentive price', () => {
    const nodes = [
      node('shop', { 'talon.io/tier': 'edge' }),
      node('home', { 'talon.io/tier': 'edge', 'talon.io/user-owned': 'True' }),
      node('lab', { 'talon.io/tier': 'edge', 'talon.io/user-owned': 'no' }),
    ];
    const prices = { commercialPerVcpuHour: 0.04, userOwnedPerVcpuHour: 0.034, userOwnedLabel: 'talon.io/user-owned' };
    const { candidates } = taskNodeCandidates(nodes, [], { prices });
    expect(candidates.map((c) => [c.name, c.pricePerVcpuHour, c.userOwned ?? false])).toEqual([
      ['home', 0.034, true],
      ['lab', 0.04, false],
      ['shop', 0.04, false],
    ]);
    // Without prices the candidates carry none.
    expect(taskNodeCandidates(nodes, []).candidates.every((c) => c.pricePerVcpuHour === undefined)).toBe(true);
  });
});

describe('observedRun and parseRunReport', () => {
  it('derives the Job duration from its start and completion, and reads the container timestamps', () => {
    const job: V1Job = {
      status: { startTime: new Date('2026-11-25T10:00:00Z'), completionTime: new Date('2026-11-25T10:00:03Z') },
    };
    const pod: V1Pod = {
      status: {
        containerStatuses: [
          {
            name: 'task',
            image: 'i',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: {
              terminated: {
                exitCode: 0,
                startedAt: new Date('2026-11-25T10:00:01Z'),
                finishedAt: new Date('2026-11-25T10:00:02Z'),
              },
            },
          },
        ],
      },
    };
    expect(observedRun(job, pod)).toEqual({
      jobStartTime: '2026-11-25T10:00:00.000Z',
      jobCompletionTime: '2026-11-25T10:00:03.000Z',
      jobDurationSeconds: 3,
      containerStartedAt: '2026-11-25T10:00:01.000Z',
      containerFinishedAt: '2026-11-25T10:00:02.000Z',
      exitCode: 0,
    });
    expect(observedRun({ status: {} }, undefined)).toEqual({});
  });

  it('takes the last JSON line of a log as the run report', () => {
    const log = 'time,value\n1,2\n{"task":"interpolation","exec_time_s":0.01,"rows":741,"nested":{"x":1}}\n';
    expect(parseRunReport(log)).toEqual({ task: 'interpolation', exec_time_s: 0.01, rows: 741 });
    expect(parseRunReport('no report\n{broken')).toBeUndefined();
  });
});

describe('deploy/local/kwok/stages.yaml', () => {
  it('keeps KWOK 0.7’s default stages and adds the failure stage and the lab start-up stage, each outweighing the default it overrides', () => {
    const text = readFileSync(join(__dirname, '../../deploy/local/kwok/stages.yaml'), 'utf8');
    const stages = parseAllDocuments(text).map(
      (d) => d.toJS() as { kind: string; metadata: { name: string }; spec: Record<string, unknown> },
    );
    expect(stages.every((s) => s.kind === 'Stage')).toBe(true);
    expect(stages.map((s) => s.metadata.name)).toEqual([
      'node-initialize',
      'node-heartbeat-with-lease',
      'pod-ready',
      'pod-complete',
      'pod-delete',
      'talon-task-fail-on-node',
      'talon-lab-pod-starting',
    ]);
    type Spec = {
      weight?: number;
      selector: { matchExpressions: { key: string }[] };
      next: { statusTemplate?: string };
    };
    const fail = stages[5]!.spec as Spec;
    const complete = stages[3]!.spec as { weight?: number };
    expect(fail.weight).toBeGreaterThan(complete.weight ?? 0);
    expect(JSON.stringify(fail.selector)).toContain('talon.io/simulate-failure-on');
    // Lab pods only, where pod-ready would act (no podIP yet), and Running but not Ready.
    const starting = stages[6]!.spec as Spec;
    const ready = stages[2]!.spec as Spec;
    expect(starting.weight).toBeGreaterThan(ready.weight ?? 0);
    expect(starting.selector.matchExpressions.map((m) => m.key)).toEqual([
      '.metadata.deletionTimestamp',
      '.status.podIP',
      '.metadata.labels["talon.io/lab-copy"]',
    ]);
    expect(starting.next.statusTemplate).toMatch(/status: "False"\n\s*type: Ready/);
    expect(starting.next.statusTemplate).toContain('phase: Running');
  });
});
