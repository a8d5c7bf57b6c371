/**
 * Cooperating stand-ins for the parties Talon's annotation actions rely on, on the local KWOK stack where the
 * pod's usage comes from its `kwok.x-k8s.io/usage-*` annotations (deploy/local/kwok):
 * - the application's side of the data-offload contract (docs/ACTUATOR.md): it sees `talon.io/data-offload`,
 *   acknowledges the request id, and its disk I/O falls by the share it was asked to move;
 * - Kube-OVN: it sees `ovn.kubernetes.io/ingress_rate` / `egress_rate` (Mbit/s) and the pod's received/sent
 *   rates stay under them (a shaped link no longer drops packets).
 * Each polls one pod and acts once per request, as the real party would, until stopped.
 */
import { PatchStrategy, setHeaderOptions, type CoreV1Api } from '@kubernetes/client-node';
import { parseQuantity } from '../../src/domain/quantity';

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export const USAGE = {
  fsRead: 'kwok.x-k8s.io/usage-fs-read',
  fsWrite: 'kwok.x-k8s.io/usage-fs-write',
  networkReceive: 'kwok.x-k8s.io/usage-network-receive',
  networkTransmit: 'kwok.x-k8s.io/usage-network-transmit',
  networkReceiveDrops: 'kwok.x-k8s.io/usage-network-receive-drops',
  networkTransmitDrops: 'kwok.x-k8s.io/usage-network-transmit-drops',
} as const;

export interface StandIn {
  /** What it did, in order (for assertions and for reading a failed test). */
  readonly log: string[];
  stop(): Promise<void>;
}

function bytes(text: string | undefined): number {
  return text ? parseQuantity(text).asApproximateFloat64() : 0;
}

function poller(what: string, every: number, step: () => Promise<void>): StandIn {
  const log: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        await step();
      } catch (err) {
        log.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      }
      await new Promise((r) => setTimeout(r, every));
    }
  })();
  return {
    log,
    async stop() {
      running = false;
      await loop;
    },
  };
}

export interface DataOffloadBehaviour {
  /** Answer `refused` with this reason and change nothing. */
  readonly refuse?: string;
  /** Acknowledge `done` without lowering the I/O (an application that claims more than it does). */
  readonly claimOnly?: boolean;
}

/** The application's side of the data-offload contract, for one pod. */
export function honourDataOffload(
  core: CoreV1Api,
  namespace: string,
  pod: string,
  behaviour: DataOffloadBehaviour = {},
): StandIn {
  const handled = new Set<string>();
  const standIn = poller(`data offload ${namespace}/${pod}`, 300, async () => {
    const p = await core.readNamespacedPod({ name: pod, namespace });
    const a = p.metadata?.annotations ?? {};
    const id = a['talon.io/data-offload-id'];
    const share = Number(a['talon.io/data-offload']);
    if (!id || handled.has(id) || !(share > 0 && share < 1)) return;
    handled.add(id);
    if (behaviour.refuse) {
      await patch(core, namespace, pod, {
        'talon.io/data-offload-ack': id,
        'talon.io/data-offload-state': 'refused',
        'talon.io/data-offload-message': behaviour.refuse,
      });
      standIn.log.push(`refused ${id}: ${behaviour.refuse}`);
      return;
    }
    await patch(core, namespace, pod, { 'talon.io/data-offload-ack': id, 'talon.io/data-offload-state': 'accepted' });
    const read = bytes(a[USAGE.fsRead]);
    const write = bytes(a[USAGE.fsWrite]);
    const keep = 1 - share;
    await patch(core, namespace, pod, {
      ...(behaviour.claimOnly
        ? {}
        : { [USAGE.fsRead]: String(Math.round(read * keep)), [USAGE.fsWrite]: String(Math.round(write * keep)) }),
      'talon.io/data-offload-state': 'done',
    });
    standIn.log.push(
      behaviour.claimOnly
        ? `claimed ${id} done without moving data`
        : `moved ${Math.round(share * 100)} % for ${id}: I/O ${Math.round(read + write)} → ${Math.round((read + write) * keep)} B/s`,
    );
  });
  return standIn;
}

/** Kube-OVN's enforcement of the pod's rate annotations, for one pod. */
export function enforceOvnRates(core: CoreV1Api, namespace: string, pod: string): StandIn {
  let enforced = '';
  const standIn = poller(`Kube-OVN ${namespace}/${pod}`, 300, async () => {
    const p = await core.readNamespacedPod({ name: pod, namespace });
    const a = p.metadata?.annotations ?? {};
    const ingress = Number(a['ovn.kubernetes.io/ingress_rate']);
    const egress = Number(a['ovn.kubernetes.io/egress_rate']);
    if (!(ingress > 0) && !(egress > 0)) return;
    const key = `${ingress}/${egress}`;
    if (key === enforced) return;
    enforced = key;
    // A shaped link: at most 95 % of the cap gets through, and the queue no longer overflows.
    const cap = (mbit: number, current: number) =>
      mbit > 0 ? Math.min(current, (mbit * 1_000_000 * 0.95) / 8) : current;
    const rx = cap(ingress, bytes(a[USAGE.networkReceive]));
    const tx = cap(egress, bytes(a[USAGE.networkTransmit]));
    await patch(core, namespace, pod, {
      [USAGE.networkReceive]: String(Math.round(rx)),
      [USAGE.networkTransmit]: String(Math.round(tx)),
      [USAGE.networkReceiveDrops]: '0',
      [USAGE.networkTransmitDrops]: '0',
    });
    standIn.log.push(
      `enforced ingress ${ingress} / egress ${egress} Mbit/s: rx ${Math.round(rx)} B/s, tx ${Math.round(tx)} B/s`,
    );
  });
  return standIn;
}

async function patch(core: CoreV1Api, namespace: string, pod: string, annotations: Record<string, string>) {
  await core.patchNamespacedPod({ name: pod, namespace, body: { metadata: { annotations } } }, merge);
}
