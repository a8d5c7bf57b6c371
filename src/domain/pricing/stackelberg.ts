/**
 * The pay-as-you-go price as a Stackelberg game (D3.6 §2.7): the provider (leader) sets a price per unit
 * of each resource, anticipating how users (followers) respond to it relative to the average market price.
 * Solved by backward induction, in closed form.
 *
 * Followers. At price p for a resource whose market price is p̄, the share of demand that accepts is
 *     a(p) = min(1, exp(−ε (p/p̄ − 1)))
 * Below the market price everyone accepts; above it demand falls with point elasticity ε·p/p̄, i.e. ε at
 * the market price ("elasticity around the average market price", default 0.5).
 *
 * Leader. With forecast demand Q units (vCPU-hours or GB-hours) for the period, a capacity of K units and
 * an electricity cost c per unit, the provider serves min(a(p)·Q, K) and its utility is expected revenue
 * minus electricity cost:
 *     U(p) = (p − c) · min(a(p)·Q, K)
 * U rises up to the market price (everyone accepts), rises while capacity binds (every unit sold), and on
 * the rest is (p − c)·Q·exp(−ε(p/p̄ − 1)), whose derivative has the sign of 1 − ε(p − c)/p̄: one maximum
 * at p_u = c + p̄/ε. U is therefore unimodal and
 *     p* = clamp(max(p̄, p_u, p_K), p_min, p_max),   p_K = p̄ (1 + ln(Q/K)/ε) when Q > K
 * The resources' utilities add up and each depends on its own price only, so the joint optimum is the
 * pair of per-resource optima. Tests check p* against a brute-force search.
 */

export interface ResourceGame {
  /** Average market price p̄ per unit-hour (€). */
  readonly marketPrice: number;
  /** Price elasticity of demand at the market price (ε > 0). */
  readonly elasticity: number;
  /** Electricity cost c per unit-hour (€). */
  readonly unitCost: number;
  /** Forecast demand Q for the period, in unit-hours. */
  readonly demand: number;
  /** What the provider can serve in the period, in unit-hours; unbounded when absent. */
  readonly capacity?: number;
  /** Bounds on the price, as multiples of the market price (default 0.5 and 3). */
  readonly minPriceFactor?: number;
  readonly maxPriceFactor?: number;
}

export const DEFAULT_MIN_PRICE_FACTOR = 0.5;
export const DEFAULT_MAX_PRICE_FACTOR = 3;

export class PricingInputError extends Error {
  override readonly name = 'PricingInputError';
}

function check(game: ResourceGame): void {
  const positive = (v: number) => Number.isFinite(v) && v > 0;
  if (!positive(game.marketPrice)) throw new PricingInputError(`market price must be > 0, got ${game.marketPrice}`);
  if (!positive(game.elasticity)) throw new PricingInputError(`elasticity must be > 0, got ${game.elasticity}`);
  if (!Number.isFinite(game.unitCost) || game.unitCost < 0) {
    throw new PricingInputError(`unit cost must be ≥ 0, got ${game.unitCost}`);
  }
  if (!Number.isFinite(game.demand) || game.demand < 0) {
    throw new PricingInputError(`demand must be ≥ 0, got ${game.demand}`);
  }
  if (game.capacity !== undefined && !(game.capacity >= 0)) {
    throw new PricingInputError(`capacity must be ≥ 0, got ${game.capacity}`);
  }
}

/** Followers' best response: the share of demand that accepts price `price`. */
export function acceptance(price: number, marketPrice: number, elasticity: number): number {
  return Math.min(1, Math.exp(-elasticity * (price / marketPrice - 1)));
}

/** Units served at `price`: accepted demand, up to capacity. */
export function served(game: ResourceGame, price: number): number {
  const accepted = acceptance(price, game.marketPrice, game.elasticity) * game.demand;
  return game.capacity === undefined ? accepted : Math.min(accepted, game.capacity);
}

/** The leader's utility at `price`: (price − cost) × units served. */
export function providerUtility(game: ResourceGame, price: number): number {
  return (price - game.unitCost) * served(game, price);
}

export function priceBounds(game: ResourceGame): { min: number; max: number } {
  return {
    min: game.marketPrice * (game.minPriceFactor ?? DEFAULT_MIN_PRICE_FACTOR),
    max: game.marketPrice * (game.maxPriceFactor ?? DEFAULT_MAX_PRICE_FACTOR),
  };
}

export interface ResourceOptimum {
  readonly price: number;
  readonly acceptance: number;
  readonly utility: number;
  /** Which term set the price: the market price, the interior optimum, capacity, or a bound. */
  readonly binding: 'market' | 'interior' | 'capacity' | 'min-bound' | 'max-bound';
}

/** The leader's optimal price for one resource (closed form, see the module comment). */
export function optimalPrice(game: ResourceGame): ResourceOptimum {
  check(game);
  const { marketPrice: pm, elasticity: e, unitCost: c } = game;
  const bounds = priceBounds(game);
  const interior = c + pm / e;
  const capacityPrice =
    game.capacity !== undefined && game.capacity > 0 && game.demand > game.capacity
      ? pm * (1 + Math.log(game.demand / game.capacity) / e)
      : Number.NEGATIVE_INFINITY;
  let price = Math.max(pm, interior, capacityPrice);
  let binding: ResourceOptimum['binding'] =
    price === capacityPrice ? 'capacity' : price === interior ? 'interior' : 'market';
  if (price > bounds.max) {
    price = bounds.max;
    binding = 'max-bound';
  } else if (price < bounds.min) {
    price = bounds.min;
    binding = 'min-bound';
  }
  return { price, acceptance: acceptance(price, pm, e), utility: providerUtility(game, price), binding };
}

export interface TwoResourceGame {
  readonly cpu: ResourceGame;
  readonly ram: ResourceGame;
}

export interface Equilibrium {
  readonly cpu: ResourceOptimum;
  readonly ram: ResourceOptimum;
  /** U_cpu + U_ram at the optimum. */
  readonly utility: number;
}

/** The leader's joint optimum: the utilities are separable, so each price is its own resource's optimum. */
export function stackelbergEquilibrium(game: TwoResourceGame): Equilibrium {
  const cpu = optimalPrice(game.cpu);
  const ram = optimalPrice(game.ram);
  return { cpu, ram, utility: cpu.utility + ram.utility };
}

/**
 * The average market price for the next period: the base (historical) market price scaled by how the
 * forecast demand compares with the history's, with elasticity `sensitivity` (default 0.5), within ×0.5…×2.
 * More demand than usual raises what the market pays; less lowers it.
 */
export function marketPrice(base: number, forecastMean: number, historyMean: number, sensitivity = 0.5): number {
  if (!(base > 0)) throw new PricingInputError(`base market price must be > 0, got ${base}`);
  if (!(forecastMean > 0) || !(historyMean > 0)) return base;
  const factor = Math.min(2, Math.max(0.5, (forecastMean / historyMean) ** sensitivity));
  return base * factor;
}
