/**
 * The lab driver on the local stack: a lab pod's window, gathered by Talon's own metrics activity from the stack's
 * Prometheus, has all 8 features as real series (none imputed); the workload reacts to a change of its CPU limit
 * (judged by what Prometheus then shows); a leaking container is OOM-killed with the status the kubelet writes.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMetricsActivities } from '../../activities/metrics';
import { MODEL_FEATURES } from '../../src/domain/features';
import { loadStackConfig, stackEndpoints } from '../../src/config/local-stack';
import { createKubeClients, PatchStrategy, patchAs } from '../../src/kube/client';
import { loadKubeConfig } from '../../src/kube/config';
import { PrometheusClient } from '../../src/metrics/prometheus';
import { startDriver, type RunningDriver } from '../../tools/lab/driver/driver';
import { LAB_LABELS, type LabPlan } from '../../tools/lab/plan';
import { copyManifests, planCopy, runId } from '../../tools/lab/runner/manifests';
import { unwireRun, wireRun } from '../../tools/lab/runner/wiring';
import { parseScenario } from '../../tools/lab/scenario/load';
import { applyManifests, kubectl } from '../../tools/stack/kube';
import { labTargetsDir } from '../../tools/stack/prometheus';

jest.setTimeout(300_000);

const stack = loadStackConfig(process.env);
const endpoints = stackEndpoints(stack);
const clients = createKubeClients(loadKubeConfig({ kubeconfigPath: endpoints.kubeconfigPath, inCluster: false }));
const prometheus = new PrometheusClient({ url: endpoints.prometheusUrl, timeoutMs: 5_000 });

const scenario = parseScenario(
  `
name: driver-it
description: driver integration test
duration: 10m
cluster:
  nodes:
    - { name: edge-a, tier: edge }
workloads:
  - name: web
    node: edge-a
    resources: { requests: { cpu: 250m, memory: 128Mi }, limits: { cpu: '1', memory: 512Mi } }
    demand: { curve: { type: constant, value: 0.8 } }
    memory: { base: 200Mi }
    startup: 2s
  - name: leaky
    node: edge-a
    resources: { requests: { cpu: 50m, memory: 64Mi }, limits: { cpu: 200m, memory: 128Mi } }
    demand: { curve: { type: constant, value: 0.05 } }
    memory: { base: 100Mi }
    startup: 2s
faults:
  - { type: memory_leak, at: 0s, workload: leaky, perMinute: 60Mi }
slo: { kind: latency_p95, threshold: 300ms, workloads: [web] }
`,
  'driver-it.yaml',
  tmpdir(),
);

const run = runId();
const copy = { ...planCopy(run, scenario, 'none', 0) };
let driver: RunningDriver | undefined;
let dir: string;

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: Error | undefined;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err instanceof Error ? err : new Error(String(err));
    }
    await new Promise((r) => setTimeout(r, 2_000));
  }
  throw new Error(`${what} not seen within ${timeoutMs / 1000}s${last ? ` (last error: ${last.message})` : ''}`);
}

async function podsOf(workload: string) {
  const list = await clients.core.listNamespacedPod({
    namespace: copy.namespaces.main,
    labelSelector: `${LAB_LABELS.workload}=${workload}`,
  });
  return list.items.filter((p) => !p.metadata?.deletionTimestamp);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lab-driver-it-'));
  const planPath = join(dir, 'plan.json');
  await wireRun(stack, run, [copy], {});
  await applyManifests(stack, copyManifests(run, copy));
  // The driver readies the pods (they start not Ready, as with a readiness probe), so it runs first.
  const plan: LabPlan = { run, copies: [{ ...copy, startAt: Date.now() / 1000 }], timelineDir: join(dir, 'timelines') };
  await writeFile(planPath, JSON.stringify(plan));
  driver = await startDriver({ clients, planPath, targetsDir: labTargetsDir(stack), tickSeconds: 2 });
  await waitFor('ready lab pods', async () => {
    const pods = [...(await podsOf('web')), ...(await podsOf('leaky'))];
    return pods.length === 2 &&
      pods.every((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
      ? true
      : undefined;
  });
});

afterAll(async () => {
  await driver?.stop();
  await unwireRun(stack, run).catch(() => undefined);
  await kubectl(stack, ['delete', 'namespaces,nodes', '-l', `${LAB_LABELS.run}=${run}`, '--wait=false']).catch(
    () => undefined,
  );
  await rm(dir, { recursive: true, force: true });
});

describe('the lab driver on the local stack', () => {
  it('a lab pod starts Running but not Ready, and turns Ready once its start-up time has passed', async () => {
    for (const pod of [...(await podsOf('web')), ...(await podsOf('leaky'))]) {
      const started = Date.parse(String(pod.status?.containerStatuses?.[0]?.state?.running?.startedAt));
      const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
      expect(ready?.status).toBe('True');
      // Made Ready by the driver (start-up 2 s), not at once by KWOK's pod-ready stage.
      expect(Date.parse(String(ready?.lastTransitionTime)) - started).toBeGreaterThanOrEqual(2_000);
    }
  });

  it('a window gathered from a lab pod has all 8 features as real series, none imputed', async () => {
    const metrics = createMetricsActivities({ prometheus, gather: { stepSeconds: 5, rangeSeconds: 10 } });
    const pod = (await podsOf('web'))[0]!.metadata!.name!;
    const window = await waitFor(
      'a full window',
      async () => {
        const w = await metrics.gatherWindow({ target: { namespace: copy.namespaces.main, pod }, withHistory: false });
        if (w.kind !== 'window' || w.absentFeatures.length > 0) return undefined;
        const observedLast = MODEL_FEATURES.every((_, i) => w.observed.slice(-3).every((row) => row[i]));
        return observedLast ? w : undefined;
      },
      150_000,
    );
    expect(window.absentFeatures).toEqual([]);
    expect(window.quality.coverage).toBe(1);
    const last = window.values.at(-1)!;
    const value = (f: (typeof MODEL_FEATURES)[number]) => last[MODEL_FEATURES.indexOf(f)]!;
    expect(value('cpu_usage')).toBeGreaterThan(0.7);
    expect(value('cpu_usage')).toBeLessThan(0.9);
    // User CPU: compute 90 % user, data handling 40 % (default io.cpuShare 0.2) → 80 % of usage.
    expect(value('user_cpu_usage') / value('cpu_usage')).toBeGreaterThan(0.7);
    expect(value('user_cpu_usage') / value('cpu_usage')).toBeLessThan(0.9);
    for (const f of ['core_joules', 'dram_joules', 'package_joules', 'total_joules'] as const)
      expect(value(f)).toBeGreaterThan(0);
    expect(value('package_joules')).toBeGreaterThan(value('core_joules'));
    expect(value('total_joules')).toBeGreaterThan(value('package_joules'));
  });

  it('the workload reacts to a new CPU limit: usage is capped by it and throttling shows', async () => {
    await clients.apps.patchNamespacedDeployment(
      {
        namespace: copy.namespaces.main,
        name: 'web',
        body: {
          spec: { template: { spec: { containers: [{ name: 'app', resources: { limits: { cpu: '500m' } } }] } } },
        },
      },
      patchAs(PatchStrategy.StrategicMergePatch),
    );
    const pod = await waitFor('the new pod with the 500m limit', async () => {
      const pods = await podsOf('web');
      const p = pods.find((x) => x.spec?.containers[0]?.resources?.limits?.cpu === '500m');
      return pods.length === 1 && p ? p.metadata!.name! : undefined;
    });
    const selector = `{namespace="${copy.namespaces.main}",pod="${pod}"}`;
    const usage = await waitFor('its usage at the new limit in Prometheus', async () => {
      const [s] = await prometheus.query(`sum(rate(container_cpu_usage_seconds_total${selector}[10s]))`);
      return s && s.sample.v > 0.45 ? s.sample.v : undefined;
    });
    expect(usage).toBeLessThan(0.55);
    const throttled = await waitFor('throttled periods', async () => {
      const [s] = await prometheus.query(
        `sum(rate(container_cpu_cfs_throttled_periods_total${selector}[10s])) / sum(rate(container_cpu_cfs_periods_total${selector}[10s]))`,
      );
      return s && s.sample.v > 0.9 ? s.sample.v : undefined;
    });
    expect(throttled).toBeLessThanOrEqual(1);
  });

  it('a leaking container is OOM-killed with the status the kubelet writes', async () => {
    const status = await waitFor(
      'an OOM kill',
      async () => {
        const [p] = await podsOf('leaky');
        const c = p?.status?.containerStatuses?.[0];
        return c && c.restartCount >= 1 ? c : undefined;
      },
      90_000,
    );
    expect(status.lastState?.terminated?.reason).toBe('OOMKilled');
    expect(status.lastState?.terminated?.exitCode).toBe(137);
    const oom = await waitFor('the OOM event in Prometheus', async () => {
      const [s] = await prometheus.query(`sum(container_oom_events_total{namespace="${copy.namespaces.main}"})`);
      return s && s.sample.v >= 1 ? s.sample.v : undefined;
    });
    expect(oom).toBeGreaterThanOrEqual(1);
  });
});
