/**
 * Smart Pricing settings: every figure an offer depends on that is not measured, with its default and its
 * environment variable (read once, by the entry points, and validated here).
 *
 * Defaults, and where they come from:
 * - market price €0.04 per vCPU-hour and €0.0045 per GB-hour: public cloud on-demand container prices
 *   (e.g. AWS Fargate, eu-west, 2024: $0.04048 and $0.004445);
 * - electricity €0.25 per kWh: EU non-household price incl. taxes, order of magnitude (Eurostat 2024);
 * - power profiles when Kepler is absent: a cloud vCPU ≈ 10 W busy and 0.375 W per GB of DRAM with a PUE of
 *   1.5; an edge core ≈ 3 W and 0.3 W per GB, no facility overhead. A node labelled
 *   `talon.io/energy-per-core-watts` (placement's label) overrides its tier's W per vCPU;
 * - pricing period one week (the documents' default), hourly demand with a daily season, two weeks of history;
 * - user-owned nodes: label `talon.io/user-owned=true`, incentive 15 % off.
 */
import { z } from 'zod';
import type { ContextSettings } from '../domain/pricing/context';
import type { Tier } from '../domain/placement';

export interface TierPowerProfile {
  readonly wattsPerVcpu: number;
  readonly wattsPerGb: number;
  readonly pue: number;
}

export interface PricingConfig extends ContextSettings {
  readonly powerProfiles: Readonly<Record<Tier, TierPowerProfile>>;
  /** Demand history step (seconds) and length (steps). */
  readonly stepSeconds: number;
  readonly historySteps: number;
  /** How often the cached context (history, forecast, energy) is rebuilt. */
  readonly refreshSeconds: number;
  /** Nodes whose label `userOwnedLabel` is `true` are user-owned (non-commercial). */
  readonly userOwnedLabel: string;
  /** Window of the Kepler rates (PromQL duration). */
  readonly energyWindow: string;
}

export const USER_OWNED_LABEL = 'talon.io/user-owned';

export const DEFAULT_PRICING_CONFIG: PricingConfig = {
  marketPrice: { cpu: 0.04, ram: 0.0045 },
  marketSensitivity: 0.5,
  electricityPricePerKwh: 0.25,
  periodHours: 168,
  seasonSteps: 24,
  userOwnedIncentivePercent: 15,
  powerProfiles: {
    cloud: { wattsPerVcpu: 10, wattsPerGb: 0.375, pue: 1.5 },
    edge: { wattsPerVcpu: 3, wattsPerGb: 0.3, pue: 1 },
  },
  stepSeconds: 3600,
  historySteps: 336,
  refreshSeconds: 300,
  userOwnedLabel: USER_OWNED_LABEL,
  energyWindow: '1h',
};

const num = (min: number, max: number) => z.coerce.number().min(min).max(max);

const envSchema = z.object({
  TALON_PRICING_MARKET_CPU: num(1e-6, 100).optional(),
  TALON_PRICING_MARKET_RAM: num(1e-7, 100).optional(),
  TALON_PRICING_MARKET_SENSITIVITY: num(0, 5).optional(),
  TALON_PRICING_ELECTRICITY_EUR_PER_KWH: num(0, 10).optional(),
  TALON_PRICING_PERIOD_HOURS: num(1, 24 * 366).optional(),
  TALON_PRICING_STEP_SECONDS: z.coerce.number().int().min(10).max(86_400).optional(),
  TALON_PRICING_SEASON_STEPS: z.coerce.number().int().min(2).max(10_000).optional(),
  TALON_PRICING_HISTORY_STEPS: z.coerce.number().int().min(1).max(11_000).optional(),
  TALON_PRICING_REFRESH_SECONDS: z.coerce.number().int().min(1).max(86_400).optional(),
  TALON_PRICING_USER_OWNED_INCENTIVE_PERCENT: num(0, 100).optional(),
  TALON_PRICING_USER_OWNED_LABEL: z
    .string()
    .regex(/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, 'a label key')
    .optional(),
  TALON_PRICING_ENERGY_WINDOW: z
    .string()
    .regex(/^\d+[smhd]$/, 'a PromQL duration such as 1h')
    .optional(),
  /** JSON: `{"cloud":{"wattsPerVcpu":10,"wattsPerGb":0.375,"pue":1.5},"edge":{…}}`, merged over the defaults. */
  TALON_PRICING_POWER_PROFILES: z.string().optional(),
});

const profile = z.object({ wattsPerVcpu: num(0, 1000), wattsPerGb: num(0, 100), pue: num(1, 5) });
const profiles = z.object({ cloud: profile.partial().optional(), edge: profile.partial().optional() }).strict();

/** The pricing settings from the environment over the defaults; throws naming every bad variable. */
export function pricingConfigFromEnv(env: NodeJS.ProcessEnv = process.env): PricingConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `invalid pricing configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const e = parsed.data;
  const d = DEFAULT_PRICING_CONFIG;
  let powerProfiles = d.powerProfiles;
  if (e.TALON_PRICING_POWER_PROFILES) {
    let raw: unknown;
    try {
      raw = JSON.parse(e.TALON_PRICING_POWER_PROFILES);
    } catch (err) {
      throw new Error('invalid pricing configuration: TALON_PRICING_POWER_PROFILES is not JSON', { cause: err });
    }
    const p = profiles.safeParse(raw);
    if (!p.success) {
      throw new Error(
        `invalid pricing configuration: TALON_PRICING_POWER_PROFILES: ${p.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    powerProfiles = {
      cloud: { ...d.powerProfiles.cloud, ...p.data.cloud },
      edge: { ...d.powerProfiles.edge, ...p.data.edge },
    };
  }
  return {
    ...d,
    marketPrice: {
      cpu: e.TALON_PRICING_MARKET_CPU ?? d.marketPrice.cpu,
      ram: e.TALON_PRICING_MARKET_RAM ?? d.marketPrice.ram,
    },
    marketSensitivity: e.TALON_PRICING_MARKET_SENSITIVITY ?? d.marketSensitivity,
    electricityPricePerKwh: e.TALON_PRICING_ELECTRICITY_EUR_PER_KWH ?? d.electricityPricePerKwh,
    periodHours: e.TALON_PRICING_PERIOD_HOURS ?? d.periodHours,
    stepSeconds: e.TALON_PRICING_STEP_SECONDS ?? d.stepSeconds,
    seasonSteps: e.TALON_PRICING_SEASON_STEPS ?? d.seasonSteps,
    historySteps: e.TALON_PRICING_HISTORY_STEPS ?? d.historySteps,
    refreshSeconds: e.TALON_PRICING_REFRESH_SECONDS ?? d.refreshSeconds,
    userOwnedIncentivePercent: e.TALON_PRICING_USER_OWNED_INCENTIVE_PERCENT ?? d.userOwnedIncentivePercent,
    userOwnedLabel: e.TALON_PRICING_USER_OWNED_LABEL ?? d.userOwnedLabel,
    energyWindow: e.TALON_PRICING_ENERGY_WINDOW ?? d.energyWindow,
    powerProfiles,
  };
}
