/**
 * Issue 5's figures, printed: `npx tsx bench/remediation.ts [latency|burst|rss] [--flag value ...]`.
 *
 * - latency: webhook receipt → the apiserver acknowledged the change (the applyPolicy activity's write
 *   returned), p50/p99, at `--rate` alerts/s for `--duration` s, on one Deployment per alert in bench
 *   namespaces of the KWOK cluster, next to a naive synchronous handler (receive → Prometheus → rule
 *   policy → patch, no Temporal) measured in the same run on its own Deployments.
 * - burst: `--alerts` alerts in `--seconds` s posted over HTTP to the webhook (`--batch` alerts per
 *   Alertmanager payload): every one answered 2xx or 5xx, the webhook's ack p99, the time until every
 *   accepted alert has its workflow (visibility count), then Alertmanager-style retries of the 5xx ones.
 * - rss: `--workflows` remediations parked in cool-down on a worker with stubbed activities; the worker
 *   process's RSS.
 *
 * Flags: latency `--rate 50 --duration 60 --warmup 60 --drain 180 --per-namespace 10 --naive false --stub`;
 * burst `--alerts 10000 --seconds 10 --batch 1 --worker during|after|false --warmup 0`; rss `--workflows 1000`; every mode `--port 18080`
 * and the worker what-ifs `--max-cached N --wft-pollers N --nonsticky-ratio R --autoscale-pollers` (passed to
 * createTalonWorker's `tuning`). Each mode ends with a table (measure | value | goal) and the load average
 * sampled during the run: the machine is shared, so read every figure next to it.
 *
 * Three processes, as in production: this one hosts the webhook (or the naive handler) and orchestrates;
 * a forked child runs the Temporal worker (real activities for latency, stubs for burst and rss); another
 * forked child plays Alertmanager and posts the alerts. Everything uses a fresh task queue `bench-<id>`,
 * port 18080 (not the stack's 8080), and is cleaned up at the end, on failure and on Ctrl-C.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { Agent, request as httpRequest, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { DefaultLogger, makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import type { V1Deployment, V1Node } from '@kubernetes/client-node';
import express from 'express';
import { TalonClient } from '../src/client/talon-client';
import { alertWorkflowId, type TalonAlert } from '../src/domain/alert';
import type { CooldownConfig } from '../src/domain/cooldown';
import { nextCandidate, POD_POLICIES, policiesFromAlert, relevantToAlert } from '../src/domain/escalation';
import { MODEL_FEATURES } from '../src/domain/features';
import type { PolicyDecision, RankedPolicy } from '../src/domain/policy';
import type { ApplyPolicyInput, ApplyPolicyResult } from '../src/domain/remediation';
import { workloadOf, type FeatureWindow } from '../src/domain/window';
import { createKubeClients } from '../src/kube/client';
import { loadKubeConfig } from '../src/kube/config';
import { DEFAULT_GATHER_OPTIONS, gatherFromPrometheus, nodeLoads, rangeSecondsOf } from '../src/metrics/gather';
import { PrometheusClient } from '../src/metrics/prometheus';
import { DEFAULT_METRICS_CONFIG } from '../src/metrics/queries';
import { TalonMetrics } from '../src/observability/metrics';
import { evaluateRules } from '../src/policy/rules';
import { KWOK_NODE_ANNOTATION, nodeManifest } from '../src/stack/kube';
import type { AlertSink } from '../src/webhook/app';
import { alertmanagerPayload, normaliseAlertmanager } from '../src/webhook/payloads';
import { startWebhookServer } from '../src/webhook/server';
import { createRemediationActivities } from '../activities/remediation';
import { activityDepsFromConfig, createActivities } from '../workers/activities';
import { loadTalonConfig, type TalonConfig } from '../workers/config';
import { bundleWorkflows } from '../workers/bundle';
import { cacheBound, createTalonWorker, type WorkerTuning } from '../workers/worker';
import { testKube, type TestKube } from '../test/support/kube';

// ------------------------------------------------------------------------------------------------------------
// Small helpers

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

type Flags = Map<string, string>;

function parseFlags(argv: readonly string[]): Flags {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      flags.set(arg.slice(2), next);
      i++;
    } else flags.set(arg.slice(2), 'true');
  }
  return flags;
}

function numberFlag(flags: Flags, name: string, fallback: number, min: number, max: number): number {
  const raw = flags.get(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`--${name} must be in [${min}, ${max}]`);
  return value;
}

/** Nearest-rank percentile; missing samples count as Infinity (a lost or late change is the worst latency). */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const ms = (v: number): string => (Number.isFinite(v) ? `${Math.round(v)} ms` : Number.isNaN(v) ? 'n/a' : '∞');

const median = (values: readonly number[]): number =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
const p99 = (values: readonly number[]): number =>
  percentile(
    [...values].sort((a, b) => a - b),
    99,
  );

function dist(values: readonly number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `p50 ${ms(percentile(sorted, 50))}, p90 ${ms(percentile(sorted, 90))}, p99 ${ms(percentile(sorted, 99))}, max ${ms(sorted.at(-1) ?? NaN)} (n=${sorted.length})`;
}

function loadLine(): string {
  return `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(', ')} on 2 cores`;
}

/** The 1-minute load average, sampled every 5 s while a measurement runs (the machine is shared). */
class LoadSampler {
  private readonly samples: number[] = [loadavg()[0]!];
  private readonly timer = setInterval(() => this.samples.push(loadavg()[0]!), 5_000);

  stop(): string {
    clearInterval(this.timer);
    this.samples.push(loadavg()[0]!);
    const mean = this.samples.reduce((a, b) => a + b, 0) / this.samples.length;
    return `1-min loadavg min ${Math.min(...this.samples).toFixed(1)} / mean ${mean.toFixed(1)} / max ${Math.max(...this.samples).toFixed(1)} (2 cores, ${this.samples.length} samples)`;
  }
}

/** A plain aligned table: measure | value | goal. */
function table(title: string, rows: readonly (readonly [string, string, string?])[]): void {
  const head = ['measure', 'value', 'goal'] as const;
  const w0 = Math.max(head[0].length, ...rows.map((r) => r[0].length));
  const w1 = Math.max(head[1].length, ...rows.map((r) => r[1].length));
  const line = (a: string, b: string, c: string): string => `  | ${a.padEnd(w0)} | ${b.padEnd(w1)} | ${c}`;
  out(`\n  ${title}`);
  out(line(head[0], head[1], head[2]));
  out(`  |${'-'.repeat(w0 + 2)}|${'-'.repeat(w1 + 2)}|------`);
  for (const [a, b, c] of rows) out(line(a, b, c ?? ''));
}

const pct = (values: readonly number[], p: number): number =>
  percentile(
    [...values].sort((a, b) => a - b),
    p,
  );

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>) {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** CPU seconds every process used, from /proc (utime + stime; 100 ticks per second on Linux). */
async function cpuSnapshot(): Promise<Map<number, { name: string; ticks: number }>> {
  const snap = new Map<number, { name: string; ticks: number }>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat
        .slice(close + 2)
        .split(' ')
        .map(Number);
      snap.set(Number(entry), { name, ticks: (fields[11] ?? 0) + (fields[12] ?? 0) });
    } catch {
      // the process ended while we looked
    }
  }
  return snap;
}

/** Who used the CPU between two snapshots: the busiest processes, ours labelled. */
function cpuReport(
  before: Map<number, { name: string; ticks: number }>,
  after: Map<number, { name: string; ticks: number }>,
  wallMs: number,
  labels: ReadonlyMap<number, string>,
  /** CPU seconds of processes that ended before the second snapshot (the poster reports its own). */
  extra: Readonly<Record<string, number>> = {},
): string {
  const byName = new Map<string, number>(Object.entries(extra));
  for (const [pid, a] of after) {
    const used = a.ticks - (before.get(pid)?.ticks ?? 0);
    if (used <= 0) continue;
    const name = labels.get(pid) ?? a.name;
    byName.set(name, (byName.get(name) ?? 0) + used / 100);
  }
  const total = [...byName.values()].reduce((s, v) => s + v, 0);
  const top = [...byName.entries()].sort((a, b) => b[1] - a[1]).slice(0, 9);
  return (
    `CPU used over ${(wallMs / 1000).toFixed(0)} s: ${total.toFixed(0)} core-s of ${((2 * wallMs) / 1000).toFixed(0)} available; ` +
    top.map(([n, s]) => `${n} ${s.toFixed(0)}`).join(', ')
  );
}

// ------------------------------------------------------------------------------------------------------------
// Alerts and payloads

interface RawAlert {
  readonly status: 'firing' | 'resolved';
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly startsAt: string;
  readonly fingerprint: string;
}

function rawPodAlert(namespace: string, pod: string): RawAlert {
  return {
    status: 'firing',
    labels: {
      alertname: 'TalonPodCpuNearLimit',
      namespace,
      pod,
      container: 'app',
      severity: 'warning',
      talon_scope: 'pod',
      talon_resource: 'cpu',
    },
    annotations: { summary: `Container app of ${namespace}/${pod} uses 95% of its CPU limit (bench)` },
    startsAt: new Date().toISOString(),
    fingerprint: randomBytes(8).toString('hex'),
  };
}

/** The workflow id Talon derives for a raw alert (same rule as the webhook). */
function workflowIdOf(raw: RawAlert): string {
  const batch = normaliseAlertmanager(payloadOf([raw]));
  const alert = batch.alerts[0];
  if (!alert) throw new Error(`bench alert rejected: ${JSON.stringify(batch.rejected)}`);
  return alertWorkflowId(alert);
}

/** What Alertmanager's webhook_config (version 4) posts for one notification group. */
function payloadOf(alerts: readonly RawAlert[]) {
  const first = alerts[0]!;
  const common = Object.fromEntries(
    Object.entries(first.labels).filter(([k, v]) => alerts.every((a) => a.labels[k] === v)),
  );
  return alertmanagerPayload.parse({
    version: '4',
    groupKey: `{}:{alertname="${first.labels.alertname}", namespace="${first.labels.namespace}"}`,
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'talon',
    groupLabels: { alertname: first.labels.alertname, namespace: first.labels.namespace },
    commonLabels: common,
    commonAnnotations: {},
    externalURL: 'http://127.0.0.1:9093',
    alerts,
  });
}

// ------------------------------------------------------------------------------------------------------------
// Child processes: the worker and the poster (Alertmanager)

interface ActivityTiming {
  readonly name: string;
  readonly workflowId: string;
  readonly scheduledAt: number;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly ok: boolean;
  readonly error?: string;
  readonly policy?: string;
}

interface MemoryReport {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly hwmKiB: number;
  /** The worker's sticky-cache size (workflows kept in memory between tasks). */
  readonly maxCachedWorkflows?: number;
  /** Most activities running at once in the worker, and per activity name. */
  readonly peakActivities?: number;
  readonly peakByActivity?: Readonly<Record<string, number>>;
}

type FromWorker =
  | { type: 'ready' }
  | { type: 'timings'; rows: ActivityTiming[] }
  | { type: 'memory'; memory: MemoryReport }
  | { type: 'failed'; message: string };

type ToWorker = { type: 'memory' } | { type: 'stop' };

interface PlannedRequest {
  /** Offset from the start of the run. */
  readonly atMs: number;
  readonly body: string;
  readonly alerts: number;
}

interface PostResult {
  readonly index: number;
  readonly sentAt: number;
  readonly doneAt: number;
  /** HTTP status, or 0 when the connection failed or timed out. */
  readonly status: number;
  readonly accepted: number;
  /** Of the accepted, how many were acknowledged through the alert intake (action 'queued'). */
  readonly queued?: number;
  readonly error?: string;
}

type FromPoster = { type: 'ready' } | { type: 'results'; rows: PostResult[]; startedAt: number; cpuMs: number };
type ToPoster = { type: 'go' };

interface PosterPlan {
  readonly url: string;
  readonly token: string;
  readonly timeoutMs: number;
  readonly requests: readonly PlannedRequest[];
  /** Connections the poster keeps to the webhook (default 512). */
  readonly maxSockets?: number;
  /** Bodies posted (untimed, 64 at a time) before the timed requests start. */
  readonly warmup?: readonly string[];
}

function stubActivities(): Record<string, (...args: never[]) => Promise<unknown>> {
  const window = {
    kind: 'window',
    target: { namespace: 'bench', pod: 'web' },
    source: 'prometheus',
    end: 1_795_000_000,
    stepSeconds: 5,
    steps: 10,
    features: MODEL_FEATURES,
    values: Array.from({ length: 10 }, () => MODEL_FEATURES.map(() => 0.95)),
    observed: Array.from({ length: 10 }, () => MODEL_FEATURES.map(() => true)),
    missingFeatures: [],
    quality: { coverage: 1, stalenessSeconds: 0, score: 1 },
  } as unknown as FeatureWindow;
  const decision: PolicyDecision = {
    source: 'rules',
    ranked: [{ policy: 'cpu_scale_up', score: 0.9, magnitude: 1.5, reason: 'bench stub' }],
  };
  return {
    readTarget: async (ref: { namespace: string; pod: string }) => ({
      namespace: ref.namespace,
      name: ref.pod,
      uid: 'u',
      node: 'bench-node',
      phase: 'Running',
      ready: true,
      owner: { kind: 'ReplicaSet', name: `${ref.pod}-rs` },
      labels: {},
      annotations: {},
      containers: [],
      resourceVersion: '1',
    }),
    gatherWindow: async () => window,
    decidePolicy: async () => decision,
    applyPolicy: async (input: ApplyPolicyInput): Promise<ApplyPolicyResult> => ({
      policy: input.policy,
      magnitude: input.magnitude,
      summary: `${input.policy} ×${input.magnitude} (stub)`,
      changes: [],
      noop: false,
      dryRun: input.dryRun,
      expectation: { kind: 'none', reason: 'stub' },
    }),
    verifyPolicy: async () => ({ ok: true, observed: 'stub: nothing to verify' }),
    workloadProfile: async (input: { namespace: string; workload: string }) => ({
      namespace: input.namespace,
      workload: input.workload,
      sinceSeconds: 3600,
      history: {},
      remediations: { total: 0, byOutcome: {} },
    }),
    recordOutcome: async () => ({ written: true }),
  };
}

/** How many activities run at once in the worker (each holds one of its activity slots), peak per name. */
class SlotOccupancy {
  private readonly now = new Map<string, number>();
  private total = 0;
  peakTotal = 0;
  readonly peakByName = new Map<string, number>();

  enter(name: string): void {
    const n = (this.now.get(name) ?? 0) + 1;
    this.now.set(name, n);
    this.total++;
    this.peakTotal = Math.max(this.peakTotal, this.total);
    this.peakByName.set(name, Math.max(this.peakByName.get(name) ?? 0, n));
  }

  leave(name: string): void {
    this.now.set(name, (this.now.get(name) ?? 1) - 1);
    this.total--;
  }
}

/** Wraps each activity so its schedule, start and end (by workflow id) reach the parent. */
function timed(
  activities: Record<string, (...args: never[]) => Promise<unknown>>,
  record: (row: ActivityTiming) => void,
  occupancy: SlotOccupancy,
): Record<string, (...args: never[]) => Promise<unknown>> {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      async (...args: never[]) => {
        occupancy.enter(name);
        const info = Context.current().info;
        const base = {
          name,
          workflowId: info.workflowExecution?.workflowId ?? '',
          scheduledAt: info.currentAttemptScheduledTimestampMs,
          startedAt: Date.now(),
        };
        try {
          const result = await fn(...args);
          const policy = name === 'applyPolicy' ? (result as ApplyPolicyResult).policy : undefined;
          record({ ...base, endedAt: Date.now(), ok: true, ...(policy ? { policy } : {}) });
          return result;
        } catch (err) {
          record({ ...base, endedAt: Date.now(), ok: false, error: errText(err).slice(0, 200) });
          throw err;
        } finally {
          occupancy.leave(name);
        }
      },
    ]),
  );
}

async function memoryReport(): Promise<MemoryReport> {
  const m = process.memoryUsage();
  const status = await readFile('/proc/self/status', 'utf8');
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    hwmKiB: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0),
  };
}

/** What-if knobs for the worker child, handed to createTalonWorker's `tuning` (unset: Talon's defaults). */
const TUNING_FLAGS = ['max-cached', 'wft-pollers', 'nonsticky-ratio', 'autoscale-pollers'] as const;

function tuningFrom(flags: Flags): WorkerTuning {
  const cache = flags.has('max-cached') ? numberFlag(flags, 'max-cached', 0, 0, 100_000) : undefined;
  return {
    // Parked workflows beyond the sticky cache are evicted and replayed from history when they wake.
    ...(cache !== undefined ? cacheBound(cache) : {}),
    // Concurrent workflow-task polls (SDK default 10, a `nonsticky-ratio` share of them on the queue new workflows use).
    ...(flags.has('wft-pollers')
      ? {
          workflowTaskPollerBehavior: {
            type: 'simple-maximum' as const,
            maximum: numberFlag(flags, 'wft-pollers', 10, 2, 1000),
          },
        }
      : {}),
    ...(flags.has('nonsticky-ratio')
      ? { nonStickyToStickyPollRatio: numberFlag(flags, 'nonsticky-ratio', 0.2, 0.01, 1) }
      : {}),
    ...(flags.get('autoscale-pollers') === 'true'
      ? {
          workflowTaskPollerBehavior: { type: 'autoscaling' as const },
          activityTaskPollerBehavior: { type: 'autoscaling' as const },
        }
      : {}),
  };
}

/** The tuning flags to hand on to the worker child, and a line saying what differs from Talon's defaults. */
function tuningArgs(flags: Flags): { args: string[]; note?: string } {
  const args = TUNING_FLAGS.flatMap((f) => (flags.has(f) ? [`--${f}`, flags.get(f)!] : []));
  const tuning = tuningFrom(flags);
  if (Object.keys(tuning).length === 0) return { args };
  return { args, note: `what-if worker (createTalonWorker with tuning ${JSON.stringify(tuning)})` };
}

/** The worker child: `worker --queue Q --activities real|stub --bundle PATH [tuning flags]`. */
async function workerChild(flags: Flags): Promise<void> {
  const send = (message: FromWorker): void => {
    process.send?.(message);
  };
  // Terminating busy workflows at the end makes core warn about vanished tasks; only errors matter here.
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR', other: 'ERROR' }) } },
  });
  const queue = flags.get('queue')!;
  const config = loadTalonConfig({ ...process.env, TALON_TASK_QUEUE: queue });
  const pending: ActivityTiming[] = [];
  const flush = (): void => {
    if (pending.length > 0) send({ type: 'timings', rows: pending.splice(0) });
  };
  const flusher = setInterval(flush, 250);
  let assembled: Awaited<ReturnType<typeof createActivities>> | undefined;
  if (flags.get('activities') === 'real') {
    // The same assembly createTalonWorker uses in production (watch-fed node cache, background node usage).
    assembled = await createActivities({
      ...activityDepsFromConfig(config, loadKubeConfig(config.kube)),
      longLived: true,
    });
  }
  const occupancy = new SlotOccupancy();
  const activities = timed(assembled?.activities ?? stubActivities(), (row) => pending.push(row), occupancy);
  const worker = await createTalonWorker(config, {
    activities,
    workflowBundle: { codePath: flags.get('bundle')! },
    shutdownGraceMs: 2_000,
    tuning: tuningFrom(flags),
  });
  const cacheSize = worker.worker.options.maxCachedWorkflows;
  const done = worker.run();
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    worker.shutdown();
  };
  process.on('message', (message: ToWorker) => {
    if (message.type === 'stop') stop();
    else if (message.type === 'memory')
      void memoryReport().then((memory) =>
        send({
          type: 'memory',
          memory: {
            ...memory,
            maxCachedWorkflows: cacheSize,
            peakActivities: occupancy.peakTotal,
            peakByActivity: Object.fromEntries(occupancy.peakByName),
          },
        }),
      );
  });
  process.on('disconnect', stop);
  send({ type: 'ready' });
  try {
    await done;
  } finally {
    clearInterval(flusher);
    flush();
    await assembled?.close();
  }
  process.exit(0);
}

/** The poster child (Alertmanager's part): `poster --plan FILE`, posts on schedule once told to go. */
async function posterChild(flags: Flags): Promise<void> {
  const plan = JSON.parse(await readFile(flags.get('plan')!, 'utf8')) as PosterPlan;
  await new Promise<void>((resolve) => {
    process.once('message', (message: ToPoster) => {
      if (message.type === 'go') resolve();
    });
    process.send?.({ type: 'ready' } satisfies FromPoster);
  });
  let startedAt = Date.now();
  let cpuAtStart = process.cpuUsage();
  const rows: PostResult[] = [];
  const inflight: Promise<void>[] = [];
  // node:http with a keep-alive pool, as Alertmanager's HTTP client pools connections; fetch (undici) cost
  // ≈ 1.4 ms of CPU per request here, which made the poster itself the bottleneck of a 1,000/s burst.
  const agent = new Agent({ keepAlive: true, maxSockets: plan.maxSockets ?? 512 });
  const url = new URL(plan.url);
  const send = (body: string): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          timeout: plan.timeoutMs,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            authorization: `Bearer ${plan.token}`,
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${plan.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  const post = async (request: PlannedRequest, index: number): Promise<void> => {
    // From when the request was due, so time spent waiting for a pooled connection counts too.
    const sentAt = startedAt + request.atMs;
    try {
      const res = await send(request.body);
      const text = res.text;
      let accepted = 0;
      let queued = 0;
      if (res.status >= 200 && res.status < 300) {
        try {
          const list = (JSON.parse(text) as { accepted?: { action?: string }[] }).accepted ?? [];
          accepted = list.length;
          queued = list.filter((a) => a.action === 'queued').length;
        } catch {
          accepted = 0;
        }
      }
      rows.push({ index, sentAt, doneAt: Date.now(), status: res.status, accepted, queued });
    } catch (err) {
      rows.push({ index, sentAt, doneAt: Date.now(), status: 0, accepted: 0, error: errText(err).slice(0, 120) });
    }
  };
  if (plan.warmup && plan.warmup.length > 0) {
    // Untimed: opens the pooled connections and warms the webhook's code paths, as a running Alertmanager
    // and webhook would be before a storm.
    let w = 0;
    const warmup = plan.warmup;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (w < warmup.length) await send(warmup[w++]!).catch(() => undefined);
      }),
    );
    startedAt = Date.now();
    cpuAtStart = process.cpuUsage();
  }
  let next = 0;
  const lastAt = plan.requests.at(-1)?.atMs ?? 0;
  const deadline = startedAt + lastAt + 60_000;
  while (next < plan.requests.length && Date.now() < deadline) {
    const due = Date.now() - startedAt;
    while (next < plan.requests.length && plan.requests[next]!.atMs <= due) {
      inflight.push(post(plan.requests[next]!, next));
      next++;
    }
    await sleep(1);
  }
  await Promise.all(inflight);
  const cpu = process.cpuUsage(cpuAtStart);
  // Exit only once the (large) results message is flushed down the IPC channel.
  await new Promise<void>((resolve) => {
    const message: FromPoster = { type: 'results', rows, startedAt, cpuMs: (cpu.user + cpu.system) / 1000 };
    // send() returns false when the message is merely queued (a large one is): wait for its callback.
    if (!process.send) resolve();
    else process.send(message, undefined, {}, () => resolve());
  });
  process.disconnect?.();
}

interface ChildHandle<In> {
  readonly child: ChildProcess;
  send(message: In): void;
  /** Resolves with the first message matching `type`, or rejects after `timeoutMs` or when the child exits. */
  next<T extends { type: string }>(type: T['type'], timeoutMs: number): Promise<T>;
  onMessage(listener: (message: { type: string }) => void): void;
  /** Waits for the child to exit; kills it (by its own pid) after `timeoutMs`. */
  exited(timeoutMs: number): Promise<void>;
}

function forkChild<In>(role: 'worker' | 'poster', args: readonly string[], env: NodeJS.ProcessEnv): ChildHandle<In> {
  const child = fork(__filename, [role, ...args], {
    execArgv: process.execArgv,
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const listeners: ((message: { type: string }) => void)[] = [];
  child.on('message', (message: { type: string }) => listeners.forEach((l) => l(message)));
  // 'close', not 'exit': messages still in the IPC pipe are delivered after 'exit' but before 'close'.
  const exit = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    child,
    send: (message) => {
      if (child.connected) child.send(message as object);
    },
    onMessage: (listener) => listeners.push(listener),
    next<T extends { type: string }>(type: T['type'], timeoutMs: number): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${role} did not send '${type}' within ${timeoutMs} ms`)),
          timeoutMs,
        );
        listeners.push((message) => {
          if (message.type === type) {
            clearTimeout(timer);
            resolve(message as T);
          } else if (message.type === 'failed') {
            clearTimeout(timer);
            reject(new Error(`${role} failed: ${(message as { message?: string }).message ?? ''}`));
          }
        });
        void exit.then(() => {
          clearTimeout(timer);
          reject(new Error(`${role} exited before sending '${type}'`));
        });
      });
    },
    async exited(timeoutMs) {
      const timedOut = await Promise.race([exit.then(() => false), sleep(timeoutMs).then(() => true)]);
      if (timedOut && child.pid !== undefined && child.exitCode === null) {
        child.kill('SIGKILL');
        await exit;
      }
    },
  };
}

interface WorkerHandle {
  readonly pid: number;
  readonly timings: ActivityTiming[];
  memory(): Promise<MemoryReport>;
  stop(): Promise<void>;
}

async function startWorker(
  bundlePath: string,
  queue: string,
  activities: 'real' | 'stub',
  env: NodeJS.ProcessEnv = process.env,
  extraArgs: readonly string[] = [],
): Promise<WorkerHandle> {
  const args = ['--queue', queue, '--activities', activities, '--bundle', bundlePath, ...extraArgs];
  const handle = forkChild<ToWorker>('worker', args, { ...env, TALON_TASK_QUEUE: queue });
  const timings: ActivityTiming[] = [];
  handle.onMessage((message) => {
    if (message.type === 'timings') timings.push(...(message as unknown as { rows: ActivityTiming[] }).rows);
  });
  await handle.next<{ type: 'ready' }>('ready', 120_000);
  return {
    pid: handle.child.pid!,
    timings,
    async memory() {
      const reply = handle.next<{ type: 'memory'; memory: MemoryReport }>('memory', 30_000);
      handle.send({ type: 'memory' });
      return (await reply).memory;
    },
    async stop() {
      handle.send({ type: 'stop' });
      await handle.exited(30_000);
    },
  };
}

async function runPoster(
  workDir: string,
  plan: PosterPlan,
): Promise<{ rows: PostResult[]; startedAt: number; cpuMs: number }> {
  const planPath = join(workDir, `plan-${randomBytes(3).toString('hex')}.json`);
  await writeFile(planPath, JSON.stringify(plan));
  const handle = forkChild<ToPoster>('poster', ['--plan', planPath], process.env);
  try {
    await handle.next<{ type: 'ready' }>('ready', 60_000);
    const results = handle.next<{ type: 'results'; rows: PostResult[]; startedAt: number; cpuMs: number }>(
      'results',
      (plan.requests.at(-1)?.atMs ?? 0) + plan.timeoutMs + 120_000,
    );
    handle.send({ type: 'go' });
    const { rows, startedAt, cpuMs } = await results;
    return { rows, startedAt, cpuMs };
  } finally {
    await handle.exited(10_000);
  }
}

async function bundleToFile(workDir: string): Promise<string> {
  const t = Date.now();
  const bundle = await bundleWorkflows();
  const path = join(workDir, 'workflows-bundle.js');
  await writeFile(path, bundle.code);
  out(`  workflow bundle built once in ${((Date.now() - t) / 1000).toFixed(1)} s (${path})`);
  return path;
}

/** Terminates the given workflows, then anything still running on the queue; bounded in time. */
async function terminateAll(temporal: Client, queue: string, ids: readonly string[]): Promise<void> {
  const t = Date.now();
  const deadline = t + 600_000;
  let terminated = 0;
  const kill = async (id: string): Promise<void> => {
    if (Date.now() > deadline) return;
    try {
      await temporal.workflow.getHandle(id).terminate('bench finished');
      terminated++;
    } catch {
      // already closed or never started
    }
  };
  await mapLimit(ids, 48, kill);
  for (let round = 0; round < 5 && Date.now() < deadline; round++) {
    const left: string[] = [];
    for await (const wf of temporal.workflow.list({
      query: `TaskQueue = "${queue}" AND ExecutionStatus = "Running"`,
      pageSize: 1000,
    })) {
      left.push(wf.workflowId);
      if (left.length >= 20_000) break;
    }
    if (left.length === 0) break;
    await mapLimit(left, 48, kill);
    await sleep(2_000);
  }
  out(`  terminated ${terminated} bench workflows on ${queue} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
}

// ------------------------------------------------------------------------------------------------------------
// The bench's share of the KWOK cluster: tainted nodes, labelled namespaces, one Deployment per alert

const BENCH_LABEL = 'talon.io/bench';

interface BenchTarget {
  readonly namespace: string;
  readonly deployment: string;
  pod?: string | undefined;
}

class BenchCluster {
  readonly nodes: string[] = [];
  readonly namespaces: string[] = [];

  constructor(
    readonly kube: TestKube,
    readonly id: string,
  ) {}

  get talonNamespace(): string {
    return `bench-${this.id}-talon`;
  }

  async addNodes(count: number, podsPerNode: number): Promise<void> {
    for (let k = 0; k < count; k++) {
      const base = nodeManifest('cloud', 0) as unknown as V1Node;
      const name = `bench-${this.id}-${k}`;
      const resources = { cpu: '2000', memory: '8Ti', pods: String(podsPerNode) };
      const node: V1Node = {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name,
          annotations: { [KWOK_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: {
            ...base.metadata?.labels,
            'kubernetes.io/hostname': name,
            'talon.io/tier': 'bench',
            'topology.kubernetes.io/zone': 'bench',
            [BENCH_LABEL]: this.id,
          },
        },
        spec: { taints: [{ key: BENCH_LABEL, value: this.id, effect: 'NoSchedule' }] },
        status: { allocatable: resources, capacity: resources },
      };
      await this.kube.core.createNode({ body: node });
      this.nodes.push(name);
    }
  }

  async addNamespace(name: string): Promise<void> {
    await this.kube.core.createNamespace({ body: { metadata: { name, labels: { [BENCH_LABEL]: this.id } } } });
    this.namespaces.push(name);
  }

  deployment(namespace: string, name: string): V1Deployment {
    const labels = { app: name, [BENCH_LABEL]: this.id };
    return {
      metadata: { name, namespace, labels },
      spec: {
        replicas: 1,
        revisionHistoryLimit: 1,
        selector: { matchLabels: { app: name } },
        template: {
          // 70 % of the CPU limit and 50 % of memory: busy, but below the stack's own alert rules (80 %/85 %),
          // so Prometheus never fires real alerts at the lead's webhook for bench pods.
          metadata: {
            labels,
            annotations: { 'kwok.x-k8s.io/usage-cpu': '140m', 'kwok.x-k8s.io/usage-memory': '64Mi' },
          },
          spec: {
            nodeSelector: { [BENCH_LABEL]: this.id },
            tolerations: [{ key: BENCH_LABEL, operator: 'Equal', value: this.id, effect: 'NoSchedule' }],
            containers: [
              {
                name: 'app',
                image: 'registry.example/app:1',
                resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } },
              },
            ],
          },
        },
      },
    };
  }

  /** `count` Deployments spread `perNamespace` to a namespace named `<prefix>-<k>`. */
  async addTargets(prefix: string, count: number, perNamespace: number): Promise<BenchTarget[]> {
    const targets: BenchTarget[] = Array.from({ length: count }, (_, i) => ({
      namespace: `${prefix}-${Math.floor(i / perNamespace)}`,
      deployment: `w-${i % perNamespace}`,
    }));
    await mapLimit([...new Set(targets.map((t) => t.namespace))], 16, (ns) => this.addNamespace(ns));
    await mapLimit(targets, 24, async (t) => {
      await this.kube.apps.createNamespacedDeployment({
        namespace: t.namespace,
        body: this.deployment(t.namespace, t.deployment),
      });
    });
    return targets;
  }

  /** Fills in each target's Running pod from one full list; returns how many have one. */
  private async fillPods(targets: BenchTarget[]): Promise<number> {
    const pods = await this.kube.core.listPodForAllNamespaces({ labelSelector: `${BENCH_LABEL}=${this.id}` });
    const running = new Map<string, string>();
    for (const p of pods.items) {
      if (p.status?.phase !== 'Running' || p.metadata?.deletionTimestamp) continue;
      running.set(`${p.metadata?.namespace}/${p.metadata?.labels?.app}`, p.metadata!.name!);
    }
    let ready = 0;
    for (const t of targets) {
      t.pod = running.get(`${t.namespace}/${t.deployment}`);
      if (t.pod) ready++;
    }
    return ready;
  }

  /**
   * Waits until every target has a Running pod; bounded by `timeoutMs`. Polls the (small) list of pods not
   * Running yet, and lists everything (tens of MB at 6,000 pods) only when that is empty or every 30 s.
   */
  async waitForPods(targets: BenchTarget[], timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let lastFull = Date.now();
    while (Date.now() < deadline) {
      const pending = await this.kube.core
        .listPodForAllNamespaces({ labelSelector: `${BENCH_LABEL}=${this.id}`, fieldSelector: 'status.phase!=Running' })
        .then((l) => l.items.length)
        .catch(() => 1);
      if (pending === 0 || Date.now() - lastFull > 30_000) {
        lastFull = Date.now();
        if ((await this.fillPods(targets).catch(() => 0)) === targets.length) return targets.length;
      }
      await sleep(5_000);
    }
    return this.fillPods(targets);
  }

  /** Deletes every bench namespace, waits (bounded) for their pods to go, then deletes the bench nodes. */
  async cleanup(): Promise<void> {
    const t = Date.now();
    const labelled = await this.kube.core
      .listNamespace({ labelSelector: `${BENCH_LABEL}=${this.id}` })
      .then((l) => l.items.map((n) => n.metadata!.name!))
      .catch(() => [] as string[]);
    const namespaces = [...new Set([...this.namespaces, ...labelled])];
    await mapLimit(namespaces, 16, (name) => this.kube.core.deleteNamespace({ name }).catch(() => undefined));
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      const left = await this.kube.core
        .listPodForAllNamespaces({ labelSelector: `${BENCH_LABEL}=${this.id}`, limit: 1 })
        .then((l) => l.items.length)
        .catch(() => 0);
      if (left === 0) break;
      await sleep(3_000);
    }
    const nodes = await this.kube.core
      .listNode({ labelSelector: `${BENCH_LABEL}=${this.id}` })
      .then((l) => l.items.map((n) => n.metadata!.name!))
      .catch(() => [...this.nodes]);
    await mapLimit([...new Set([...this.nodes, ...nodes])], 8, (name) =>
      this.kube.core.deleteNode({ name }).catch(() => undefined),
    );
    out(
      `  cleanup: deleted ${namespaces.length} bench namespaces and ${nodes.length} bench nodes in ${((Date.now() - t) / 1000).toFixed(0)} s`,
    );
  }
}

// ------------------------------------------------------------------------------------------------------------
// Cleanup on failure and Ctrl-C

const cleanups: (() => Promise<void>)[] = [];
let interrupted = false;

async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) {
    const fn = cleanups.pop()!;
    try {
      await fn();
    } catch (err) {
      out(`  cleanup step failed: ${errText(err)}`);
    }
  }
}

process.on('SIGINT', () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  out('\ninterrupted: cleaning up (Ctrl-C again to abandon)…');
  void runCleanups().then(() => process.exit(130));
});

// ------------------------------------------------------------------------------------------------------------
// 1. Latency: webhook receipt → apiserver acknowledged the change, Talon next to a naive handler

interface NaiveRecord {
  readonly receivedAt: number;
  /** When the Prometheus window (or its failure) was in and the rules had answered. */
  readonly decidedAt?: number;
  readonly ackedAt?: number;
  readonly policy?: string;
  readonly error?: string;
}

/** receive → query Prometheus → rule policy → patch, synchronously per request, no Temporal. */
function naiveHandler(config: TalonConfig, talonNamespace: string, records: Map<string, NaiveRecord>) {
  const clients = createKubeClients(loadKubeConfig(config.kube));
  const prometheus = new PrometheusClient({ url: config.prometheusUrl });
  const gather = { ...DEFAULT_GATHER_OPTIONS, stepSeconds: config.windowStepSeconds };
  const remediation = createRemediationActivities({
    clients,
    guards: { talonNamespace },
    nodeUsage: () => nodeLoads(prometheus, DEFAULT_METRICS_CONFIG, rangeSecondsOf(gather)),
  });
  const handle = async (alert: TalonAlert): Promise<void> => {
    const receivedAt = Date.now();
    if (alert.target.kind !== 'pod') return;
    const pod = { namespace: alert.target.namespace, pod: alert.target.pod, container: 'app' };
    let decidedAt = receivedAt;
    try {
      let ranked: readonly RankedPolicy[];
      try {
        const window = await gatherFromPrometheus(prometheus, DEFAULT_METRICS_CONFIG, gather, {
          target: { ...pod, workload: workloadOf(pod) },
        });
        ranked = window.kind === 'window' ? evaluateRules(window).ranked : policiesFromAlert(alert);
      } catch {
        ranked = policiesFromAlert(alert);
      }
      const usable = relevantToAlert(ranked, alert).filter((r) => POD_POLICIES.has(r.policy));
      const candidate = nextCandidate(usable, new Set()) ?? nextCandidate(policiesFromAlert(alert), new Set())!;
      decidedAt = Date.now();
      const result = await remediation.applyPolicy({
        target: pod,
        policy: candidate.policy,
        magnitude: Math.round(candidate.magnitude * 100) / 100,
        operationId: `naive/${alert.fingerprint}`,
        dryRun: false,
      });
      records.set(alertWorkflowId(alert), { receivedAt, decidedAt, ackedAt: Date.now(), policy: result.policy });
    } catch (err) {
      records.set(alertWorkflowId(alert), { receivedAt, error: errText(err).slice(0, 200) });
    }
  };
  const app = express();
  app.post('/api/alerts', express.json({ limit: '1mb' }), async (req, res) => {
    const parsed = alertmanagerPayload.safeParse(req.body);
    if (!parsed.success) {
      res.status(400).json({ error: 'invalid_payload' });
      return;
    }
    const batch = normaliseAlertmanager(parsed.data);
    await Promise.all(batch.alerts.map(handle));
    res.status(200).json({ accepted: batch.alerts.map((a) => ({ workflowId: alertWorkflowId(a) })) });
  });
  return app;
}

function policyCounts(policies: readonly (string | undefined)[]): string {
  const counts = new Map<string, number>();
  for (const p of policies) if (p) counts.set(p, (counts.get(p) ?? 0) + 1);
  return [...counts.entries()].map(([p, n]) => `${p} ${n}`).join(', ') || 'none';
}

function httpSummary(rows: readonly PostResult[]): string {
  const byStatus = new Map<string, number>();
  for (const r of rows) {
    const key = r.status === 0 ? `conn-error(${r.error ?? '?'})` : String(r.status);
    byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
  }
  return [...byStatus.entries()].map(([s, n]) => `${s}×${n}`).join(', ');
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
  cleanups.push(() => cluster.cleanup());
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

async function latency(flags: Flags, workDir: string): Promise<void> {
  const rate = numberFlag(flags, 'rate', 50, 0.1, 1000);
  const duration = numberFlag(flags, 'duration', 60, 1, 600);
  const perNamespace = numberFlag(flags, 'per-namespace', 10, 1, 1000);
  const port = numberFlag(flags, 'port', 18080, 1024, 65535);
  const warmup = numberFlag(flags, 'warmup', 60, 0, 600);
  const drainS = numberFlag(flags, 'drain', 180, 10, 1200);
  // --stub: no cluster, no naive handler; the worker's activities are stubs, so what is left is Talon's
  // own path (webhook → Temporal → worker) with the Kubernetes, Prometheus and InfluxDB costs taken out.
  const stub = flags.get('stub') === 'true';
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
  cleanups.push(async () => {
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
  let memory: MemoryReport | undefined;
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
      `         parts p50 / p99: Prometheus + rules ${ms(median(ok.map((r) => r.decidedAt! - r.receivedAt)))} / ` +
        `${ms(p99(ok.map((r) => r.decidedAt! - r.receivedAt)))}, patch (guards, budget Lease, write) ` +
        `${ms(median(ok.map((r) => r.ackedAt! - r.decidedAt!)))} / ${ms(p99(ok.map((r) => r.ackedAt! - r.decidedAt!)))}`,
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
    const s = [...v].sort((a, b) => a - b);
    out(`    ${k.padEnd(44)} ${ms(percentile(s, 50)).padStart(8)} / ${ms(percentile(s, 99)).padStart(8)}`);
  }
  const verifies = worker.timings.filter((r) => r.name === 'verifyPolicy');
  const peaks = Object.entries(memory?.peakByActivity ?? {})
    .map(([n, v]) => `${n} ${v}`)
    .join(', ');
  out(
    `  activity slots (the worker has 100): at most ${memory?.peakActivities ?? '?'} activities at once (peak per activity: ${peaks}); ` +
      `verifyPolicy, which holds its slot while the rollout runs: ${verifies.length} finished, ` +
      `run ${ms(median(verifies.map((r) => r.endedAt - r.startedAt)))} p50 / ${ms(p99(verifies.map((r) => r.endedAt - r.startedAt)))} p99`,
  );
  if (memory) {
    out(
      `  real worker child after the run: RSS ${(memory.rss / 2 ** 20).toFixed(0)} MiB (peak ${(memory.hwmKiB / 1024).toFixed(0)} MiB), heap ${(memory.heapUsed / 2 ** 20).toFixed(0)} MiB`,
    );
  }
  const what = stub ? 'receipt → stubbed applyPolicy returned' : 'receipt → apiserver ack';
  const rows: [string, string, string?][] = [];
  const p5099 = (v: readonly number[]): string => `${ms(pct(v, 50))} / ${ms(pct(v, 99))}`;
  if (naive) {
    const nl = naive.ids.map((i) => {
      const r = naive.records.get(i);
      return r?.ackedAt !== undefined ? r.ackedAt - r.receivedAt : Infinity;
    });
    rows.push([`naive  ${what}, p50 / p99`, p5099(nl), 'reference']);
    rows.push(['naive  applied', `${nl.filter(Number.isFinite).length}/${count}`]);
  }
  const p99Talon = pct(lat, 99);
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

// ------------------------------------------------------------------------------------------------------------
// 2. Burst: N alerts in S seconds over HTTP, none lost

async function burst(flags: Flags, workDir: string): Promise<void> {
  const total = numberFlag(flags, 'alerts', 10_000, 1, 100_000);
  const seconds = numberFlag(flags, 'seconds', 10, 1, 600);
  const batch = numberFlag(flags, 'batch', 1, 1, 1000);
  const port = numberFlag(flags, 'port', 18080, 1024, 65535);
  // during (default): the stubbed worker runs while alerts arrive; after: it starts once every post is answered
  // (the webhook's acks measured without the fan-out competing for the same cores); false: no worker.
  const workerFlag = flags.get('worker') ?? 'during';
  if (!['during', 'after', 'false'].includes(workerFlag)) throw new Error('--worker during|after|false');
  const withWorker = workerFlag !== 'false';
  const id = randomBytes(3).toString('hex');
  const queue = `bench-${id}`;
  const requests = Math.ceil(total / batch);
  const load = new LoadSampler();
  const summary: [string, string, string?][] = [];
  out(
    `\n== burst: ${total} alerts in ${seconds} s over HTTP, ${batch} alert(s) per Alertmanager payload ` +
      `(${requests} requests, ${(requests / seconds).toFixed(0)}/s), queue ${queue}`,
  );
  out(`  ${loadLine()}`);
  const config = loadTalonConfig({ ...process.env, TALON_TASK_QUEUE: queue });
  const longCooldown: CooldownConfig = { defaultSeconds: 3600, minSeconds: 3600, maxSeconds: 3600, historyFactor: 1 };
  const client = await TalonClient.connect({
    address: config.temporal.address,
    taskQueue: queue,
    settings: { remediation: { cooldown: longCooldown } },
  });
  const labels = new Map<number, string>([[process.pid, 'bench(webhook)']]);
  let worker: WorkerHandle | undefined;
  const bundlePath = withWorker ? await bundleToFile(workDir) : undefined;
  const launchWorker = async (): Promise<void> => {
    const tuning = tuningArgs(flags);
    if (tuning.note) out(`  ${tuning.note}`);
    worker = await startWorker(bundlePath!, queue, 'stub', process.env, tuning.args);
    labels.set(worker.pid, 'bench(worker)');
  };
  if (workerFlag === 'during') await launchWorker();
  // Every intake write, timed where the webhook makes it.
  const writes: { alerts: number; ms: number }[] = [];
  const queueAlerts = client.queueAlerts.bind(client);
  client.queueAlerts = async (shard, alerts, deadline) => {
    const t0 = performance.now();
    await queueAlerts(shard, alerts, deadline);
    writes.push({ alerts: alerts.length, ms: performance.now() - t0 });
  };
  // Distinct pods in one namespace per 100 alerts (nothing is created in Kubernetes: activities are stubs).
  const raws = Array.from({ length: total }, (_, i) => rawPodAlert(`bench-${id}-${Math.floor(i / 100)}`, `p-${i}`));
  const ids = raws.map(workflowIdOf);
  cleanups.push(async () => {
    await terminateAll(client.temporal, queue, ids);
    await worker?.stop();
    await client.close();
  });
  const token = randomBytes(16).toString('hex');
  // The admission bound and timeouts come from the environment, so a run can try other bounds.
  const webhook = await startWebhookServer(
    client,
    new TalonMetrics({ defaultMetrics: false }),
    {
      host: '127.0.0.1',
      port,
      auth: { bearerToken: token },
      bodyLimit: '1mb',
      handoffTimeoutMs: config.webhook.handoffTimeoutMs,
      maxInflightAlerts: config.webhook.maxInflightAlerts,
      overloadRetryAfterSeconds: config.webhook.overloadRetryAfterSeconds,
      intake: config.webhook.intake,
    },
    client,
  );
  // Server side: request arrived (headers parsed) → response finished, per answered request.
  const serverSide: number[] = [];
  webhook.server.on('request', (_req, res: ServerResponse) => {
    const t0 = performance.now();
    res.on('finish', () => serverSide.push(performance.now() - t0));
  });
  const intake = config.webhook.intake;
  out(
    `  webhook: at most ${config.webhook.maxInflightAlerts} alerts in flight (TALON_WEBHOOK_MAX_INFLIGHT_ALERTS), ` +
      `hand-off timeout ${config.webhook.handoffTimeoutMs} ms; alert intake ${intake.mode} ` +
      `(TALON_WEBHOOK_INTAKE; ${intake.shards} shards, batches ≤ ${intake.maxBatch}, ≤ ${intake.maxPending} pending)`,
  );
  const url = `http://127.0.0.1:${port}/api/alerts`;
  const chunks: RawAlert[][] = [];
  for (let i = 0; i < total; i += batch) chunks.push(raws.slice(i, i + batch));
  // Warm-up: resolved notifications for alerts nothing remediates (answered `no-workflow`: no side effect).
  const warmupCount = numberFlag(flags, 'warmup', 0, 0, 100_000);
  if (warmupCount > 0) out(`  warm-up: ${warmupCount} resolved notifications (no workflow) before the timed burst`);
  const warmup = Array.from({ length: warmupCount }, (_, i) =>
    JSON.stringify(payloadOf([{ ...rawPodAlert(`bench-${id}-warmup`, `w-${i}`), status: 'resolved' }])),
  );
  const plan: PosterPlan = {
    url,
    token,
    timeoutMs: 30_000,
    ...(warmup.length > 0 ? { warmup } : {}),
    requests: chunks.map((c, i) => ({
      atMs: Math.round((i * seconds * 1000) / chunks.length),
      body: JSON.stringify(payloadOf(c)),
      alerts: c.length,
    })),
  };
  try {
    const c0 = await cpuSnapshot();
    const { rows, startedAt, cpuMs } = await runPoster(workDir, plan);
    const postedMs = Date.now() - startedAt;
    const cpu = cpuReport(c0, await cpuSnapshot(), postedMs, labels, { 'bench(poster)': cpuMs / 1000 });
    const ok = rows.filter((r) => r.status >= 200 && r.status < 300);
    const serverErr = rows.filter((r) => r.status >= 500);
    const connErr = rows.filter((r) => r.status === 0);
    const other = rows.filter((r) => r.status !== 0 && (r.status < 200 || (r.status >= 300 && r.status < 500)));
    const alertsIn = (list: readonly PostResult[]): number =>
      list.reduce((s, r) => s + plan.requests[r.index]!.alerts, 0);
    const acceptedAlerts = ok.reduce((s, r) => s + r.accepted, 0);
    const queuedAlerts = ok.reduce((s, r) => s + (r.queued ?? 0), 0);
    const lastAck = Math.max(...rows.map((r) => r.doneAt));
    out(`  webhook server side (request parsed → answer sent): ${dist(serverSide)}`);
    if (writes.length > 0) {
      const sizes = writes.map((w) => w.alerts);
      out(
        `  intake: ${writes.length} writes for ${sizes.reduce((a, b) => a + b, 0)} alerts ` +
          `(batch mean ${(sizes.reduce((a, b) => a + b, 0) / writes.length).toFixed(1)}, max ${Math.max(...sizes)}); ` +
          `write ${dist(writes.map((w) => w.ms))}`,
      );
    }
    if (workerFlag === 'after') {
      out('  every post answered: starting the stubbed worker now (--worker after)');
      await launchWorker();
    }
    out(`  posted ${rows.length}/${requests} requests in ${(postedMs / 1000).toFixed(1)} s; ${loadLine()}`);
    out(
      `  answers: 2xx ${ok.length} (${acceptedAlerts} alerts accepted), 5xx ${serverErr.length} (${alertsIn(serverErr)} alerts), ` +
        `connection errors ${connErr.length} (${alertsIn(connErr)} alerts), other ${other.length}; ` +
        `unanswered ${requests - rows.length}`,
    );
    out(
      `  accounted for: ${acceptedAlerts + alertsIn(serverErr) + alertsIn(connErr) + alertsIn(other)}/${total} alerts (${httpSummary(rows)})`,
    );
    out(`  webhook ack (request sent → answer), all answers: ${dist(rows.map((r) => r.doneAt - r.sentAt))}`);
    out(`  webhook ack, 2xx only: ${dist(ok.map((r) => r.doneAt - r.sentAt))}   (goal p99 ≤ 100 ms)`);
    const viaIntake = ok.filter((r) => (r.queued ?? 0) === r.accepted);
    const direct = ok.filter((r) => (r.queued ?? 0) === 0);
    out(`    of which answered after the intake write: ${dist(viaIntake.map((r) => r.doneAt - r.sentAt))}`);
    out(
      `    of which handed directly (before the storm window opened): ${dist(direct.map((r) => r.doneAt - r.sentAt))}`,
    );
    const firstSecond = ok.filter((r) => plan.requests[r.index]!.atMs < 1_000);
    out(`    of which due in the first second: ${dist(firstSecond.map((r) => r.doneAt - r.sentAt))}`);
    const ackOf = (r: PostResult): number => r.doneAt - r.sentAt;
    // Per alert: each alert waits for its payload's answer.
    const perAlert = (list: readonly PostResult[]): number[] =>
      list.flatMap((r) => Array.from({ length: plan.requests[r.index]!.alerts }, () => ackOf(r)));
    const accounted = acceptedAlerts + alertsIn(serverErr);
    const ackP99 = pct(ok.map(ackOf), 99);
    summary.push(
      [`payloads posted (${batch} alert(s) each)`, `${rows.length}/${requests} in ${(postedMs / 1000).toFixed(1)} s`],
      [
        'payloads answered 2xx / 5xx / conn-error / other',
        `${ok.length} / ${serverErr.length} / ${connErr.length} / ${other.length}`,
      ],
      ['alerts accepted (2xx) / answered 5xx', `${acceptedAlerts} / ${alertsIn(serverErr)}`],
      [
        'of the accepted: handed directly / through the alert intake',
        `${acceptedAlerts - queuedAlerts} / ${queuedAlerts}`,
      ],
      [
        'alerts lost (neither 2xx nor 5xx)',
        String(total - accounted),
        `0: ${total - accounted === 0 ? 'met' : 'MISSED'}`,
      ],
      [
        'webhook ack per payload, 2xx, p50 / p99',
        `${ms(pct(ok.map(ackOf), 50))} / ${ms(ackP99)}`,
        `p99 ≤ 100 ms: ${ackP99 <= 100 ? 'met' : 'MISSED'}`,
      ],
      [
        'webhook ack per payload, all answers, p50 / p99',
        `${ms(pct(rows.map(ackOf), 50))} / ${ms(pct(rows.map(ackOf), 99))}`,
      ],
      ['webhook ack per alert, 2xx, p50 / p99', `${ms(pct(perAlert(ok), 50))} / ${ms(pct(perAlert(ok), 99))}`],
      ['accepted alerts per second (2xx)', (acceptedAlerts / (postedMs / 1000)).toFixed(0)],
    );
    out(`  ${cpu}`);

    // Every accepted alert has its workflow: the visibility count catches up with what was acknowledged.
    const started = async (): Promise<number> =>
      (await client.temporal.workflow.count(`TaskQueue = "${queue}" AND WorkflowType = "remediateAlert"`)).count;
    const running = async (): Promise<number> =>
      (await client.temporal.workflow.count(`TaskQueue = "${queue}" AND TalonAlertName = "TalonPodCpuNearLimit"`))
        .count;
    let visibleAt: number | undefined;
    let pickedAt: number | undefined;
    let visible = 0;
    let picked = 0;
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline && (visibleAt === undefined || (withWorker && pickedAt === undefined))) {
      visible = await started().catch(() => visible);
      if (visibleAt === undefined && visible >= acceptedAlerts) visibleAt = Date.now();
      if (withWorker) {
        picked = await running().catch(() => picked);
        if (pickedAt === undefined && picked >= acceptedAlerts) pickedAt = Date.now();
      }
      await sleep(500);
    }
    const since = (at: number | undefined): string =>
      at === undefined
        ? 'not within 300 s'
        : `${((at - startedAt) / 1000).toFixed(1)} s after the first post, ${((at - lastAck) / 1000).toFixed(1)} s after the last answer`;
    out(
      `  every accepted alert has its workflow (visibility count ${visible} ≥ ${acceptedAlerts}): ${since(visibleAt)}`,
    );
    if (withWorker)
      out(`  accepted workflows picked up by the stubbed worker (first task done, ${picked}): ${since(pickedAt)}`);
    summary.push([
      'all 2xx-accepted alerts have their workflow (visibility count)',
      visibleAt === undefined
        ? 'not within 300 s'
        : `${((visibleAt - startedAt) / 1000).toFixed(1)} s after the first post`,
    ]);

    // What Alertmanager does next: retry the 5xx and failed requests after Retry-After, until all are in.
    const retry = [...serverErr, ...connErr].map((r) => plan.requests[r.index]!);
    const retried = retry.length;
    const retryUntil = Date.now() + 180_000;
    for (let round = 1; round <= 5 && retry.length > 0 && Date.now() < retryUntil; round++) {
      await sleep(5_000);
      const results = await mapLimit(retry, 32, async (req) => {
        if (Date.now() > retryUntil) return false;
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: req.body,
            signal: AbortSignal.timeout(30_000),
          });
          await res.text();
          return res.ok;
        } catch {
          return false;
        }
      });
      const left = retry.filter((_, i) => !results[i]);
      out(`  retry round ${round} (after Retry-After 5 s): ${retry.length - left.length}/${retry.length} accepted`);
      retry.splice(0, retry.length, ...left);
    }
    let allAt: number | undefined;
    const allDeadline = Date.now() + 120_000;
    while (Date.now() < allDeadline) {
      visible = await started().catch(() => visible);
      if (visible >= total) {
        allAt = Date.now();
        break;
      }
      await sleep(1_000);
    }
    summary.push([
      `all ${total} alerts have their workflow (after retrying ${retried} payloads)`,
      allAt === undefined
        ? `not within 120 s of the retries (${visible}/${total})`
        : `${((allAt - startedAt) / 1000).toFixed(1)} s after the first post`,
    ]);
    const finalCount = await started().catch(() => NaN);
    out(`  after retries: ${finalCount} workflows on the queue for ${total} distinct alerts`);
    if (worker) {
      const m = await worker.memory().catch(() => undefined);
      if (m)
        out(
          `  stubbed worker child: RSS ${(m.rss / 2 ** 20).toFixed(0)} MiB (peak ${(m.hwmKiB / 1024).toFixed(0)} MiB)`,
        );
    }
    summary.push(['after Alertmanager-style retries: workflows for the alerts', `${finalCount}/${total}`]);
  } finally {
    await webhook.close();
  }
  summary.push(['load during the run', load.stop()]);
  table(`burst, ${total} alerts in ${seconds} s, ${batch} per payload`, summary);
}

// ------------------------------------------------------------------------------------------------------------
// 3. Worker RSS with N remediations waiting in cool-down

async function rss(flags: Flags, workDir: string): Promise<void> {
  const total = numberFlag(flags, 'workflows', 1_000, 1, 20_000);
  const id = randomBytes(3).toString('hex');
  const queue = `bench-${id}`;
  const load = new LoadSampler();
  out(`\n== worker RSS with ${total} remediations in cool-down (stubbed activities, queue ${queue})`);
  out(`  ${loadLine()}`);
  const config = loadTalonConfig({ ...process.env, TALON_TASK_QUEUE: queue });
  const bundlePath = await bundleToFile(workDir);
  const tuning = tuningArgs(flags);
  if (tuning.note) out(`  ${tuning.note}`);
  const worker = await startWorker(bundlePath, queue, 'stub', process.env, tuning.args);
  const longCooldown: CooldownConfig = { defaultSeconds: 3600, minSeconds: 3600, maxSeconds: 3600, historyFactor: 1 };
  const client = await TalonClient.connect({
    address: config.temporal.address,
    taskQueue: queue,
    settings: { remediation: { cooldown: longCooldown } },
  });
  const alerts = Array.from({ length: total }, (_, i) => {
    const raw = rawPodAlert(`bench-${id}-${Math.floor(i / 100)}`, `p-${i}`);
    return normaliseAlertmanager(payloadOf([raw])).alerts[0]!;
  });
  const ids = alerts.map(alertWorkflowId);
  cleanups.push(async () => {
    await terminateAll(client.temporal, queue, ids);
    await worker.stop();
    await client.close();
  });
  await sleep(2_000);
  const idle = await worker.memory();
  out(
    `  worker child (pid ${worker.pid}) idle, before any workflow: RSS ${(idle.rss / 2 ** 20).toFixed(0)} MiB, heap ${(idle.heapUsed / 2 ** 20).toFixed(0)} MiB`,
  );
  let t = Date.now();
  await mapLimit(alerts, 32, (a) => client.remediate(a));
  out(`  started ${total} workflows in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  t = Date.now();
  const waiting = new Set(ids);
  const deadline = Date.now() + 600_000;
  while (waiting.size > 0 && Date.now() < deadline) {
    const profiled = new Set(
      worker.timings.filter((r) => r.name === 'workloadProfile' && r.ok).map((r) => r.workflowId),
    );
    const candidates = [...waiting].filter((i) => profiled.has(i));
    await mapLimit(candidates, 16, async (wf) => {
      const state = await client.status(wf).catch(() => undefined);
      if (state?.step === 'cooldown') waiting.delete(wf);
    });
    if (waiting.size > 0) await sleep(1_000);
  }
  out(
    `  ${total - waiting.size}/${total} in step 'cooldown' (query) after ${((Date.now() - t) / 1000).toFixed(1)} s; settling 5 s`,
  );
  await sleep(5_000);
  const m = await worker.memory();
  out(
    `  worker RSS with ${total - waiting.size} in cool-down: ${(m.rss / 2 ** 20).toFixed(0)} MiB   (goal ≤ 300 MB; ` +
      `process.memoryUsage().rss of the separate worker process, which runs nothing but the worker)`,
  );
  out(
    `  peak RSS (VmHWM) ${(m.hwmKiB / 1024).toFixed(0)} MiB; V8 heap used ${(m.heapUsed / 2 ** 20).toFixed(0)} of ${(m.heapTotal / 2 ** 20).toFixed(0)} MiB; ` +
      `external ${(m.external / 2 ** 20).toFixed(0)} MiB; maxCachedWorkflows ${m.maxCachedWorkflows ?? '?'}; ≈ ${(((m.rss - idle.rss) / Math.max(1, total - waiting.size)) * (1024 / 2 ** 20)).toFixed(0)} KiB per parked workflow`,
  );
  const parked = total - waiting.size;
  table(`worker RSS, ${parked} remediations in cool-down`, [
    ['worker RSS idle', `${(idle.rss / 2 ** 20).toFixed(0)} MiB`],
    [
      `worker RSS with ${parked} in cool-down`,
      `${(m.rss / 2 ** 20).toFixed(0)} MiB (${(m.rss / 1e6).toFixed(0)} MB)`,
      `≤ 300 MB: ${m.rss <= 300e6 ? 'met' : 'MISSED'}`,
    ],
    ['worker peak RSS (VmHWM)', `${(m.hwmKiB / 1024).toFixed(0)} MiB`],
    ['V8 heap used / total', `${(m.heapUsed / 2 ** 20).toFixed(0)} / ${(m.heapTotal / 2 ** 20).toFixed(0)} MiB`],
    ['maxCachedWorkflows', String(m.maxCachedWorkflows ?? '?')],
    ['load during the run', load.stop()],
  ]);
}

// ------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const [mode = '', ...rest] = process.argv.slice(2);
  const flags = parseFlags(rest);
  if (mode === 'worker') return workerChild(flags);
  if (mode === 'poster') return posterChild(flags);
  const modes = mode ? [mode] : ['latency', 'burst', 'rss'];
  for (const m of modes) {
    if (!['latency', 'burst', 'rss'].includes(m)) throw new Error(`unknown measurement ${m}: latency|burst|rss`);
  }
  const workDir = join(tmpdir(), `talon-bench-${randomBytes(3).toString('hex')}`);
  await mkdir(workDir, { recursive: true });
  cleanups.push(() => rm(workDir, { recursive: true, force: true }));
  try {
    for (const m of modes) {
      const depth = cleanups.length;
      try {
        if (m === 'latency') await latency(flags, workDir);
        if (m === 'burst') await burst(flags, workDir);
        if (m === 'rss') await rss(flags, workDir);
      } finally {
        while (cleanups.length > depth)
          await cleanups.pop()!().catch((err: unknown) => out(`  cleanup: ${errText(err)}`));
      }
    }
  } finally {
    await runCleanups();
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  async (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await runCleanups();
    process.exit(1);
  },
);
