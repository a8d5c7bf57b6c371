/** The lab driver's pure parts: what it reads from pods, what it writes, what it exports and what it observes. */
import type { V1Pod } from '@kubernetes/client-node';
import {
  labPodOf,
  oomStatus,
  readyStatus,
  startupReadyAt,
  usageAnnotations,
  usageChanged,
} from '../../tools/lab/driver/cluster';
import { operationId } from '../../tools/lab/driver/driver';
import { LabExporter } from '../../tools/lab/driver/exporter';
import { observeChanges, type CopySnapshot } from '../../tools/lab/driver/observer';
import { attributePower, nodePower, POWER_PROFILES } from '../../tools/lab/model/energy';
import type { PodResult } from '../../tools/lab/model/workload';

const NOW = Date.parse('2030-01-01T00:01:00Z') / 1000;

function v1Pod(over: Partial<V1Pod['status']> = {}): V1Pod {
  return {
    metadata: {
      uid: 'uid-1',
      name: 'web-abc',
      namespace: 'talon-lab-x',
      labels: { 'talon.io/lab-copy': 'c1', 'talon.io/lab-workload': 'web' },
      annotations: { 'ovn.kubernetes.io/egress_rate': '100' },
    },
    spec: {
      nodeName: 'talon-lab-x-edge-a',
      containers: [{ name: 'app', image: 'lab', resources: { limits: { cpu: '1500m', memory: '512Mi' } } }],
    },
    status: {
      phase: 'Running',
      startTime: new Date('2030-01-01T00:00:00Z'),
      conditions: [
        { type: 'Ready', status: 'True' },
        { type: 'ContainersReady', status: 'True' },
        { type: 'PodScheduled', status: 'True' },
      ],
      containerStatuses: [
        {
          name: 'app',
          image: 'lab',
          imageID: '',
          ready: true,
          restartCount: 2,
          state: { running: { startedAt: new Date('2030-01-01T00:00:10Z') } },
        },
      ],
      ...over,
    },
  };
}

describe('reading a lab pod', () => {
  it('takes its copy, workload, limits, node and container start', () => {
    const p = labPodOf(v1Pod(), NOW)!;
    expect(p).toMatchObject({
      copy: 'c1',
      workload: 'web',
      node: 'talon-lab-x-edge-a',
      running: true,
      ready: true,
      restartCount: 2,
      container: 'app',
      cpuLimitCores: 1.5,
      memoryLimitBytes: 512 * 2 ** 20,
    });
    expect(p.startedAt).toBe(Date.parse('2030-01-01T00:00:10Z') / 1000);
  });

  it('ignores pods without the lab labels and treats a terminating pod as not running', () => {
    const stray = v1Pod();
    stray.metadata!.labels = {};
    expect(labPodOf(stray, NOW)).toBeUndefined();
    const leaving = v1Pod();
    leaving.metadata!.deletionTimestamp = new Date();
    expect(labPodOf(leaving, NOW)!.running).toBe(false);
  });
});

describe('a lab pod starting', () => {
  it('turns Ready once its start-up time has passed since its container started, as a readiness probe would', () => {
    const starting = v1Pod({
      conditions: [
        { type: 'Ready', status: 'False' },
        { type: 'ContainersReady', status: 'False' },
      ],
    });
    const started = Date.parse('2030-01-01T00:00:10Z') / 1000;
    expect(startupReadyAt(labPodOf(starting, NOW)!)).toBe(started + 10);
    starting.metadata!.annotations = { 'talon.io/lab-startup-seconds': '15' };
    expect(startupReadyAt(labPodOf(starting, NOW)!)).toBe(started + 15);
  });

  it('has nothing to wait for when Ready, not running or terminating', () => {
    expect(startupReadyAt(labPodOf(v1Pod(), NOW)!)).toBeUndefined();
    const pending = v1Pod({ phase: 'Pending', conditions: [{ type: 'Ready', status: 'False' }] });
    expect(startupReadyAt(labPodOf(pending, NOW)!)).toBeUndefined();
    const leaving = v1Pod({ conditions: [{ type: 'Ready', status: 'False' }] });
    leaving.metadata!.deletionTimestamp = new Date();
    expect(startupReadyAt(labPodOf(leaving, NOW)!)).toBeUndefined();
  });
});

describe('what the driver writes', () => {
  it("KWOK's usage annotations in millicores and bytes, only when usage moved", () => {
    expect(usageAnnotations(0.4567, 123.4)).toEqual({
      'kwok.x-k8s.io/usage-cpu': '457m',
      'kwok.x-k8s.io/usage-memory': '123',
    });
    expect(usageAnnotations(0, 0)['kwok.x-k8s.io/usage-cpu']).toBe('1m');
    expect(usageChanged(undefined, 1, 1)).toBe(true);
    expect(usageChanged({ cpu: 1, memory: 2 ** 28 }, 1.01, 2 ** 28)).toBe(false);
    expect(usageChanged({ cpu: 1, memory: 2 ** 28 }, 1.05, 2 ** 28)).toBe(true);
    expect(usageChanged({ cpu: 1, memory: 2 ** 28 }, 1, 2 ** 28 * 1.1)).toBe(true);
  });

  it('an OOM kill as the kubelet reports it: restart count, lastState OOMKilled, not ready; then ready again', () => {
    const p = labPodOf(v1Pod(), NOW)!;
    const status = oomStatus(p, new Date(NOW * 1000)) as {
      conditions: { type: string; status: string }[];
      containerStatuses: Record<string, unknown>[];
    };
    const c = status.containerStatuses[0]!;
    expect(c.restartCount).toBe(3);
    expect(c.ready).toBe(false);
    expect(c.lastState).toEqual({
      terminated: {
        exitCode: 137,
        reason: 'OOMKilled',
        startedAt: '2030-01-01T00:00:10.000Z',
        finishedAt: '2030-01-01T00:01:00.000Z',
      },
    });
    expect(c.state).toEqual({ running: { startedAt: '2030-01-01T00:01:00.000Z' } });
    expect(status.conditions.find((x) => x.type === 'Ready')!.status).toBe('False');
    expect(status.conditions.find((x) => x.type === 'PodScheduled')!.status).toBe('True');
    const back = readyStatus(p, new Date()) as { conditions: { type: string; status: string }[] };
    expect(back.conditions.filter((x) => x.status === 'True')).toHaveLength(3);
  });
});

function result(over: Partial<PodResult> = {}): PodResult {
  const power = attributePower(nodePower(POWER_PROFILES.edge, 0.25), [1])[0]!;
  return {
    uid: 'uid-1',
    workload: 'web',
    node: 'n1',
    state: { backlog: 0, leakBytes: 0, cacheBytes: 0 },
    serving: true,
    wantedCores: 1,
    usedCores: 1,
    userCores: 0.8,
    throttled: 0.5,
    workingSetBytes: 100,
    oomKilled: false,
    egressMbps: 8,
    ingressMbps: 8,
    ioReadBytesPerSecond: 10,
    ioWriteBytesPerSecond: 20,
    latencySeconds: 0.1,
    power,
    ...over,
  };
}

describe('the exporter', () => {
  const id = { uid: 'uid-1', namespace: 'ns', pod: 'web-abc', container: 'app', node: 'n1' };

  it('accumulates cAdvisor and Kepler counters under their names and labels', () => {
    const e = new LabExporter();
    // Rates hold from each update on and are evaluated when read (here at t = 4).
    e.recordPod(id, result(), 0);
    e.recordPod(id, result({ oomKilled: true }), 2);
    const c = { namespace: 'ns', pod: 'web-abc', container: 'app', node: 'n1' };
    expect(e.value('container_cpu_user_seconds_total', c, 4)).toBeCloseTo(3.2);
    expect(e.value('container_cpu_cfs_periods_total', c, 4)).toBe(40);
    expect(e.value('container_cpu_cfs_throttled_periods_total', c, 4)).toBe(20);
    expect(e.value('container_oom_events_total', c, 4)).toBe(1);
    expect(
      e.value(
        'container_network_transmit_bytes_total',
        {
          namespace: 'ns',
          pod: 'web-abc',
          interface: 'eth0',
          node: 'n1',
        },
        4,
      ),
    ).toBe(4_000_000);
    const k = { container_namespace: 'ns', pod_name: 'web-abc', container_name: 'app', container_id: 'uid-1' };
    const p = result().power;
    expect(e.value('kepler_container_joules_total', { ...k, mode: 'idle' }, 4)).toBeCloseTo(p.idle.total * 4);
    expect(e.value('kepler_container_core_joules_total', { ...k, mode: 'dynamic' }, 4)).toBeCloseTo(p.dynamic.core * 4);
    const text = e.render(4);
    expect(text).toContain('# TYPE kepler_container_package_joules_total counter');
    expect(text).toMatch(
      /^kepler_container_dram_joules_total\{container_namespace="ns",pod_name="web-abc",container_name="app",container_id="uid-1",mode="dynamic"\} [0-9.]+$/m,
    );
  });

  it('evaluates a counter when it is read: a scrape between ticks sees the time since the tick', () => {
    const e = new LabExporter();
    const c = { namespace: 'ns', pod: 'web-abc', container: 'app', node: 'n1' };
    e.recordPod(id, result({ userCores: 1 }), 100);
    expect(e.value('container_cpu_user_seconds_total', c, 101.5)).toBeCloseTo(1.5);
    e.recordPod(id, result({ userCores: 0.5 }), 102);
    expect(e.value('container_cpu_user_seconds_total', c, 102)).toBeCloseTo(2);
    expect(e.value('container_cpu_user_seconds_total', c, 104)).toBeCloseTo(3);
  });

  it('drops the series of a pod that is gone', () => {
    const e = new LabExporter();
    e.recordPod(id, result(), 0);
    e.recordNode('n1', nodePower(POWER_PROFILES.cloud, 0.5), 0);
    e.retain(new Set(['node/n1']));
    expect(e.render(2)).not.toContain('web-abc');
    expect(e.render(2)).toContain('kepler_node_platform_joules_total{instance="n1",package="0",mode="idle"} 156');
  });
});

describe('observing changes by their effect', () => {
  const base: CopySnapshot = {
    workloads: {
      web: {
        cpuLimits: [1],
        memoryLimits: [512 * 2 ** 20],
        replicas: 1,
        pods: ['a'],
        nodes: ['edge-a'],
        dataOffload: [],
        egress: [],
      },
    },
    tainted: { 'edge-a': false },
  };

  it('sees nothing the first time and when nothing changed', () => {
    expect(observeChanges(undefined, base)).toEqual([]);
    expect(observeChanges(base, base)).toEqual([]);
  });

  it('sees a new limit, a replica change, a deleted pod, a move, annotations and taints', () => {
    const after: CopySnapshot = {
      workloads: {
        web: {
          cpuLimits: [1, 1.5],
          memoryLimits: [512 * 2 ** 20],
          replicas: 2,
          pods: ['b', 'c'],
          nodes: ['edge-a', 'edge-b'],
          dataOffload: ['0.3'],
          egress: ['300'],
        },
      },
      tainted: { 'edge-a': true },
    };
    expect(observeChanges(base, after).map((c) => `${c.kind}: ${c.detail}`)).toEqual([
      'cpu_limit: CPU limit 1 → 1.5',
      'replicas: replicas 1 → 2',
      'pod_deleted: 1 pod(s) deleted',
      'moved: now also on edge-b',
      'data_offload: data offload 0.3',
      'network_qos: egress rate 300 Mbit/s',
      'taint: tainted edge-a',
    ]);
    expect(observeChanges(after, base).map((c) => c.kind)).toEqual(['replicas', 'pod_deleted', 'untaint']);
  });
});

describe('operation ids', () => {
  it("reads the id of Talon's operation record and carries it on the changes of that workload", () => {
    expect(
      operationId({ 'talon.io/operation': JSON.stringify({ id: 'wf/run/1', policy: 'cpu_scale_up', at: 'x' }) }),
    ).toBe('wf/run/1');
    expect(operationId({ 'talon.io/operation': 'not json' })).toBeUndefined();
    const w = { cpuLimits: [1], memoryLimits: [1], pods: ['a'], nodes: ['n'], dataOffload: [], egress: [] };
    const changes = observeChanges(
      { workloads: { web: w }, tainted: {} },
      { workloads: { web: { ...w, cpuLimits: [1, 2], operation: 'op-7' } }, tainted: {} },
    );
    expect(changes).toEqual([expect.objectContaining({ kind: 'cpu_limit', operation: 'op-7' })]);
  });
});
