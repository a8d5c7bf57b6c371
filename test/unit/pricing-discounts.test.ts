/** The SPS discount rules: dynamic ≤ 20 % in low-demand hours and 0 at peak, bundle bonus, total capped at 25 %. */
import {
  combineDiscounts,
  dynamicDiscountOver,
  dynamicDiscountSchedule,
  MAX_DYNAMIC_DISCOUNT_PERCENT,
  MAX_TOTAL_DISCOUNT_PERCENT,
} from '../../src/domain/pricing/discounts';

describe('dynamic discount schedule', () => {
  const day = Array.from({ length: 24 }, (_, h) => 10 + 6 * Math.sin((2 * Math.PI * (h - 9)) / 24));
  const schedule = dynamicDiscountSchedule(day);

  it('gives the full 20 % at the forecast trough and nothing at the peak', () => {
    const trough = day.indexOf(Math.min(...day));
    const peak = day.indexOf(Math.max(...day));
    expect(schedule[trough]).toBeCloseTo(MAX_DYNAMIC_DISCOUNT_PERCENT, 12);
    expect(schedule[peak]).toBe(0);
  });

  it('never exceeds 20 %, and hours at or above the mean demand get none', () => {
    const mean = day.reduce((a, b) => a + b, 0) / day.length;
    day.forEach((demand, h) => {
      expect(schedule[h]).toBeGreaterThanOrEqual(0);
      expect(schedule[h]).toBeLessThanOrEqual(MAX_DYNAMIC_DISCOUNT_PERCENT);
      if (demand >= mean) expect(schedule[h]).toBe(0);
      else expect(schedule[h]).toBeGreaterThan(0);
    });
  });

  it('lower demand never gets a smaller discount', () => {
    const order = day.map((d, h) => [d, schedule[h]!] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < order.length; i++) expect(order[i]![1]).toBeLessThanOrEqual(order[i - 1]![1]);
  });

  it('a flat forecast has no low-demand hours', () => {
    expect(dynamicDiscountSchedule([5, 5, 5, 5])).toEqual([0, 0, 0, 0]);
    expect(dynamicDiscountSchedule([])).toEqual([]);
  });

  it("a request's dynamic discount is the mean over the hours it spans", () => {
    expect(dynamicDiscountOver([20, 10, 0, 0], 0, 2)).toBe(15);
    expect(dynamicDiscountOver([20, 10, 0, 0], 1, 0.2)).toBe(10);
    // Past the forecast's end the last step repeats.
    expect(dynamicDiscountOver([20, 10, 0, 4], 2, 4)).toBe(3);
    expect(dynamicDiscountOver([], 0, 3)).toBe(0);
  });
});

describe('combined discounts', () => {
  it("reproduces the documents' sample: Ultimate 25 % with 0.78 % dynamic is 25 % in total", () => {
    expect(combineDiscounts(25, 0.78, true)).toEqual({ dynamicPercent: 0.78, bundlePercent: 25, totalPercent: 25 });
  });

  it('a reservation bonus stacks on the dynamic discount, capped at 25 %', () => {
    expect(combineDiscounts(5, 12, true).totalPercent).toBe(17);
    expect(combineDiscounts(10, 20, true).totalPercent).toBe(MAX_TOTAL_DISCOUNT_PERCENT);
  });

  it('pay-as-you-go gets the dynamic discount only, and only when asked', () => {
    expect(combineDiscounts(0, 12, true)).toEqual({ dynamicPercent: 12, bundlePercent: 0, totalPercent: 12 });
    expect(combineDiscounts(0, 12, false)).toEqual({ dynamicPercent: 0, bundlePercent: 0, totalPercent: 0 });
    expect(combineDiscounts(10, 12, false).totalPercent).toBe(10);
  });

  it('the dynamic discount never exceeds 20 %, whatever it is given', () => {
    expect(combineDiscounts(0, 35, true).dynamicPercent).toBe(MAX_DYNAMIC_DISCOUNT_PERCENT);
  });
});
