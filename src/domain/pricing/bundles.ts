/**
 * The reservation bundles of the Smart Pricing Simulator (D3.6 §2.7), with the documents' figures. The
 * documents list "RAM (GB)" as 4 GB per bundled vCPU-hour (400 for 100 vCPU-hours … 12000 for 3000), so
 * Talon reads it as GB-hours of RAM: the bundle's memory volume, metered like its vCPU-hours.
 */

export const BUNDLE_IDS = ['basic', 'standard', 'professional', 'enterprise', 'ultimate'] as const;
export type BundleId = (typeof BUNDLE_IDS)[number];

export interface Bundle {
  readonly id: BundleId;
  /** The documents' display name, also accepted as `bundle_name` ("Ultimate Bundle"). */
  readonly name: string;
  readonly vcpuHours: number;
  readonly maxSimultaneousVcpus: number;
  /** RAM volume in GB-hours ("RAM (GB)" in the documents). */
  readonly ramGbHours: number;
  /** Reservation discount, in percent. */
  readonly discountPercent: number;
  readonly description: string;
}

export const BUNDLES: Readonly<Record<BundleId, Bundle>> = {
  basic: {
    id: 'basic',
    name: 'Basic Bundle',
    vcpuHours: 100,
    maxSimultaneousVcpus: 2,
    ramGbHours: 400,
    discountPercent: 5,
    description: 'Ideal for small-scale projects or light parallel tasks.',
  },
  standard: {
    id: 'standard',
    name: 'Standard Bundle',
    vcpuHours: 300,
    maxSimultaneousVcpus: 4,
    ramGbHours: 1200,
    discountPercent: 10,
    description: 'Suitable for medium-scale operations with moderate parallelization.',
  },
  professional: {
    id: 'professional',
    name: 'Professional Bundle',
    vcpuHours: 700,
    maxSimultaneousVcpus: 8,
    ramGbHours: 2800,
    discountPercent: 15,
    description: 'Designed for consistent workloads requiring high parallel processing.',
  },
  enterprise: {
    id: 'enterprise',
    name: 'Enterprise Bundle',
    vcpuHours: 1500,
    maxSimultaneousVcpus: 16,
    ramGbHours: 6000,
    discountPercent: 20,
    description: 'Tailored for businesses with complex, parallel tasks.',
  },
  ultimate: {
    id: 'ultimate',
    name: 'Ultimate Bundle',
    vcpuHours: 3000,
    maxSimultaneousVcpus: 32,
    ramGbHours: 12000,
    discountPercent: 25,
    description: 'Optimized for enterprises with massive parallel tasks.',
  },
};

/**
 * The bundle a `bundle_name` names: the id (`ultimate`), the display name (`Ultimate Bundle`) or the
 * display name without " Bundle", in any case; undefined for anything else.
 */
export function findBundle(name: string): Bundle | undefined {
  const key = name.trim().toLowerCase().replace(/\s+/g, ' ');
  const id = key.endsWith(' bundle') ? key.slice(0, -' bundle'.length) : key;
  return (BUNDLE_IDS as readonly string[]).includes(id) ? BUNDLES[id as BundleId] : undefined;
}

/** Hours the bundle lasts at its full width: vCPU-hours over the simultaneous vCPUs. */
export function bundleWallHours(bundle: Bundle): number {
  return bundle.vcpuHours / bundle.maxSimultaneousVcpus;
}
