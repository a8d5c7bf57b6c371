/**
 * Latency: webhook receipt → the apiserver acknowledged the change (the applyPolicy activity's write
 * returned), p50/p99, at `--rate` alerts/s for `--duration` s, on one Deployment per alert in bench
 * namespaces of the KWOK cluster, next to the naive synchronous handler (naive.ts) measured in the same run
 * on its own Deployments. `--stub` takes the cluster out: stubbed activities, Talon's own path only.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { TalonClient } from '../../src/client/talon-client';
import { alertWorkflowId } from '../../src/domain/alert';
import { TalonMetrics } from '../../src/observability/metrics';
import type { AlertSink } from '../../src/webhook/app';
import { startWebhookServer } from '../../src/webhook/server';
import { loadTalonConfig } from '../../src/config/talon-config';
import { testKube } from '../../test/support/kube';
import { sleep } from '../support/async';
import { onCleanup } from '../support/cleanup';
import { BenchCluster, type BenchTarget } from '../support/cluster';
import { numberFlag, switchFlag, type Flags } from '../support/flags';
import { cpuReport, cpuSnapshot, LoadSampler, loadLine } from '../support/machine';
import { out, table, type TableRow } from '../support/output';
import { percentile } from '../support/stats';
import { payloadOf, rawPodAlert, workflowIdOf, type RawAlert } from './alerts';
import { dist, ms, p5099 } from './format';
import { naiveHandler, type NaiveRecord } from './naive';
import { httpSummary, runPoster, type PosterPlan, type PostResult } from './poster';
import { startWorker, tuningArgs, type ActivityTiming, type WorkerMemory } from './worker';
import { bundleToFile, terminateAll } from './workflows';

function policyCounts(policies: readonly (string | undefined)[]): string {
  const counts = new Map<string, number>();
  for (const p of policies) if (p) counts.set(p, (counts.get(p) ?? 0) + 1);
  return [...counts.entries()].map(([p, n]) => `${p} ${n}`).join(', ') || 'none';
}

function latencyPlan(
  url: string,
  token: string,
  alerts: readonly RawAlert[],
  rate: number,
): { plan: PosterPlan; ids: string[] } {
  const requests = alerts.map((raw, i) => ({
    atMs: Math.round((i * 1000) / rate),
    body: JSON.stringify(payloadOf([raw])),
    alerts: 1,
  }));
  return { plan: { url, token, timeoutMs: 60_000, requests }, ids: alerts.map(workflowIdOf) };
}

/** The cluster side: nodes with room for every pod and its rollout surge, one Deployment per alert. */
async function prepareCluster(
  cluster: BenchCluster,
  targets: Map<string, BenchTarget[]>,
  phases: readonly string[],
  count: number,
  perNamespace: number,
  warmup: number,
): Promise<void> {
  onCleanup(() => cluster.cleanup());
  const podsNeeded = 2 * count * phases.length + 100;
  const podsPerNode = 1_000;
  let t = Date.now();
  await cluster.addNamespace(cluster.talonNamespace);
  await cluster.addNodes(Math.ceil(podsNeeded / podsPerNode), podsPerNode);
  for (const phase of phases) {
    targets.set(phase, await cluster.addTargets(`bench-${cluster.id}-${phase}`, count, perNamespace));
  }
  const all = [...targets.values()].flat();
  out(
    `  created ${cluster.nodes.length} tainted bench nodes, ${cluster.namespaces.length} namespaces (${perNamespace} Deployments each, ` +
      `the default write budget per namespace) and ${all.length} Deployments in ${((Date.now() - t) / 1000).toFixed(0)} s`,
  );
  t = Date.now();
  const ready = await cluster.waitForPods(all, 120_000 + 100 * all.length);
  out(`  ${ready}/${all.length} pods Running after ${((Date.now() - t) / 1000).toFixed(0)} s`);
  if (ready < all.length) out(`  (alerts for pods that never ran are sent anyway and will count as failures)`);
  if (warmup > 0) {
    out(`  waiting ${warmup} s so Prometheus holds a full metrics window of every bench pod`);
    await sleep(warmup * 1000);
  }
}

export async function latency(flags: Flags, workDir: string): Promise<void> {
  const rate = numberFlag(flags, 'rate', 50, 0.1, 1000);
  const duration = numberFlag(flags, 'duration', 60, 1, 600);
  const perNamespace = numberFlag(flags, 'per-namespace', 10, 1, 1000);
  const port = numberFlag(flags, 'port', 18080, 1024, 65535);
  const warmup = numberFlag(flags, 'warmup', 60, 0, 600);
  const drainS = numberFlag(flags, 'drain', 180, 10, 1200);
  // --stub: no cluster, no naive handler; the worker's activities are stubs, so what is left is Talon's
  // own path (webhook → Temporal → worker) with the Kubernetes, Prometheus and InfluxDB costs taken out.
  const stub = switchFlag(flags, 'stub');
  const skipNaive = stub || flags.get('naive') === 'false';
  const count = Math.round(rate * duration);
  const id = randomBytes(3).toString('hex');
  const queue = `bench-${id}`;
  out(
    `\n== latency: webhook receipt → ${stub ? 'stubbed applyPolicy returned (activities stubbed: Temporal + worker only)' : 'apiserver acknowledged the change'}, ` +
      `${count} alerts at ${rate}/s for ${duration} s (id ${id})`,
  );
  out(`  ${loadLine()}`);
  const tuning = tuningArgs(flags);
  if (tuning.note) out(`  ${tuning.note}`);
  const config = loadTalonConfig({ ...process.env, TALON_TASK_QUEUE: queue, TALON_NAMESPACE: `bench-${id}-talon` });
  const kube = testKube(config.kube.kubeconfigPath!);
  const cluster = new BenchCluster(kube, id);
  const bundlePath = await bundleToFile(workDir);
  const targets = new Map<string, BenchTarget[]>();
  if (stub) {
    targets.set(
      't',
      Array.from({ length: count }, (_, i) => ({
        namespace: `bench-${id}-t-${Math.floor(i / perNamespace)}`,
        deployment: `w-${i}`,
        pod: `w-${i}-7c847f9c9d-abcde`,
      })),
    );
  } else await prepareCluster(cluster, targets, skipNaive ? ['t'] : ['n', 't'], count, perNamespace, warmup);
  const rawFor = (list: readonly BenchTarget[]): RawAlert[] =>
    list.map((x) => rawPodAlert(x.namespace, x.pod ?? `${x.deployment}-missing`));
  const token = randomBytes(16).toString('hex');
  const labels = new Map<number, string>([[process.pid, 'bench(webhook)']]);
  const load = new LoadSampler();

  // Naive handler first: it leaves nothing running behind it, while Talon's phase leaves verifications.
  let naive: { rows: PostResult[]; records: Map<string, NaiveRecord>; ids: string[]; cpu: string } | undefined;
  if (!skipNaive) {
    const records = new Map<string, NaiveRecord>();
    const app = naiveHandler(config, cluster.talonNamespace, records);
    const server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(port, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
    try {
      const { plan, ids } = latencyPlan(`http://127.0.0.1:${port}/api/alerts`, token, rawFor(targets.get('n')!), rate);
      out(`\n  -- naive handler (receive → Prometheus → rules → patch, no Temporal) on :${port}; ${loadLine()}`);
      const c0 = await cpuSnapshot();
      const w0 = Date.now();
      const { rows, cpuMs } = await runPoster(workDir, plan);
      const cpu = cpuReport(c0, await cpuSnapshot(), Date.now() - w0, labels, { 'bench(poster)': cpuMs / 1000 });
      naive = { rows, records, ids, cpu };
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    out(`  naive phase done; ${loadLine()}; settling 20 s before Talon's phase`);
    await sleep(20_000);
  }

  // Talon: webhook (this process) → Temporal → worker child with the real activities.
  out(
    `\n  -- Talon: webhook on :${port} → Temporal (queue ${queue}) → worker child (${stub ? 'stubbed' : 'real'} activities); ${loadLine()}`,
  );
  const worker = await startWorker(
    bundlePath,
    queue,
    stub ? 'stub' : 'real',
    { ...process.env, TALON_NAMESPACE: cluster.talonNamespace },
    tuning.args,
  );
  labels.set(worker.pid, 'bench(worker)');
  const client = await TalonClient.connect({ address: config.temporal.address, taskQueue: queue });
  const talonIds = rawFor(targets.get('t')!);
  const { plan, ids } = latencyPlan(`http://127.0.0.1:${port}/api/alerts`, token, talonIds, rate);
  onCleanup(async () => {
    await terminateAll(client.temporal, queue, ids);
    await worker.stop();
    await client.close();
  });
  const receivedAt = new Map<string, number>();
  const handedAt = new Map<string, number>();
  const handOffFailed = new Set<string>();
  const sink: AlertSink = {
    async remediate(alert, deadline) {
      const wf = alertWorkflowId(alert);
      receivedAt.set(wf, Date.now());
      try {
        // With the webhook's deadline, as the production sink (TalonClient) gets it.
        const result = await client.remediate(alert, deadline);
        handedAt.set(wf, Date.now());
        return result;
      } catch (err) {
        handOffFailed.add(wf);
        throw err;
      }
    },
  };
  const webhook = await startWebhookServer(
    client,
    new TalonMetrics({ defaultMetrics: false }),
    { host: '127.0.0.1', port, auth: { bearerToken: token }, bodyLimit: '1mb' },
    sink,
  );
  let posts: PostResult[];
  let cpu: string;
  const applied = (): Map<string, ActivityTiming> => {
    const byId = new Map<string, ActivityTiming>();
    for (const row of worker.timings) if (row.name === 'applyPolicy' && row.ok) byId.set(row.workflowId, row);
    return byId;
  };
  let drainedMs = 0;
  let memory: WorkerMemory | undefined;
  try {
    const c0 = await cpuSnapshot();
    const w0 = Date.now();
    const posted = await runPoster(workDir, plan);
    posts = posted.rows;
    out(`  posted ${posts.length} alerts in ${((Date.now() - w0) / 1000).toFixed(0)} s; ${loadLine()}`);
    const d0 = Date.now();
    let reported = d0;
    while (Date.now() - d0 < drainS * 1000) {
      const done = applied();
      const failed = new Set(worker.timings.filter((r) => r.name === 'applyPolicy' && !r.ok).map((r) => r.workflowId));
      const inHandOff = [...receivedAt.keys()].filter((i) => !handedAt.has(i) && !handOffFailed.has(i)).length;
      const waiting = [...handedAt.keys()].filter((i) => !done.has(i) && !failed.has(i)).length;
      if (inHandOff === 0 && waiting === 0) break;
      if (Date.now() - reported >= 30_000) {
        reported = Date.now();
        out(
          `  … ${((reported - d0) / 1000).toFixed(0)} s after the last post: ${done.size} applied, ${waiting} waiting, ` +
            `${inHandOff} still in hand-off; ${loadLine()}`,
        );
      }
      await sleep(1_000);
    }
    drainedMs = Date.now() - d0;
    cpu = cpuReport(c0, await cpuSnapshot(), Date.now() - w0, labels, { 'bench(poster)': posted.cpuMs / 1000 });
    memory = await worker.memory().catch(() => undefined);
  } finally {
    await webhook.close();
  }

  // Figures.
  out(`\n== latency figures (${count} alerts at ${rate}/s, one alert per Alertmanager payload, as the stack's route)`);
  if (naive) {
    const lat = naive.ids.map((i) => {
      const r = naive.records.get(i);
      return r?.ackedAt !== undefined ? r.ackedAt - r.receivedAt : Infinity;
    });
    const failures = [...naive.records.values()].filter((r) => r.error);
    out(`  naive  receipt → apiserver ack: ${dist(lat)}`);
    out(
      `         applied ${lat.filter(Number.isFinite).length}/${count}, failed ${failures.length}` +
        `${failures[0] ? ` (e.g. ${failures[0].error})` : ''}; policies: ${policyCounts([...naive.records.values()].map((r) => r.policy))}`,
    );
    const ok = [...naive.records.values()].filter((r) => r.ackedAt !== undefined && r.decidedAt !== undefined);
    out(
      `         parts p50 / p99: Prometheus + rules ${p5099(ok.map((r) => r.decidedAt! - r.receivedAt))}, ` +
        `patch (guards, budget Lease, write) ${p5099(ok.map((r) => r.ackedAt! - r.decidedAt!))}`,
    );
    out(`         HTTP: ${httpSummary(naive.rows)}; response time ${dist(naive.rows.map((r) => r.doneAt - r.sentAt))}`);
    out(`         ${naive.cpu}`);
  }
  const done = applied();
  const lat = ids.map((i) => {
    const a = done.get(i);
    const r = receivedAt.get(i);
    return a && r !== undefined ? a.endedAt - r : Infinity;
  });
  const failedApplies = worker.timings.filter((r) => r.name === 'applyPolicy' && !r.ok);
  out(`  talon  receipt → ${stub ? 'stubbed apply returned' : 'apiserver ack'}: ${dist(lat)}   (goal p99 ≤ 1000 ms)`);
  out(
    `         applied ${done.size}/${count} (drain waited ${(drainedMs / 1000).toFixed(0)} s after the last post), ` +
      `failed apply attempts ${failedApplies.length}${failedApplies[0] ? ` (e.g. ${failedApplies[0].error})` : ''}; ` +
      `policies: ${policyCounts([...done.values()].map((r) => r.policy))}`,
  );
  out(`         HTTP: ${httpSummary(posts)}; webhook 202 time ${dist(posts.map((r) => r.doneAt - r.sentAt))}`);
  out(`         ${cpu}`);
  // Where the time goes, per alert: hand-off, then each activity and the Temporal round trip before it.
  const firstOk = (name: string): Map<string, ActivityTiming> => {
    const m = new Map<string, ActivityTiming>();
    for (const row of worker.timings)
      if (row.name === name && row.ok && !m.has(row.workflowId)) m.set(row.workflowId, row);
    return m;
  };
  const steps = ['readTarget', 'gatherWindow', 'decidePolicy', 'applyPolicy'].map((n) => [n, firstOk(n)] as const);
  const parts = new Map<string, number[]>();
  const add = (k: string, v: number): void => {
    parts.set(k, [...(parts.get(k) ?? []), v]);
  };
  for (const i of ids) {
    const r = receivedAt.get(i);
    const h = handedAt.get(i);
    if (r === undefined || h === undefined) continue;
    add('hand-off (signal-with-start)', h - r);
    let prev = h;
    for (const [name, m] of steps) {
      const row = m.get(i);
      if (!row) break;
      add(`→ ${name}: workflow task until scheduled`, row.scheduledAt - prev);
      add(`  ${name}: scheduled → started (slot wait)`, row.startedAt - row.scheduledAt);
      add(`  ${name}: run`, row.endedAt - row.startedAt);
      prev = row.endedAt;
    }
  }
  out('  where Talon spends it (per alert, p50 / p99; "scheduled" is the server\'s time, same host clock):');
  for (const [k, v] of parts) {
    out(`    ${k.padEnd(44)} ${ms(percentile(v, 50)).padStart(8)} / ${ms(percentile(v, 99)).padStart(8)}`);
  }
  const verifies = worker.timings.filter((r) => r.name === 'verifyPolicy').map((r) => r.endedAt - r.startedAt);
  const peaks = Object.entries(memory?.peakByActivity ?? {})
    .map(([n, v]) => `${n} ${v}`)
    .join(', ');
  out(
    `  activity slots (the worker has 100): at most ${memory?.peakActivities ?? '?'} activities at once (peak per activity: ${peaks}); ` +
      `verifyPolicy, which holds its slot while the rollout runs: ${verifies.length} finished, ` +
      `run ${ms(percentile(verifies, 50))} p50 / ${ms(percentile(verifies, 99))} p99`,
  );
  if (memory) {
    out(
      `  real worker child after the run: RSS ${(memory.rss / 2 ** 20).toFixed(0)} MiB (peak ${(memory.hwmKiB / 1024).toFixed(0)} MiB), heap ${(memory.heapUsed / 2 ** 20).toFixed(0)} MiB`,
    );
  }
  const what = stub ? 'receipt → stubbed applyPolicy returned' : 'receipt → apiserver ack';
  const rows: TableRow[] = [];
  if (naive) {
    const nl = naive.ids.map((i) => {
      const r = naive.records.get(i);
      return r?.ackedAt !== undefined ? r.ackedAt - r.receivedAt : Infinity;
    });
    rows.push([`naive  ${what}, p50 / p99`, p5099(nl), 'reference']);
    rows.push(['naive  applied', `${nl.filter(Number.isFinite).length}/${count}`]);
  }
  const p99Talon = percentile(lat, 99);
  rows.push([`talon  ${what}, p50 / p99`, p5099(lat), `p99 ≤ 1000 ms: ${p99Talon <= 1000 ? 'met' : 'MISSED'}`]);
  rows.push(['talon  applied', `${done.size}/${count}`]);
  // Alertmanager retries a 5xx, so the alerts answered 2xx are the ones whose latency the webhook promised.
  const acceptedIds = new Set(handedAt.keys());
  rows.push([
    'talon  same, alerts answered 2xx only, p50 / p99',
    `${p5099(ids.flatMap((i, k) => (acceptedIds.has(i) ? [lat[k]!] : [])))} (n=${acceptedIds.size})`,
  ]);
  for (const [k, v] of parts) if (!k.endsWith(': run')) rows.push([`talon  part: ${k.trim()}, p50 / p99`, p5099(v)]);
  rows.push(['talon  webhook answer (hand-off), p50 / p99', p5099(posts.map((r) => r.doneAt - r.sentAt))]);
  rows.push(['talon  HTTP answers', httpSummary(posts)]);
  rows.push(['load during the run', load.stop()]);
  table(`latency, ${count} alerts at ${rate}/s for ${duration} s, one alert per payload`, rows);
}
