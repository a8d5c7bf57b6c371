/**
 * Issue 4's figures, printed: rule-policy decisions per second (always); and, when the local stack is up,
 * gather latency for one pod (p50/p99, Prometheus alone and the full activity with InfluxDB history and
 * snapshot), for 100 pods gathered in parallel, and InfluxDB write throughput with batching.
 *
 *   npx tsx bench/metrics.ts [--pods 100] [--rounds 10] [--samples 60] [--no-servers]
 */
import { performance } from 'node:perf_hooks';
import { createMetricsActivities } from '../activities/metrics';
import { WINDOW_STEPS } from '../src/domain/features';
import type { FeatureWindow } from '../src/domain/window';
import { gatherFromPrometheus, type GatherOptions } from '../src/metrics/gather';
import { InfluxStore } from '../src/metrics/influx';
import { PrometheusClient } from '../src/metrics/prometheus';
import { DEFAULT_METRICS_CONFIG } from '../src/metrics/queries';
import { buildWindow, type Sample } from '../src/metrics/window';
import { createPolicyEngine } from '../src/policy/breaker';
import { DEFAULT_RULE_CONFIG, evaluateRules } from '../src/policy/rules';
import { loadStackConfig, stackEndpoints } from '../src/config/local-stack';
import {
  coreApi,
  createNamespace,
  createUsagePod,
  deleteNamespace,
  uniqueName,
  waitFor,
} from '../test/support/metrics-pods';
import { numberFlag, parseFlags, switchFlag } from './support/flags';
import { out, runMain } from './support/output';
import { percentile } from './support/stats';

const ms = (v: number) => `${v.toFixed(1)} ms`;

/** Windows across the whole share range so every rule branch is exercised. */
function syntheticWindows(count: number): FeatureWindow[] {
  const windows: FeatureWindow[] = [];
  const end = 1_700_000_010;
  for (let k = 0; k < count; k++) {
    const cpu = (k * 0.037) % 1.3;
    const memory = (k * 0.053) % 1.2;
    const joules = ((k * 7) % 60) * 30;
    const series = (level: number): Sample[] =>
      Array.from({ length: WINDOW_STEPS }, (_, i) => ({
        t: end - (WINDOW_STEPS - 1 - i) * 30,
        v: level * (0.9 + i / 50),
      }));
    const outcome = buildWindow({
      target: { namespace: 'bench', pod: `p-${k}` },
      source: 'prometheus',
      end,
      spec: { steps: WINDOW_STEPS, stepSeconds: 30 },
      series: { cpu_usage: series(cpu), memory_usage: series(memory), total_joules: series(joules) },
    });
    if (outcome.kind === 'window') windows.push(outcome);
  }
  return windows;
}

async function ruleThroughput(): Promise<void> {
  out('\n== rule policy');
  const windows = syntheticWindows(1_000);
  const policies = new Map<string, number>();
  for (const w of windows) {
    const top = evaluateRules(w).ranked[0]!.policy;
    policies.set(top, (policies.get(top) ?? 0) + 1);
  }
  out(`  windows: ${windows.length}; top policies: ${[...policies].map(([p, n]) => `${p} ${n}`).join(', ')}`);
  for (let i = 0; i < 20_000; i++) evaluateRules(windows[i % windows.length]!, DEFAULT_RULE_CONFIG);
  const n = 200_000;
  let t = performance.now();
  for (let i = 0; i < n; i++) evaluateRules(windows[i % windows.length]!, DEFAULT_RULE_CONFIG);
  let elapsed = performance.now() - t;
  out(`  evaluateRules: ${Math.round(n / (elapsed / 1000)).toLocaleString('en')} decisions/s (${n} in ${ms(elapsed)})`);
  const engine = createPolicyEngine();
  const m = 100_000;
  t = performance.now();
  for (let i = 0; i < m; i++) await engine.decide(windows[i % windows.length]!);
  elapsed = performance.now() - t;
  out(
    `  policy engine, no model (rules + fallbackReason): ${Math.round(m / (elapsed / 1000)).toLocaleString('en')} decisions/s`,
  );
}

async function gatherLatency(pods: number, rounds: number, samples: number): Promise<void> {
  const endpoints = stackEndpoints(loadStackConfig(process.env));
  const prometheus = new PrometheusClient({ url: endpoints.prometheusUrl, timeoutMs: 10_000 });
  if (!(await prometheus.ready())) {
    out(`\n(Prometheus at ${endpoints.prometheusUrl} is not ready: gather and InfluxDB figures skipped)`);
    return;
  }
  const influx = new InfluxStore({ ...endpoints.influx, batchSize: 500, flushIntervalMs: 200 });
  const options: GatherOptions = { steps: 10, stepSeconds: 5, rangeSeconds: 10, shareOf: 'limit' };
  const core = coreApi();
  const namespace = uniqueName('talon-bench-metrics');
  const nodes = ['edge-0', 'edge-1', 'cloud-0', 'cloud-1'];
  out(`\n== gather (local stack; ${pods} KWOK pods in ${namespace}; window 10 × 5 s)`);
  await createNamespace(core, namespace);
  try {
    const names = Array.from({ length: pods }, (_, i) => `bench-${i}`);
    for (let i = 0; i < names.length; i += 20) {
      await Promise.all(
        names.slice(i, i + 20).map((name, j) =>
          createUsagePod(core, namespace, {
            name,
            node: nodes[(i + j) % nodes.length]!,
            cpuLimit: '1',
            memoryLimit: '1Gi',
            usageCpu: `${100 + ((i + j) % 9) * 100}m`,
            usageMemory: `${128 + ((i + j) % 7) * 64}Mi`,
          }),
        ),
      );
    }
    const t0 = Date.now();
    await waitFor(
      `${pods} pods with full windows`,
      async () => {
        const rows = await prometheus.query(
          `count(count_over_time(container_cpu_usage_seconds_total{namespace="${namespace}"}[55s]) >= 10)`,
        );
        return (rows[0]?.sample.v ?? 0) >= pods ? true : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 5_000 },
    );
    out(`  pods scraped for a full window after ${((Date.now() - t0) / 1000).toFixed(0)} s`);

    const one = { namespace, pod: names[0]! };
    const single: number[] = [];
    let sufficient = 0;
    for (let i = 0; i < samples; i++) {
      const t = performance.now();
      const outcome = await gatherFromPrometheus(prometheus, DEFAULT_METRICS_CONFIG, options, { target: one });
      single.push(performance.now() - t);
      if (outcome.kind === 'window') sufficient++;
    }
    out(
      `  1 pod, Prometheus only (2 queries): p50 ${ms(percentile(single, 50))}, p99 ${ms(percentile(single, 99))} (${samples} gathers, ${sufficient} windows)`,
    );

    const activities = createMetricsActivities({ prometheus, influx, gather: options, historySeconds: 3_600 });
    const full: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t = performance.now();
      await activities.gatherWindow({ target: one });
      full.push(performance.now() - t);
    }
    out(
      `  1 pod, gatherWindow activity (+ InfluxDB profile, snapshot queued): p50 ${ms(percentile(full, 50))}, p99 ${ms(percentile(full, 99))}`,
    );

    const each: number[] = [];
    const walls: number[] = [];
    let windows = 0;
    for (let r = 0; r < rounds; r++) {
      const start = performance.now();
      const results = await Promise.all(
        names.map(async (pod) => {
          const t = performance.now();
          const outcome = await gatherFromPrometheus(prometheus, DEFAULT_METRICS_CONFIG, options, {
            target: { namespace, pod },
          });
          each.push(performance.now() - t);
          return outcome;
        }),
      );
      walls.push(performance.now() - start);
      windows += results.filter((o) => o.kind === 'window').length;
    }
    out(
      `  ${pods} pods in parallel, Prometheus only: per gather p50 ${ms(percentile(each, 50))}, p99 ${ms(percentile(each, 99))}; ` +
        `whole batch p50 ${ms(percentile(walls, 50))}, max ${ms(Math.max(...walls))} (${rounds} rounds, ${windows}/${rounds * pods} windows)`,
    );
    const wallsActivity: number[] = [];
    for (let r = 0; r < Math.min(rounds, 3); r++) {
      const start = performance.now();
      await Promise.all(names.map((pod) => activities.gatherWindow({ target: { namespace, pod } })));
      wallsActivity.push(performance.now() - start);
    }
    out(`  ${pods} pods in parallel, gatherWindow activity: whole batch p50 ${ms(percentile(wallsActivity, 50))}`);
    await influx.flush();
    out(`  Prometheus client: ${JSON.stringify(prometheus.stats)}`);
  } finally {
    await deleteNamespace(core, namespace);
  }
  await influxThroughput(influx, endpoints.influx);
  await influx.close();
}

async function influxThroughput(
  shared: InfluxStore,
  connection: { url: string; token: string; org: string; bucket: string },
): Promise<void> {
  out('\n== InfluxDB writes (line protocol over the v2 API, batched)');
  const windows = syntheticWindows(2_000).map((w, k) => ({
    ...w,
    target: { namespace: 'talon-bench-influx', pod: `p-${k % 200}` },
    end: w.end - Math.floor(k / 200) * 300,
  }));
  const pointsPerWindow = 11;
  for (const batchSize of [100, 500, 5_000]) {
    const store = new InfluxStore({ ...connection, batchSize, flushIntervalMs: 1_000 });
    const t = performance.now();
    for (const w of windows) store.recordWindow(w);
    const ok = await store.flush();
    const elapsed = performance.now() - t;
    const c = await store.close();
    out(
      `  batch ${String(batchSize).padStart(5)}: ${Math.round(c.written / (elapsed / 1000)).toLocaleString('en')} points/s ` +
        `(${c.written} points of ${windows.length * pointsPerWindow} in ${ms(elapsed)}; flush ${ok ? 'ok' : 'incomplete'}; failures ${c.failures})`,
    );
  }
  out(`  worker store counters after the gather runs: ${JSON.stringify(shared.counters())}`);
}

async function main(): Promise<void> {
  out(`Talon metrics benchmark — node ${process.version}, ${new Date().toISOString()}`);
  await ruleThroughput();
  const flags = parseFlags(process.argv.slice(2));
  if (switchFlag(flags, 'no-servers')) return;
  await gatherLatency(
    numberFlag(flags, 'pods', 100, 1, 100_000),
    numberFlag(flags, 'rounds', 10, 1, 100_000),
    numberFlag(flags, 'samples', 60, 1, 100_000),
  );
}

runMain(main);
