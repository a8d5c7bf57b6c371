/**
 * The worker's /metrics, /healthz and /readyz server, and how change activities are labelled.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { State } from '@temporalio/worker';
import { TalonMetrics } from '../../src/observability/metrics';
import { serveWorkerHttp, type WorkerHttp } from '../../workers/http';
import { changeOutcome, metricsSinks, refusedGuard } from '../../workers/telemetry';

describe('change outcome labels', () => {
  it.each([
    [{ dryRun: true, noop: false }, 'dry_run'],
    [{ noop: true }, 'noop'],
    [{ applied: false, alreadyApplied: true }, 'noop'],
    [{ applied: false, outcome: 'blocked' }, 'blocked'],
    [{ applied: true, outcome: 'evicted' }, 'applied'],
    [{ noop: false, dryRun: false }, 'applied'],
    [{ applied: true }, 'applied'],
  ])('%j → %s', (result, label) => {
    expect(changeOutcome(result)).toBe(label);
  });

  it('names the guard of a refusal, whatever shape its details take', () => {
    const refusal = (details: unknown[]) =>
      ApplicationFailure.create({ message: 'no', type: 'GuardRefused', nonRetryable: true, details });
    expect(refusedGuard(refusal(['write_budget']))).toBe('write_budget');
    expect(refusedGuard(refusal([{ guard: 'protected_namespace', namespace: 'kube-system' }]))).toBe(
      'protected_namespace',
    );
    expect(refusedGuard(refusal([]))).toBe('unknown');
    expect(refusedGuard(ApplicationFailure.create({ message: 'x', type: 'Forbidden' }))).toBeUndefined();
    expect(refusedGuard(new Error('plain'))).toBeUndefined();
  });
});

describe('workflow sinks', () => {
  it('count decisions by the engine that answered (model vs rules)', async () => {
    const metrics = new TalonMetrics({ defaultMetrics: false });
    const sinks = metricsSinks(metrics);
    const info = {} as Parameters<typeof sinks.talonMetrics.decided.fn>[0];
    void sinks.talonMetrics.decided.fn(info, 'model');
    void sinks.talonMetrics.decided.fn(info, 'rules');
    void sinks.talonMetrics.decided.fn(info, 'rules');
    const text = await metrics.registry.metrics();
    expect(text).toContain('talon_policy_decisions_total{source="model"} 1');
    expect(text).toContain('talon_policy_decisions_total{source="rules"} 2');
  });
});

describe('worker HTTP', () => {
  let http: WorkerHttp;
  let state: State = 'INITIALIZED';
  const metrics = new TalonMetrics({ defaultMetrics: false });

  beforeAll(async () => {
    http = await serveWorkerHttp(metrics, () => state, { port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await http.close();
  });
  const get = async (path: string, method = 'GET') => {
    const res = await fetch(`http://127.0.0.1:${http.port}${path}`, { method });
    return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
  };

  it('serves the counters in Prometheus exposition format', async () => {
    metrics.escalations.inc({ from: 'cpu_scale_up', to: 'replica_scale_up' });
    const res = await get('/metrics');
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/plain/);
    expect(res.body).toContain('talon_escalations_total{from="cpu_scale_up",to="replica_scale_up"} 1');
  });

  it('is live once created and ready only while polling', async () => {
    state = 'INITIALIZED';
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(503);
    state = 'RUNNING';
    expect((await get('/readyz')).status).toBe(200);
    state = 'FAILED';
    expect((await get('/healthz')).status).toBe(503);
    expect(JSON.parse((await get('/healthz')).body)).toEqual({ state: 'FAILED' });
  });

  it('answers anything else with a JSON 404 or 405', async () => {
    expect((await get('/nope')).status).toBe(404);
    expect((await get('/metrics', 'POST')).status).toBe(405);
  });
});
