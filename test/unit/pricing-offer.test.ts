/** Offers: the documents' bundles and response fields, pay-as-you-go quantities, discounts and bounds. */
import { BUNDLES, BUNDLE_IDS, findBundle } from '../../src/domain/pricing/bundles';
import { termsFromOffer } from '../../src/domain/pricing/contract-terms';
import { offerQuantities, offerResponse, priceOffer, type PricingContext } from '../../src/domain/pricing/offer';
import { PricingInputError } from '../../src/domain/pricing/stackelberg';

const now = Date.parse('2025-03-03T00:00:00Z');
/** A day of hourly discounts (%): 20 at 03:00, nothing from 08:00 to 20:00. */
const schedule = [16, 18, 19, 20, 18, 14, 8, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 8, 12, 14];
const context: PricingContext = {
  now,
  period: { start: now, hours: 168 },
  marketPrice: { cpu: 0.04, ram: 0.005 },
  unitCost: { cpu: 0.003, ram: 0.0004 },
  periodDemand: { cpu: 2000, ram: 8000 },
  discountSchedule: schedule,
  forecastStart: now,
  stepSeconds: 3600,
  userOwnedIncentivePercent: 15,
};

describe('bundles', () => {
  it("carry the documents' five bundles and figures", () => {
    expect(
      BUNDLE_IDS.map((id) => [
        BUNDLES[id].vcpuHours,
        BUNDLES[id].maxSimultaneousVcpus,
        BUNDLES[id].ramGbHours,
        BUNDLES[id].discountPercent,
      ]),
    ).toEqual([
      [100, 2, 400, 5],
      [300, 4, 1200, 10],
      [700, 8, 2800, 15],
      [1500, 16, 6000, 20],
      [3000, 32, 12000, 25],
    ]);
  });

  it('are found by id or display name, in any case', () => {
    expect(findBundle('Ultimate Bundle')?.id).toBe('ultimate');
    expect(findBundle('basic')?.id).toBe('basic');
    expect(findBundle('  PROFESSIONAL ')?.id).toBe('professional');
    expect(findBundle('Gold Bundle')).toBeUndefined();
  });
});

describe('offer quantities', () => {
  it('a bundle is its vCPU-hours and GB-hours, at its full width', () => {
    expect(offerQuantities({ kind: 'bundle', bundle: 'enterprise' })).toMatchObject({
      vcpuHours: 1500,
      ramGbHours: 6000,
      vcpus: 16,
      hours: 93.75,
    });
  });

  it('pay-as-you-go spreads the CPU time over the vCPUs and holds the memory that long', () => {
    expect(offerQuantities({ kind: 'payg', cpuTimeHours: 10, vcpus: 4, memoryGBs: 16 })).toMatchObject({
      vcpuHours: 10,
      ramGbHours: 40,
      hours: 2.5,
    });
  });

  it.each([
    [{ cpuTimeHours: 10, vcpus: 0, memoryGBs: 16 }, /vcpus/],
    [{ cpuTimeHours: 10, vcpus: 129, memoryGBs: 16 }, /vcpus/],
    [{ cpuTimeHours: 10, vcpus: 2.5, memoryGBs: 16 }, /vcpus must be an integer/],
    [{ cpuTimeHours: 10, vcpus: 4, memoryGBs: 257 }, /memory_GBs/],
    [{ cpuTimeHours: 0, vcpus: 4, memoryGBs: 16 }, /cpu_time_hours/],
    [{ cpuTimeHours: Number.NaN, vcpus: 4, memoryGBs: 16 }, /cpu_time_hours/],
  ])('refuses %o', (request, message) => {
    expect(() => offerQuantities({ kind: 'payg', ...request })).toThrow(PricingInputError);
    expect(() => offerQuantities({ kind: 'payg', ...request })).toThrow(message);
  });
});

describe('priceOffer', () => {
  it('prices at the Stackelberg optimum and adds up', () => {
    const offer = priceOffer({ kind: 'payg', cpuTimeHours: 10, vcpus: 4, memoryGBs: 16 }, context);
    // ε = 0.5: p* = c + p̄/ε.
    expect(offer.priceBeforeDiscount.cpu).toBeCloseTo(0.003 + 0.08, 12);
    expect(offer.priceBeforeDiscount.ram).toBeCloseTo(0.0004 + 0.01, 12);
    expect(offer.totalBeforeDiscount).toBeCloseTo(
      10 * offer.priceBeforeDiscount.cpu + 40 * offer.priceBeforeDiscount.ram,
      12,
    );
    expect(offer.discounts.totalPercent).toBe(0);
    expect(offer.totalAfterDiscount).toBeCloseTo(offer.totalBeforeDiscount, 12);
    expect(offer.expectedRevenue).toBeCloseTo(offer.acceptanceProbability * offer.totalAfterDiscount, 12);
    expect(offer.providerUtility).toBeCloseTo(offer.expectedRevenue - offer.electricityCost, 12);
    expect(offer.acceptanceProbability).toBeGreaterThan(0);
    expect(offer.acceptanceProbability).toBeLessThan(1);
    expect(offer.validUntil).toBe('2025-03-10T00:00:00.000Z');
  });

  it('the dynamic discount follows the hours the request spans, and only when asked', () => {
    const night = priceOffer(
      {
        kind: 'payg',
        cpuTimeHours: 1,
        vcpus: 1,
        memoryGBs: 1,
        applyDynamicDiscount: true,
        startsAt: now + 3 * 3_600_000,
      },
      context,
    );
    expect(night.discounts.dynamicPercent).toBe(20);
    expect(night.priceAfterDiscount.cpu).toBeCloseTo(night.priceBeforeDiscount.cpu * 0.8, 12);
    const noon = priceOffer(
      {
        kind: 'payg',
        cpuTimeHours: 1,
        vcpus: 1,
        memoryGBs: 1,
        applyDynamicDiscount: true,
        startsAt: now + 12 * 3_600_000,
      },
      context,
    );
    expect(noon.discounts.dynamicPercent).toBe(0);
    const notAsked = priceOffer(
      { kind: 'payg', cpuTimeHours: 1, vcpus: 1, memoryGBs: 1, startsAt: now + 3 * 3_600_000 },
      context,
    );
    expect(notAsked.discounts.dynamicPercent).toBe(0);
    expect(notAsked.dynamicDiscountAvailablePercent).toBe(20);
    // A discount raises acceptance: users decide on the discounted price.
    expect(night.acceptanceProbability).toBeGreaterThan(notAsked.acceptanceProbability);
  });

  it('a bundle gets its reservation discount on top, total capped at 25 %', () => {
    for (const id of BUNDLE_IDS) {
      const offer = priceOffer({ kind: 'bundle', bundle: id, applyDynamicDiscount: true }, context);
      expect(offer.discounts.bundlePercent).toBe(BUNDLES[id].discountPercent);
      expect(offer.discounts.totalPercent).toBeCloseTo(
        Math.min(25, BUNDLES[id].discountPercent + offer.discounts.dynamicPercent),
        12,
      );
      expect(offer.totalAfterDiscount).toBeCloseTo(
        offer.totalBeforeDiscount * (1 - offer.discounts.totalPercent / 100),
        9,
      );
    }
  });

  it('user-owned nodes get the incentive price', () => {
    const offer = priceOffer({ kind: 'bundle', bundle: 'basic' }, context);
    expect(offer.userOwnedPrice.cpu).toBeCloseTo(offer.priceAfterDiscount.cpu * 0.85, 12);
  });

  it('refuses elasticities out of range', () => {
    expect(() => priceOffer({ kind: 'bundle', bundle: 'basic', elasticityCpu: 0 }, context)).toThrow(/elasticity_cpu/);
    expect(() => priceOffer({ kind: 'bundle', bundle: 'basic', elasticityRam: 11 }, context)).toThrow(/elasticity_ram/);
  });

  it("answers with the documents' response fields", () => {
    const body = offerResponse(priceOffer({ kind: 'bundle', bundle: 'ultimate', applyDynamicDiscount: true }, context));
    expect(Object.keys(body)).toEqual([
      'Price per vCPU-hour before Discount (€/vCPU-hour)',
      'Price per GB RAM-hour before Discount (€/GB-hour)',
      'Total Price before Discount (€)',
      'Dynamic Demand-based Discount (%)',
      'Bundle Discount (%)',
      'Total Discount (%)',
      'Price per vCPU-hour after Discount (€/vCPU-hour)',
      'Price per GB RAM-hour after Discount (€/GB-hour)',
      'Total Price after Discount (€)',
      'Acceptance Probability',
      'Expected Revenue after Discount (€)',
      'Electricity Cost (€)',
      'MEC Utility after Discount (€)',
      'talon',
    ]);
    expect(body['Bundle Discount (%)']).toBe(25);
    expect(body['Total Discount (%)']).toBe(25);
  });
});

describe('contract terms from an offer', () => {
  it('a bundle keeps its volumes, width and discounted prices; pay-as-you-go its period, width and budget', () => {
    const bundle = priceOffer({ kind: 'bundle', bundle: 'professional' }, context);
    expect(termsFromOffer(bundle)).toEqual({
      kind: 'bundle',
      bundle: 'professional',
      vcpuHours: 700,
      ramGbHours: 2800,
      maxSimultaneousVcpus: 8,
      upfrontPrice: bundle.totalAfterDiscount,
      pricePerVcpuHour: bundle.priceAfterDiscount.cpu,
      pricePerGbHour: bundle.priceAfterDiscount.ram,
      userOwnedIncentivePercent: 15,
    });
    const payg = priceOffer({ kind: 'payg', cpuTimeHours: 10, vcpus: 4, memoryGBs: 16 }, context);
    expect(termsFromOffer(payg, { budget: 5 })).toMatchObject({
      kind: 'payg',
      maxSimultaneousVcpus: 4,
      validUntil: '2025-03-10T00:00:00.000Z',
      budget: 5,
    });
    expect(termsFromOffer(payg)).not.toHaveProperty('vcpuHours');
  });
});
