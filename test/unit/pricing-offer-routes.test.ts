/**
 * `GET /api/offers` in-process: the documents' parameters and response fields, priced by the real
 * OfferService over a fake Prometheus answering a week of hourly demand; 400s naming the bad parameter.
 */
import { webhookSettings } from '../../src/config/defaults';
import inject from 'light-my-request';
import { TalonMetrics } from '../../src/observability/metrics';
import type { InstantSample, RangeSeries } from '../../src/metrics/prometheus';
import { DEFAULT_PRICING_CONFIG } from '../../src/pricing/config';
import { OfferService } from '../../src/pricing/offer-service';
import { createWebhookApp } from '../../src/webhook/app';

const TOKEN = 'test-token-0123456789';
const NOW = Date.parse('2025-03-03T12:00:00Z');

/** A fake Prometheus: demand queries answer a daily cycle, capacity 64 vCPUs / 256 GiB, no Kepler. */
function fakePrometheus() {
  const calls: string[] = [];
  return {
    calls,
    async queryRange(promql: string, start: number, end: number, step: number): Promise<RangeSeries[]> {
      calls.push(promql);
      const samples = [];
      for (let t = start; t <= end; t += step) {
        const hour = new Date(t * 1000).getUTCHours();
        const cpu = 20 + 10 * Math.sin((2 * Math.PI * (hour - 9)) / 24);
        samples.push({ t, v: promql.includes('memory') ? cpu * 4 : cpu });
      }
      return [{ metric: {}, samples }];
    },
    async query(promql: string): Promise<InstantSample[]> {
      calls.push(promql);
      if (promql.includes('kepler')) return [];
      if (promql.includes('allocatable')) {
        return [{ metric: {}, sample: { t: NOW / 1000, v: promql.includes('memory') ? 256 : 64 } }];
      }
      return [];
    },
  };
}

function setup(auth = true) {
  const prometheus = fakePrometheus();
  const service = new OfferService({ config: DEFAULT_PRICING_CONFIG, prometheus, now: () => NOW });
  const app = createWebhookApp({
    sink: { remediate: async () => ({ workflowId: 'x', action: 'started-or-signalled' }) },
    metrics: new TalonMetrics({ defaultMetrics: false }),
    settings: webhookSettings(),
    auth: auth ? { bearerToken: TOKEN } : { insecure: true },
    ready: async () => true,
    offers: { service },
  });
  const get = (query: string, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) =>
    inject(app, { method: 'GET', url: `/api/offers?${query}`, headers });
  return { get, prometheus, service };
}

describe('GET /api/offers', () => {
  it("prices the documents' sample request with the documents' response fields", async () => {
    const { get, prometheus } = setup();
    const res = await get(
      'bundle_name=Ultimate%20Bundle&elasticity_cpu=0.5&elasticity_ram=0.5&apply_dynamic_discount=true',
    );
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body['Bundle Discount (%)']).toBe(25);
    expect(body['Total Discount (%)']).toBe(25);
    expect(body['Total Price after Discount (€)']).toBeCloseTo(body['Total Price before Discount (€)'] * 0.75, 3);
    expect(body['MEC Utility after Discount (€)']).toBeCloseTo(
      body['Expected Revenue after Discount (€)'] - body['Electricity Cost (€)'],
      3,
    );
    expect(body.talon.context).toMatchObject({ live: true, history_steps: 336, capacity: { cpu: 64, ram: 256 } });
    expect(body.talon.context.forecast.cpu.method).toBe('holt-winters');
    expect(body.talon.context.energy).toMatch(/no nodes known: the cloud profile/);
    expect((body.talon.context.notes as string[]).join(' ')).toMatch(/energy from power profiles: no Kepler series/);
    // Priced from Prometheus: demand history and capacity were asked for.
    expect(prometheus.calls.some((q) => q.includes('kube_pod_container_resource_requests'))).toBe(true);
  });

  it('prices pay-as-you-go and accepts the bundle id too', async () => {
    const { get } = setup();
    const payg = await get('cpu_time_hours=10&vcpus=4&memory_GBs=16');
    expect(payg.statusCode).toBe(200);
    expect(payg.json()['Bundle Discount (%)']).toBe(0);
    expect(payg.json().talon).toMatchObject({ vcpu_hours: 10, ram_gb_hours: 40, hours: 2.5 });
    expect((await get('bundle_name=basic')).json()['Bundle Discount (%)']).toBe(5);
  });

  it('the dynamic discount is 20 % in the forecast trough and 0 at peak when asked', async () => {
    const { get } = setup();
    // The fake demand peaks at 15:00 and bottoms at 03:00 UTC.
    const at = (iso: string) => get(`cpu_time_hours=1&vcpus=1&memory_GBs=1&apply_dynamic_discount=true&start=${iso}`);
    const trough = (await at('2025-03-04T03:00:00Z')).json();
    const peak = (await at('2025-03-04T15:00:00Z')).json();
    expect(trough['Dynamic Demand-based Discount (%)']).toBeGreaterThan(19);
    expect(trough['Dynamic Demand-based Discount (%)']).toBeLessThanOrEqual(20);
    expect(peak['Dynamic Demand-based Discount (%)']).toBe(0);
  });

  it.each([
    ['vcpus=0&cpu_time_hours=1&memory_GBs=1', /vcpus must be at least 1/],
    ['vcpus=129&cpu_time_hours=1&memory_GBs=1', /vcpus must be at most 128/],
    ['vcpus=2.5&cpu_time_hours=1&memory_GBs=1', /vcpus must be an integer/],
    ['vcpus=4&cpu_time_hours=1&memory_GBs=300', /memory_GBs must be at most 256/],
    ['vcpus=4&cpu_time_hours=-1&memory_GBs=16', /cpu_time_hours must be at least/],
    ['vcpus=four&cpu_time_hours=1&memory_GBs=16', /vcpus/],
    ['vcpus=4&memory_GBs=16', /cpu_time_hours is required/],
    ['bundle_name=Gold%20Bundle', /unknown bundle; one of Basic Bundle/],
    ['bundle_name=basic&vcpus=4', /either bundle_name or/],
    ['bundle_name=basic&elasticity_cpu=0', /elasticity_cpu must be at least 0.05/],
    ['bundle_name=basic&elasticity_ram=abc', /elasticity_ram/],
    ['bundle_name=basic&apply_dynamic_discount=maybe', /apply_dynamic_discount must be true or false/],
    ['bundle_name=basic&start=tomorrow', /start must be an ISO 8601 time/],
    ['bundle_name=basic&vcpu=4', /vcpu/],
    ['', /cpu_time_hours is required/],
  ])('?%s is a 400 naming the parameter', async (query, detail) => {
    const { get } = setup();
    const res = await get(query);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('invalid_parameter');
    expect(JSON.stringify(res.json().details)).toMatch(detail);
  });

  it('a repeated parameter is a 400', async () => {
    const res = await setup().get('bundle_name=basic&bundle_name=ultimate');
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/bundle_name is given more than once/);
  });

  it('asks for the same credentials as the other routes', async () => {
    const res = await setup().get('bundle_name=basic', {});
    expect(res.statusCode).toBe(401);
  });

  it('answers from the configuration, and says so, when Prometheus is down', async () => {
    const service = new OfferService({
      config: DEFAULT_PRICING_CONFIG,
      prometheus: {
        query: async () => Promise.reject(new Error('connect ECONNREFUSED')),
        queryRange: async () => Promise.reject(new Error('connect ECONNREFUSED')),
      },
      now: () => NOW,
    });
    const { body } = await service.offer({ kind: 'bundle', bundle: 'standard' });
    const context = (body.talon as { context: { live: boolean; notes: string[] } }).context;
    expect(context.live).toBe(false);
    expect(context.notes.join(' ')).toMatch(/Prometheus unavailable \(connect ECONNREFUSED\)/);
    expect(body['Bundle Discount (%)']).toBe(10);
  });
});

describe('OfferService cache', () => {
  it('builds once, serves the cached context, rebuilds in the background when stale', async () => {
    let now = NOW;
    const prometheus = fakePrometheus();
    const service = new OfferService({
      config: { ...DEFAULT_PRICING_CONFIG, refreshSeconds: 60 },
      prometheus,
      now: () => now,
    });
    await service.offer({ kind: 'bundle', bundle: 'basic' });
    const first = prometheus.calls.length;
    await service.offer({ kind: 'bundle', bundle: 'basic' });
    expect(prometheus.calls.length).toBe(first);
    now += 61_000;
    const stale = await service.context();
    expect(stale.ageMs).toBe(61_000);
    await service.refresh();
    expect(prometheus.calls.length).toBe(2 * first);
    expect((await service.context()).ageMs).toBe(0);
  });
});
