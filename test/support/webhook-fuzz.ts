/**
 * Property-based fuzzing of the webhook's alert routes (`/api/alerts`, `/api/alerts/grafana`) and the task route
 * (`/api/tasks`), in-process against the app the server runs. Each case is a valid payload, a mutated one, random
 * JSON or damaged text, with the occasional wrong content type or credentials, and a sink that now and then
 * fails or is too slow. After every response the properties are checked:
 * - the status is one the route documents, and no 5xx other than 503;
 * - an error answer is JSON with `error` and `message`;
 * - nothing reached Object.prototype or Array.prototype (no prototype pollution);
 * - everything handed towards Temporal is valid (alert names, targets, ids, fingerprints, plain string maps;
 *   task submissions for a known task with finite priorities), and a 202 accounts for every alert sent.
 * Used by test/unit/webhook-fuzz.test.ts (a fixed seed, a few thousand cases) and bench/webhook-fuzz.ts (figures).
 */
import inject from 'light-my-request';
import type { Express } from 'express';
import {
  alertNameProblem,
  alertWorkflowId,
  isDnsLabel,
  isDnsSubdomain,
  isFingerprint,
  legacyAlertWorkflowId,
  type TalonAlert,
} from '../../src/domain/alert';
import type { SubmitTaskRequest, TaskStatus } from '../../src/client/talon-client';
import { isPriorityParameter } from '../../src/domain/taxonomy';
import type { Taxonomy } from '../../src/domain/taxonomy';
import { TalonMetrics } from '../../src/observability/metrics';
import { webhookSettings, type IntakeMode } from '../../src/config/defaults';
import { createWebhookApp, type AlertSink } from '../../src/webhook/app';
import type { IntakeSink } from '../../src/webhook/intake';
import { ZERO_TIME } from '../../src/webhook/payloads';
import type { TaskService } from '../../src/webhook/tasks';
import { damageText, mutate, randomJson, Rng } from './fuzz';
import { alertmanagerBody } from './alertmanager';

export type FuzzRoute = '/api/alerts' | '/api/alerts/grafana' | '/api/tasks';
export const FUZZ_ROUTES: readonly FuzzRoute[] = ['/api/alerts', '/api/alerts/grafana', '/api/tasks'];

const ALLOWED: Readonly<Record<FuzzRoute, ReadonlySet<number>>> = {
  '/api/alerts': new Set([202, 400, 401, 413, 415, 422, 503]),
  '/api/alerts/grafana': new Set([202, 400, 401, 413, 415, 422, 503]),
  '/api/tasks': new Set([202, 400, 401, 413, 415, 503]),
};

export interface FuzzFailure {
  readonly seed: number;
  readonly index: number;
  readonly route: FuzzRoute;
  readonly property: string;
  readonly detail: string;
  /** The request body (truncated), to reproduce by hand. */
  readonly body: string;
}

export interface FuzzReport {
  readonly route: FuzzRoute;
  readonly seed: number;
  tried: number;
  /** Cases by kind: valid, mutated, random JSON, damaged text. */
  readonly kinds: Record<string, number>;
  readonly byStatus: Record<string, number>;
  /** Alerts (or task submissions) that reached the sink, i.e. would have reached Temporal. */
  handedOff: number;
  /** Alerts refused one by one inside accepted or 422 answers. */
  rejectedAlerts: number;
  readonly failures: FuzzFailure[];
}

const TOKEN = 'fuzz-token-0123456789';
const NAMES = ['TalonPodCpuNearLimit', 'High memory usage', 'メモリ使用率が高い', 'CPU > 90% 🔥', 'node:load'];
const NAMESPACES = ['shop', 'default', 'team-a', 'kube-system'];
const PODS = ['web-1', 'web-7f9c-abcde', 'db-0', 'a.b.c'];
const NODES = ['edge-1', 'cloud-2', 'ip-10-0-0-1.ec2.internal'];

function validAlert(r: Rng): Record<string, unknown> {
  const node = r.bool(0.2);
  const labels: Record<string, string> = { alertname: r.pick(NAMES) };
  if (node) labels.node = r.pick(NODES);
  else {
    labels.namespace = r.pick(NAMESPACES);
    labels.pod = r.pick(PODS);
    if (r.bool()) labels.container = 'app';
  }
  if (r.bool()) labels.severity = r.pick(['warning', 'critical']);
  const resolved = r.bool(0.2);
  return {
    status: resolved ? 'resolved' : 'firing',
    labels,
    annotations: { summary: 'something is high', description: 'longer text' },
    startsAt: '2026-11-25T10:00:00Z',
    endsAt: resolved ? '2026-11-25T10:05:00Z' : ZERO_TIME,
    generatorURL: 'http://prometheus/graph',
    fingerprint: r
      .int(0, 2 ** 30)
      .toString(16)
      .padStart(16, '0'),
  };
}

function validAlertmanager(r: Rng): unknown {
  return alertmanagerBody(Array.from({ length: r.int(1, 6) }, () => validAlert(r)));
}

function validGrafana(r: Rng): unknown {
  return {
    receiver: 'talon',
    status: 'firing',
    orgId: 1,
    alerts: Array.from({ length: r.int(1, 4) }, () => ({
      ...validAlert(r),
      silenceURL: 'https://grafana/alerting/silence/new',
      dashboardURL: '',
      panelURL: '',
      ...(r.bool() ? { values: { B: 44.2, C: 1 } } : { valueString: "[ metric='' labels={} value=1 ]" }),
    })),
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'https://grafana/',
    version: '1',
    groupKey: '{}:{}',
    truncatedAlerts: 0,
    title: '[FIRING:1]',
    state: 'alerting',
    message: '**Firing**',
  };
}

function validTask(r: Rng): unknown {
  const priorities = r.bool()
    ? { quality: r.int(0, 100), energy: r.int(1, 100) }
    : `${r.pick(['quality', 'speed'])}=${r.int(1, 9)},cost=${r.int(0, 9)}`;
  return {
    task: r.pick(['interpolation', 'outlier-removal', 'data-casting']),
    priorities,
    ...(r.bool() ? { namespace: r.pick(NAMESPACES) } : {}),
    ...(r.bool() ? { input: { path: 's3://bucket/in.csv' } } : {}),
  };
}

const VALID: Readonly<Record<FuzzRoute, (r: Rng) => unknown>> = {
  '/api/alerts': validAlertmanager,
  '/api/alerts/grafana': validGrafana,
  '/api/tasks': validTask,
};

/** Why a handed-off alert is not what Temporal may receive, or undefined when it is. */
export function invalidHandOff(alert: TalonAlert): string | undefined {
  if (typeof alert.alertName !== 'string' || alertNameProblem(alert.alertName)) return 'bad alertName';
  if (alert.status !== 'firing' && alert.status !== 'resolved') return `bad status ${String(alert.status)}`;
  if (!isFingerprint(alert.fingerprint)) return `bad fingerprint ${JSON.stringify(alert.fingerprint)}`;
  const t = alert.target;
  if (t.kind === 'pod') {
    if (!isDnsLabel(t.namespace) || !isDnsSubdomain(t.pod)) return 'bad pod target';
    if (t.container !== undefined && !isDnsLabel(t.container)) return 'bad container';
  } else if (t.kind !== 'node' || !isDnsSubdomain(t.node)) return 'bad node target';
  // Pod alerts go to their workload's remediation (remediate/<namespace>/<workload>), a resolve also to the per-alert
  // id of before; node alerts to node-overload/<alert key>/<node>/<fingerprint>. No free text in any of them.
  const id = alertWorkflowId(alert);
  const shape =
    t.kind === 'pod'
      ? /^remediate\/[a-z0-9-]+\/[a-z0-9.-]+$/
      : /^node-overload\/[A-Za-z0-9_.:~-]+\/[a-z0-9.-]+\/[A-Za-z0-9_-]+$/;
  if (!shape.test(id) || id.length > 600) return `bad workflow id ${JSON.stringify(id.slice(0, 200))}`;
  const legacy = legacyAlertWorkflowId(alert);
  if (legacy !== undefined && !/^remediate\/[A-Za-z0-9_.:~-]+\/[a-z0-9-]+\/[a-z0-9.-]+\/[A-Za-z0-9_-]+$/.test(legacy))
    return `bad legacy workflow id ${JSON.stringify(legacy.slice(0, 200))}`;
  for (const [what, map] of [
    ['labels', alert.labels],
    ['annotations', alert.annotations],
  ] as const) {
    if (Object.getPrototypeOf(map) !== Object.prototype) return `${what} is not a plain object`;
    if (Object.hasOwn(map, '__proto__')) return `${what} carries a __proto__ key`;
    if (!Object.values(map).every((v) => typeof v === 'string')) return `${what} has a non-string value`;
  }
  if (alert.startsAt !== ZERO_TIME && !Number.isFinite(Date.parse(alert.startsAt))) return 'bad startsAt';
  if (JSON.stringify(JSON.parse(JSON.stringify(alert))) !== JSON.stringify(alert)) return 'not JSON round-trippable';
  return undefined;
}

/** Why a task submission is not what may start a workflow, or undefined when it is. */
export function invalidSubmission(request: SubmitTaskRequest, taxonomy: Taxonomy): string | undefined {
  if (!taxonomy.tasks.some((t) => t.id === request.task)) return `unknown task ${JSON.stringify(request.task)}`;
  const entries = Object.entries(request.priorities);
  if (entries.length === 0) return 'no priorities';
  for (const [name, value] of entries) {
    if (!isPriorityParameter(name)) return `unknown priority ${JSON.stringify(name)}`;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return `bad priority ${name}`;
  }
  if (request.namespace !== undefined && !isDnsLabel(request.namespace)) return 'bad namespace';
  return undefined;
}

class FuzzSink implements AlertSink, IntakeSink, TaskService {
  received: TalonAlert[] = [];
  submitted: SubmitTaskRequest[] = [];
  mode: 'ok' | 'fail' | 'slow' = 'ok';
  private pending = 0;
  async remediate(alert: TalonAlert, deadline: Date) {
    await this.behave(deadline);
    this.received.push(alert);
    return { workflowId: alertWorkflowId(alert), action: 'started-or-signalled' };
  }
  async queueAlerts(_shard: number, alerts: readonly TalonAlert[], deadline: Date) {
    await this.behave(deadline);
    this.received.push(...alerts);
  }
  async submitTask(request: SubmitTaskRequest, deadline?: Date) {
    await this.behave(deadline ?? new Date(Date.now() + 1000));
    this.submitted.push(request);
    return { id: `task-${request.task}-fuzz` };
  }
  /**
   * Waits until no call is in flight and none is about to start: a 503 answered on the first failed intake
   * write leaves the payload's other shard writes to finish (by design: the sender retries the whole payload,
   * repeats are harmless), and they must not be counted against the next case.
   */
  async settle(): Promise<void> {
    for (let quiet = 0; quiet < 3;) {
      await new Promise((r) => setImmediate(r));
      quiet = this.pending === 0 ? quiet + 1 : 0;
    }
  }
  async taskStatus(id: string): Promise<TaskStatus> {
    throw Object.assign(new Error(`no task submission ${id}`), { name: 'TaskNotFoundError' });
  }
  private async behave(deadline: Date): Promise<void> {
    this.pending++;
    try {
      if (this.mode === 'fail') throw new Error('14 UNAVAILABLE: fuzz');
      if (this.mode === 'slow') {
        await new Promise((r) => setTimeout(r, Math.max(0, deadline.getTime() - Date.now()) + 5));
        throw new Error('deadline exceeded');
      }
    } finally {
      this.pending--;
    }
  }
}

function buildApp(sink: FuzzSink, taxonomy: Taxonomy, intake: IntakeMode): Express {
  return createWebhookApp({
    sink,
    metrics: new TalonMetrics({ defaultMetrics: false }),
    auth: { bearerToken: TOKEN },
    ready: async () => true,
    // A small body limit so huge mutations exercise 413 without megabytes per case; a short timeout for 503s.
    settings: webhookSettings({ bodyLimit: '256kb', handoffTimeoutMs: 30, intake: { mode: intake } }),
    ...(intake !== 'off' ? { intake: { sink } } : {}),
    tasks: { service: sink, taxonomy: async () => taxonomy },
  });
}

const prototypeKeys = (): string =>
  JSON.stringify([
    Object.getOwnPropertyNames(Object.prototype).sort(),
    Object.getOwnPropertyNames(Array.prototype).sort(),
  ]);

/** Runs `count` cases against `route` from `seed`; never throws for a failed property, it reports it. */
export async function fuzzRoute(
  route: FuzzRoute,
  seed: number,
  count: number,
  taxonomy: Taxonomy,
): Promise<FuzzReport> {
  const r = new Rng(seed);
  const sink = new FuzzSink();
  const apps = { off: buildApp(sink, taxonomy, 'off'), spill: buildApp(sink, taxonomy, 'always') };
  const baseline = prototypeKeys();
  const report: FuzzReport = {
    route,
    seed,
    tried: 0,
    kinds: {},
    byStatus: {},
    handedOff: 0,
    rejectedAlerts: 0,
    failures: [],
  };
  for (let index = 0; index < count; index++) {
    const roll = r.next();
    let kind: string;
    let text: string;
    let value: unknown;
    if (roll < 0.3) {
      kind = 'valid';
      value = VALID[route](r);
      text = JSON.stringify(value);
    } else if (roll < 0.8) {
      kind = 'mutated';
      value = mutate(r, VALID[route](r), r.int(1, 4));
      text = JSON.stringify(value) ?? 'null';
    } else if (roll < 0.9) {
      kind = 'random-json';
      value = randomJson(r, 4);
      text = JSON.stringify(value) ?? 'null';
    } else {
      kind = 'damaged-text';
      value = undefined;
      text = damageText(r, JSON.stringify(VALID[route](r)));
    }
    report.kinds[kind] = (report.kinds[kind] ?? 0) + 1;
    const headers: Record<string, string> = {
      'content-type': r.bool(0.04) ? r.pick(['text/plain', 'application/xml', '']) : 'application/json',
    };
    if (!r.bool(0.03)) headers.authorization = r.bool(0.02) ? 'Bearer wrong' : `Bearer ${TOKEN}`;
    await sink.settle();
    const modeRoll = r.next();
    sink.mode = modeRoll < 0.04 ? 'fail' : modeRoll < 0.06 ? 'slow' : 'ok';
    sink.received = [];
    sink.submitted = [];
    const app = r.bool(0.25) ? apps.spill : apps.off;
    const fail = (property: string, detail: string): void => {
      report.failures.push({ seed, index, route, property, detail, body: text.slice(0, 2000) });
    };
    let res;
    try {
      res = await inject(app, { method: 'POST', url: route, headers, payload: text });
    } catch (err) {
      fail('no crash', err instanceof Error ? (err.stack ?? err.message) : String(err));
      continue;
    }
    report.tried++;
    report.byStatus[res.statusCode] = (report.byStatus[res.statusCode] ?? 0) + 1;
    if (!ALLOWED[route].has(res.statusCode))
      fail('documented status', `status ${res.statusCode}: ${res.body.slice(0, 300)}`);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(res.body) as Record<string, unknown>;
    } catch {
      fail('JSON answer', res.body.slice(0, 300));
    }
    if (res.statusCode >= 400 && (typeof body.error !== 'string' || typeof body.message !== 'string'))
      fail('error shape', res.body.slice(0, 300));
    if (prototypeKeys() !== baseline || ({} as Record<string, unknown>).polluted !== undefined) {
      fail('no prototype pollution', 'Object.prototype or Array.prototype changed');
      break; // the process is tainted; stop here
    }
    if (route === '/api/tasks') {
      for (const request of sink.submitted) {
        const why = invalidSubmission(request, taxonomy);
        if (why) fail('valid submission reaches Temporal', why);
      }
      report.handedOff += sink.submitted.length;
      if (res.statusCode === 202 && sink.submitted.length !== 1)
        fail('202 means started', `${sink.submitted.length} submitted`);
      continue;
    }
    for (const alert of sink.received) {
      const why = invalidHandOff(alert);
      if (why) fail('valid alert reaches Temporal', why);
    }
    report.handedOff += sink.received.length;
    const rejected = Array.isArray(body.rejected)
      ? body.rejected.length
      : Array.isArray(body.details)
        ? body.details.length
        : 0;
    if (res.statusCode === 202 || (res.statusCode === 422 && body.error === 'no_actionable_alerts'))
      report.rejectedAlerts += rejected;
    if (res.statusCode === 202) {
      const accepted = Array.isArray(body.accepted) ? body.accepted.length : -1;
      if (accepted !== sink.received.length)
        fail('202 accounts for every alert', `accepted ${accepted}, handed off ${sink.received.length}`);
      const sent = (value as { alerts?: unknown } | undefined)?.alerts;
      if (Array.isArray(sent) && accepted + rejected !== sent.length)
        fail('202 accounts for every alert', `sent ${sent.length}, accepted ${accepted}, rejected ${rejected}`);
    } else if (sink.received.length > 0 && res.statusCode !== 503) {
      fail('refused means nothing handed off', `status ${res.statusCode} after handing off ${sink.received.length}`);
    }
  }
  return report;
}

/** One line per route and the failures, for people. */
export function formatFuzzReport(reports: readonly FuzzReport[]): string {
  const lines: string[] = [];
  for (const rep of reports) {
    const statuses = Object.entries(rep.byStatus)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([s, n]) => `${s}:${n}`)
      .join(' ');
    const kinds = Object.entries(rep.kinds)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    lines.push(
      `${rep.route.padEnd(20)} seed ${rep.seed}: ${rep.tried} payloads (${kinds}); by status ${statuses}; ` +
        `handed off ${rep.handedOff}, alerts refused one by one ${rep.rejectedAlerts}; failures ${rep.failures.length}`,
    );
    for (const f of rep.failures.slice(0, 5))
      lines.push(`  ✗ #${f.index} ${f.property}: ${f.detail.slice(0, 200)}\n    body: ${f.body.slice(0, 300)}`);
  }
  return lines.join('\n');
}
