/**
 * The metrics and policy activities with a scripted Prometheus (the client's injected fetch) and an
 * in-memory InfluxDB stand-in: share computation, failure mapping, the InfluxDB fallback, profile reuse.
 */
import { ApplicationFailure } from '@temporalio/common';
import { createMetricsActivities } from '../../activities/metrics';
import { createPolicyActivities } from '../../activities/policy';
import type { ModelFeature } from '../../src/domain/features';
import type { FeatureWindow, GatherOutcome } from '../../src/domain/window';
import type { InfluxStore, RemediationRecord, WorkloadProfile } from '../../src/metrics/influx';
import { PrometheusClient } from '../../src/metrics/prometheus';
import type { Sample } from '../../src/metrics/window';
import { fixtureWindow } from '../support/windows';

const STEP = 5;
const AT = 1_700_000_003; // window ends at 1_700_000_000
const END = AT - (AT % STEP);
const GiB = 1024 ** 3;
const gather = { steps: 10, stepSeconds: STEP, rangeSeconds: 10, shareOf: 'limit' as const };

interface Script {
  cpuCores?: number;
  memoryBytes?: number;
  limits?: { cpu?: number; memory?: number };
  node?: string;
  status?: number;
  body?: unknown;
}

/** A fetch that answers the window range query and the context instant query like Prometheus would. */
function scriptedFetch(script: Script): { fetch: typeof fetch; calls: string[] } {
  const calls: string[] = [];
  const fn = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : input.toString();
    const params = init?.body instanceof URLSearchParams ? init.body : new URLSearchParams();
    calls.push(url.replace(/^https?:\/\/[^/]+/, ''));
    if (script.status !== undefined) return new Response(JSON.stringify(script.body ?? {}), { status: script.status });
    if (url.endsWith('/api/v1/query_range')) {
      const values = (v: number) => Array.from({ length: 10 }, (_, i) => [END - (9 - i) * STEP, String(v)]);
      const result = [
        ...(script.cpuCores === undefined
          ? []
          : [{ metric: { talon_feature: 'cpu_cores' }, values: values(script.cpuCores) }]),
        ...(script.memoryBytes === undefined
          ? []
          : [{ metric: { talon_feature: 'memory_bytes' }, values: values(script.memoryBytes) }]),
      ];
      expect(params.get('step')).toBe(String(STEP));
      return Response.json({ status: 'success', data: { resultType: 'matrix', result } });
    }
    const result = [
      ...(script.limits?.cpu === undefined
        ? []
        : [{ metric: { talon_kind: 'limit', resource: 'cpu' }, value: [AT, String(script.limits.cpu)] }]),
      ...(script.limits?.memory === undefined
        ? []
        : [{ metric: { talon_kind: 'limit', resource: 'memory' }, value: [AT, String(script.limits.memory)] }]),
      ...(script.node ? [{ metric: { talon_kind: 'node', node: script.node }, value: [AT, '1'] }] : []),
    ];
    return Response.json({ status: 'success', data: { resultType: 'vector', result } });
  };
  return { fetch: fn, calls };
}

function prometheus(script: Script) {
  const { fetch, calls } = scriptedFetch(script);
  return { client: new PrometheusClient({ url: 'http://prom.test', fetch, retries: 0 }), calls };
}

/** The InfluxStore surface the activities use, in memory. */
class FakeInflux {
  windows: GatherOutcome[] = [];
  outcomes: RemediationRecord[] = [];
  profileCalls = 0;
  stored: Partial<Record<ModelFeature, Sample[]>> = {};
  flushResult = true;
  profileSamples = 12;
  recordWindow(outcome: GatherOutcome): void {
    this.windows.push(outcome);
  }
  recordOutcome(record: RemediationRecord): void {
    this.outcomes.push(record);
  }
  async flush(): Promise<boolean> {
    return this.flushResult;
  }
  counters() {
    return {
      queued: this.outcomes.length,
      written: this.flushResult ? this.outcomes.length : 0,
      retried: 0,
      dropped: 0,
      failures: 0,
    };
  }
  async featureSamples(): Promise<Partial<Record<ModelFeature, Sample[]>>> {
    return this.stored;
  }
  async workloadProfile(namespace: string, workload: string, sinceSeconds: number): Promise<WorkloadProfile> {
    this.profileCalls++;
    return {
      namespace,
      workload,
      sinceSeconds,
      history: { samples: this.profileSamples, sinceSeconds, cpuP95: 0.4 },
      remediations: { total: 0, byOutcome: {} },
    };
  }
}

const asStore = (fake: FakeInflux) => fake as unknown as InfluxStore;
const target = { namespace: 'shop', pod: 'cart-7d4b9c8f6d-x2k9p' };

function expectWindow(outcome: GatherOutcome): FeatureWindow {
  if (outcome.kind !== 'window') throw new Error(`expected a window: ${outcome.reason}`);
  return outcome;
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ApplicationFailure)) throw new Error(`expected an ApplicationFailure, got ${String(error)}`);
  return error;
}

describe('gatherWindow', () => {
  it('divides usage by the limits Prometheus reports, records the snapshot and attaches history', async () => {
    const { client, calls } = prometheus({
      cpuCores: 0.5,
      memoryBytes: 0.25 * GiB,
      limits: { cpu: 2, memory: GiB },
      node: 'edge-0',
    });
    const influx = new FakeInflux();
    const a = createMetricsActivities({ prometheus: client, influx: asStore(influx), gather, now: () => AT * 1000 });
    const w = expectWindow(await a.gatherWindow({ target }));
    expect(calls.sort()).toEqual(['/api/v1/query', '/api/v1/query_range']);
    expect(w.end).toBe(END);
    expect(w.values.every((row) => row[0] === 0.25 && row[1] === 0.25)).toBe(true);
    expect(w.resources).toEqual({ cpuLimitCores: 2, memoryLimitBytes: GiB });
    expect(w.target.node).toBe('edge-0');
    expect(w.history).toEqual({ samples: 12, sinceSeconds: 7 * 86_400, cpuP95: 0.4 });
    expect(influx.windows).toEqual([expect.objectContaining({ kind: 'window', end: END })]);
  });

  it('lets limits from the pod spec win over kube-state-metrics', async () => {
    const { client } = prometheus({ cpuCores: 0.5, memoryBytes: GiB / 2, limits: { cpu: 2, memory: GiB } });
    const a = createMetricsActivities({ prometheus: client, gather, now: () => AT * 1000 });
    const w = expectWindow(await a.gatherWindow({ target, resources: { cpuLimitCores: 1 } }));
    expect(w.values[9]![0]).toBe(0.5);
    expect(w.resources?.cpuLimitCores).toBe(1);
    expect(w.history).toBeUndefined();
  });

  it('says why the window is insufficient when no limit or request is known', async () => {
    const { client } = prometheus({ cpuCores: 0.5, memoryBytes: GiB / 2 });
    const a = createMetricsActivities({ prometheus: client, gather, now: () => AT * 1000 });
    const outcome = await a.gatherWindow({ target });
    expect(outcome.kind).toBe('insufficient');
    if (outcome.kind === 'insufficient') {
      expect(outcome.reason).toContain('no CPU limit or request known');
      expect(outcome.reason).toContain('cpu_usage 0/10');
    }
  });

  it('rejects invalid input as non-retryable', async () => {
    const { client, calls } = prometheus({});
    const a = createMetricsActivities({ prometheus: client, gather });
    const failure = await failureOf(a.gatherWindow({ target: { namespace: 'Shop', pod: '' } }));
    expect(failure).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
    expect(failure.message).toContain('target.namespace');
    expect(calls).toHaveLength(0);
  });

  it('maps bad PromQL to a non-retryable failure of its own type', async () => {
    const { client } = prometheus({
      status: 400,
      body: { status: 'error', errorType: 'bad_data', error: 'parse error' },
    });
    const a = createMetricsActivities({ prometheus: client, influx: asStore(new FakeInflux()), gather });
    const failure = await failureOf(a.gatherWindow({ target }));
    expect(failure).toMatchObject({ type: 'PrometheusQueryError', nonRetryable: true });
  });

  it('rebuilds the window from InfluxDB while Prometheus is unavailable, and fails retryably without it', async () => {
    const { client } = prometheus({ status: 503, body: { status: 'error', errorType: 'unavailable', error: 'x' } });
    const influx = new FakeInflux();
    const stale = END - 60;
    const stored = (v: number) => Array.from({ length: 10 }, (_, i) => ({ t: stale - (9 - i) * STEP, v }));
    influx.stored = { cpu_usage: stored(0.95), memory_usage: stored(0.3) };
    const a = createMetricsActivities({ prometheus: client, influx: asStore(influx), gather, now: () => AT * 1000 });
    const w = expectWindow(await a.gatherWindow({ target }));
    expect(w.source).toBe('influx');
    expect(w.end).toBe(stale);
    expect(w.note).toMatch(/^Prometheus unavailable .*HTTP 503.*rebuilt from InfluxDB snapshots$/);
    expect(w.quality.stalenessSeconds).toBe(AT - stale);
    expect(w.quality.freshness).toBe(0);
    expect(influx.windows).toHaveLength(0);

    influx.stored = {};
    const failure = await failureOf(a.gatherWindow({ target }));
    expect(failure).toMatchObject({ type: 'PrometheusUnavailableError', nonRetryable: false });

    const withoutInflux = createMetricsActivities({ prometheus: client, gather });
    expect(await failureOf(withoutInflux.gatherWindow({ target }))).toMatchObject({ nonRetryable: false });
  });

  it('reuses a workload profile for a minute across pods of the workload', async () => {
    const { client } = prometheus({ cpuCores: 0.5, memoryBytes: GiB / 2, limits: { cpu: 1, memory: GiB } });
    const influx = new FakeInflux();
    let now = AT * 1000;
    const a = createMetricsActivities({ prometheus: client, influx: asStore(influx), gather, now: () => now });
    await Promise.all([
      a.gatherWindow({ target }),
      a.gatherWindow({ target: { namespace: 'shop', pod: 'cart-7d4b9c8f6d-bcdfg' } }),
    ]);
    expect(influx.profileCalls).toBe(1);
    now += 61_000;
    await a.gatherWindow({ target });
    expect(influx.profileCalls).toBe(2);
    await a.gatherWindow({ target: { ...target, workload: 'other' } });
    expect(influx.profileCalls).toBe(3);
  });

  it('leaves history out when the workload has none', async () => {
    const { client } = prometheus({ cpuCores: 0.5, memoryBytes: GiB / 2, limits: { cpu: 1, memory: GiB } });
    const influx = new FakeInflux();
    influx.profileSamples = 0;
    const a = createMetricsActivities({ prometheus: client, influx: asStore(influx), gather, now: () => AT * 1000 });
    expect(expectWindow(await a.gatherWindow({ target })).history).toBeUndefined();
  });
});

describe('rankNodes', () => {
  it('leaves a node whose CPU rate Prometheus did not return unmeasured, never idle', async () => {
    const answer = [
      { metric: { talon_kind: 'cpu', node: 'hot' }, value: [AT, '1.7'] },
      { metric: { talon_kind: 'cpu_allocatable', node: 'hot' }, value: [AT, '4'] },
      // 'quiet' has allocatable and memory but no CPU rate (a missed scrape): its share must stay unknown.
      { metric: { talon_kind: 'memory', node: 'quiet' }, value: [AT, String(2 * GiB)] },
      { metric: { talon_kind: 'cpu_allocatable', node: 'quiet' }, value: [AT, '4'] },
      { metric: { talon_kind: 'memory_allocatable', node: 'quiet' }, value: [AT, String(8 * GiB)] },
    ];
    const fetch = async (): Promise<Response> =>
      Response.json({ status: 'success', data: { resultType: 'vector', result: answer } });
    const prometheus = new PrometheusClient({ url: 'http://prom.test', fetch, retries: 0 });
    const ranked = await createMetricsActivities({ prometheus, gather }).rankNodes({});
    const hot = ranked.find((n) => n.node === 'hot')!;
    const quiet = ranked.find((n) => n.node === 'quiet')!;
    expect(hot.cpuShare).toBeCloseTo(0.425, 12);
    expect(quiet.cpuCores).toBeUndefined();
    expect(quiet.cpuShare).toBeUndefined();
    expect(quiet.memoryShare).toBeCloseTo(0.25, 12);
    expect(quiet.load).toBeCloseTo(0.25, 12);
  });
});

describe('recordOutcome', () => {
  const record: RemediationRecord = {
    workflowId: 'wf-1',
    namespace: 'shop',
    workload: 'cart',
    policy: 'cpu_scale_up',
    magnitude: 1.5,
    outcome: 'resolved',
    decisionSource: 'model',
    attempt: 1,
    at: AT,
  };
  const { client } = prometheus({});

  it('reports written when InfluxDB acknowledged it, and queued (not failed) when it did not', async () => {
    const influx = new FakeInflux();
    const a = createMetricsActivities({ prometheus: client, influx: asStore(influx) });
    await expect(a.recordOutcome(record)).resolves.toMatchObject({ written: true });
    influx.flushResult = false;
    await expect(a.recordOutcome(record)).resolves.toMatchObject({ written: false, reason: 'queued for retry' });
    expect(influx.outcomes).toHaveLength(2);
  });

  it('is a no-op without InfluxDB and rejects a malformed record as non-retryable', async () => {
    await expect(createMetricsActivities({ prometheus: client }).recordOutcome(record)).resolves.toEqual({
      written: false,
      reason: 'no InfluxDB configured',
    });
    const a = createMetricsActivities({ prometheus: client, influx: asStore(new FakeInflux()) });
    const bad = { ...record, policy: 'reboot' } as unknown as RemediationRecord;
    expect(await failureOf(a.recordOutcome(bad))).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
  });
});

describe('decidePolicy', () => {
  const window = fixtureWindow({ values: { cpu_usage: 0.95, memory_usage: 0.5 } });

  it('answers with the rules and says the model is not configured', async () => {
    const d = await createPolicyActivities().decidePolicy(window);
    expect(d).toMatchObject({ source: 'rules', fallbackReason: 'no policy model configured' });
    expect(d.ranked[0]!.policy).toBe('cpu_scale_up');
  });

  it('goes through the breaker to the model and falls back when it fails', async () => {
    let calls = 0;
    const a = createPolicyActivities({
      model: {
        decide: () => {
          calls++;
          throw new Error('session closed');
        },
      },
      breaker: { failureThreshold: 1, openMs: 60_000 },
    });
    expect((await a.decidePolicy(window)).fallbackReason).toContain('session closed');
    expect((await a.decidePolicy(window)).fallbackReason).toMatch(/^model circuit open/);
    expect(calls).toBe(1);
    expect(await a.policyBreakerState()).toMatchObject({ state: 'open', failures: 1, rejected: 1 });
  });

  it('rejects an insufficient-data outcome or a malformed window as non-retryable', async () => {
    const a = createPolicyActivities();
    const insufficient = { kind: 'insufficient', reason: 'x' } as unknown as FeatureWindow;
    expect(await failureOf(a.decidePolicy(insufficient))).toMatchObject({ type: 'InvalidWindow', nonRetryable: true });
    const short = { ...window, values: window.values.slice(1) };
    expect((await failureOf(a.decidePolicy(short))).message).toContain('[steps × 8]');
  });
});
