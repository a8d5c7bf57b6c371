/**
 * Gathering against the local stack's real Prometheus (scraping KWOK every 5 s) and InfluxDB: a pod's
 * simulated usage becomes a window with the expected shares; changing the usage changes the rule decision;
 * Prometheus out → typed error and the InfluxDB fallback; a vanished series → low quality.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import type { CoreV1Api } from '@kubernetes/client-node';
import { featureColumn, recentMean, type FeatureWindow, type GatherOutcome } from '../../src/domain/window';
import { toActivityFailure } from '../../activities/failures';
import { createMetricsActivities } from '../../activities/metrics';
import { createPolicyActivities } from '../../activities/policy';
import { PrometheusQueryError, PrometheusUnavailableError } from '../../src/metrics/errors';
import { gatherFromPrometheus, type GatherOptions } from '../../src/metrics/gather';
import { InfluxStore } from '../../src/metrics/influx';
import { PrometheusClient } from '../../src/metrics/prometheus';
import { DEFAULT_METRICS_CONFIG } from '../../src/metrics/queries';
import { evaluateRules, ruleConfig } from '../../src/policy/rules';
import {
  coreApi,
  createNamespace,
  createUsagePod,
  deleteNamespace,
  deletePod,
  setUsage,
  uniqueName,
  waitFor,
} from '../support/metrics-pods';
import { localStack } from '../support/stack';

jest.setTimeout(240_000);

const stack = localStack();
// The local stack scrapes every 5 s: a 5 s step and a 10 s range (two scrapes) make a 50 s window.
const options: GatherOptions = { steps: 10, stepSeconds: 5, rangeSeconds: 10, shareOf: 'limit' };
const GiB = 1024 ** 3;

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function expectWindow(outcome: GatherOutcome): FeatureWindow {
  if (outcome.kind !== 'window') throw new Error(`expected a window: ${outcome.reason}`);
  return outcome;
}

const observedCount = (w: FeatureWindow, feature: number) => w.observed.filter((row) => row[feature]).length;

describe('metrics gathering against the local stack', () => {
  const prometheus = new PrometheusClient({ url: stack.prometheusUrl, timeoutMs: 5_000 });
  const influx = new InfluxStore({ ...stack.influx, flushIntervalMs: 200 });
  const activities = createMetricsActivities({ prometheus, influx, gather: options, historySeconds: 3_600 });
  let core: CoreV1Api;
  const namespace = uniqueName('talon-metrics-it');
  const pod = 'usage-probe';
  const node = 'edge-0';
  let firstWindow: FeatureWindow;

  beforeAll(async () => {
    core = coreApi();
    await createNamespace(core, namespace);
    await createUsagePod(core, namespace, {
      name: pod,
      node,
      cpuLimit: '1',
      memoryLimit: '1Gi',
      usageCpu: '500m',
      usageMemory: '512Mi',
    });
    // A full window needs 50 s of scrapes; wait until nearly every step of both features is observed.
    firstWindow = await waitFor(
      'a nearly complete window',
      async () => {
        const outcome = await gatherFromPrometheus(prometheus, DEFAULT_METRICS_CONFIG, options, {
          target: { namespace, pod },
        });
        return outcome.kind === 'window' && observedCount(outcome, 0) >= 9 && observedCount(outcome, 1) >= 9
          ? outcome
          : undefined;
      },
      { timeoutMs: 150_000, intervalMs: 5_000 },
    );
  });

  afterAll(async () => {
    await influx.close();
    await deleteNamespace(core, namespace);
  });

  it('gathers the shares of the limit that the simulated usage sets', async () => {
    const w = firstWindow;
    expect(w.source).toBe('prometheus');
    expect(w.steps).toBe(10);
    expect(w.end % 5).toBe(0);
    expect(w.target.node).toBe(node);
    expect(w.resources).toEqual({
      cpuLimitCores: 1,
      cpuRequestCores: 1,
      memoryLimitBytes: GiB,
      memoryRequestBytes: GiB,
    });
    const cpu = featureColumn(w, 'cpu_usage').filter((_, i) => w.observed[i]![0]);
    const memory = featureColumn(w, 'memory_usage').filter((_, i) => w.observed[i]![1]);
    // rate() under-reads while its range still reaches back before the pod started (Prometheus does not
    // extrapolate a counter below zero), so only the steps after the first range are exact.
    for (const v of cpu.slice(-6)) expect(v).toBeCloseTo(0.5, 2);
    for (const v of cpu) expect(v).toBeLessThanOrEqual(0.5 + 0.005);
    for (const v of memory) expect(v).toBeCloseTo(0.5, 6);
    // The node's CPU share includes this pod's half core out of the node's allocatable cores.
    const allocatable = (await activities.rankNodes()).find((n) => n.node === node)!.cpuAllocatableCores!;
    expect(recentMean(w, 'system_cpu_usage', 3)).toBeGreaterThanOrEqual(0.5 / allocatable - 0.005);
    expect(recentMean(w, 'system_cpu_usage', 3)).toBeLessThanOrEqual(1);
    // The local stack exposes no Kepler or cAdvisor user/system series.
    expect(w.absentFeatures).toEqual(
      expect.arrayContaining(['user_cpu_usage', 'core_joules', 'dram_joules', 'package_joules', 'total_joules']),
    );
    expect(w.quality.realFraction).toBeGreaterThanOrEqual(0.9);
    expect(w.quality.stalenessSeconds).toBeLessThanOrEqual(10);
    expect(w.quality.score).toBeGreaterThanOrEqual(0.8);
    expect(evaluateRules(w, ruleConfig()).ranked[0]!.policy).toBe('no_action');
  });

  it('sees a usage change within a few scrapes and the rules react to it', async () => {
    await setUsage(core, namespace, pod, '950m', '512Mi');
    const hot = await waitFor(
      'the CPU share to reach 0.95',
      async () => {
        const w = expectWindow(
          await gatherFromPrometheus(prometheus, DEFAULT_METRICS_CONFIG, options, { target: { namespace, pod } }),
        );
        return recentMean(w, 'cpu_usage', 3) > 0.94 ? w : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 2_500 },
    );
    expect(recentMean(hot, 'cpu_usage', 2)).toBeCloseTo(0.95, 2);
    expect(featureColumn(hot, 'cpu_usage')[0]).toBeLessThan(0.9);
    const decision = await createPolicyActivities().decidePolicy(hot);
    expect(decision.source).toBe('rules');
    expect(decision.fallbackReason).toBe('no policy model configured');
    expect(decision.ranked[0]!.policy).toBe('cpu_scale_up');
    expect(decision.ranked[0]!.magnitude).toBeCloseTo(recentMean(hot, 'cpu_usage', 3) / 0.7, 6);
    expect(decision.ranked.map((r) => r.policy)).toEqual(['cpu_scale_up', 'task_offloading', 'no_action']);
  });

  it('ranks the nodes by utilisation from the same Prometheus', async () => {
    // Other tests and benchmarks add and delete nodes; series of a deleted node linger in Prometheus
    // without allocatable (ranked last by design), so judge the stack's own tier nodes.
    const everyNode = await activities.rankNodes({ exclude: [node] });
    expect(everyNode.map((n) => n.node)).not.toContain(node);
    const ranked = everyNode.filter((n) => /^(edge|cloud)-\d+$/.test(n.node));
    expect(ranked.length).toBeGreaterThanOrEqual(3);
    for (const n of ranked) {
      expect(n.cpuAllocatableCores).toBeGreaterThan(0);
      expect(n.memoryAllocatableBytes).toBeGreaterThan(0);
      expect(n.load).toBeGreaterThanOrEqual(0);
    }
    const loads = ranked.map((n) => n.load!);
    expect([...loads].sort((a, b) => a - b)).toEqual(loads);
    const all = await activities.rankNodes();
    const mine = all.find((n) => n.node === node)!;
    expect(mine.cpuCores).toBeGreaterThanOrEqual(0.9);
  });

  it('rejects bad PromQL with a permanent typed error that maps to a non-retryable failure', async () => {
    const error = await prometheus.query('sum(rate(container_cpu_usage_seconds_total[5s])').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrometheusQueryError);
    expect(error).toMatchObject({ status: 400, errorType: 'bad_data' });
    const failure = toActivityFailure(error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'PrometheusQueryError', nonRetryable: true });
  });

  it('with Prometheus stopped: typed error, retryable failure, and the InfluxDB fallback window', async () => {
    // Store a fresh snapshot through the activity, the way a worker does on every gather.
    const live = expectWindow(await activities.gatherWindow({ target: { namespace, pod } }));
    expect(live.source).toBe('prometheus');
    expect(await influx.flush()).toBe(true);

    const down = new PrometheusClient({ url: `http://127.0.0.1:${await closedPort()}`, retries: 1, backoffMs: 10 });
    await expect(down.query('up')).rejects.toMatchObject({
      name: 'PrometheusUnavailableError',
      reason: 'connection',
      attempts: 2,
    });

    const withoutInflux = createMetricsActivities({ prometheus: down, gather: options });
    const failure = await withoutInflux.gatherWindow({ target: { namespace, pod } }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'PrometheusUnavailableError', nonRetryable: false });
    expect((failure as ApplicationFailure).cause).toBeInstanceOf(PrometheusUnavailableError);

    const withInflux = createMetricsActivities({ prometheus: down, influx, gather: options });
    const fallback = expectWindow(await withInflux.gatherWindow({ target: { namespace, pod } }));
    expect(fallback.source).toBe('influx');
    expect(fallback.note).toContain('Prometheus unavailable');
    expect(fallback.end).toBe(live.end);
    const liveCpu = featureColumn(live, 'cpu_usage').filter((_, i) => live.observed[i]![0]);
    const storedCpu = featureColumn(fallback, 'cpu_usage').filter((_, i) => fallback.observed[i]![0]);
    expect(storedCpu).toHaveLength(liveCpu.length);
    storedCpu.forEach((v, i) => expect(v).toBeCloseTo(liveCpu[i]!, 9));
    expect(fallback.history?.samples).toBeGreaterThan(0);

    const decision = await createPolicyActivities().decidePolicy(fallback);
    expect(decision.source).toBe('rules');
    expect(decision.ranked[0]!.policy).toBe('cpu_scale_up');
  });

  it('scores a series that stopped being scraped as stale, then says the data is insufficient', async () => {
    const before = expectWindow(
      await gatherFromPrometheus(prometheus, DEFAULT_METRICS_CONFIG, options, { target: { namespace, pod } }),
    );
    await deletePod(core, namespace, pod);
    const gather = () =>
      gatherFromPrometheus(prometheus, DEFAULT_METRICS_CONFIG, options, { target: { namespace, pod } });
    // Polled every 2.5 s, so the window is caught while 15–25 s stale, before too few steps remain.
    const stale = await waitFor(
      'the series to go stale',
      async () => {
        const w = expectWindow(await gather());
        return w.quality.stalenessSeconds >= 15 ? w : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 2_500 },
    );
    expect(stale.resources?.cpuLimitCores).toBe(1);
    expect(stale.quality.freshness).toBeLessThan(0.6);
    expect(stale.quality.realFraction).toBeLessThan(1);
    expect(stale.quality.score).toBeLessThan(0.6);
    expect(stale.quality.score).toBeLessThan(before.quality.score);
    expect(stale.observed[stale.steps - 1]![0]).toBe(false);
    // Trailing gaps hold the last observed share instead of dropping to zero.
    expect(recentMean(stale, 'cpu_usage', 1)).toBeGreaterThan(0.9);

    const gone = await waitFor(
      'the window to run out of data',
      async () => {
        const outcome = await gather();
        return outcome.kind === 'insufficient' ? outcome : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 2_500 },
    );
    expect(gone.reason).toMatch(/too few observed points \(need 5 of 10\): cpu_usage [0-4]\/10/);
    expect(gone.realPoints.cpu_usage).toBeLessThan(5);
  });
});
