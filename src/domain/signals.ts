/**
 * Signals beside the model's features: the pod's network and disk I/O rates. The learned model reads only
 * MODEL_FEATURES (its input shape is fixed), so these travel next to the window for the rules (network
 * congestion → network_qos, heavy I/O → data_offloading) and for verification by effect (did the pod's rate
 * fall under the cap, did its I/O drop). Pure: safe inside workflows.
 */

/** Signal names; every one is a per-second rate summed over the pod's containers (or its network namespace). */
export const SIGNALS = [
  'network_receive_bytes',
  'network_transmit_bytes',
  'network_receive_drops',
  'network_transmit_drops',
  'fs_read_bytes',
  'fs_write_bytes',
] as const;

export type SignalName = (typeof SIGNALS)[number];

export const SIGNAL_UNITS: Readonly<Record<SignalName, string>> = {
  network_receive_bytes: 'bytes received per second (cAdvisor container_network_receive_bytes_total)',
  network_transmit_bytes: 'bytes sent per second (container_network_transmit_bytes_total)',
  network_receive_drops: 'received packets dropped per second (container_network_receive_packets_dropped_total)',
  network_transmit_drops: 'sent packets dropped per second (container_network_transmit_packets_dropped_total)',
  fs_read_bytes: 'bytes read from disk per second (container_fs_reads_bytes_total)',
  fs_write_bytes: 'bytes written to disk per second (container_fs_writes_bytes_total)',
};

/**
 * Per signal, one value per window step (oldest first, gaps held like the features'); a signal nobody
 * exposes is absent rather than a column of zeros, so "no data" is never read as "idle".
 */
export type WindowSignals = Partial<Record<SignalName, readonly number[]>>;

/** Mean of the last `n` steps of a signal, or undefined when the signal is absent. */
export function recentSignal(signals: WindowSignals | undefined, name: SignalName, n: number): number | undefined {
  const column = signals?.[name];
  if (!column || column.length === 0) return undefined;
  const tail = column.slice(Math.max(0, column.length - Math.max(1, Math.floor(n))));
  return tail.reduce((a, b) => a + b, 0) / tail.length;
}

/** Bytes per second → megabits per second (Kube-OVN's rate unit). */
export function bytesToMbit(bytesPerSecond: number): number {
  return (bytesPerSecond * 8) / 1_000_000;
}

/** Megabits per second → bytes per second. */
export function mbitToBytes(mbitPerSecond: number): number {
  return (mbitPerSecond * 1_000_000) / 8;
}
