/**
 * The decision log against the local stack's InfluxDB: decisions, applies and outcomes written as the worker
 * writes them are read back with Flux, joined by workflow id / run / attempt and priced; a re-executed decision
 * counts once; energy after a decision comes from the pod's stored steps; a damaged record is skipped and
 * counted, not guessed at.
 */
import { Point } from '@influxdata/influxdb-client';
import type { DecisionRecord } from '../../src/domain/decision-log';
import { ALL_CONTAINERS, InfluxStore, MEASUREMENTS, outcomePoint } from '../../src/metrics/influx';
import { DECISION_MEASUREMENTS, influxDecisionLog, readDecisionLog } from '../../src/metrics/decision-log';
import { uniqueName } from '../support/metrics-pods';
import { localStack } from '../support/stack';
import { syntheticLog } from '../support/decision-logs';

jest.setTimeout(60_000);

const stack = localStack();

describe('decision log in InfluxDB', () => {
  const store = new InfluxStore({ ...stack.influx, flushIntervalMs: 100 });
  const namespace = uniqueName('it-dlog');
  afterAll(async () => {
    await store.close();
  });

  it('reads back what the worker writes, joined and priced, with energy after each decision', async () => {
    const now = Math.floor(Date.now() / 1000) - 3600;
    const synthetic = await syntheticLog({
      decisions: 3,
      epsilon: 0.5,
      seed: 3,
      champion: ['cpu_scale_up', 'memory_scale_up', 'data_offloading'],
      cost: { cpu_scale_up: 20, memory_scale_up: 600 },
    });
    // Same shapes, moved into this test's namespace and time.
    const decisions: DecisionRecord[] = synthetic.map((j, i) => ({
      ...j.decision,
      namespace,
      at: (now + i * 120) * 1000,
      window: { ...j.decision.window, end: now + i * 120 },
    }));
    const writer = influxDecisionLog(store);
    decisions.forEach((d) => writer.recordDecision(d));
    // The first decision was re-executed (same run and activity id) a second later: it must count once.
    writer.recordDecision({ ...decisions[0]!, at: decisions[0]!.at + 1000 });
    decisions.forEach((d, i) =>
      writer.recordAction({
        workflowId: d.workflowId,
        runId: d.runId,
        attempt: 1,
        at: d.at + 2000,
        namespace,
        pod: d.pod,
        policy: d.choice!.policy,
        magnitude: d.choice!.magnitude,
        applied: i !== 2,
        dryRun: false,
        noop: false,
        ...(i === 2 ? { error: 'GuardRefused: write budget exhausted' } : {}),
      }),
    );
    for (const [i, d] of decisions.entries()) {
      if (i === 2) continue;
      store.writePoints([
        outcomePoint({
          workflowId: d.workflowId,
          namespace,
          workload: d.workload,
          pod: d.pod,
          policy: d.choice!.policy,
          magnitude: d.choice!.magnitude,
          outcome: 'resolved',
          decisionSource: 'model',
          attempt: 1,
          at: d.at / 1000 + 30 + i,
          durationSeconds: 31,
        }),
      ]);
      // The pod's energy after the decision: 10 % more joules per step than its window's mean.
      const before = d.window.values.reduce((s, r) => s + r[7]!, 0) / d.window.values.length;
      for (let k = 1; k <= 5; k++) {
        store.writePoints([
          new Point(MEASUREMENTS.features)
            .tag('namespace', namespace)
            .tag('pod', d.pod)
            .tag('workload', d.workload)
            .tag('container', ALL_CONTAINERS)
            .floatField('total_joules', before * 1.1)
            .timestamp(new Date(d.at + k * 30_000)),
        ]);
      }
    }
    // A record whose JSON is damaged: skipped and counted.
    store.writePoints([
      new Point(DECISION_MEASUREMENTS.decisions)
        .tag('namespace', namespace)
        .tag('workload', 'broken')
        .tag('workflow_id', 'broken')
        .stringField('record', '{"workflowId": 3}')
        .timestamp(new Date((now + 500) * 1000)),
    ]);
    expect(await store.flush()).toBe(true);

    const read = await readDecisionLog(store, stack.influx.bucket, { start: now - 60, stop: now + 600, namespace });
    expect(read.skipped).toBe(1);
    expect(read.firstProblem).toMatch(/workflowId/);
    expect(read.decisions).toHaveLength(3);
    const [a, b, c] = read.decisions;
    expect(a!.decision).toEqual({ ...decisions[0]!, at: decisions[0]!.at + 1000 });
    expect(a).toMatchObject({ resolved: true, escalated: false, action: { applied: true, attempt: 1 } });
    expect(a!.secondsOutOfSlo).toBeCloseTo(29, 5);
    expect(a!.energy!.afterJoulesPerStep / a!.energy!.beforeJoulesPerStep).toBeCloseTo(1.1, 5);
    // 29 s out of SLO + 300 s per +100 % energy × 10 %.
    expect(a!.cost).toBeCloseTo(29 + 30, 3);
    expect(b!.secondsOutOfSlo).toBeCloseTo(31, 5);
    expect(c!.unusable).toBe('not applied: GuardRefused: write budget exhausted');
    expect(c!.cost).toBeUndefined();
  });
});
