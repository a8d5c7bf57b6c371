/**
 * The InfluxDB adapter against the local stack's InfluxDB 1.x (v2 API, Flux): what is written is read back
 * by Flux; the workload profile is computed from stored points; an unreachable InfluxDB never fails a
 * remediation record, it is retried and counted.
 */
import { createServer, type AddressInfo } from 'node:net';
import { flux } from '@influxdata/influxdb-client';
import { MODEL_FEATURES } from '../../src/domain/features';
import type { FeatureWindow } from '../../src/domain/window';
import { createMetricsActivities } from '../../activities/metrics';
import { ALL_CONTAINERS, InfluxStore, MEASUREMENTS, type RemediationRecord } from '../../src/metrics/influx';
import { PrometheusClient } from '../../src/metrics/prometheus';
import { buildWindow, type Sample } from '../../src/metrics/window';
import { uniqueName } from '../support/metrics-pods';
import { localStack } from '../support/stack';

jest.setTimeout(60_000);

const stack = localStack();
const STEP = 30;

function windowFor(namespace: string, pod: string, end: number, cpu: (i: number) => number, gaps: number[] = []) {
  const series = (f: (i: number) => number): Sample[] =>
    Array.from({ length: 10 }, (_, i) => i)
      .filter((i) => !gaps.includes(i))
      .map((i) => ({ t: end - (9 - i) * STEP, v: f(i) }));
  const outcome = buildWindow({
    target: { namespace, pod, workload: 'cart' },
    source: 'prometheus',
    end,
    spec: { steps: 10, stepSeconds: STEP },
    series: { cpu_usage: series(cpu), memory_usage: series(() => 0.4), total_joules: series(() => 120) },
    resources: { cpuLimitCores: 2 },
  });
  if (outcome.kind !== 'window') throw new Error(outcome.reason);
  return outcome;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('InfluxDB adapter against the local stack', () => {
  const store = new InfluxStore({ ...stack.influx, batchSize: 500, flushIntervalMs: 100 });
  const namespace = uniqueName('it-influx');
  const now = Math.floor(Date.now() / 1000);
  const end = now - (now % STEP) - STEP;
  let window: FeatureWindow;

  afterAll(async () => {
    await store.close();
  });

  it('writes the observed steps of a window and reads exactly those back with Flux', async () => {
    window = windowFor(namespace, 'cart-7d4b9c8f6d-x2k9p', end, (i) => i / 10, [3, 7]);
    const before = store.counters();
    store.recordWindow(window);
    expect(await store.flush()).toBe(true);
    const after = store.counters();
    // 8 observed steps + 1 summary point; gap-filled steps are not written as if measured.
    expect(after.queued - before.queued).toBe(9);
    expect(after.written - before.written).toBe(9);

    const samples = await store.featureSamples(window.target, end - 10 * STEP, end);
    expect(Object.keys(samples).sort()).toEqual(['cpu_usage', 'memory_usage', 'total_joules']);
    const expectedTimes = [0, 1, 2, 4, 5, 6, 8, 9].map((i) => end - (9 - i) * STEP);
    expect(samples.cpu_usage!.map((s) => s.t)).toEqual(expectedTimes);
    expect(samples.cpu_usage!.map((s) => s.v)).toEqual([0, 1, 2, 4, 5, 6, 8, 9].map((i) => i / 10));
    expect(samples.total_joules!.every((s) => s.v === 120)).toBe(true);

    const summary = await store.rows(flux`from(bucket: ${stack.influx.bucket})
  |> range(start: ${new Date((end - 60) * 1000)})
  |> filter(fn: (r) => r._measurement == ${MEASUREMENTS.windows} and r.namespace == ${namespace})
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")`);
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatchObject({
      workload: 'cart',
      container: ALL_CONTAINERS,
      source: 'prometheus',
      kind: 'window',
      real_fraction: window.quality.realFraction,
      cpu_limit_cores: 2,
      step_s: STEP,
    });
  });

  it('overwrites rather than duplicates when the same window is recorded again (idempotent retries)', async () => {
    store.recordWindow(window);
    expect(await store.flush()).toBe(true);
    const samples = await store.featureSamples(window.target, end - 10 * STEP, end);
    expect(samples.cpu_usage).toHaveLength(8);
  });

  it('computes the workload profile and remediation record from stored points', async () => {
    const record: RemediationRecord = {
      workflowId: `wf-${namespace}`,
      namespace,
      workload: 'cart',
      pod: 'cart-7d4b9c8f6d-x2k9p',
      policy: 'cpu_scale_up',
      magnitude: 1.4,
      outcome: 'resolved',
      decisionSource: 'rules',
      attempt: 1,
      at: end,
      durationSeconds: 90,
      fallbackReason: 'no policy model configured',
    };
    const activities = createMetricsActivities({
      prometheus: new PrometheusClient({ url: stack.prometheusUrl }),
      influx: store,
      now: () => (end + 1) * 1000,
    });
    await expect(activities.recordOutcome(record)).resolves.toMatchObject({ written: true });
    await expect(activities.recordOutcome(record)).resolves.toMatchObject({ written: true });
    await activities.recordOutcome({
      ...record,
      workflowId: 'wf-2',
      outcome: 'escalated',
      at: end - 60,
      durationSeconds: 30,
    });

    const profile = await activities.workloadProfile({ namespace, workload: 'cart', sinceSeconds: 3_600 });
    const cpu = [0, 1, 2, 4, 5, 6, 8, 9].map((i) => i / 10);
    expect(profile.history.samples).toBe(8);
    expect(profile.history.cpuMean).toBeCloseTo(cpu.reduce((a, b) => a + b, 0) / cpu.length, 9);
    expect(profile.history.cpuP95).toBeCloseTo(0.9, 9);
    expect(profile.history.memoryMean).toBeCloseTo(0.4, 9);
    // Recording the same outcome twice overwrote one point: one resolved, one escalated.
    expect(profile.remediations).toEqual({
      total: 2,
      byOutcome: { resolved: 1, escalated: 1 },
      lastAt: end,
      lastPolicy: 'cpu_scale_up',
      lastOutcome: 'resolved',
      meanResolveSeconds: 90,
    });
  });

  it('profiles an unknown workload as empty, not as an error', async () => {
    const profile = await store.workloadProfile(namespace, 'nothing-here', 3_600);
    expect(profile.history).toEqual({ samples: 0, sinceSeconds: 3_600 });
    expect(profile.remediations).toEqual({ total: 0, byOutcome: {} });
  });

  it('batches thousands of points and reads the count back', async () => {
    const ns = `${namespace}-batch`;
    const base = end - 3_000 * STEP;
    const windows = Array.from({ length: 300 }, (_, k) => windowFor(ns, 'bulk-0', base + k * 10 * STEP, () => 0.5));
    const before = store.counters().written;
    for (const w of windows) store.recordWindow(w);
    expect(await store.flush()).toBe(true);
    expect(store.counters().written - before).toBe(300 * 11);
    const rows = await store.rows(flux`from(bucket: ${stack.influx.bucket})
  |> range(start: ${new Date((base - 10 * STEP) * 1000)}, stop: ${new Date((end + 1) * 1000)})
  |> filter(fn: (r) => r._measurement == ${MEASUREMENTS.features} and r.namespace == ${ns} and r._field == "cpu_usage")
  |> count()`);
    expect(rows[0]?._value).toBe(3_000);
  });

  it('never fails a record when InfluxDB is unreachable: retried, counted, dropped at close', async () => {
    const dead = new InfluxStore({
      url: `http://127.0.0.1:${await closedPort()}`,
      token: 'talon:talon',
      org: 'talon',
      bucket: 'talon/autogen',
      maxRetries: 1,
      minRetryDelayMs: 10,
      maxRetryDelayMs: 20,
      flushIntervalMs: 50,
      timeoutMs: 500,
    });
    const activities = createMetricsActivities({
      prometheus: new PrometheusClient({ url: stack.prometheusUrl }),
      influx: dead,
    });
    const result = await activities.recordOutcome({
      workflowId: 'wf-dead',
      namespace,
      workload: 'cart',
      policy: 'no_action',
      magnitude: 1,
      outcome: 'resolved',
      decisionSource: 'model',
      attempt: 1,
      at: end,
    });
    expect(result.written).toBe(false);
    expect(result.counters!.failures).toBeGreaterThanOrEqual(1);
    expect(result.counters!.written).toBe(0);
    const final = await dead.close();
    expect(final.queued).toBe(1);
    expect(final.dropped).toBe(1);
    expect(final.written).toBe(0);
    expect(() => dead.recordWindow(window)).toThrow('closed');
  });

  it('surfaces a Flux failure as a typed error saying whether to retry', async () => {
    const error = await store
      .rows('from(bucket: "talon/autogen") |> range(start: -1m) |> nonsense()')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'InfluxQueryError' });
    expect((error as { permanent: boolean }).permanent).toBe(true);
    expect(MODEL_FEATURES).toContain('cpu_usage');
  });
});
