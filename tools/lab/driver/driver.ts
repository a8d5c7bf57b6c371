/**
 * The lab driver: every tick it reads the run's pods and nodes, computes each scenario copy's load
 * (tools/lab/model), writes CPU and memory usage where KWOK exposes it (pod annotations → the kubelet's
 * `container_cpu_usage_seconds_total`, `container_memory_working_set_bytes`, node totals), writes OOM kills
 * into pod status, serves the series KWOK does not have on /metrics (cAdvisor and Kepler names, the lab's SLO),
 * and appends each copy's timeline for the report. One process per run (or per demo).
 */
import { appendFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { KubeClients } from '../../../src/kube/client';
import { ANNOTATIONS, OVERLOAD_TAINT } from '../../../src/kube/types';
import { tick, type NodeView, type PodState, type PodView, type TickResult } from '../model/workload';
import { LAB_LABELS, type CopyPlan, type LabPlan } from '../plan';
import {
  oomStatus,
  readCluster,
  readyStatus,
  startupReadyAt,
  usageAnnotations,
  usageChanged,
  writeStatus,
  writeUsage,
  type LabNode,
  type LabPod,
} from './cluster';
import { LabExporter } from './exporter';
import { observeChanges, type CopySnapshot, type ObservedChange, type WorkloadSnapshot } from './observer';

export interface DriverOptions {
  readonly clients: KubeClients;
  readonly planPath: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** Prometheus file_sd directory: the driver announces its /metrics there while it runs. */
  readonly targetsDir?: string;
  /** Seconds between ticks (default 2; never above 5). */
  readonly tickSeconds?: number;
  readonly log?: (line: string) => void;
}

/** One tick of one copy, as the timeline file stores it (one JSON line). */
export interface TimelinePoint {
  readonly t: number;
  readonly at: number;
  readonly dt: number;
  readonly slo: { readonly value: number; readonly violated: boolean };
  readonly workloads: Readonly<
    Record<
      string,
      {
        readonly demand: number;
        readonly demandCores: number;
        readonly served: number;
        readonly used: number;
        readonly cpuLimit: number;
        readonly memoryLimit: number;
        readonly workingSet: number;
        readonly pods: number;
        readonly serving: number;
        readonly latency: number;
        readonly throttled: number;
        readonly watts: number;
      }
    >
  >;
  /** Watts of the copy's containers and of its nodes (platform). */
  readonly watts: { readonly containers: number; readonly nodes: number };
  readonly oomKills: number;
  readonly changes: readonly ObservedChange[];
}

export interface RunningDriver {
  readonly url: string;
  /** Ticks done so far, and the last error if the last one failed. */
  status(): { ticks: number; lastError?: string; copies: Record<string, number> };
  stop(): Promise<void>;
}

const ANNOTATION_OFFLOAD = 'talon.io/data-offload';
const ANNOTATION_EGRESS = 'ovn.kubernetes.io/egress_rate';

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

interface ControllerView {
  readonly replicas: number;
  readonly operation?: string;
}

/** The id of the `talon.io/operation` record in an object's annotations. */
export function operationId(annotations: Readonly<Record<string, string>> | undefined): string | undefined {
  const raw = annotations?.[ANNOTATIONS.operation];
  if (!raw) return undefined;
  try {
    const id = (JSON.parse(raw) as { id?: unknown }).id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

function snapshotOf(
  copy: CopyPlan,
  pods: readonly LabPod[],
  nodes: readonly LabNode[],
  controllers: ReadonlyMap<string, ControllerView>,
): CopySnapshot {
  const workloads: Record<string, WorkloadSnapshot> = {};
  const local = new Map(nodes.map((n) => [n.name, n.local]));
  for (const w of copy.scenario.workloads) {
    const mine = pods.filter((p) => p.workload === w.name && !p.deleting);
    const uniq = <T>(xs: T[]): T[] => [...new Set(xs)].sort();
    const ns = w.namespace === 'protected' ? copy.namespaces.protected : copy.namespaces.main;
    workloads[w.name] = {
      cpuLimits: uniq(mine.map((p) => p.cpuLimitCores)),
      memoryLimits: uniq(mine.map((p) => p.memoryLimitBytes)),
      ...(controllers.has(`${ns}/${w.name}`) ? { replicas: controllers.get(`${ns}/${w.name}`)!.replicas } : {}),
      pods: mine.map((p) => p.uid).sort(),
      nodes: uniq(mine.filter((p) => p.node).map((p) => local.get(p.node!) ?? p.node!)),
      dataOffload: uniq(mine.map((p) => p.annotations[ANNOTATION_OFFLOAD]).filter((v): v is string => v !== undefined)),
      egress: uniq(mine.map((p) => p.annotations[ANNOTATION_EGRESS]).filter((v): v is string => v !== undefined)),
    };
    const operation =
      w.kind === 'Pod' ? operationId(mine[0]?.annotations) : controllers.get(`${ns}/${w.name}`)?.operation;
    if (operation !== undefined) workloads[w.name] = { ...workloads[w.name]!, operation };
  }
  const taint = `${OVERLOAD_TAINT.key}=${OVERLOAD_TAINT.value}:${OVERLOAD_TAINT.effect}`;
  const tainted = Object.fromEntries(nodes.map((n) => [n.local, n.taints.includes(taint)]));
  return { workloads, tainted };
}

export async function startDriver(options: DriverOptions): Promise<RunningDriver> {
  const log = options.log ?? (() => undefined);
  const tickSeconds = Math.min(5, Math.max(0.5, options.tickSeconds ?? 2));
  const clients = options.clients;
  const exporter = new LabExporter();
  const states = new Map<string, PodState>();
  /** Container restarts the driver made, until the apiserver shows them: uid → unix seconds. */
  const restartedAt = new Map<string, number>();
  /** Pods the driver made not ready for an OOM restart: uid → when they serve again. */
  const restarting = new Map<string, number>();
  const written = new Map<string, { cpu: number; memory: number }>();
  const snapshots = new Map<string, CopySnapshot>();
  const progress: Record<string, number> = {};
  let plan: LabPlan | undefined;
  let planMtime = 0;
  let ticks = 0;
  let lastError: string | undefined;
  let last = Date.now() / 1000;

  async function loadPlan(): Promise<void> {
    const s = await stat(options.planPath).catch(() => undefined);
    if (!s || s.mtimeMs === planMtime) return;
    plan = JSON.parse(await readFile(options.planPath, 'utf8')) as LabPlan;
    planMtime = s.mtimeMs;
    await mkdir(plan.timelineDir, { recursive: true });
  }

  async function once(): Promise<void> {
    await loadPlan();
    if (!plan) return;
    const now = Date.now() / 1000;
    const dt = Math.min(10, Math.max(0, now - last));
    last = now;
    const [view, deployments] = await Promise.all([
      readCluster(clients, plan.run, now),
      clients.apps.listDeploymentForAllNamespaces({ labelSelector: `${LAB_LABELS.run}=${plan.run}` }),
    ]);
    const controllers = new Map<string, ControllerView>(
      deployments.items.map((d) => {
        const operation = operationId(d.metadata?.annotations);
        return [
          `${d.metadata?.namespace}/${d.metadata?.name}`,
          { replicas: d.spec?.replicas ?? 1, ...(operation ? { operation } : {}) },
        ];
      }),
    );
    const alive = new Set<string>();
    const writes: (() => Promise<void>)[] = [];
    // Every pod of the run, its copy's scenario running or not yet (the runner waits for Ready before starting it).
    for (const pod of view.pods) {
      const at = restarting.has(pod.uid) ? undefined : startupReadyAt(pod);
      if (at !== undefined && at <= now)
        writes.push(() => writeStatus(clients, pod, readyStatus(pod, new Date(now * 1000))));
    }
    for (const copy of plan.copies) {
      const pods = view.pods.filter((p) => p.copy === copy.id);
      const nodes = view.nodes.filter((n) => n.copy === copy.id);
      const t = now - copy.startAt;
      const podViews: PodView[] = pods.map((p) => ({
        uid: p.uid,
        name: p.name,
        workload: p.workload,
        ...(p.node ? { node: p.node } : {}),
        running: p.running,
        startedAt: Math.max(p.startedAt, restartedAt.get(p.uid) ?? 0),
        cpuLimitCores: p.cpuLimitCores,
        memoryLimitBytes: p.memoryLimitBytes,
        annotations: p.annotations,
      }));
      const nodeViews: NodeView[] = nodes.map((n) => ({
        name: n.name,
        tier: n.tier,
        cpuCores: n.cpuCores,
        networkMbps: copy.scenario.nodes.find((s) => s.name === n.local)?.networkMbps ?? 1000,
      }));
      const result: TickResult = tick({
        scenario: copy.scenario,
        t,
        now,
        dt,
        pods: podViews,
        nodes: nodeViews,
        states,
      });
      alive.add(`copy/${copy.id}`);
      exporter.recordCopy({ copy: copy.id, scenario: copy.scenario.name, engine: copy.engine }, result, now);
      for (const n of result.nodes) {
        alive.add(`node/${n.name}`);
        exporter.recordNode(n.name, n.power, now);
      }
      let oomKills = 0;
      for (const r of result.pods) {
        const pod = pods.find((p) => p.uid === r.uid)!;
        states.set(r.uid, r.state);
        alive.add(`pod/${r.uid}`);
        exporter.recordPod(
          { uid: r.uid, namespace: pod.namespace, pod: pod.name, container: pod.container, node: pod.node ?? '' },
          r,
          now,
        );
        if (r.oomKilled) {
          oomKills += 1;
          restartedAt.set(r.uid, now);
          const w = copy.scenario.workloads.find((x) => x.name === r.workload);
          restarting.set(r.uid, now + (w?.startupSeconds ?? 10));
          writes.push(() => writeStatus(clients, pod, oomStatus(pod, new Date(now * 1000))));
        } else if ((restarting.get(r.uid) ?? Infinity) <= now) {
          restarting.delete(r.uid);
          writes.push(() => writeStatus(clients, pod, readyStatus(pod, new Date(now * 1000))));
        }
        const cpu = r.usedCores;
        const memory = r.workingSetBytes;
        if (usageChanged(written.get(r.uid), cpu, memory)) {
          written.set(r.uid, { cpu, memory });
          writes.push(() => writeUsage(clients, pod, usageAnnotations(cpu, memory)));
        }
      }
      const snapshot = snapshotOf(copy, pods, nodes, controllers);
      const changes = observeChanges(snapshots.get(copy.id), snapshot);
      for (const r of result.pods.filter((p) => p.oomKilled)) {
        changes.push({
          kind: 'oom_kill',
          workload: r.workload,
          detail: `OOM kill of ${pods.find((p) => p.uid === r.uid)?.name}`,
        });
      }
      snapshots.set(copy.id, snapshot);
      progress[copy.id] = t;
      if (t >= 0 && t <= copy.scenario.durationSeconds + tickSeconds) {
        const point: TimelinePoint = {
          t: Math.round(t * 1000) / 1000,
          at: now,
          dt,
          slo: result.slo,
          workloads: Object.fromEntries(
            result.workloads.map((w) => [
              w.name,
              {
                demand: w.demandUnits,
                demandCores: w.demandCores,
                served: w.servedUnits,
                used: w.usedCores,
                cpuLimit: w.cpuLimitCores,
                memoryLimit: w.memoryLimitBytes,
                workingSet: w.workingSetBytes,
                pods: pods.filter((p) => p.workload === w.name && !p.deleting).length,
                serving: w.servingPods,
                latency: w.latencySeconds,
                throttled: w.throttled,
                watts: w.watts,
              },
            ]),
          ),
          watts: {
            containers: result.workloads.reduce((a, w) => a + w.watts, 0),
            nodes: result.nodes.reduce((a, n) => a + n.power.idle.total + n.power.dynamic.total, 0),
          },
          oomKills,
          changes,
        };
        await appendFile(join(plan.timelineDir, `${copy.id}.jsonl`), `${JSON.stringify(point)}\n`);
      }
    }
    exporter.retain(alive);
    for (const uid of [...states.keys()])
      if (!alive.has(`pod/${uid}`)) {
        states.delete(uid);
        written.delete(uid);
        restartedAt.delete(uid);
        restarting.delete(uid);
      }
    await pool(writes, 8, (w) =>
      w().catch((err: unknown) => {
        // A pod deleted between the LIST and the write is not an error of the lab.
        const code = (err as { code?: number }).code;
        if (code !== 404 && code !== 409)
          log(`lab driver: write failed: ${err instanceof Error ? err.message : String(err)}`);
      }),
    );
  }

  const server: Server = createServer((req, res) => {
    if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(exporter.render(Date.now() / 1000));
    } else if (req.url === '/healthz') {
      res.writeHead(lastError ? 503 : 200, { 'content-type': 'text/plain' });
      res.end(lastError ?? 'ok');
    } else if (req.url === '/state') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ticks, lastError, copies: progress }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.address}:${address.port}`;
  const targetsFile = options.targetsDir
    ? join(options.targetsDir, `lab-driver-${process.pid}-${address.port}.json`)
    : undefined;
  if (targetsFile && options.targetsDir) {
    await mkdir(options.targetsDir, { recursive: true });
    await writeFile(targetsFile, JSON.stringify([{ targets: [`${address.address}:${address.port}`], labels: {} }]));
  }

  let stopped = false;
  let wake: (() => void) | undefined;
  // A loop rather than an interval: a slow tick (a busy apiserver) delays the next instead of piling up.
  const loop = (async () => {
    while (!stopped) {
      const began = Date.now();
      try {
        await once();
        ticks += 1;
        lastError = undefined;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
        log(`lab driver: tick failed: ${lastError}`);
      }
      const wait = Math.max(0, tickSeconds * 1000 - (Date.now() - began));
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, wait).unref();
      });
    }
  })();
  log(`lab driver on ${url} (tick ${tickSeconds}s)`);
  return {
    url,
    status: () => ({ ticks, ...(lastError ? { lastError } : {}), copies: { ...progress } }),
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      if (targetsFile) await rm(targetsFile, { force: true });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
