/**
 * Issue 2's figures, printed: tool build times (from the cache manifests), warm `stack up`/`down`, RSS of
 * the running stack with 20 nodes / 100 pods, and the time from raising a pod's CPU to its workflow
 * starting, split into its parts. Run with the stack's tools built: `npm run bench:stack`.
 */
import { randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TalonClient } from '../src/client/talon-client';
import type { TalonAlert } from '../src/domain/alert';
import { TalonMetrics } from '../src/observability/metrics';
import { loadStackConfig, stackEndpoints, type StackConfig } from '../src/config/local-stack';
import { applyManifests, kubectl, nodeManifest } from '../tools/stack/kube';
import { parseManifest, toolDir } from '../tools/stack/setup';
import { stackDown, stackUp } from '../tools/stack/stack';
import { TOOLS } from '../tools/stack/tools';
import { startWebhookServer } from '../src/webhook/server';
import { loadTalonConfig } from '../src/config/talon-config';
import { createTalonWorker } from '../workers/worker';
import {
  createLoadedDeployment,
  createNamespace,
  deleteNamespace,
  runningPods,
  setPodCpuUsage,
  testKube,
  waitFor,
} from '../test/support/kube';
import { out, runMain } from './support/output';

const quiet = (): void => undefined;
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

async function toolTimes(config: StackConfig): Promise<void> {
  out('\n== tool builds (seconds of the last build recorded in each cache manifest)');
  for (const tool of TOOLS) {
    try {
      const m = parseManifest(await readFile(join(toolDir(config.cacheDir, tool), 'manifest.json'), 'utf8'));
      out(
        `  ${tool.name.padEnd(11)} ${tool.version.padEnd(16)} ${String(m.buildSeconds).padStart(5)} s  (built ${m.builtAt})`,
      );
    } catch {
      out(`  ${tool.name.padEnd(11)} not built`);
    }
  }
}

async function upDown(config: StackConfig, rounds: number): Promise<void> {
  out(`\n== warm stack up / down (${rounds} rounds)`);
  const ups: number[] = [];
  const downs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    let t = Date.now();
    await stackDown(config, quiet);
    downs.push(Date.now() - t);
    t = Date.now();
    await stackUp(config, quiet);
    ups.push(Date.now() - t);
  }
  out(`  up:   ${ups.map(secs).join(', ')}   (goal ≤ 60 s)`);
  out(`  down: ${downs.map(secs).join(', ')}`);
}

/** Resident memory of every process whose command line points into Talon's cache (the whole stack). */
async function stackRssMiB(config: StackConfig): Promise<{ total: number; parts: Map<string, number> }> {
  const parts = new Map<string, number>();
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      if (!cmdline[0]?.startsWith(config.cacheDir)) continue;
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      const name = cmdline[0].split('/').pop()!;
      parts.set(name, (parts.get(name) ?? 0) + kb / 1024);
    } catch {
      // process ended while we looked
    }
  }
  return { total: [...parts.values()].reduce((a, b) => a + b, 0), parts };
}

async function rssAtScale(config: StackConfig): Promise<void> {
  out('\n== RSS of the running stack with 20 nodes / 100 pods');
  const extra = Array.from({ length: 20 - config.nodes.edge - config.nodes.cloud }, (_, i) =>
    nodeManifest(i % 2 ? 'edge' : 'cloud', 100 + i),
  );
  await applyManifests(config, extra);
  const kube = testKube(stackEndpoints(config).kubeconfigPath);
  const ns = `bench-rss-${randomBytes(2).toString('hex')}`;
  await createNamespace(kube, ns);
  try {
    await createLoadedDeployment(kube, ns, 'fleet', { usageCpu: '10m', limitCpu: '100m', replicas: 100 });
    await waitFor(
      '100 running pods',
      180_000,
      async () => ((await runningPods(kube, ns, 'fleet')).length >= 100 ? true : undefined),
      2_000,
    );
    await new Promise((r) => setTimeout(r, 15_000)); // a few scrapes with 100 pods' series
    const { total, parts } = await stackRssMiB(config);
    out(`  total ${total.toFixed(0)} MiB: ${[...parts].map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);
  } finally {
    await deleteNamespace(kube, ns);
    await kubectl(config, [
      'delete',
      'node',
      ...extra.map((n) => (n as { metadata: { name: string } }).metadata.name),
      '--wait=false',
    ]);
  }
}

async function promQuery(
  url: string,
  query: string,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as {
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  return body.data.result;
}

async function alertLatency(config: StackConfig, runs: number): Promise<void> {
  out(
    `\n== raise CPU → workflow started (${runs} runs, local rules: for 10s, rate[20s], 5 s scrape/eval, group_wait 1s)`,
  );
  const talon = loadTalonConfig({ ...process.env, TALON_TASK_QUEUE: `bench-${randomBytes(3).toString('hex')}` });
  const worker = await createTalonWorker(talon, { shutdownGraceMs: 1_000 });
  const workerDone = worker.run();
  const client = await TalonClient.connect({ address: talon.temporal.address, taskQueue: talon.temporal.taskQueue });
  const received = new Map<string, number>();
  const sink = {
    async remediate(alert: TalonAlert) {
      if (alert.target.kind === 'pod' && !received.has(alert.target.pod)) received.set(alert.target.pod, Date.now());
      return client.remediate(alert);
    },
  };
  const metrics = new TalonMetrics({ defaultMetrics: false });
  const webhook = await startWebhookServer(
    client,
    metrics,
    {
      host: talon.webhook.host,
      port: talon.webhook.port,
      bodyLimit: '1mb',
      auth: { bearerToken: talon.webhook.bearerToken! },
    },
    sink,
  );
  const kube = testKube(stackEndpoints(config).kubeconfigPath);
  const prom = stackEndpoints(config).prometheusUrl;
  const rows: number[][] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const ns = `bench-alert-${randomBytes(2).toString('hex')}`;
      await createNamespace(kube, ns);
      try {
        await createLoadedDeployment(kube, ns, 'web', { usageCpu: '20m', limitCpu: '500m' });
        const pod = await waitFor('pod', 60_000, async () => (await runningPods(kube, ns, 'web'))[0]);
        const name = pod.metadata!.name!;
        await new Promise((r) => setTimeout(r, 12_000)); // two scrapes of the quiet pod first
        const t0 = Date.now();
        await setPodCpuUsage(kube, ns, name, '490m');
        const sel = `namespace="${ns}",pod="${name}"`;
        const t1 = await waitFor(
          'rule condition true',
          120_000,
          async () => {
            const r = await promQuery(
              prom,
              `sum(rate(container_cpu_usage_seconds_total{${sel}}[20s])) / sum(kube_pod_container_resource_limits{${sel},resource="cpu"}) > 0.8`,
            );
            return r.length > 0 ? Date.now() : undefined;
          },
          250,
        );
        const t2 = await waitFor(
          'alert pending',
          120_000,
          async () => ((await promQuery(prom, `ALERTS{${sel}}`)).length > 0 ? Date.now() : undefined),
          250,
        );
        const t3 = await waitFor(
          'alert firing',
          120_000,
          async () =>
            (await promQuery(prom, `ALERTS{${sel},alertstate="firing"}`)).length > 0 ? Date.now() : undefined,
          250,
        );
        const t4 = await waitFor('webhook receipt', 120_000, async () => received.get(name), 100);
        const wf = await waitFor(
          'workflow',
          60_000,
          async () => (await client.list(`TalonNamespace = "${ns}"`))[0],
          250,
        );
        const t5 = wf.startTime.getTime();
        rows.push([t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t0]);
        out(
          `  run ${i + 1}: usage visible ${secs(t1 - t0)}, pending ${secs(t2 - t1)}, firing ${secs(t3 - t2)}, ` +
            `→ webhook ${secs(t4 - t3)}, → workflow start ${((t5 - t4) / 1000).toFixed(3)} s; total ${secs(t5 - t0)}`,
        );
      } finally {
        await deleteNamespace(kube, ns);
      }
    }
  } finally {
    await webhook.close();
    await client.close();
    worker.shutdown();
    await workerDone;
  }
  const mean = (k: number): string => secs(rows.reduce((a, r) => a + r[k]!, 0) / rows.length);
  out(
    `  mean: usage visible ${mean(0)}, pending ${mean(1)}, firing ${mean(2)}, → webhook ${mean(3)}, → workflow ${mean(4)}; total ${mean(5)}`,
  );
}

async function main(): Promise<void> {
  const config = loadStackConfig();
  const only = process.argv.slice(2);
  const want = (name: string): boolean => only.length === 0 || only.includes(name);
  await toolTimes(config);
  await stackUp(config, quiet);
  if (want('updown')) await upDown(config, 3);
  if (want('rss')) await rssAtScale(config);
  if (want('alert')) await alertLatency(config, 3);
}

runMain(main);
