/**
 * The terms a purchase fixes, from the offer it accepts: a bundle covers its vCPU-hours and GB-hours at
 * most its simultaneous vCPUs wide, paid upfront at the discounted total; a pay-as-you-go contract pays the
 * offer's discounted prices for what its tasks use until the offer's period ends, at most as wide as the
 * request, optionally up to a budget. Both keep the offer's user-owned incentive.
 */
import type { ContractTerms } from './metering';
import type { Offer } from './offer';

export interface PurchaseOptions {
  /** Pay-as-you-go: most the contract may cost (€). */
  readonly budget?: number;
  readonly minRunSeconds?: number;
  readonly minBilledSeconds?: number;
}

export function termsFromOffer(offer: Offer, options: PurchaseOptions = {}): ContractTerms {
  const q = offer.quantities;
  const common = {
    pricePerVcpuHour: offer.priceAfterDiscount.cpu,
    pricePerGbHour: offer.priceAfterDiscount.ram,
    userOwnedIncentivePercent: offer.userOwnedIncentivePercent,
    maxSimultaneousVcpus: q.vcpus,
    ...(options.minRunSeconds !== undefined ? { minRunSeconds: options.minRunSeconds } : {}),
    ...(options.minBilledSeconds !== undefined ? { minBilledSeconds: options.minBilledSeconds } : {}),
  };
  if (q.kind === 'bundle' && q.bundle) {
    return {
      kind: 'bundle',
      bundle: q.bundle.id,
      vcpuHours: q.vcpuHours,
      ramGbHours: q.ramGbHours,
      upfrontPrice: offer.totalAfterDiscount,
      ...common,
    };
  }
  return {
    kind: 'payg',
    validUntil: offer.validUntil,
    ...(options.budget !== undefined ? { budget: options.budget } : {}),
    ...common,
  };
}
