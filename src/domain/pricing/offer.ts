/**
 * One offer of the Smart Pricing Simulator (D3.6 §2.7): a bundle or a pay-as-you-go request priced at the
 * Stackelberg optimum of the period, with the dynamic, bundle and total discounts, the users' acceptance
 * probability at the discounted prices, the expected revenue, the electricity cost and the provider's
 * utility. Pure: the pricing context (market prices, electricity cost per unit, forecast demand and its
 * discount schedule) is gathered and cached by `src/pricing`.
 *
 * Quantities. A bundle is its vCPU-hours and RAM GB-hours, used at most `maxSimultaneousVcpus` wide.
 * A pay-as-you-go request's `cpu_time_hours` is its total CPU time (vCPU-hours) spread over `vcpus`, so it
 * lasts cpu_time_hours / vcpus hours and holds `memory_GBs` for that long. GB are GiB (2^30 bytes).
 */
import { BUNDLES, bundleWallHours, type Bundle, type BundleId } from './bundles';
import { combineDiscounts, dynamicDiscountOver, type Discounts } from './discounts';
import { acceptance, optimalPrice, PricingInputError, type ResourceOptimum } from './stackelberg';

export const DEFAULT_ELASTICITY = 0.5;
/** Bounds of the documents' API (Figure 7); `cpu_time_hours` has none there, Talon caps it at a year of 128 vCPUs. */
export const OFFER_LIMITS = {
  vcpus: { min: 1, max: 128 },
  memoryGBs: { min: 1, max: 256 },
  cpuTimeHours: { min: 0.001, max: 128 * 24 * 366 },
  elasticity: { min: 0.05, max: 10 },
} as const;

interface OfferOptions {
  readonly elasticityCpu?: number;
  readonly elasticityRam?: number;
  readonly applyDynamicDiscount?: boolean;
  /** When the resources are first used (ms since the epoch); the context's `now` when absent. */
  readonly startsAt?: number;
}

export type OfferRequest =
  | ({ readonly kind: 'bundle'; readonly bundle: BundleId } & OfferOptions)
  | ({
      readonly kind: 'payg';
      readonly cpuTimeHours: number;
      readonly vcpus: number;
      readonly memoryGBs: number;
    } & OfferOptions);

export interface PerResource<T> {
  readonly cpu: T;
  readonly ram: T;
}

export interface PricingContext {
  /** When the context was computed (ms); offers start then unless the request says otherwise. */
  readonly now: number;
  /** The period pay-as-you-go prices are fixed for. */
  readonly period: { readonly start: number; readonly hours: number };
  /** Average market price (€/vCPU-hour, €/GB-hour) for the period. */
  readonly marketPrice: PerResource<number>;
  /** Electricity cost (€/vCPU-hour, €/GB-hour). */
  readonly unitCost: PerResource<number>;
  /** Forecast demand over the period (vCPU-hours, GB-hours) and what the cluster can serve in it. */
  readonly periodDemand: PerResource<number>;
  readonly periodCapacity?: PerResource<number>;
  /** Dynamic discount (%) of each forecast step, the first starting at `forecastStart`. */
  readonly discountSchedule: readonly number[];
  readonly forecastStart: number;
  readonly stepSeconds: number;
  /** Discount (%) on work placed on user-owned (non-commercial) nodes. */
  readonly userOwnedIncentivePercent: number;
  readonly minPriceFactor?: number;
  readonly maxPriceFactor?: number;
}

export interface OfferQuantities {
  readonly kind: 'bundle' | 'payg';
  readonly bundle?: Bundle;
  readonly vcpuHours: number;
  readonly ramGbHours: number;
  /** Width of the request: vCPUs at once (the bundle's maximum). */
  readonly vcpus: number;
  /** Hours the request lasts at that width. */
  readonly hours: number;
}

export interface Offer {
  readonly quantities: OfferQuantities;
  readonly elasticity: PerResource<number>;
  readonly priceBeforeDiscount: PerResource<number>;
  readonly priceAfterDiscount: PerResource<number>;
  /** After-discount prices of work placed on user-owned nodes, and the incentive (%) they carry. */
  readonly userOwnedPrice: PerResource<number>;
  readonly userOwnedIncentivePercent: number;
  readonly totalBeforeDiscount: number;
  readonly totalAfterDiscount: number;
  readonly discounts: Discounts;
  /** The dynamic discount the request's hours would get, applied or not. */
  readonly dynamicDiscountAvailablePercent: number;
  readonly acceptanceProbability: number;
  readonly expectedRevenue: number;
  readonly electricityCost: number;
  readonly providerUtility: number;
  readonly equilibrium: PerResource<ResourceOptimum>;
  readonly marketPrice: PerResource<number>;
  readonly unitCost: PerResource<number>;
  /** Pay-as-you-go prices hold from `validFrom` to `validUntil` (ISO). */
  readonly validFrom: string;
  readonly validUntil: string;
}

export function offerQuantities(request: OfferRequest): OfferQuantities {
  if (request.kind === 'bundle') {
    const bundle = BUNDLES[request.bundle];
    if (!bundle) throw new PricingInputError(`unknown bundle ${String(request.bundle)}`);
    return {
      kind: 'bundle',
      bundle,
      vcpuHours: bundle.vcpuHours,
      ramGbHours: bundle.ramGbHours,
      vcpus: bundle.maxSimultaneousVcpus,
      hours: bundleWallHours(bundle),
    };
  }
  const within = (v: number, limits: { min: number; max: number }, name: string, integer: boolean) => {
    if (!Number.isFinite(v) || v < limits.min || v > limits.max || (integer && !Number.isInteger(v))) {
      throw new PricingInputError(
        `${name} must be ${integer ? 'an integer' : 'a number'} in [${limits.min}, ${limits.max}], got ${v}`,
      );
    }
  };
  within(request.cpuTimeHours, OFFER_LIMITS.cpuTimeHours, 'cpu_time_hours', false);
  within(request.vcpus, OFFER_LIMITS.vcpus, 'vcpus', true);
  within(request.memoryGBs, OFFER_LIMITS.memoryGBs, 'memory_GBs', true);
  const hours = request.cpuTimeHours / request.vcpus;
  return {
    kind: 'payg',
    vcpuHours: request.cpuTimeHours,
    ramGbHours: request.memoryGBs * hours,
    vcpus: request.vcpus,
    hours,
  };
}

const per = <T, U>(x: PerResource<T>, f: (v: T, r: 'cpu' | 'ram') => U): PerResource<U> => ({
  cpu: f(x.cpu, 'cpu'),
  ram: f(x.ram, 'ram'),
});

/** Prices a request in a context. Throws PricingInputError for out-of-range input. */
export function priceOffer(request: OfferRequest, context: PricingContext): Offer {
  const quantities = offerQuantities(request);
  const elasticity = {
    cpu: request.elasticityCpu ?? DEFAULT_ELASTICITY,
    ram: request.elasticityRam ?? DEFAULT_ELASTICITY,
  };
  for (const [name, e] of [
    ['elasticity_cpu', elasticity.cpu],
    ['elasticity_ram', elasticity.ram],
  ] as const) {
    if (!Number.isFinite(e) || e < OFFER_LIMITS.elasticity.min || e > OFFER_LIMITS.elasticity.max) {
      throw new PricingInputError(
        `${name} must be in [${OFFER_LIMITS.elasticity.min}, ${OFFER_LIMITS.elasticity.max}], got ${e}`,
      );
    }
  }
  const equilibrium = per(elasticity, (e, r) =>
    optimalPrice({
      marketPrice: context.marketPrice[r],
      elasticity: e,
      unitCost: context.unitCost[r],
      demand: context.periodDemand[r],
      ...(context.periodCapacity ? { capacity: context.periodCapacity[r] } : {}),
      ...(context.minPriceFactor !== undefined ? { minPriceFactor: context.minPriceFactor } : {}),
      ...(context.maxPriceFactor !== undefined ? { maxPriceFactor: context.maxPriceFactor } : {}),
    }),
  );
  const startsAt = request.startsAt ?? context.now;
  const stepMs = context.stepSeconds * 1000;
  const dynamicAvailable = dynamicDiscountOver(
    context.discountSchedule,
    (startsAt - context.forecastStart) / stepMs,
    (quantities.hours * 3_600_000) / stepMs,
  );
  const discounts = combineDiscounts(
    quantities.bundle?.discountPercent ?? 0,
    dynamicAvailable,
    request.applyDynamicDiscount ?? false,
  );
  const keep = 1 - discounts.totalPercent / 100;
  const before = per(equilibrium, (o) => o.price);
  const after = per(before, (p) => p * keep);
  const amount = { cpu: quantities.vcpuHours, ram: quantities.ramGbHours };
  const totalBefore = before.cpu * amount.cpu + before.ram * amount.ram;
  const totalAfter = after.cpu * amount.cpu + after.ram * amount.ram;
  // Users decide on the prices they are offered, i.e. after the discount.
  const accepted = per(after, (p, r) => acceptance(p, context.marketPrice[r], elasticity[r]));
  const expectedRevenue = accepted.cpu * after.cpu * amount.cpu + accepted.ram * after.ram * amount.ram;
  const electricityCost =
    accepted.cpu * context.unitCost.cpu * amount.cpu + accepted.ram * context.unitCost.ram * amount.ram;
  const periodEnd = context.period.start + context.period.hours * 3_600_000;
  return {
    quantities,
    elasticity,
    priceBeforeDiscount: before,
    priceAfterDiscount: after,
    userOwnedPrice: per(after, (p) => p * (1 - context.userOwnedIncentivePercent / 100)),
    userOwnedIncentivePercent: context.userOwnedIncentivePercent,
    totalBeforeDiscount: totalBefore,
    totalAfterDiscount: totalAfter,
    discounts,
    dynamicDiscountAvailablePercent: dynamicAvailable,
    acceptanceProbability: totalAfter > 0 ? expectedRevenue / totalAfter : 0,
    expectedRevenue,
    electricityCost,
    providerUtility: expectedRevenue - electricityCost,
    equilibrium,
    marketPrice: context.marketPrice,
    unitCost: context.unitCost,
    validFrom: new Date(context.period.start).toISOString(),
    validUntil: new Date(periodEnd).toISOString(),
  };
}

const round = (v: number, digits = 5): number => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

/** The offer as the documents' API answers it (Figure 8's field names, € and %), plus Talon's extras. */
export function offerResponse(offer: Offer): Record<string, unknown> {
  return {
    'Price per vCPU-hour before Discount (€/vCPU-hour)': round(offer.priceBeforeDiscount.cpu),
    'Price per GB RAM-hour before Discount (€/GB-hour)': round(offer.priceBeforeDiscount.ram),
    'Total Price before Discount (€)': round(offer.totalBeforeDiscount),
    'Dynamic Demand-based Discount (%)': round(offer.discounts.dynamicPercent, 2),
    'Bundle Discount (%)': round(offer.discounts.bundlePercent, 2),
    'Total Discount (%)': round(offer.discounts.totalPercent, 2),
    'Price per vCPU-hour after Discount (€/vCPU-hour)': round(offer.priceAfterDiscount.cpu),
    'Price per GB RAM-hour after Discount (€/GB-hour)': round(offer.priceAfterDiscount.ram),
    'Total Price after Discount (€)': round(offer.totalAfterDiscount),
    'Acceptance Probability': round(offer.acceptanceProbability),
    'Expected Revenue after Discount (€)': round(offer.expectedRevenue),
    'Electricity Cost (€)': round(offer.electricityCost),
    'MEC Utility after Discount (€)': round(offer.providerUtility),
    talon: {
      bundle: offer.quantities.bundle?.name ?? null,
      vcpu_hours: round(offer.quantities.vcpuHours),
      ram_gb_hours: round(offer.quantities.ramGbHours),
      vcpus: offer.quantities.vcpus,
      hours: round(offer.quantities.hours, 3),
      dynamic_discount_available_percent: round(offer.dynamicDiscountAvailablePercent, 2),
      user_owned_price_per_vcpu_hour: round(offer.userOwnedPrice.cpu),
      user_owned_price_per_gb_hour: round(offer.userOwnedPrice.ram),
      market_price_per_vcpu_hour: round(offer.marketPrice.cpu),
      market_price_per_gb_hour: round(offer.marketPrice.ram),
      electricity_per_vcpu_hour: round(offer.unitCost.cpu, 6),
      electricity_per_gb_hour: round(offer.unitCost.ram, 6),
      price_set_by: { cpu: offer.equilibrium.cpu.binding, ram: offer.equilibrium.ram.binding },
      valid_from: offer.validFrom,
      valid_until: offer.validUntil,
    },
  };
}
