/**
 * Benchmark of the Kubernetes actuator on the local stack (the stack must be up: `npx tsx workers/main.ts
 * stack up`). Prints, per action: latency of the action alone and of action + verification (p50/p99 over
 * `--runs` runs) and the apiserver requests each needs (counted by the client middleware); then the time to
 * choose the best offloading node among `--nodes` KWOK nodes (apiserver list + Prometheus usage + ranking)
 * and among the same number of synthetic nodes (ranking alone).
 *
 *   npx tsx bench/kube.ts [--runs 50] [--nodes 1000] [--skip-nodes]
 *
 * Everything runs in a private namespace on private, tainted fake nodes, removed at the end.
 */
import { randomBytes } from 'node:crypto';
import { KubeConfig, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { createRemediationActivities } from '../activities/remediation';
import type { NodeLoad } from '../src/domain/node-load';
import { chooseOffloadTarget, type NodeInfo } from '../src/domain/offload-target';
import type { ApplyPolicyResult } from '../src/domain/remediation';
import { createKubeClients, RequestCounter } from '../src/kube/client';
import { ApiNodeSource, NodeCache } from '../src/kube/node-cache';
import type { ActionResult } from '../src/kube/types';
import { cachedNodeUsage, prometheusNodeUsage } from '../src/metrics/node-usage';
import { PrometheusClient } from '../src/metrics/prometheus';
import { DEFAULT_METRICS_CONFIG } from '../src/metrics/queries';
import { loadStackConfig, stackEndpoints } from '../src/config/local-stack';
import { numberFlag, parseFlags, switchFlag } from './support/flags';
import { runMain } from './support/output';
import { percentile } from './support/stats';

interface Options {
  runs: number;
  nodes: number;
  skipNodes: boolean;
  skipActions: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const flags = parseFlags(argv);
  return {
    runs: numberFlag(flags, 'runs', 50, 1, 100_000),
    nodes: numberFlag(flags, 'nodes', 1000, 1, 100_000),
    skipNodes: switchFlag(flags, 'skip-nodes'),
    skipActions: switchFlag(flags, 'skip-actions'),
  };
}

const ms = (v: number) => `${v.toFixed(1)} ms`;
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

async function waitUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Sample {
  actionMs: number;
  totalMs: number;
  actionRequests: number;
  verifyRequests: number;
  routes: Record<string, number>;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const endpoints = stackEndpoints(loadStackConfig(process.env));
  const kc = new KubeConfig();
  kc.loadFromFile(endpoints.kubeconfigPath);
  const counter = new RequestCounter();
  const clients = createKubeClients(kc, { counter });
  const setup = createKubeClients(kc); // fixtures and the kubelet stand-in: not counted
  const id = `bench-kube-${randomBytes(3).toString('hex')}`;
  const ns = id;
  const talonNs = `${id}-talon`;
  const tier = `${id}-t`;
  const isolation = { key: 'talon.io/test-run', operator: 'Equal', value: id, effect: 'NoSchedule' };
  const createdNodes: string[] = [];
  const prometheus = new PrometheusClient({ url: endpoints.prometheusUrl, timeoutMs: 30_000 });

  const addNode = async (name: string, nodeTier: string) => {
    const resources = { cpu: '16', memory: '64Gi', pods: '110' };
    await setup.core.createNode({
      body: {
        metadata: {
          name,
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: { 'kubernetes.io/hostname': name, type: 'kwok', 'talon.io/tier': nodeTier, 'talon.io/test-run': id },
        },
        spec: { taints: [{ key: 'talon.io/test-run', value: id, effect: 'NoSchedule' }] },
        status: { allocatable: resources, capacity: resources },
      },
    });
    createdNodes.push(name);
  };
  const podSpec = (cpu = '100m', memory = '64Mi') => ({
    containers: [
      {
        name: 'app',
        image: 'registry.example/app:1',
        resources: { requests: { cpu, memory }, limits: { cpu, memory } },
      },
    ],
    tolerations: [isolation],
    terminationGracePeriodSeconds: 0,
    nodeSelector: { 'talon.io/test-run': id, 'talon.io/tier': tier },
  });
  const podsOf = async (selector: string) =>
    (await setup.core.listNamespacedPod({ namespace: ns, labelSelector: selector })).items.filter(
      (p) => !p.metadata?.deletionTimestamp,
    );
  const ready = (p: V1Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  const onePod = async (selector: string) =>
    waitUntil(`a ready pod (${selector})`, 60_000, async () => {
      const pods = (await podsOf(selector)).filter(ready);
      return pods[0];
    });
  const kubelet = async (name: string) => {
    const pod = await setup.core.readNamespacedPod({ name, namespace: ns });
    const statuses = (pod.status?.containerStatuses ?? []).map((s) => ({
      ...(JSON.parse(JSON.stringify(s)) as object),
      resources: JSON.parse(
        JSON.stringify(pod.spec?.containers.find((c) => c.name === s.name)?.resources ?? {}),
      ) as object,
    }));
    await setup.core.patchNamespacedPodStatus(
      { name, namespace: ns, body: { status: { containerStatuses: statuses } } },
      merge,
    );
  };

  console.log(`Talon actuator benchmark — ${options.runs} runs per action, namespace ${ns}`);
  console.log(`apiserver ${kc.getCurrentCluster()?.server}, Prometheus ${endpoints.prometheusUrl}\n`);

  try {
    for (const name of [ns, talonNs]) await setup.core.createNamespace({ body: { metadata: { name } } });
    await addNode(`${id}-n1`, tier);
    await addNode(`${id}-n2`, tier);
    await waitUntil('private nodes Ready', 60_000, async () => {
      const list = await setup.core.listNode({ labelSelector: `talon.io/test-run=${id}` });
      const n = list.items.filter((x) => x.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      return n.length === 2 ? true : undefined;
    });

    // The activities the worker registers, wired as the worker wires them (plus a private tier for offloading).
    const common = {
      clients,
      guards: { talonNamespace: talonNs, writeBudget: { maxWrites: 1_000_000, windowSeconds: 60 } },
      nodeUsage: prometheusNodeUsage(prometheus, DEFAULT_METRICS_CONFIG, 60),
      offloadTier: tier,
      verifyTimeoutMs: 60_000,
    };
    const a = createRemediationActivities(common);
    const noResize = createRemediationActivities({ ...common, podResize: false });

    // Fixtures
    const deployment = (name: string, replicas: number, spec: ReturnType<typeof podSpec>, strategy?: object) =>
      setup.apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name },
          spec: {
            replicas,
            selector: { matchLabels: { app: name } },
            ...(strategy ? { strategy } : {}),
            template: { metadata: { labels: { app: name } }, spec },
          },
        },
      });
    await deployment('web', 1, podSpec(), { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    await deployment('api', 2, podSpec('10m', '16Mi'));
    for (const name of ['solo', 'plain', 'notes']) {
      await setup.core.createNamespacedPod({
        namespace: ns,
        body: { metadata: { name, labels: { app: name } }, spec: podSpec() },
      });
    }
    await setup.batch.createNamespacedJob({
      namespace: ns,
      body: {
        metadata: { name: 'yolo' },
        spec: {
          backoffLimit: 0,
          template: { metadata: { labels: { app: 'yolo' } }, spec: { ...podSpec(), restartPolicy: 'Never' } },
        },
      },
    });
    await onePod('app=web');
    await onePod('app=solo');
    await kubelet('solo');

    let op = 0;
    const next = () => `${id}-${++op}`;
    interface Scenario {
      name: string;
      /** Untimed preparation for run i (finding the current pod, ...). */
      prepare?: (i: number) => Promise<void>;
      act: (i: number) => Promise<ApplyPolicyResult>;
      /** Untimed step between action and verification (the kubelet stand-in). */
      between?: (r: ApplyPolicyResult) => Promise<void>;
    }
    /** A node step's result in the shape verifyPolicy takes, as the node-overload workflow hands it on. */
    const applied = (r: ActionResult): ApplyPolicyResult => ({
      policy: 'node_overload',
      magnitude: 1,
      summary: r.summary,
      changes: r.changes,
      noop: !r.applied,
      dryRun: r.dryRun,
      expectation: r.expect,
    });
    const apply = (
      group: typeof a,
      policy: ApplyPolicyResult['policy'],
      pod: string,
      magnitude: number,
    ): Promise<ApplyPolicyResult> =>
      group.applyPolicy({ target: { namespace: ns, pod }, policy, magnitude, operationId: next(), dryRun: false });
    let current = '';
    let currentUid = '';
    const jobPod = async () => {
      const list = await podsOf('app=yolo');
      const p = list.find((x) => x.status?.phase === 'Running' || x.status?.phase === 'Succeeded');
      if (!p) throw new Error('no pod of Job yolo');
      return p.metadata?.name ?? '';
    };
    const scenarios: Scenario[] = [
      {
        name: 'cpu_scale_up/down · Deployment (rolling update)',
        prepare: async () => {
          current = (await onePod('app=web')).metadata?.name ?? '';
        },
        act: (i) => apply(a, i % 2 === 0 ? 'cpu_scale_up' : 'cpu_scale_down', current, i % 2 === 0 ? 2 : 0.5),
      },
      {
        name: 'memory_scale_up/down · standalone pod (in-place resize)',
        act: (i) => apply(a, i % 2 === 0 ? 'memory_scale_up' : 'memory_scale_down', 'solo', i % 2 === 0 ? 2 : 0.5),
        between: async () => kubelet('solo'),
      },
      {
        name: 'cpu_scale_up/down · standalone pod (delete + recreate)',
        act: (i) => apply(noResize, i % 2 === 0 ? 'cpu_scale_up' : 'cpu_scale_down', 'plain', i % 2 === 0 ? 2 : 0.5),
      },
      {
        name: 'cpu_scale_up/down · Job (recreate)',
        prepare: async () => {
          current = await waitUntil('job pod', 60_000, jobPod);
        },
        act: (i) => apply(a, i % 2 === 0 ? 'cpu_scale_up' : 'cpu_scale_down', current, i % 2 === 0 ? 2 : 0.5),
      },
      {
        name: 'replica_scale_up/down · Deployment',
        prepare: async () => {
          current = (await onePod('app=api')).metadata?.name ?? '';
        },
        act: (i) => apply(a, i % 2 === 0 ? 'replica_scale_up' : 'replica_scale_down', current, i % 2 === 0 ? 1.5 : 0.7),
      },
      {
        name: 'task_offloading · Job (Prometheus + recreate with affinity)',
        prepare: async () => {
          current = await waitUntil('job pod', 60_000, jobPod);
        },
        act: () => apply(a, 'task_offloading', current, 0.5),
      },
      {
        name: 'node_overload · taint / untaint',
        act: async (i) =>
          applied(
            i % 2 === 0
              ? await a.taintNode({ node: `${id}-n1`, operationId: next(), dryRun: false })
              : await a.untaintNode({ node: `${id}-n1`, operationId: next(), dryRun: false }),
          ),
      },
      {
        name: 'node_overload · evict (Eviction API)',
        prepare: async () => {
          const pod = await onePod('app=web');
          current = pod.metadata?.name ?? '';
          currentUid = pod.metadata?.uid ?? '';
        },
        act: async () =>
          applied(
            await a.evictPod({ namespace: ns, pod: current, uid: currentUid, operationId: next(), dryRun: false }),
          ),
      },
      {
        name: 'data_offloading · annotate',
        act: (i) => apply(a, 'data_offloading', 'notes', i % 2 === 0 ? 0.3 : 0.6),
      },
      {
        name: 'network_qos · Kube-OVN annotations',
        act: (i) => apply(a, 'network_qos', 'notes', i % 2 === 0 ? 0.2 : 0.4),
      },
    ];

    const rows: { name: string; samples: Sample[] }[] = [];
    const unverified: string[] = [];
    for (const s of options.skipActions ? [] : scenarios) {
      const samples: Sample[] = [];
      for (let i = 0; i < options.runs; i++) {
        await s.prepare?.(i);
        counter.reset();
        const t0 = performance.now();
        const r = await s.act(i);
        const t1 = performance.now();
        const actionRequests = counter.total;
        const routes = counter.snapshot().byRoute;
        let betweenMs = 0;
        if (s.between) {
          const b0 = performance.now();
          await s.between(r);
          betweenMs = performance.now() - b0;
        }
        counter.reset();
        const v = await a.verifyPolicy({ applied: r });
        const t2 = performance.now();
        if (!v.ok) {
          // Kept out of the latency figures, counted and shown: the cluster did not converge in time.
          unverified.push(`${s.name} run ${i}: ${v.observed}`);
          continue;
        }
        samples.push({
          actionMs: t1 - t0,
          totalMs: t2 - t0 - betweenMs,
          actionRequests,
          verifyRequests: counter.total,
          routes,
        });
      }
      rows.push({ name: s.name, samples });
      const act = samples.map((x) => x.actionMs);
      const tot = samples.map((x) => x.totalMs);
      console.log(
        `${s.name.padEnd(60)} action p50 ${ms(percentile(act, 50)).padStart(9)} p99 ${ms(percentile(act, 99)).padStart(9)}` +
          ` | +verify p50 ${ms(percentile(tot, 50)).padStart(9)} p99 ${ms(percentile(tot, 99)).padStart(9)}` +
          ` | n=${samples.length} | requests ${percentile(
            samples.map((x) => x.actionRequests),
            50,
          )} + ${percentile(
            samples.map((x) => x.verifyRequests),
            50,
          )} verify (p50)`,
      );
    }

    if (unverified.length) {
      console.log(`\n${unverified.length} run(s) not verified within 60 s (left out of the figures above):`);
      for (const u of unverified) console.log(`  ${u}`);
    }
    console.log(
      '\napiserver requests of one action (steady state; the write-budget Lease costs 1 GET + 1 PUT per write):',
    );
    for (const r of rows) {
      const sample = r.samples.at(-1);
      if (!sample) continue;
      const routes = Object.entries(sample.routes)
        .map(([k, v]) => `${v}× ${k}`)
        .join(', ');
      console.log(`  ${r.name}: ${sample.actionRequests} — ${routes}`);
    }

    // Best-node choice
    const synthetic: NodeInfo[] = Array.from({ length: options.nodes }, (_, i) => ({
      name: `n-${i}`,
      labels: { 'talon.io/tier': i % 2 ? 'edge' : 'cloud' },
      taints: i % 50 === 0 ? [{ key: 'x', effect: 'NoSchedule' }] : [],
      unschedulable: i % 97 === 0,
      ready: i % 89 !== 0,
      allocatable: { cpuCores: 16, memoryBytes: 64 * 2 ** 30 },
    }));
    const usage = synthetic.map((n, i) => ({
      node: n.name,
      cpuCores: (i * 7919) % 16,
      memoryBytes: ((i * 104729) % 64) * 2 ** 30,
    }));
    const pure: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      chooseOffloadTarget(synthetic, usage, { tier: 'edge', exclude: ['n-1'] });
      pure.push(performance.now() - t0);
    }
    console.log(
      `\nbest-node choice, ranking only, ${options.nodes} synthetic nodes: p50 ${ms(percentile(pure, 50))} p99 ${ms(percentile(pure, 99))}`,
    );

    if (!options.skipNodes) {
      const bigTier = `${id}-big`;
      console.log(`creating ${options.nodes} KWOK nodes (tier ${bigTier}, tainted) ...`);
      const names = Array.from({ length: options.nodes }, (_, i) => `${id}-k${i}`);
      const created0 = performance.now();
      for (let i = 0; i < names.length; i += 25) {
        await Promise.all(names.slice(i, i + 25).map((n) => addNode(n, bigTier)));
      }
      await waitUntil(`${options.nodes} nodes Ready`, 300_000, async () => {
        const list = await setup.core.listNode({ labelSelector: `talon.io/tier=${bigTier}`, resourceVersion: '0' });
        const readyCount = list.items.filter((x) =>
          x.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        ).length;
        return readyCount >= options.nodes ? true : undefined;
      });
      console.log(`  ${options.nodes} nodes Ready in ${((performance.now() - created0) / 1000).toFixed(1)} s`);
      const rank = (nodes: readonly NodeInfo[], loads: readonly NodeLoad[]) =>
        chooseOffloadTarget(nodes, loads, { tier: bigTier, exclude: [names[0] ?? ''], tolerations: [isolation] });
      const fetchUsage = prometheusNodeUsage(prometheus, DEFAULT_METRICS_CONFIG, 60);

      // Cold: what one decision costs with nothing cached (LIST + Prometheus query, in parallel, then rank).
      const api = new ApiNodeSource(clients);
      const cold = { list: [] as number[], prom: [] as number[], rank: [] as number[], total: [] as number[] };
      let choice = rank([], []);
      for (let i = 0; i < options.runs; i++) {
        const t0 = performance.now();
        const [nodes, loads] = await Promise.all([
          api.list(bigTier).then((n) => (cold.list.push(performance.now() - t0), n)),
          fetchUsage().then((u) => (cold.prom.push(performance.now() - t0), u)),
        ]);
        const r0 = performance.now();
        choice = rank(nodes, loads);
        cold.rank.push(performance.now() - r0);
        cold.total.push(performance.now() - t0);
      }
      console.log(
        `best-node choice on ${options.nodes} KWOK nodes, cold (LIST + Prometheus per decision): ` +
          `p50 ${ms(percentile(cold.total, 50))} p99 ${ms(percentile(cold.total, 99))} ` +
          `[LIST p50 ${ms(percentile(cold.list, 50))}, Prometheus p50 ${ms(percentile(cold.prom, 50))}, ` +
          `rank p50 ${ms(percentile(cold.rank, 50))}] → ${choice.best?.node ?? 'none'} of ${choice.ranked.length} eligible`,
      );

      // Warm: how a worker runs — nodes from a watch (NodeCache), usage refreshed every scrape interval.
      const cache = new NodeCache(kc, clients);
      await cache.start();
      const usage = cachedNodeUsage(fetchUsage, { refreshMs: 5_000 });
      await usage.usage();
      const warm: number[] = [];
      for (let i = 0; i < options.runs; i++) {
        const t0 = performance.now();
        const [nodes, loads] = await Promise.all([cache.list(bigTier), usage.usage()]);
        choice = rank(nodes, loads);
        warm.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 20));
      }
      const synced = cache.isSynced;
      usage.stop();
      await cache.stop();
      console.log(
        `best-node choice on ${options.nodes} KWOK nodes, warm (NodeCache watch + usage refreshed every 5 s): ` +
          `p50 ${ms(percentile(warm, 50))} p99 ${ms(percentile(warm, 99))} → ${choice.best?.node ?? 'none'} of ` +
          `${choice.ranked.length} eligible (answered from the watch: ${synced ? 'yes' : 'no, LIST fallback'})`,
      );
    }
  } finally {
    process.stdout.write('\ncleaning up ... ');
    await Promise.all([ns, talonNs].map((name) => setup.core.deleteNamespace({ name }).catch(() => undefined)));
    for (let i = 0; i < createdNodes.length; i += 50) {
      await Promise.all(
        createdNodes.slice(i, i + 50).map((name) => setup.core.deleteNode({ name }).catch(() => undefined)),
      );
    }
    console.log('done');
  }
}

runMain(main);
