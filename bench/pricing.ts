/**
 * Offer latency with a cached pricing context (issue 16's goal: ≤ 50 ms), and an example offer for each
 * bundle and one pay-as-you-go request.
 *
 *   npx tsx bench/pricing.ts [--prometheus http://127.0.0.1:9090] [--requests 2000] [--http-requests 500]
 *
 * Without `--prometheus` (or when it does not answer) the demand history is synthetic: two weeks of hourly
 * demand with a daily cycle, so the Holt–Winters fit does the same work as on a real cluster. Two figures:
 * the offer service alone (what a caller of the SDK-side service pays) and `GET /api/offers` end to end over
 * a real socket on localhost (validation, pricing, JSON, HTTP), both after the context is cached; plus the
 * time to (re)build the context, which happens in the background every `refreshSeconds`.
 */
import { webhookSettings } from '../src/config/defaults';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { BUNDLES, BUNDLE_IDS } from '../src/domain/pricing/bundles';
import type { OfferRequest } from '../src/domain/pricing/offer';
import type { InstantSample, RangeSeries } from '../src/metrics/prometheus';
import { PrometheusClient } from '../src/metrics/prometheus';
import { TalonMetrics } from '../src/observability/metrics';
import { DEFAULT_PRICING_CONFIG } from '../src/pricing/config';
import { OfferService } from '../src/pricing/offer-service';
import { createWebhookApp } from '../src/webhook/app';
import { percentile } from './support/stats';

function argument(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}
const option = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

const fmt = (ms: number) => ms.toFixed(3).padStart(8);
function report(label: string, samples: number[]): void {
  samples.sort((a, b) => a - b);
  console.log(
    `${label.padEnd(40)} p50 ${fmt(percentile(samples, 50))} ms  p99 ${fmt(percentile(samples, 99))} ms  max ${fmt(samples.at(-1)!)} ms  (n=${samples.length})`,
  );
}

/** Two weeks of hourly demand: a daily cycle on 40 of 64 vCPUs, four GiB per vCPU, a little noise. */
function syntheticPrometheus() {
  return {
    async queryRange(promql: string, start: number, end: number, step: number): Promise<RangeSeries[]> {
      const samples = [];
      for (let t = start; t <= end; t += step) {
        const hour = new Date(t * 1000).getUTCHours();
        const cpu = 24 + 12 * Math.sin((2 * Math.PI * (hour - 9)) / 24) + 2 * Math.sin(t * 12.9898);
        samples.push({ t, v: promql.includes('memory') ? cpu * 4 : cpu });
      }
      return [{ metric: {}, samples }];
    },
    async query(promql: string): Promise<InstantSample[]> {
      if (promql.includes('allocatable')) {
        return [{ metric: {}, sample: { t: Date.now() / 1000, v: promql.includes('memory') ? 256 : 64 } }];
      }
      return [];
    },
  };
}

const requests: OfferRequest[] = [
  ...BUNDLE_IDS.map((bundle) => ({ kind: 'bundle' as const, bundle, applyDynamicDiscount: true })),
  { kind: 'payg', cpuTimeHours: 10, vcpus: 4, memoryGBs: 16, applyDynamicDiscount: true },
  { kind: 'payg', cpuTimeHours: 48, vcpus: 8, memoryGBs: 32, elasticityCpu: 0.8, elasticityRam: 0.3 },
];
const queries = [
  ...BUNDLE_IDS.map((b) => `bundle_name=${encodeURIComponent(BUNDLES[b].name)}&apply_dynamic_discount=true`),
  'cpu_time_hours=10&vcpus=4&memory_GBs=16&apply_dynamic_discount=true',
  'cpu_time_hours=48&vcpus=8&memory_GBs=32&elasticity_cpu=0.8&elasticity_ram=0.3',
];

async function main(): Promise<void> {
  const n = argument('--requests', 2000);
  const httpN = argument('--http-requests', 500);
  const url = option('--prometheus');
  let prometheus: Pick<PrometheusClient, 'query' | 'queryRange'> = syntheticPrometheus();
  let source = 'synthetic two weeks of hourly demand';
  if (url) {
    const real = new PrometheusClient({ url, retries: 0, timeoutMs: 5000 });
    if (await real.ready().catch(() => false)) {
      prometheus = real;
      source = `Prometheus at ${url}`;
    } else {
      console.log(`Prometheus at ${url} does not answer: synthetic demand instead`);
    }
  }
  const service = new OfferService({ config: DEFAULT_PRICING_CONFIG, prometheus });
  console.log(
    `demand history: ${source}; ${DEFAULT_PRICING_CONFIG.historySteps} steps of ${DEFAULT_PRICING_CONFIG.stepSeconds} s`,
  );

  const builds: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await service.refresh();
    builds.push(performance.now() - t0);
  }
  const ctx = await service.context();
  console.log(
    `context: forecast ${ctx.built.report.forecast.cpu.method} (cpu), ${ctx.built.report.forecast.ram.method} (ram); ` +
      `energy ${ctx.built.report.power.detail}; notes: ${ctx.built.report.notes.join('; ') || 'none'}`,
  );
  report('context build (background, every 300 s)', builds);

  for (let i = 0; i < 200; i++) await service.offer(requests[i % requests.length]!);
  const direct: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await service.offer(requests[i % requests.length]!);
    direct.push(performance.now() - t0);
  }
  report('offer (service, cached context)', direct);

  const app = createWebhookApp({
    sink: { remediate: async () => ({ workflowId: 'bench', action: 'none' }) },
    metrics: new TalonMetrics({ defaultMetrics: false }),
    settings: webhookSettings(),
    auth: { insecure: true }, // in-process, loopback only: measures pricing, not auth
    ready: async () => true,
    offers: { service },
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/offers?`;
  for (let i = 0; i < 50; i++) await (await fetch(base + queries[i % queries.length]!)).arrayBuffer();
  const http: number[] = [];
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < httpN; i++) {
    const t0 = performance.now();
    const res = await fetch(base + queries[i % queries.length]!);
    await res.arrayBuffer();
    http.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`GET /api/offers answered ${res.status}`);
  }
  const cpu = process.cpuUsage(cpuBefore);
  report('GET /api/offers (HTTP, localhost)', http);
  // CPU time does not grow with the machine's load the way wall-clock tails do: the per-core figure.
  const cpuMsPerOffer = (cpu.user + cpu.system) / 1000 / httpN;
  console.log(
    `GET /api/offers CPU per request           ${cpuMsPerOffer.toFixed(3)} ms (server and client in this one process: ` +
      `an upper bound) → ≈ ${Math.floor(1000 / cpuMsPerOffer)} offers/s per core`,
  );
  server.close();
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} on ${cpus().length} cores (figures on a shared machine: read them next to it)`,
  );

  console.log('\nexample offers (dynamic discount applied; € per vCPU-hour / GB-hour before → after discount):');
  for (const request of requests) {
    const { body } = await service.offer(request);
    const t = body.talon as { bundle: string | null; vcpu_hours: number; ram_gb_hours: number };
    const label = t.bundle ?? `pay-as-you-go ${t.vcpu_hours} vCPU-h / ${t.ram_gb_hours} GB-h`;
    const b = body as Record<string, number>;
    console.log(
      `${label.padEnd(36)} ${b['Price per vCPU-hour before Discount (€/vCPU-hour)']} → ${b['Price per vCPU-hour after Discount (€/vCPU-hour)']}` +
        ` / ${b['Price per GB RAM-hour before Discount (€/GB-hour)']} → ${b['Price per GB RAM-hour after Discount (€/GB-hour)']}` +
        `  total ${b['Total Price before Discount (€)']} → ${b['Total Price after Discount (€)']} €` +
        `  discount ${b['Total Discount (%)']} % (bundle ${b['Bundle Discount (%)']}, dynamic ${b['Dynamic Demand-based Discount (%)']})` +
        `  acceptance ${b['Acceptance Probability']}  revenue ${b['Expected Revenue after Discount (€)']}` +
        `  electricity ${b['Electricity Cost (€)']}  utility ${b['MEC Utility after Discount (€)']}`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
