/**
 * The webhook's alert intake (group commit): batching, one write in flight per shard, order per alert,
 * the pending bound, failures, and how the webhook routes to it (spill, always, off, stray resolves).
 * The sinks' promises are settled by hand, so what is "in flight" is exact. The intake workflow itself runs
 * on the real Temporal dev server in test/workflows/alert-intake.test.ts.
 */
import inject from 'light-my-request';
import { alertWorkflowId, type TalonAlert } from '../../src/domain/alert';
import { TalonMetrics } from '../../src/observability/metrics';
import { intakeShardOf, intakeWorkflowId } from '../../src/contracts/alert-intake';
import { createWebhookApp, type AlertSink } from '../../src/webhook/app';
import { webhookSettings, type IntakeMode } from '../../src/config/defaults';
import { IntakeBatcher, type IntakeSink } from '../../src/webhook/intake';

import { alertmanagerBody } from '../support/alertmanager';

const TOKEN = 'test-token-0123456789';

function alert(n: number, status: 'firing' | 'resolved' = 'firing'): TalonAlert {
  const fingerprint = n.toString(16).padStart(16, '0');
  return {
    source: 'alertmanager',
    alertName: 'TalonPodCpuNearLimit',
    status,
    fingerprint,
    // one workload per alert
    target: { kind: 'pod', namespace: 'shop', pod: `w${fingerprint}`, container: 'app' },
    labels: {},
    annotations: {},
    startsAt: '2026-11-25T10:00:00Z',
  };
}

interface Write {
  readonly shard: number;
  readonly alerts: readonly TalonAlert[];
  readonly deadline: Date;
  resolve(): void;
  reject(err: Error): void;
}

/** Every sink a test made: what a test leaves pending is settled after it, so no backstop timer outlives it. */
const sinks: { settleAll(): number }[] = [];
afterEach(async () => {
  // Settling a write lets the next batch go out: settle until nothing new appears.
  // Writes go out on the next turn of the event loop, so a quiet turn or two is needed before stopping.
  for (let round = 0, quiet = 0; round < 100 && quiet < 3; round++) {
    await new Promise((r) => setTimeout(r, 1));
    quiet = sinks.reduce((n, sink) => n + sink.settleAll(), 0) === 0 ? quiet + 1 : 0;
  }
  sinks.splice(0);
});

class ManualIntake implements IntakeSink {
  readonly writes: Write[] = [];
  constructor() {
    sinks.push(this);
  }
  private settled = 0;
  /** Resolves the writes not settled yet; says how many. */
  settleAll(): number {
    const fresh = this.writes.slice(this.settled);
    this.settled = this.writes.length;
    for (const w of fresh) w.resolve();
    return fresh.length;
  }
  queueAlerts(shard: number, alerts: readonly TalonAlert[], deadline: Date): Promise<void> {
    return new Promise((resolve, reject) =>
      this.writes.push({ shard, alerts: [...alerts], deadline, resolve, reject }),
    );
  }
  inFlight(shard: number): Write[] {
    return this.writes.filter((w) => w.shard === shard);
  }
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1_000; i++) {
    if (condition()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const settled = async (p: Promise<unknown>): Promise<string> => {
  const state = await Promise.race([
    p.then(
      () => 'resolved',
      (err: Error) => `rejected: ${err.message}`,
    ),
    new Promise<string>((r) => setImmediate(() => setImmediate(() => r('pending')))),
  ]);
  return state;
};

describe('IntakeBatcher', () => {
  const batcher = (sink: IntakeSink, over: Partial<ConstructorParameters<typeof IntakeBatcher>[0]> = {}) =>
    new IntakeBatcher({ sink, shards: 1, maxBatch: 100, maxPending: 1_000, timeoutMs: 5_000, ...over });

  it('writes alerts submitted in the same turn as one batch, and answers each request when it is written', async () => {
    const sink = new ManualIntake();
    const b = batcher(sink);
    const first = b.submit([alert(1), alert(2)])!;
    const second = b.submit([alert(3)])!;
    await until(() => sink.writes.length === 1, 'one write');
    expect(sink.writes[0]!.alerts.map((a) => a.fingerprint)).toEqual([1, 2, 3].map((n) => alert(n).fingerprint));
    expect(b.pending).toBe(3);
    expect(await settled(first)).toBe('pending');
    sink.writes[0]!.resolve();
    await expect(first).resolves.toBeUndefined();
    await expect(second).resolves.toBeUndefined();
    expect(b.pending).toBe(0);
  });

  it('keeps one write in flight per shard; what arrives meanwhile goes in the next batch, in order', async () => {
    const sink = new ManualIntake();
    const b = batcher(sink);
    const first = b.submit([alert(1)])!;
    await until(() => sink.writes.length === 1, 'first write');
    const later = [b.submit([alert(2)])!, b.submit([alert(3, 'resolved')])!, b.submit([alert(4)])!];
    await new Promise((r) => setTimeout(r, 20));
    expect(sink.writes).toHaveLength(1); // nothing overtakes the write in flight
    sink.writes[0]!.resolve();
    await first;
    await until(() => sink.writes.length === 2, 'second write');
    expect(sink.writes[1]!.alerts.map((a) => `${a.fingerprint.slice(-1)}:${a.status}`)).toEqual([
      '2:firing',
      '3:resolved',
      '4:firing',
    ]);
    sink.writes[1]!.resolve();
    await Promise.all(later);
  });

  it('caps a batch at maxBatch alerts (whole requests), the rest follows in the next write', async () => {
    const sink = new ManualIntake();
    const b = batcher(sink, { maxBatch: 3 });
    const requests = [b.submit([alert(1), alert(2)])!, b.submit([alert(3), alert(4)])!, b.submit([alert(5)])!];
    await until(() => sink.writes.length === 1, 'first write');
    expect(sink.writes[0]!.alerts).toHaveLength(2);
    sink.writes[0]!.resolve();
    await until(() => sink.writes.length === 2, 'second write');
    expect(sink.writes[1]!.alerts).toHaveLength(3);
    sink.writes[1]!.resolve();
    await Promise.all(requests);
  });

  it('spreads alerts over shards by workflow id (the same alert always on the same shard) and writes shards in parallel', async () => {
    const sink = new ManualIntake();
    const b = batcher(sink, { shards: 4 });
    const alerts = Array.from({ length: 40 }, (_, i) => alert(i + 1));
    const done = b.submit(alerts)!;
    const shards = new Set(alerts.map((a) => intakeShardOf(alertWorkflowId(a), 4)));
    expect(shards.size).toBeGreaterThan(1);
    await until(() => sink.writes.length === shards.size, 'one write per shard');
    for (const w of sink.writes) for (const a of w.alerts) expect(intakeShardOf(alertWorkflowId(a), 4)).toBe(w.shard);
    expect(await settled(done)).toBe('pending');
    for (const w of sink.writes.slice(0, -1)) w.resolve();
    expect(await settled(done)).toBe('pending'); // answered only when every shard holding its alerts wrote
    sink.writes.at(-1)!.resolve();
    await done;
    expect(intakeShardOf(alertWorkflowId(alert(7)), 4)).toBe(intakeShardOf(alertWorkflowId(alert(7)), 4));
    expect(intakeWorkflowId('talon-remediation', 3)).toBe('talon-intake/talon-remediation/3');
  });

  it("keeps a payload with the sender's group key in one write, on the key's shard", async () => {
    const sink = new ManualIntake();
    const b = batcher(sink, { shards: 4 });
    const alerts = Array.from({ length: 40 }, (_, i) => alert(i + 1));
    const done = b.submit(alerts, '{}:{alertname="TalonPodCpuNearLimit"}')!;
    await until(() => sink.writes.length === 1, 'one write');
    await new Promise((r) => setTimeout(r, 10));
    expect(sink.writes).toHaveLength(1);
    expect(sink.writes[0]!.shard).toBe(intakeShardOf('{}:{alertname="TalonPodCpuNearLimit"}', 4));
    expect(sink.writes[0]!.alerts).toHaveLength(40);
    sink.writes[0]!.resolve();
    await done;
  });

  it('rejects every request of a failed write, frees its room and carries on with the next batch', async () => {
    const sink = new ManualIntake();
    const b = batcher(sink);
    const failed = b.submit([alert(1)])!;
    await until(() => sink.writes.length === 1, 'write');
    const next = b.submit([alert(2)])!;
    sink.writes[0]!.reject(new Error('14 UNAVAILABLE: connection refused'));
    await expect(failed).rejects.toThrow('UNAVAILABLE');
    await until(() => sink.writes.length === 2, 'next write');
    sink.writes[1]!.resolve();
    await expect(next).resolves.toBeUndefined();
    expect(b.pending).toBe(0);
  });

  it('gives a write a deadline and gives up on a sink that ignores it', async () => {
    const sink = new ManualIntake();
    const b = batcher(sink, { timeoutMs: 100 });
    const before = Date.now();
    const request = b.submit([alert(1)])!;
    await until(() => sink.writes.length === 1, 'write');
    expect(sink.writes[0]!.deadline.getTime()).toBeGreaterThanOrEqual(before + 100);
    expect(sink.writes[0]!.deadline.getTime()).toBeLessThanOrEqual(Date.now() + 100);
    await expect(request).rejects.toThrow('did not answer within 100 ms');
    expect(b.pending).toBe(0);
  });

  it('refuses a request beyond the pending bound (undefined), but admits an oversize one when idle', async () => {
    const sink = new ManualIntake();
    const b = batcher(sink, { maxPending: 3 });
    const big = b.submit([alert(1), alert(2), alert(3), alert(4), alert(5)]);
    expect(big).toBeDefined();
    expect(b.submit([alert(6)])).toBeUndefined();
    await until(() => sink.writes.length === 1, 'write');
    sink.writes[0]!.resolve();
    await big;
    expect(b.submit([alert(6)])).toBeDefined();
  });

  it('validates its options', () => {
    const sink = new ManualIntake();
    expect(() => batcher(sink, { shards: 0 })).toThrow('intake shards must be an integer in [1, 64], got 0');
    expect(() => batcher(sink, { maxBatch: 1.5 })).toThrow('intake batch size');
    expect(() => batcher(sink, { maxPending: 0 })).toThrow('intake pending bound');
  });

  it('remembers when it was last used', () => {
    const b = batcher(new ManualIntake());
    expect(b.usedWithin(60_000)).toBe(false);
    void b.submit([alert(1)]);
    expect(b.usedWithin(60_000)).toBe(true);
    expect(b.usedWithin(60_000, Date.now() + 120_000)).toBe(false);
  });
});

// --- routing in the webhook ---------------------------------------------------------------------------------

function rawAlert(n: number, status: 'firing' | 'resolved' = 'firing'): Record<string, unknown> {
  const a = alert(n, status);
  return {
    status,
    labels: { alertname: a.alertName, namespace: 'shop', pod: (a.target as { pod: string }).pod, container: 'app' },
    annotations: {},
    startsAt: a.startsAt,
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus/graph',
    fingerprint: a.fingerprint,
  };
}

/** Direct hand-offs stay pending until settled; resolved ones find no workflow unless told otherwise. */
class ManualDirect implements AlertSink {
  readonly pending: { alert: TalonAlert; settle(): void }[] = [];
  constructor() {
    sinks.push(this);
  }
  settleAll(): number {
    const fresh = this.pending.splice(0);
    for (const p of fresh) p.settle();
    return fresh.length;
  }
  remediate(a: TalonAlert): Promise<{ workflowId: string; action: string }> {
    return new Promise((resolve) =>
      this.pending.push({
        alert: a,
        settle: () =>
          resolve({
            workflowId: alertWorkflowId(a),
            action: a.status === 'resolved' ? 'no-workflow' : 'started-or-signalled',
          }),
      }),
    );
  }
}

function setup(mode: IntakeMode, limit = 1, maxPending = 1_000, stormWindowMs?: number, spillAt?: number) {
  const direct = new ManualDirect();
  const intake = new ManualIntake();
  const metrics = new TalonMetrics({ defaultMetrics: false });
  const app = createWebhookApp({
    sink: direct,
    metrics,
    auth: { bearerToken: TOKEN },
    ready: async () => true,
    settings: webhookSettings({
      maxInflightAlerts: limit,
      overloadRetryAfterSeconds: 3,
      intake: { mode, shards: 1, maxPending },
    }),
    intake: {
      sink: intake,
      ...(stormWindowMs !== undefined ? { stormWindowMs } : {}),
      ...(spillAt !== undefined ? { spillAt } : {}),
    },
  });
  const post = (alerts: Record<string, unknown>[]) =>
    inject(app, {
      method: 'POST',
      url: '/api/alerts',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      payload: JSON.stringify(alertmanagerBody(alerts)),
    });
  const handoffs = async (result: string): Promise<number> =>
    (await metrics.handoffs.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
  return { direct, intake, metrics, post, handoffs };
}

describe('webhook → intake routing', () => {
  it("spill: what the admission bound refuses goes to the intake and is answered 202 'queued' once written", async () => {
    const { direct, intake, post, handoffs, metrics } = setup('spill', 1);
    const first = post([rawAlert(1)]);
    await until(() => direct.pending.length === 1, 'direct hand-off');
    const spilled = post([rawAlert(2), rawAlert(3)]);
    await until(() => intake.writes.length === 1, 'intake write');
    expect(intake.writes[0]!.alerts.map((a) => a.fingerprint)).toEqual([alert(2).fingerprint, alert(3).fingerprint]);
    intake.writes[0]!.resolve();
    const res = await spilled;
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({
      accepted: [
        { workflowId: alertWorkflowId(alert(2)), action: 'queued' },
        { workflowId: alertWorkflowId(alert(3)), action: 'queued' },
      ],
      rejected: [],
    });
    direct.pending[0]!.settle();
    expect((await first).json().accepted[0].action).toBe('started-or-signalled');
    expect(await handoffs('queued')).toBe(2);
    expect(await handoffs('ok')).toBe(1);
    const batches = await metrics.intakeBatches.get();
    expect(batches.values.find((v) => v.metricName === 'talon_webhook_intake_batch_alerts_count')?.value).toBe(1);
  });

  it('spill: spills at the spill threshold, long before the admission bound; an idle webhook hands a large payload directly', async () => {
    const { direct, intake, post } = setup('spill', 64, 1_000, undefined, 2);
    const large = post([rawAlert(1), rawAlert(2), rawAlert(3)]);
    await until(() => direct.pending.length === 3, 'three direct hand-offs'); // nothing else in flight
    const next = post([rawAlert(4)]);
    await until(() => intake.writes.length === 1, 'intake write'); // 3 in flight + 1 > 2
    intake.writes[0]!.resolve();
    expect((await next).json().accepted[0].action).toBe('queued');
    while (direct.pending.length > 0) direct.pending.shift()!.settle();
    expect((await large).statusCode).toBe(202);
  });

  it('spill: a failed intake write is a 503 temporal_unavailable (the sender retries; nothing was acknowledged)', async () => {
    const { direct, intake, post } = setup('spill', 1);
    void post([rawAlert(1)]);
    await until(() => direct.pending.length === 1, 'direct hand-off');
    const spilled = post([rawAlert(2)]);
    await until(() => intake.writes.length === 1, 'intake write');
    intake.writes[0]!.reject(new Error('14 UNAVAILABLE'));
    const res = await spilled;
    expect(res.statusCode).toBe(503);
    expect(res.json().error).toBe('temporal_unavailable');
    expect(res.headers['retry-after']).toBe('5');
  });

  it('spill: beyond the intake bound too, 503 overloaded without a write', async () => {
    const { direct, intake, post } = setup('spill', 1, 2);
    void post([rawAlert(1)]);
    await until(() => direct.pending.length === 1, 'direct hand-off');
    void post([rawAlert(2), rawAlert(3)]);
    await until(() => intake.writes.length === 1, 'intake write');
    const shed = await post([rawAlert(4)]);
    expect(shed.statusCode).toBe(503);
    expect(shed.json().error).toBe('overloaded');
    expect(shed.headers['retry-after']).toBe('3');
    expect(intake.writes).toHaveLength(1);
  });

  it('always: every alert goes through the intake, none directly', async () => {
    const { direct, intake, post } = setup('always', 64);
    const res = post([rawAlert(1)]);
    await until(() => intake.writes.length === 1, 'intake write');
    intake.writes[0]!.resolve();
    expect((await res).json().accepted).toEqual([{ workflowId: alertWorkflowId(alert(1)), action: 'queued' }]);
    expect(direct.pending).toHaveLength(0);
  });

  it('off: the admission bound answers 503 overloaded as before', async () => {
    const { direct, intake, post } = setup('off', 1);
    void post([rawAlert(1)]);
    await until(() => direct.pending.length === 1, 'direct hand-off');
    const shed = await post([rawAlert(2)]);
    expect(shed.statusCode).toBe(503);
    expect(shed.json().error).toBe('overloaded');
    expect(intake.writes).toHaveLength(0);
  });

  it('during a storm (an alert spilled within the window) every alert goes to the intake, room or not', async () => {
    const { direct, intake, post } = setup('spill', 1);
    const holder = post([rawAlert(1)]);
    await until(() => direct.pending.length === 1, 'direct hand-off');
    const spilled = post([rawAlert(2)]);
    await until(() => intake.writes.length === 1, 'intake write');
    intake.writes[0]!.resolve();
    await spilled;
    direct.pending.shift()!.settle();
    await holder;
    // The slot is free again, but the storm window is open: this one is queued too, behind its predecessors.
    const next = post([rawAlert(3)]);
    await until(() => intake.writes.length === 2, 'second intake write');
    intake.writes[1]!.resolve();
    expect((await next).json().accepted).toEqual([{ workflowId: alertWorkflowId(alert(3)), action: 'queued' }]);
    expect(direct.pending).toHaveLength(0);
  });

  it('a resolve that finds no remediation follows its firing through the intake once the intake was used', async () => {
    // No storm window, so the resolve is tried directly first.
    const { direct, intake, post } = setup('spill', 1, 1_000, 0);
    // Before any spill: a stray resolve is just "no workflow".
    const early = post([rawAlert(9, 'resolved')]);
    await until(() => direct.pending.length === 1, 'direct resolve');
    direct.pending.shift()!.settle();
    expect((await early).json().accepted[0].action).toBe('no-workflow');
    expect(intake.writes).toHaveLength(0);

    // The firing spills into the intake while a direct hand-off holds the only slot...
    const holder = post([rawAlert(1)]);
    await until(() => direct.pending.length === 1, 'direct hand-off');
    const firing = post([rawAlert(2)]);
    await until(() => intake.writes.length === 1, 'intake write');
    intake.writes[0]!.resolve();
    await firing;
    direct.pending.shift()!.settle();
    await holder;
    // ...then its resolve arrives with room to spare, finds no workflow yet, and is queued behind it.
    const resolved = post([rawAlert(2, 'resolved')]);
    await until(() => direct.pending.length === 1, 'direct resolve');
    direct.pending.shift()!.settle();
    await until(() => intake.writes.length === 2, 'second intake write');
    expect(intake.writes[1]!.alerts.map((a) => `${a.fingerprint}:${a.status}`)).toEqual([
      `${alert(2).fingerprint}:resolved`,
    ]);
    intake.writes[1]!.resolve();
    expect((await resolved).json().accepted).toEqual([{ workflowId: alertWorkflowId(alert(2)), action: 'queued' }]);
  });
});
