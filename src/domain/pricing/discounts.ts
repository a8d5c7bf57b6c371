/**
 * The SPS's discounts (D3.6 §2.7), in percent:
 * - dynamic (demand-based): from the demand forecast, up to 20 % in forecast low-demand hours and none in
 *   high-demand or peak hours. A step at or above the period's mean forecast gets 0; below it the discount
 *   grows linearly to the cap at the forecast's trough. A flat forecast (no low hours) gets none.
 * - bundle (reservation bonus): the bundle's own discount, 5–25 %.
 * - total: bundle + dynamic (when the user asked for it), capped at 25 %. The documents' sample response
 *   (Ultimate Bundle, dynamic 0.78 %, bundle 25 % → total 25 %) fixes the cap at the largest bundle discount:
 *   a reservation's bonus stacks on the dynamic discount, but no offer goes below 75 % of the list price.
 */

export const MAX_DYNAMIC_DISCOUNT_PERCENT = 20;
export const MAX_TOTAL_DISCOUNT_PERCENT = 25;
/** A forecast whose trough is within this share of its mean is flat: no low-demand hours. */
const FLAT_FORECAST = 1e-3;

/** The dynamic discount of every step of a demand forecast. */
export function dynamicDiscountSchedule(forecast: readonly number[], cap = MAX_DYNAMIC_DISCOUNT_PERCENT): number[] {
  if (forecast.length === 0) return [];
  const mean = forecast.reduce((a, b) => a + b, 0) / forecast.length;
  const trough = Math.min(...forecast);
  const depth = mean - trough;
  if (!(depth > FLAT_FORECAST * Math.abs(mean))) return forecast.map(() => 0);
  return forecast.map((v) => (v >= mean ? 0 : cap * Math.min(1, (mean - v) / depth)));
}

/**
 * The dynamic discount of a request using `steps` steps from step `from` of the schedule: the mean over
 * the steps it spans (the schedule's last step repeats past its end; at least one step).
 */
export function dynamicDiscountOver(schedule: readonly number[], from: number, steps: number): number {
  if (schedule.length === 0) return 0;
  const start = Math.max(0, Math.floor(from));
  const count = Math.max(1, Math.ceil(steps));
  let sum = 0;
  for (let i = 0; i < count; i++) sum += schedule[Math.min(start + i, schedule.length - 1)]!;
  return sum / count;
}

export interface Discounts {
  readonly dynamicPercent: number;
  readonly bundlePercent: number;
  readonly totalPercent: number;
}

/** Combines the discounts; the dynamic one counts only when the user asked for it. */
export function combineDiscounts(bundlePercent: number, dynamicPercent: number, applyDynamic: boolean): Discounts {
  const dynamic = applyDynamic ? Math.min(MAX_DYNAMIC_DISCOUNT_PERCENT, Math.max(0, dynamicPercent)) : 0;
  const bundle = Math.max(0, bundlePercent);
  return {
    dynamicPercent: dynamic,
    bundlePercent: bundle,
    totalPercent: Math.min(MAX_TOTAL_DISCOUNT_PERCENT, bundle + dynamic),
  };
}
