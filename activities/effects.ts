/**
 * Verification by effect for the actions whose result is not in the apiserver: data offloading (the pod's
 * disk I/O, or the counter its owner named, fell after the request) and network QoS (the pod's received and
 * sent rates are under the caps, and the pods sharing its node, and so its link, drop fewer packets than before
 * when they dropped any). Both poll until the effect is there or the deadline passes; an application that refuses a data offload (its ack annotation says so) fails at once. Used by
 * verifyPolicy (activities/remediation.ts); the contract the application honours is in docs/ACTUATOR.md.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { bytesToMbit } from '../src/domain/signals';
import type { KubeClients } from '../src/kube/client';
import { isNotFound, kubeCall } from '../src/kube/errors';
import { ANNOTATIONS, type Expectation } from '../src/kube/types';
import type { PodRateProbe, RateSource } from '../src/metrics/effects';

export type EffectExpectation = Extract<Expectation, { kind: 'io-drop' | 'rate-cap' }>;

export function isEffectExpectation(e: Expectation): e is EffectExpectation {
  return e.kind === 'io-drop' || e.kind === 'rate-cap';
}

export interface EffectDeps {
  readonly clients: Pick<KubeClients, 'core'>;
  readonly probe: PodRateProbe;
  /** Prometheus' scrape interval: a rate needs at least two samples, so ranges span two intervals or more. */
  readonly scrapeSeconds: number;
  /** Used when the expectation names no deadline. */
  readonly deadlineSeconds: number;
  readonly clock?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly heartbeat?: (observed: Record<string, unknown>) => void;
}

export interface EffectResult {
  readonly ok: boolean;
  readonly observed: string;
}

/** Rates within this factor of a cap count as under it (counters are sampled; a cap is enforced in bursts). */
const CAP_TOLERANCE = 1.05;

const IO: RateSource = { signals: ['fs_read_bytes', 'fs_write_bytes'] };
const RX: RateSource = { signals: ['network_receive_bytes'] };
const TX: RateSource = { signals: ['network_transmit_bytes'] };
const DROPS: RateSource = { signals: ['network_receive_drops', 'network_transmit_drops'] };

/**
 * A cap relieves the pod's neighbours when their dropped packets fall by at least this share of what they dropped
 * before it; below {@link NEIGHBOUR_DROPS_MIN} packets/s there was no congestion among them to relieve.
 */
const NEIGHBOUR_RELIEF_FRACTION = 0.25;
const NEIGHBOUR_DROPS_MIN = 0.5;
/** Pods of one node read per look (two instant queries each): a bound on Prometheus load, not a sample. */
const MAX_NEIGHBOURS = 30;

type PodRef = { readonly namespace: string; readonly pod: string };

const fmtRate = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(2)} MiB/s`;

async function readPod(deps: EffectDeps, namespace: string, name: string): Promise<V1Pod | undefined> {
  try {
    return await kubeCall(`read Pod ${namespace}/${name}`, () =>
      deps.clients.core.readNamespacedPod({ name, namespace }),
    );
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** One look: a verdict, or undefined to look again. */
type Look = (now: number) => Promise<EffectResult | undefined>;

async function poll(deps: EffectDeps, deadlineSeconds: number, look: Look, last: () => string): Promise<EffectResult> {
  const clock = deps.clock ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const started = clock();
  const deadline = started + deadlineSeconds * 1000;
  const interval = Math.max(1_000, Math.min(5_000, (deps.scrapeSeconds * 1000) / 2));
  for (;;) {
    const verdict = await look(clock() / 1000);
    if (verdict) return verdict;
    if (clock() >= deadline) {
      return { ok: false, observed: `no effect within ${deadlineSeconds} s: ${last()}` };
    }
    deps.heartbeat?.({ waitingFor: last() });
    await sleep(Math.min(interval, Math.max(0, deadline - clock())));
  }
}

/** The range a post-change rate is read over: after the change only, at least two scrapes, at most four. */
function rangeAfter(since: number, now: number, scrapeSeconds: number): number | undefined {
  const elapsed = now - since;
  const min = 2 * scrapeSeconds + 1;
  if (elapsed < min) return undefined;
  return Math.min(elapsed, 4 * scrapeSeconds + 1);
}

async function verifyIoDrop(
  deps: EffectDeps,
  e: Extract<EffectExpectation, { kind: 'io-drop' }>,
): Promise<EffectResult> {
  const source: RateSource = e.metric ? { metric: e.metric } : IO;
  const what = e.metric ? `rate of ${e.metric}` : 'disk I/O';
  const baselineRange = Math.max(4 * deps.scrapeSeconds + 1, 30);
  const baseline = await deps.probe.podRate(e, source, e.requestedAt, baselineRange);
  if (baseline === undefined || baseline <= 0) {
    return {
      ok: false,
      observed: `no ${what} of pod ${e.namespace}/${e.pod} before the request: the offload cannot be judged by its effect`,
    };
  }
  const wanted = baseline * (1 - e.share * e.minDropFraction);
  let seen = `${what} ${fmtRate(baseline)} before the request, waiting for ≤ ${fmtRate(wanted)}`;
  return poll(
    deps,
    e.deadlineSeconds ?? deps.deadlineSeconds,
    async (now) => {
      const pod = await readPod(deps, e.namespace, e.pod);
      if (!pod || pod.metadata?.uid !== e.uid) {
        return { ok: false, observed: `pod ${e.namespace}/${e.pod} was replaced before its offload could be observed` };
      }
      const a = pod.metadata?.annotations ?? {};
      const answered = a[ANNOTATIONS.dataOffloadAck] === e.requestId;
      const state = answered ? a[ANNOTATIONS.dataOffloadState] : undefined;
      if (state === 'refused') {
        return {
          ok: false,
          observed: `the application refused the data offload ${e.requestId}: ${a[ANNOTATIONS.dataOffloadMessage] ?? 'no reason given'}`,
        };
      }
      const range = rangeAfter(e.requestedAt, now, deps.scrapeSeconds);
      if (range === undefined) return undefined;
      const current = await deps.probe.podRate(e, source, now, range);
      seen =
        `${what} ${fmtRate(baseline)} before, ${current === undefined ? 'no data' : fmtRate(current)} now ` +
        `(want ≤ ${fmtRate(wanted)})${state ? `, application says ${state}` : ', no acknowledgement'}`;
      if (current !== undefined && current <= wanted) {
        return {
          ok: true,
          observed: `data offload ${e.requestId} took effect: ${what} ${fmtRate(baseline)} → ${fmtRate(current)} (asked ${Math.round(e.share * 100)} %)${state ? `, application says ${state}` : ''}`,
        };
      }
      return undefined;
    },
    () => seen,
  );
}

/** The running pods that share the pod's node, and so its link (at most {@link MAX_NEIGHBOURS}). */
async function neighboursOf(deps: EffectDeps, pod: V1Pod): Promise<{ node?: string; pods: PodRef[] }> {
  const node = pod.spec?.nodeName;
  if (!node) return { pods: [] };
  const list = await kubeCall(`list the Pods on Node ${node}`, () =>
    deps.clients.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` }),
  );
  const pods = list.items
    .filter((p) => p.metadata?.uid !== pod.metadata?.uid && p.status?.phase === 'Running')
    .flatMap((p) =>
      p.metadata?.namespace && p.metadata.name ? [{ namespace: p.metadata.namespace, pod: p.metadata.name }] : [],
    )
    .slice(0, MAX_NEIGHBOURS);
  return { node, pods };
}

/** The neighbours' dropped packets per second summed over `[at − range, at]`; undefined without any series. */
async function neighbourDrops(deps: EffectDeps, pods: readonly PodRef[], at: number, range: number) {
  const rates = await Promise.all(pods.map((p) => deps.probe.podRate(p, DROPS, at, range)));
  const known = rates.filter((r): r is number => r !== undefined && Number.isFinite(r));
  return known.length === 0 ? undefined : known.reduce((a, b) => a + b, 0);
}

/** The neighbours' side of a cap: what they dropped before it, judged again after it. */
interface NeighbourCheck {
  readonly node: string;
  readonly pods: readonly PodRef[];
  /** Packets/s the neighbours dropped before the caps; undefined or small: nothing to relieve. */
  readonly before: number | undefined;
}

function nothingToRelieve(check: NeighbourCheck): boolean {
  return check.pods.length === 0 || check.before === undefined || check.before < NEIGHBOUR_DROPS_MIN;
}

async function verifyRateCap(
  deps: EffectDeps,
  e: Extract<EffectExpectation, { kind: 'rate-cap' }>,
): Promise<EffectResult> {
  let seen = `waiting for rates after the caps (in ≤ ${e.ingressMbps} Mbit/s, out ≤ ${e.egressMbps} Mbit/s)`;
  let neighbours: NeighbourCheck | undefined;
  const baselineRange = Math.max(4 * deps.scrapeSeconds + 1, 30);
  return poll(
    deps,
    e.deadlineSeconds ?? deps.deadlineSeconds,
    async (now) => {
      const pod = await readPod(deps, e.namespace, e.pod);
      if (!pod || pod.metadata?.uid !== e.uid) {
        return { ok: false, observed: `pod ${e.namespace}/${e.pod} was replaced before its caps could be observed` };
      }
      const range = rangeAfter(e.appliedAt, now, deps.scrapeSeconds);
      if (range === undefined) return undefined;
      const [rx, tx] = await Promise.all([
        deps.probe.podRate(e, RX, now, range),
        deps.probe.podRate(e, TX, now, range),
      ]);
      if (rx === undefined && tx === undefined) {
        return {
          ok: false,
          observed: `no network series for pod ${e.namespace}/${e.pod}: the caps cannot be judged by their effect`,
        };
      }
      const inMbps = bytesToMbit(rx ?? 0);
      const outMbps = bytesToMbit(tx ?? 0);
      seen = `in ${inMbps.toFixed(1)} Mbit/s (cap ${e.ingressMbps}), out ${outMbps.toFixed(1)} Mbit/s (cap ${e.egressMbps})`;
      if (inMbps > e.ingressMbps * CAP_TOLERANCE || outMbps > e.egressMbps * CAP_TOLERANCE) return undefined;
      // The pod keeps to its caps; the point of them is its neighbours on the same link.
      if (!neighbours) {
        const found = await neighboursOf(deps, pod);
        neighbours = {
          node: found.node ?? '',
          pods: found.pods,
          before:
            found.pods.length > 0 ? await neighbourDrops(deps, found.pods, e.appliedAt, baselineRange) : undefined,
        };
      }
      if (!neighbours.node) return { ok: true, observed: `rates under the caps: ${seen}` };
      if (nothingToRelieve(neighbours)) {
        return {
          ok: true,
          observed: `rates under the caps: ${seen}; its ${neighbours.pods.length} neighbour(s) on ${neighbours.node} dropped no packets before the caps`,
        };
      }
      const before = neighbours.before!;
      const after = (await neighbourDrops(deps, neighbours.pods, now, range)) ?? 0;
      const wanted = before * (1 - NEIGHBOUR_RELIEF_FRACTION);
      seen += `; neighbours on ${neighbours.node} drop ${after.toFixed(1)} packets/s (${before.toFixed(1)} before the caps, want ≤ ${wanted.toFixed(1)})`;
      if (after <= wanted) return { ok: true, observed: `rates under the caps and neighbours relieved: ${seen}` };
      return undefined;
    },
    () => seen,
  );
}

/** Waits for the effect the expectation names; never throws for a missing effect (the result says what was seen). */
export async function verifyEffect(deps: EffectDeps, e: EffectExpectation): Promise<EffectResult> {
  return e.kind === 'io-drop' ? verifyIoDrop(deps, e) : verifyRateCap(deps, e);
}
