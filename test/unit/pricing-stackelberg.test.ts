/** The leader's closed-form optimum against brute force, and the followers' response it anticipates. */
import {
  acceptance,
  marketPrice,
  optimalPrice,
  priceBounds,
  PricingInputError,
  providerUtility,
  stackelbergEquilibrium,
  type ResourceGame,
} from '../../src/domain/pricing/stackelberg';

/** The best price on a fine grid over the allowed range: what the closed form must agree with. */
function bruteForce(game: ResourceGame, points = 200_000): { price: number; utility: number } {
  const { min, max } = priceBounds(game);
  let best = { price: min, utility: providerUtility(game, min) };
  for (let i = 1; i <= points; i++) {
    const price = min + ((max - min) * i) / points;
    const utility = providerUtility(game, price);
    if (utility > best.utility) best = { price, utility };
  }
  return best;
}

const base: ResourceGame = { marketPrice: 0.04, elasticity: 0.5, unitCost: 0.004, demand: 1000 };

describe('followers: acceptance around the market price', () => {
  it('everyone accepts at or below the market price; above it the elasticity there is ε', () => {
    expect(acceptance(0.02, 0.04, 0.5)).toBe(1);
    expect(acceptance(0.04, 0.04, 0.5)).toBe(1);
    const h = 1e-7;
    const p = 0.04 + h;
    const elasticity =
      -((acceptance(p + h, 0.04, 0.5) - acceptance(p, 0.04, 0.5)) / h) * (p / acceptance(p, 0.04, 0.5));
    expect(elasticity).toBeCloseTo(0.5, 4);
    expect(acceptance(0.08, 0.04, 0.5)).toBeCloseTo(Math.exp(-0.5), 12);
  });
});

describe('leader: optimal price', () => {
  const cases: [string, ResourceGame][] = [
    ['ε = 0.5 (documents default)', base],
    ['ε = 0.8, dearer electricity', { ...base, elasticity: 0.8, unitCost: 0.01 }],
    ['ε = 1.5 (elastic)', { ...base, elasticity: 1.5 }],
    ['ε = 4: the market price binds', { ...base, elasticity: 4 }],
    ['ε = 0.2: the upper bound binds', { ...base, elasticity: 0.2 }],
    ['capacity binds', { ...base, elasticity: 2, capacity: 300 }],
    ['capacity ample', { ...base, capacity: 5000 }],
    ['RAM-like figures', { marketPrice: 0.005, elasticity: 0.5, unitCost: 0.0003, demand: 4000 }],
  ];

  it.each(cases)('%s: the closed form equals the brute-force optimum', (_name, game) => {
    const closed = optimalPrice(game);
    const brute = bruteForce(game);
    const { min, max } = priceBounds(game);
    const gridStep = (max - min) / 200_000;
    expect(Math.abs(closed.price - brute.price)).toBeLessThanOrEqual(2 * gridStep);
    expect(closed.utility).toBeGreaterThanOrEqual(brute.utility - 1e-9 * Math.abs(brute.utility));
  });

  it('names what set the price', () => {
    expect(optimalPrice(base)).toMatchObject({ binding: 'interior', price: 0.004 + 0.04 / 0.5 });
    expect(optimalPrice({ ...base, elasticity: 4 })).toMatchObject({ binding: 'market', price: 0.04, acceptance: 1 });
    expect(optimalPrice({ ...base, elasticity: 0.2 })).toMatchObject({ binding: 'max-bound', price: 0.12 });
    const capped = optimalPrice({ ...base, elasticity: 2, capacity: 300 });
    expect(capped.binding).toBe('capacity');
    // At the capacity price exactly the capacity is accepted.
    expect(capped.acceptance * base.demand).toBeCloseTo(300, 9);
  });

  it('prices higher when users are less price-sensitive', () => {
    const prices = [0.3, 0.5, 0.8, 1.2].map((elasticity) => optimalPrice({ ...base, elasticity }).price);
    expect([...prices].sort((a, b) => b - a)).toEqual(prices);
  });

  it('the joint optimum over both prices equals a 2-D brute force', () => {
    const game = { cpu: base, ram: { marketPrice: 0.005, elasticity: 0.7, unitCost: 0.0003, demand: 4000 } };
    const eq = stackelbergEquilibrium(game);
    let best = Number.NEGATIVE_INFINITY;
    const n = 400;
    const cpu = priceBounds(game.cpu);
    const ram = priceBounds(game.ram);
    for (let i = 0; i <= n; i++) {
      const pc = cpu.min + ((cpu.max - cpu.min) * i) / n;
      for (let j = 0; j <= n; j++) {
        const pr = ram.min + ((ram.max - ram.min) * j) / n;
        best = Math.max(best, providerUtility(game.cpu, pc) + providerUtility(game.ram, pr));
      }
    }
    expect(eq.utility).toBeGreaterThanOrEqual(best - 1e-12);
    expect(eq.utility).toBeCloseTo(eq.cpu.utility + eq.ram.utility, 12);
  });

  it('refuses nonsense', () => {
    expect(() => optimalPrice({ ...base, elasticity: 0 })).toThrow(PricingInputError);
    expect(() => optimalPrice({ ...base, marketPrice: -1 })).toThrow(PricingInputError);
    expect(() => optimalPrice({ ...base, unitCost: Number.NaN })).toThrow(PricingInputError);
  });
});

describe('market price from forecast demand', () => {
  it('rises with forecast demand above the history, falls below, within ×0.5…×2', () => {
    expect(marketPrice(0.04, 100, 100)).toBeCloseTo(0.04, 12);
    expect(marketPrice(0.04, 121, 100)).toBeCloseTo(0.04 * 1.1, 12);
    expect(marketPrice(0.04, 81, 100)).toBeCloseTo(0.04 * 0.9, 12);
    expect(marketPrice(0.04, 1e6, 1)).toBeCloseTo(0.08, 12);
    expect(marketPrice(0.04, 0, 100)).toBe(0.04);
  });
});
