/**
 * Verification by effect (activities/effects.ts) with a scripted metrics probe and pod: data offloading counts
 * only when the I/O fell enough, a refusal ends it at once, no baseline means no verdict but failure; network
 * QoS counts only when both rates are under their caps. Plus the pure pieces the actions build on: container
 * health and malfunction, the share of replicas an offload moves.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { verifyEffect, type EffectDeps, type EffectExpectation } from '../../activities/effects';
import { malfunctionOf } from '../../src/domain/workload-context';
import { mbitToBytes } from '../../src/domain/signals';
import { offloadName, replicasToMove } from '../../src/kube/actuator/offload-share';
import { containerHealth } from '../../src/kube/workload-context';
import type { PodRateProbe, RateSource } from '../../src/metrics/effects';

const T0 = 1_700_000_000;

/** A clock that the fake sleep advances, a pod whose annotations the test scripts, a probe answering by time. */
function harness(
  rate: (source: RateSource, at: number) => number | undefined,
  annotations: () => Record<string, string> = () => ({}),
) {
  let now = T0 * 1000;
  const calls: { source: RateSource; at: number; range: number }[] = [];
  const probe: PodRateProbe = {
    podRate: async (_t, source, at, range) => {
      calls.push({ source, at, range });
      return rate(source, at);
    },
  };
  const deps: EffectDeps = {
    clients: {
      core: {
        readNamespacedPod: async () => ({ metadata: { uid: 'u1', annotations: annotations() } }) as V1Pod,
      } as never,
    },
    probe,
    scrapeSeconds: 5,
    deadlineSeconds: 60,
    clock: () => now,
    sleep: async (ms) => {
      now += ms;
    },
  };
  return { deps, calls, now: () => now };
}

const ioDrop: EffectExpectation = {
  kind: 'io-drop',
  namespace: 'ns',
  pod: 'db',
  uid: 'u1',
  requestId: 'op-1',
  share: 0.4,
  requestedAt: T0,
  minDropFraction: 0.5,
};

describe('data offloading verified by effect', () => {
  it('succeeds once the I/O is at most baseline × (1 − share × fraction), measured after the request', async () => {
    // 100 before; the application halves it 20 s after the request.
    const h = harness((_s, at) => (at <= T0 ? 100 : at < T0 + 20 ? 100 : 50));
    const r = await verifyEffect(h.deps, ioDrop);
    expect(r.ok).toBe(true);
    expect(r.observed).toMatch(/^data offload op-1 took effect: disk I\/O 0\.00 MiB\/s → 0\.00 MiB\/s \(asked 40 %\)$/);
    expect(h.calls[0]).toMatchObject({ at: T0, range: 30, source: { signals: ['fs_read_bytes', 'fs_write_bytes'] } });
    // No reading before two scrapes after the request; every later range lies after it.
    expect(h.calls.slice(1).every((c) => c.at - c.range >= T0 - 1e-9 && c.range >= 11)).toBe(true);
  });

  it('fails at the deadline when the I/O did not drop enough, saying what it saw', async () => {
    const h = harness(
      () => 100,
      () => ({ 'talon.io/data-offload-ack': 'op-1', 'talon.io/data-offload-state': 'done' }),
    );
    const r = await verifyEffect(h.deps, { ...ioDrop, deadlineSeconds: 30 });
    expect(r.ok).toBe(false);
    expect(r.observed).toMatch(
      /^no effect within 30 s: disk I\/O .* before, .* now \(want ≤ .*\), application says done$/,
    );
  });

  it('a refusal of this request ends it at once; a refusal of another request does not', async () => {
    const refused = harness(
      () => 100,
      () => ({
        'talon.io/data-offload-ack': 'op-1',
        'talon.io/data-offload-state': 'refused',
        'talon.io/data-offload-message': 'read-only replica',
      }),
    );
    expect(await verifyEffect(refused.deps, ioDrop)).toEqual({
      ok: false,
      observed: 'the application refused the data offload op-1: read-only replica',
    });
    expect(refused.now()).toBe(T0 * 1000);
    const other = harness(
      (_s, at) => (at <= T0 ? 100 : 10),
      () => ({ 'talon.io/data-offload-ack': 'op-0', 'talon.io/data-offload-state': 'refused' }),
    );
    expect((await verifyEffect(other.deps, ioDrop)).ok).toBe(true);
  });

  it('no I/O before the request cannot be judged: it fails rather than passing', async () => {
    const h = harness(() => undefined);
    expect(await verifyEffect(h.deps, ioDrop)).toMatchObject({
      ok: false,
      observed: expect.stringContaining('cannot be judged'),
    });
  });

  it('reads the counter the workload named instead of disk I/O', async () => {
    const h = harness((s, at) => ('metric' in s ? (at <= T0 ? 10 : 2) : undefined));
    expect((await verifyEffect(h.deps, { ...ioDrop, metric: 'app_rows_written_total' })).ok).toBe(true);
    expect(h.calls[0]!.source).toEqual({ metric: 'app_rows_written_total' });
  });
});

describe('network QoS verified by effect', () => {
  const cap: EffectExpectation = {
    kind: 'rate-cap',
    namespace: 'ns',
    pod: 'gw',
    uid: 'u1',
    ingressMbps: 100,
    egressMbps: 50,
    appliedAt: T0,
  };
  const rates = (rx: number, tx: number) => (s: RateSource) =>
    'signals' in s && s.signals[0] === 'network_receive_bytes' ? mbitToBytes(rx) : mbitToBytes(tx);

  it('succeeds when both directions are under their caps (5 % tolerance)', async () => {
    expect(await verifyEffect(harness(rates(104, 40)).deps, cap)).toMatchObject({
      ok: true,
      observed: 'rates under the caps: in 104.0 Mbit/s (cap 100), out 40.0 Mbit/s (cap 50)',
    });
  });

  it('fails when one direction stays above its cap, or when there are no network series at all', async () => {
    const over = await verifyEffect(harness(rates(90, 80)).deps, { ...cap, deadlineSeconds: 20 });
    expect(over).toEqual({
      ok: false,
      observed: 'no effect within 20 s: in 90.0 Mbit/s (cap 100), out 80.0 Mbit/s (cap 50)',
    });
    const none = await verifyEffect(harness(() => undefined).deps, cap);
    expect(none).toMatchObject({ ok: false, observed: expect.stringContaining('no network series') });
  });
});

describe('network QoS: the neighbours on the same link', () => {
  const cap: EffectExpectation = {
    kind: 'rate-cap',
    namespace: 'ns',
    pod: 'gw',
    uid: 'u1',
    ingressMbps: 100,
    egressMbps: 50,
    appliedAt: T0,
  };
  /** The capped pod on node n1 with two running neighbours (and one that is not running); drops scripted. */
  function onNode(drops: (pod: string, at: number) => number | undefined) {
    let now = T0 * 1000;
    const listed: string[] = [];
    const probe: PodRateProbe = {
      podRate: async (t, source, at) => {
        if ('signals' in source && source.signals[0] === 'network_receive_drops') return drops(t.pod, at);
        return 'signals' in source && source.signals[0] === 'network_receive_bytes' ? mbitToBytes(80) : mbitToBytes(40);
      },
    };
    const pod = (name: string, uid: string, phase = 'Running') =>
      ({ metadata: { namespace: 'ns', name, uid }, spec: { nodeName: 'n1' }, status: { phase } }) as V1Pod;
    const deps: EffectDeps = {
      clients: {
        core: {
          readNamespacedPod: async () => pod('gw', 'u1'),
          listPodForAllNamespaces: async ({ fieldSelector }: { fieldSelector: string }) => {
            listed.push(fieldSelector);
            return { items: [pod('gw', 'u1'), pod('api', 'u2'), pod('cache', 'u3'), pod('done', 'u4', 'Succeeded')] };
          },
        } as never,
      },
      probe,
      scrapeSeconds: 5,
      deadlineSeconds: 60,
      clock: () => now,
      sleep: async (ms) => {
        now += ms;
      },
    };
    return { deps, listed };
  }

  it('succeeds once the pods sharing its node drop at least a quarter fewer packets than before the caps', async () => {
    // 20 packets/s among the neighbours before; 30 s after the caps they drop 6.
    const h = onNode((pod, at) => (pod === 'done' ? 1000 : at <= T0 ? 10 : at < T0 + 30 ? 9 : 3));
    const r = await verifyEffect(h.deps, cap);
    expect(h.listed).toEqual(['spec.nodeName=n1']);
    expect(r).toMatchObject({ ok: true, observed: expect.stringContaining('neighbours relieved') });
    expect(r.observed).toContain('neighbours on n1 drop 6.0 packets/s (20.0 before the caps, want ≤ 15.0)');
  });

  it('fails when the neighbours keep dropping as much as before, though the pod keeps to its caps', async () => {
    const h = onNode(() => 10);
    const r = await verifyEffect(h.deps, { ...cap, deadlineSeconds: 30 });
    expect(r.ok).toBe(false);
    expect(r.observed).toMatch(/^no effect within 30 s: in 80\.0 Mbit\/s .*neighbours on n1 drop 20\.0 packets\/s/);
  });

  it('succeeds on the caps alone when the neighbours dropped nothing (or have no series) before them, and says so', async () => {
    for (const drops of [() => 0, () => undefined]) {
      const r = await verifyEffect(onNode(drops).deps, cap);
      expect(r).toMatchObject({
        ok: true,
        observed: expect.stringContaining('its 2 neighbour(s) on n1 dropped no packets before the caps'),
      });
    }
  });
});

describe('the pieces the actions build on', () => {
  it('container health from the statuses: restarts, waiting reason, how long a running container has not been ready', () => {
    const now = Date.parse('2026-01-01T00:10:00Z');
    const pod = {
      status: {
        conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: new Date('2026-01-01T00:02:00Z') }],
        containerStatuses: [
          { name: 'a', ready: false, restartCount: 7, state: { waiting: { reason: 'CrashLoopBackOff' } } },
          {
            name: 'b',
            ready: false,
            restartCount: 0,
            state: { running: { startedAt: new Date('2026-01-01T00:00:00Z') } },
          },
        ],
      },
    } as unknown as V1Pod;
    const health = containerHealth(pod, now);
    expect(health).toEqual([
      { name: 'a', restarts: 7, ready: false, waitingReason: 'CrashLoopBackOff' },
      { name: 'b', restarts: 0, ready: false, notReadySeconds: 480 },
    ]);
    expect(malfunctionOf(health)).toMatchObject({ container: 'a', kind: 'crash-looping' });
    expect(malfunctionOf(health.slice(1))).toMatchObject({ container: 'b', kind: 'stuck' });
    expect(malfunctionOf(health.slice(1), { restartsAtLeast: 3, stuckAfterSeconds: 600 })).toBeUndefined();
  });

  it('an offload moves round(share × replicas), at least one, at most all; its ReplicaSet name fits a label', () => {
    expect([0.1, 0.3, 0.5, 0.9].map((s) => replicasToMove(s, 4))).toEqual([1, 1, 2, 4]);
    expect(replicasToMove(0.5, 1)).toBe(1);
    expect(replicasToMove(undefined, 3)).toBe(3);
    const name = offloadName('a'.repeat(80), 'remediate/x/1');
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(/-offload-[0-9a-f]{8}$/);
    expect(offloadName('web', 'op')).toBe(offloadName('web', 'op'));
  });
});
