/**
 * Families of the cluster simulator: the parameter ranges an episode is drawn from. The models are trained
 * on BASE_FAMILY only; the others are held-out worlds (other node sizes, noisier measurements, harsher
 * incidents, another energy model and attribution, hosts whose Kepler lacks RAPL zones) that say whether a
 * policy learned the simulator's one parameterisation or something that carries over.
 *
 * A family changes ranges and mechanics, never the number of random draws, so BASE_FAMILY reproduces the
 * episodes (and the training data) the simulator produced before families existed, seed for seed.
 */

/** Inclusive-exclusive range of a uniform draw. */
export type Range = readonly [number, number];

/** How Kepler's attribution reaches the telemetry. */
export type KeplerReadout =
  /** Every zone read: core, DRAM, package, total. */
  | 'full'
  /** Hosts without the core and DRAM RAPL zones: those series exist and read 0; total is package only. */
  | 'zones_zero'
  /** No Kepler at all: the energy series are missing and the window marks them absent. */
  | 'absent';

export interface SimFamily {
  readonly name: string;
  readonly description: string;
  readonly nodeCores: readonly number[];
  readonly memGiBPerCore: number;
  /** Share of the node the other pods request (of what is left after this pod's limit). */
  readonly otherRequestsShare: Range;
  /** Standard deviation of the multiplicative measurement noise on every feature. */
  readonly measurementNoise: number;
  /** Standard deviation of the AR(1) noise on the container's CPU demand. */
  readonly demandNoise: number;
  /** A burst's demand as a multiple of the CPU limit. */
  readonly burstLevel: Range;
  /** Where a ramp ends, as a multiple of the CPU limit. */
  readonly rampTarget: Range;
  /** I/O demand of an I/O-heavy incident, as a share of the pod's bandwidth. */
  readonly ioLevel: Range;
  /** Watts per node component (see NodeSpec). */
  readonly power: {
    readonly idleCore: Range;
    readonly dynCore: Range;
    readonly uncoreCore: Range;
    readonly dramGiB: Range;
    readonly dramIdleGiB: Range;
    readonly dramIo: Range;
  };
  /** Kepler splits idle power by reserved cores ('reserved', the base) or by the cores actually used. */
  readonly idleAttribution: 'reserved' | 'used';
  readonly kepler: KeplerReadout;
}

export const BASE_FAMILY: SimFamily = {
  name: 'base',
  description: 'the training family (a new seed)',
  nodeCores: [4, 8, 16],
  memGiBPerCore: 4,
  otherRequestsShare: [0.35, 1],
  measurementNoise: 0.02,
  demandNoise: 0.06,
  burstLevel: [1.3, 2.8],
  rampTarget: [1.1, 2.6],
  ioLevel: [1.1, 1.9],
  power: {
    idleCore: [3, 5],
    dynCore: [8, 14],
    uncoreCore: [1.5, 3],
    dramGiB: [0.25, 0.45],
    dramIdleGiB: [0.05, 0.1],
    dramIo: [3, 6],
  },
  idleAttribution: 'reserved',
  kepler: 'full',
};

const family = (name: string, description: string, changes: Partial<SimFamily>): SimFamily => ({
  ...BASE_FAMILY,
  ...changes,
  name,
  description,
});

/** The held-out families, in report order; the first is the training family itself. */
export const SIM_FAMILIES: readonly SimFamily[] = [
  BASE_FAMILY,
  family('large_nodes', '32 or 64 cores, 8 GiB per core (lots of headroom)', { nodeCores: [32, 64], memGiBPerCore: 8 }),
  family('small_nodes', '2 or 4 cores, 2 GiB per core, fuller nodes', {
    nodeCores: [2, 4],
    memGiBPerCore: 2,
    otherRequestsShare: [0.6, 1],
  }),
  family('noisy', 'measurement noise 6 % (base 2 %), demand noise doubled', {
    measurementNoise: 0.06,
    demandNoise: 0.12,
  }),
  family('severe', 'bursts 2–4× and ramps to 2–3.5× the limit, I/O 1.8–3× the bandwidth', {
    burstLevel: [2, 4],
    rampTarget: [2, 3.5],
    ioLevel: [1.8, 3],
  }),
  family('energy_model', 'another host: idle power split by use, 1–2 W idle / 15–25 W busy per core, DRAM I/O 6–12 W', {
    idleAttribution: 'used',
    power: { ...BASE_FAMILY.power, idleCore: [1, 2], dynCore: [15, 25], dramIo: [6, 12] },
  }),
  family('kepler_zones_zero', 'base dynamics; core and DRAM joules read 0 (no such RAPL zones), total = package', {
    kepler: 'zones_zero',
  }),
  family('kepler_absent', 'base dynamics; no Kepler: energy features absent and marked so', { kepler: 'absent' }),
];

export function simFamily(name: string): SimFamily {
  const found = SIM_FAMILIES.find((f) => f.name === name);
  if (!found)
    throw new RangeError(`unknown simulator family "${name}" (${SIM_FAMILIES.map((f) => f.name).join(', ')})`);
  return found;
}
