/**
 * Steps (a) and (b) of the SPS's pay-as-you-go pricing (D3.6 §2.7): forecast the demand of the next period
 * from the cluster's demand history with Holt–Winters, estimate the average market price from that
 * forecast, and turn the electricity the hardware draws into a cost per vCPU-hour and per GB-hour. The
 * result is the context every offer of the period is priced in (step (c), the Stackelberg game, runs per
 * offer in offer.ts because its elasticities are the request's). Pure: `src/pricing` gathers the inputs.
 */
import { dynamicDiscountSchedule } from './discounts';
import { forecastDemand, type DemandForecast } from './demand-forecast';
import type { PerResource, PricingContext } from './offer';
import { marketPrice } from './stackelberg';

/** Demand per step: vCPUs and GiB the cluster had to provide (max of requested and used). */
export interface DemandHistory {
  /** Start of the first step (ms). */
  readonly start: number;
  readonly stepSeconds: number;
  readonly cpu: readonly number[];
  readonly ram: readonly number[];
}

/** Power the work draws, per busy vCPU and per GB of memory held, and the facility overhead. */
export interface PowerEstimate {
  readonly wattsPerVcpu: number;
  readonly wattsPerGb: number;
  /** Power usage effectiveness: facility power over IT power (1 at the edge, ~1.1–1.6 in data centres). */
  readonly pue: number;
  readonly source: 'kepler' | 'profiles';
  readonly detail: string;
}

export interface ContextSettings {
  /** Base (historical) market price, € per vCPU-hour and per GB-hour. */
  readonly marketPrice: PerResource<number>;
  /** How strongly forecast demand moves the market price (elasticity, default 0.5). */
  readonly marketSensitivity: number;
  readonly electricityPricePerKwh: number;
  /** Length of the pricing period (hours, default a week). */
  readonly periodHours: number;
  /** Steps per season of the demand history (24 for hourly steps). */
  readonly seasonSteps: number;
  readonly userOwnedIncentivePercent: number;
  readonly minPriceFactor?: number;
  readonly maxPriceFactor?: number;
}

export interface ContextInputs {
  readonly now: number;
  readonly history: DemandHistory;
  /** Allocatable vCPUs and GiB of the cluster; capacity is unbounded when absent. */
  readonly capacity?: PerResource<number>;
  readonly power: PowerEstimate;
  readonly settings: ContextSettings;
  /** What the gathering could not do (a source down, a series missing), for the context's notes. */
  readonly notes?: readonly string[];
}

export interface ContextReport {
  readonly computedAt: string;
  readonly historySteps: number;
  readonly stepSeconds: number;
  readonly forecast: PerResource<Pick<DemandForecast, 'method' | 'note'> & { readonly mean: number }>;
  /** Mean demand in the history (vCPUs, GiB). */
  readonly historyMean: PerResource<number>;
  readonly capacity?: PerResource<number>;
  readonly power: PowerEstimate;
  readonly notes: readonly string[];
  /** Forecast demand per step (vCPUs), for charts and `talon offer --explain`. */
  readonly cpuForecast: readonly number[];
}

export interface BuiltContext {
  readonly context: PricingContext;
  readonly report: ContextReport;
}

const mean = (xs: readonly number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

/** Electricity cost of one unit-hour: watts × PUE → kWh × price. */
export function unitCosts(power: PowerEstimate, pricePerKwh: number): PerResource<number> {
  return {
    cpu: ((power.wattsPerVcpu * power.pue) / 1000) * pricePerKwh,
    ram: ((power.wattsPerGb * power.pue) / 1000) * pricePerKwh,
  };
}

export function buildPricingContext(inputs: ContextInputs): BuiltContext {
  const { history, settings } = inputs;
  const stepHours = history.stepSeconds / 3600;
  const horizon = Math.max(1, Math.round(settings.periodHours / stepHours));
  const cpu = forecastDemand(history.cpu, settings.seasonSteps, horizon);
  const ram = forecastDemand(history.ram, settings.seasonSteps, horizon);
  const historyMean = { cpu: mean(history.cpu), ram: mean(history.ram) };
  const forecastMean = { cpu: mean(cpu.values), ram: mean(ram.values) };
  // Low-demand steps are those where the busier resource is least used (CPU alone without capacities).
  const load = cpu.values.map((c, i) =>
    inputs.capacity && inputs.capacity.cpu > 0 && inputs.capacity.ram > 0
      ? Math.max(c / inputs.capacity.cpu, (ram.values[i] ?? 0) / inputs.capacity.ram)
      : c,
  );
  const forecastStart = history.start + history.cpu.length * history.stepSeconds * 1000;
  const context: PricingContext = {
    now: inputs.now,
    period: { start: inputs.now, hours: settings.periodHours },
    marketPrice: {
      cpu: marketPrice(settings.marketPrice.cpu, forecastMean.cpu, historyMean.cpu, settings.marketSensitivity),
      ram: marketPrice(settings.marketPrice.ram, forecastMean.ram, historyMean.ram, settings.marketSensitivity),
    },
    unitCost: unitCosts(inputs.power, settings.electricityPricePerKwh),
    periodDemand: { cpu: forecastMean.cpu * settings.periodHours, ram: forecastMean.ram * settings.periodHours },
    ...(inputs.capacity
      ? {
          periodCapacity: {
            cpu: inputs.capacity.cpu * settings.periodHours,
            ram: inputs.capacity.ram * settings.periodHours,
          },
        }
      : {}),
    discountSchedule: dynamicDiscountSchedule(load),
    forecastStart,
    stepSeconds: history.stepSeconds,
    userOwnedIncentivePercent: settings.userOwnedIncentivePercent,
    ...(settings.minPriceFactor !== undefined ? { minPriceFactor: settings.minPriceFactor } : {}),
    ...(settings.maxPriceFactor !== undefined ? { maxPriceFactor: settings.maxPriceFactor } : {}),
  };
  const summary = (f: DemandForecast, m: number) => ({
    method: f.method,
    ...(f.note ? { note: f.note } : {}),
    mean: m,
  });
  return {
    context,
    report: {
      computedAt: new Date(inputs.now).toISOString(),
      historySteps: history.cpu.length,
      stepSeconds: history.stepSeconds,
      forecast: { cpu: summary(cpu, forecastMean.cpu), ram: summary(ram, forecastMean.ram) },
      historyMean,
      ...(inputs.capacity ? { capacity: inputs.capacity } : {}),
      power: inputs.power,
      notes: inputs.notes ?? [],
      cpuForecast: cpu.values,
    },
  };
}
