/**
 * The network and data contracts Talon writes as annotations, honoured the way a cooperating application and
 * Kube-OVN would (docs/LAB.md "Annotation contract"):
 * - `ovn.kubernetes.io/egress_rate` / `ingress_rate` (Mbit/s) cap the pod's traffic, which relieves the node's
 *   shared link for its neighbours;
 * - `talon.io/data-offload` (a share) moves that share of the pod's data handling — its I/O and the CPU spent
 *   on it — elsewhere, {@link DATA_OFFLOAD_DELAY_SECONDS} after `talon.io/data-offload-requested-at`.
 * Pure.
 */

/** How long the cooperating data-offload workflow needs before the share has moved. */
export const DATA_OFFLOAD_DELAY_SECONDS = 20;

/** The share of data handling moved away at `now` (unix seconds), from the pod's annotations. */
export function offloadedShare(annotations: Readonly<Record<string, string>>, now: number): number {
  const raw = annotations['talon.io/data-offload'];
  if (raw === undefined) return 0;
  const share = Number(raw);
  if (!Number.isFinite(share) || share <= 0) return 0;
  const requested = Date.parse(annotations['talon.io/data-offload-requested-at'] ?? '');
  // Without a request time the workflow is taken to have started long ago.
  if (Number.isFinite(requested) && now < requested / 1000 + DATA_OFFLOAD_DELAY_SECONDS) return 0;
  return Math.min(1, share);
}

/** Kube-OVN's rate annotation in Mbit/s, undefined when absent or not a positive number. */
export function qosRate(
  annotations: Readonly<Record<string, string>>,
  direction: 'egress' | 'ingress',
): number | undefined {
  const raw = annotations[`ovn.kubernetes.io/${direction}_rate`];
  if (raw === undefined) return undefined;
  const rate = Number(raw);
  return Number.isFinite(rate) && rate > 0 ? rate : undefined;
}

export interface LinkShare {
  /** Mbit/s each pod gets. */
  readonly granted: number[];
  /** What the pods ask (after their QoS caps) over the link's capacity; above 1 the link is congested. */
  readonly utilisation: number;
}

/** Pods on one node share its link: each asks up to its QoS cap; over capacity everyone gets a proportional share. */
export function shareLink(
  capacityMbps: number,
  asks: readonly number[],
  caps: readonly (number | undefined)[],
): LinkShare {
  const capped = asks.map((a, i) => {
    const cap = caps[i];
    return cap === undefined ? Math.max(0, a) : Math.min(Math.max(0, a), cap);
  });
  const total = capped.reduce((a, b) => a + b, 0);
  const utilisation = capacityMbps > 0 ? total / capacityMbps : 0;
  if (utilisation <= 1) return { granted: capped, utilisation };
  return { granted: capped.map((c) => c / utilisation), utilisation };
}

/** The network's part of a request's p95 latency (seconds): a base round trip stretched by link utilisation. */
export function networkLatency(baseSeconds: number, utilisation: number): number {
  if (utilisation < 0.95) return baseSeconds / (1 - Math.max(0, utilisation));
  // Saturated: queues in the switch grow with the excess.
  return (baseSeconds / 0.05) * utilisation;
}
