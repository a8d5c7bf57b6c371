/**
 * Load shedding in the webhook: with the bound at K and K hand-offs pending, the next request is refused at
 * once (503 overloaded, Retry-After) without reaching Temporal, and slots come back only when a hand-off
 * settles. The sink's promises are settled by hand, so "in flight" is exact rather than a race.
 */
import inject from 'light-my-request';
import type { SubmitTaskRequest, TaskStatus } from '../../src/client/talon-client';
import type { TalonAlert } from '../../src/domain/alert';
import { TalonMetrics } from '../../src/observability/metrics';
import { loadTaxonomy } from '../../src/tasks/taxonomy-store';
import { Admission } from '../../src/webhook/admission';
import { webhookSettings } from '../../src/config/defaults';
import { createWebhookApp, type AlertSink } from '../../src/webhook/app';
import type { TaskService } from '../../src/webhook/tasks';

import { alertmanagerBody } from '../support/alertmanager';

const TOKEN = 'test-token-0123456789';

let nextFingerprint = 1;
function podAlert(): Record<string, unknown> {
  const fingerprint = (nextFingerprint++).toString(16).padStart(16, '0');
  return {
    status: 'firing',
    labels: { alertname: 'TalonPodCpuNearLimit', namespace: 'shop', pod: `web-${fingerprint}`, container: 'app' },
    annotations: {},
    startsAt: '2026-11-25T10:00:00Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus/graph',
    fingerprint,
  };
}

function payload(alerts: number): Record<string, unknown> {
  return alertmanagerBody(Array.from({ length: alerts }, podAlert));
}

interface PendingHandOff {
  readonly alert: TalonAlert;
  resolve(): void;
  reject(err: Error): void;
}

/** A sink whose hand-offs stay pending until the test settles them; it ignores its deadline. */
class ManualSink implements AlertSink {
  readonly pending: PendingHandOff[] = [];
  calls = 0;
  remediate(alert: TalonAlert): Promise<{ workflowId: string; action: string }> {
    this.calls += 1;
    return new Promise((resolve, reject) => {
      this.pending.push({
        alert,
        resolve: () => resolve({ workflowId: `wf-${alert.fingerprint}`, action: 'started-or-signalled' }),
        reject,
      });
    });
  }
  /** Settles the oldest pending hand-off. */
  resolveNext(): void {
    this.pending.shift()!.resolve();
  }
  rejectNext(err = new Error('14 UNAVAILABLE: connection refused')): void {
    this.pending.shift()!.reject(err);
  }
  resolveAll(): void {
    while (this.pending.length > 0) this.resolveNext();
  }
}

class FakeTasks implements TaskService {
  readonly submitted: SubmitTaskRequest[] = [];
  readonly deadlines: (Date | undefined)[] = [];
  async submitTask(request: SubmitTaskRequest, deadline?: Date) {
    this.submitted.push(request);
    this.deadlines.push(deadline);
    return { id: 'task-1' };
  }
  async taskStatus(): Promise<TaskStatus> {
    throw Object.assign(new Error('unknown'), { name: 'TaskNotFoundError' });
  }
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1_000; i++) {
    if (condition()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function setup(options: { limit: number; handoffTimeoutMs?: number; retryAfter?: number }) {
  const sink = new ManualSink();
  const tasks = new FakeTasks();
  const metrics = new TalonMetrics({ defaultMetrics: false });
  const app = createWebhookApp({
    sink,
    metrics,
    auth: { bearerToken: TOKEN },
    ready: async () => true,
    settings: webhookSettings({
      maxInflightAlerts: options.limit,
      handoffTimeoutMs: options.handoffTimeoutMs,
      overloadRetryAfterSeconds: options.retryAfter,
    }),
    tasks: { service: tasks, taxonomy: loadTaxonomy },
  });
  const send = async (url: string, body: unknown) =>
    inject(app, {
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      payload: JSON.stringify(body),
    });
  const post = (alerts: number) => send('/api/alerts', payload(alerts));
  const gauge = async (): Promise<number> => (await metrics.inflightAlerts.get()).values[0]?.value ?? NaN;
  const rejected = async (reason: string): Promise<number> =>
    (await metrics.alertsRejected.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
  return { sink, tasks, metrics, app, send, post, gauge, rejected };
}

describe('webhook admission control', () => {
  it('refuses the request after K pending hand-offs at once with 503 overloaded, without calling Temporal', async () => {
    const { sink, post, gauge } = setup({ limit: 3, retryAfter: 7 });
    const held = [post(1), post(2)];
    await until(() => sink.calls === 3, 'three pending hand-offs');
    expect(await gauge()).toBe(3);

    // Answered while all three are still pending: nothing waited for a slot.
    const shed = await post(1);
    expect(shed.statusCode).toBe(503);
    expect(shed.headers['retry-after']).toBe('7');
    expect(shed.json()).toEqual({
      error: 'overloaded',
      message: 'too many alerts are being handed to Temporal right now; retry in 7 s',
    });
    expect(sink.calls).toBe(3);
    expect(sink.pending).toHaveLength(3);

    sink.resolveNext();
    expect((await held[0]!).statusCode).toBe(202);
    expect(await gauge()).toBe(2);

    const admitted = post(1);
    await until(() => sink.calls === 4, 'the next request to be admitted');
    sink.resolveAll();
    expect((await admitted).statusCode).toBe(202);
    expect((await held[1]!).statusCode).toBe(202);
    expect(await gauge()).toBe(0);
  });

  it('refuses a payload that would cross the bound even when some slots are free', async () => {
    const { sink, post } = setup({ limit: 3 });
    const held = post(2);
    await until(() => sink.calls === 2, 'two pending hand-offs');
    const shed = await post(2);
    expect(shed.statusCode).toBe(503);
    expect(shed.json()).toMatchObject({ error: 'overloaded' });
    const fits = post(1);
    await until(() => sink.calls === 3, 'the one-alert payload to be admitted');
    sink.resolveAll();
    expect((await held).statusCode).toBe(202);
    expect((await fits).statusCode).toBe(202);
  });

  it('gives the slot back when a hand-off fails', async () => {
    const { sink, post, gauge } = setup({ limit: 1 });
    const failing = post(1);
    await until(() => sink.calls === 1, 'a pending hand-off');
    expect((await post(1)).statusCode).toBe(503);
    sink.rejectNext();
    const res = await failing;
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: 'temporal_unavailable' });
    expect(res.headers['retry-after']).toBe('5');
    expect(await gauge()).toBe(0);

    const next = post(1);
    await until(() => sink.calls === 2, 'the next request to be admitted');
    sink.resolveNext();
    expect((await next).statusCode).toBe(202);
  });

  it('keeps the slot of a timed-out hand-off until its promise settles, then gives it back', async () => {
    const { sink, post, gauge } = setup({ limit: 1, handoffTimeoutMs: 20 });
    const slow = await post(1); // the sink ignores its deadline; the backstop timer answers
    expect(slow.statusCode).toBe(503);
    expect(slow.json()).toMatchObject({ error: 'temporal_unavailable' });
    // The call may still land in Temporal, so it still counts against the bound.
    expect(await gauge()).toBe(1);
    const shed = await post(1);
    expect(shed.json()).toMatchObject({ error: 'overloaded' });
    expect(sink.calls).toBe(1);

    sink.resolveNext();
    await until(() => sink.pending.length === 0, 'the late hand-off to settle');
    await new Promise((r) => setImmediate(r));
    expect(await gauge()).toBe(0);
    const next = post(1);
    await until(() => sink.calls === 2, 'the next request to be admitted');
    sink.resolveNext();
    expect((await next).statusCode).toBe(202);
  }, 10_000);

  it('admits a payload larger than the whole bound when nothing else is in flight', async () => {
    const { sink, post, gauge } = setup({ limit: 2 });
    const big = post(5);
    await until(() => sink.calls === 5, 'all five alerts handed off');
    expect(await gauge()).toBe(5);
    // While it runs nothing else gets in, so the overshoot is bounded by the largest payload.
    expect((await post(1)).statusCode).toBe(503);
    sink.resolveAll();
    const res = await big;
    expect(res.statusCode).toBe(202);
    expect(res.json<{ accepted: unknown[] }>().accepted).toHaveLength(5);
    expect(await gauge()).toBe(0);
  });

  it('refuses an oversize payload while anything else is in flight', async () => {
    const { sink, post } = setup({ limit: 2 });
    const small = post(1);
    await until(() => sink.calls === 1, 'a pending hand-off');
    expect((await post(5)).statusCode).toBe(503);
    expect(sink.calls).toBe(1);
    sink.resolveAll();
    expect((await small).statusCode).toBe(202);
  });

  it('counts shed alerts as rejected overloaded and exposes the gauge and the bound', async () => {
    const { sink, post, app, rejected } = setup({ limit: 1 });
    const held = post(1);
    await until(() => sink.calls === 1, 'a pending hand-off');
    await post(3);
    await post(1);
    expect(await rejected('overloaded')).toBe(4);
    const text = (await inject(app, { method: 'GET', url: '/metrics' })).body;
    expect(text).toContain('talon_webhook_inflight_alerts 1');
    expect(text).toContain('talon_webhook_max_inflight_alerts 1');
    expect(text).toContain('talon_alerts_received_total{source="alertmanager",status="firing"} 5');
    // Shed alerts never reached Temporal, so they are not hand-off failures.
    expect(text).not.toContain('talon_handoffs_total{result="unavailable"}');
    sink.resolveAll();
    await held;
    expect((await inject(app, { method: 'GET', url: '/metrics' })).body).toContain('talon_webhook_inflight_alerts 0');
  });

  it('does not take slots for a payload refused as invalid', async () => {
    const { sink, send, post, gauge } = setup({ limit: 1 });
    expect((await send('/api/alerts', { version: '3' })).statusCode).toBe(400);
    expect(await gauge()).toBe(0);
    const ok = post(1);
    await until(() => sink.calls === 1, 'a pending hand-off');
    sink.resolveAll();
    expect((await ok).statusCode).toBe(202);
  });

  it('applies the same bound to task submissions, one slot each', async () => {
    const { sink, tasks, send, post, rejected } = setup({ limit: 1 });
    const submission = { task: 'interpolation', priorities: { quality: 70, energy: 30 } };
    const held = post(1);
    await until(() => sink.calls === 1, 'a pending hand-off');
    const shed = await send('/api/tasks', submission);
    expect(shed.statusCode).toBe(503);
    expect(shed.headers['retry-after']).toBe('2');
    expect(shed.json()).toEqual({
      error: 'overloaded',
      message: 'too many alerts and tasks are being handed to Temporal right now; retry in 2 s',
    });
    expect(tasks.submitted).toHaveLength(0);
    expect(await rejected('overloaded')).toBe(1);

    sink.resolveAll();
    await held;
    const before = Date.now();
    expect((await send('/api/tasks', submission)).statusCode).toBe(202);
    expect(tasks.submitted).toHaveLength(1);
    // Like alerts, a submission is told when to give up, so its slot is not held much past the hand-off timeout.
    expect(tasks.deadlines[0]!.getTime() - before).toBeGreaterThanOrEqual(4_900);
    expect(tasks.deadlines[0]!.getTime() - before).toBeLessThan(6_000);
  });
});

describe('Admission', () => {
  it('gives slots back at most once, in parts or all at once', () => {
    const seen: number[] = [];
    const admission = new Admission({ limit: 4, onChange: (n) => seen.push(n) });
    const a = admission.tryAcquire(3)!;
    expect(admission.tryAcquire(2)).toBeUndefined();
    a.release(1);
    a.release();
    a.release();
    a.release(5);
    expect(admission.inFlight).toBe(0);
    expect(seen).toEqual([3, 2, 0]);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses a limit of %p', (limit) => {
    expect(() => new Admission({ limit })).toThrow(/integer ≥ 1/);
  });
});
