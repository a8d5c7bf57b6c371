/** The adaptive cool-down (src/domain/cooldown.ts): mean past time-to-resolve × factor, stretched per attempt, clamped. */
import { cooldownFor, DEFAULT_COOLDOWN, validateCooldown, type CooldownConfig } from '../../src/domain/cooldown';

const CONFIG: CooldownConfig = { defaultSeconds: 120, minSeconds: 30, maxSeconds: 900, historyFactor: 1.5 };

describe('cooldownFor', () => {
  it('waits the mean resolve time × the factor when the workload has history', () => {
    expect(cooldownFor(CONFIG, 100, 1)).toEqual({
      seconds: 150,
      basis: 'history',
      explanation: '150s from history (mean resolve 100s × 1.5, bounded 30-900s)',
    });
  });

  it('stretches later attempts by a quarter each (escalated problems are the slower ones)', () => {
    expect(cooldownFor(CONFIG, 100, 2).seconds).toBe(188); // 100 × 1.5 × 1.25 = 187.5, rounded
    expect(cooldownFor(CONFIG, 100, 3).seconds).toBe(225); // × 1.5
    expect(cooldownFor(CONFIG, 100, 3).explanation).toBe(
      '225s from history (mean resolve 100s × 1.5 × 1.5, bounded 30-900s)',
    );
    expect(cooldownFor(CONFIG, undefined, 3)).toMatchObject({ seconds: 180, basis: 'default' });
  });

  it('clamps to the configured bounds, both ways', () => {
    expect(cooldownFor(CONFIG, 5, 1)).toMatchObject({ seconds: 30, basis: 'history' });
    expect(cooldownFor(CONFIG, 10_000, 1)).toMatchObject({ seconds: 900, basis: 'history' });
    expect(cooldownFor({ ...CONFIG, defaultSeconds: 900 }, undefined, 4)).toMatchObject({ seconds: 900 });
  });

  it('uses the default when there is no usable history', () => {
    for (const mean of [undefined, 0, -3, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(cooldownFor(CONFIG, mean, 1)).toEqual({
        seconds: 120,
        basis: 'default',
        explanation: '120s default (no history for this workload)',
      });
    }
  });

  it('treats attempt numbers below 1 as the first attempt', () => {
    expect(cooldownFor(CONFIG, 100, 0).seconds).toBe(150);
  });
});

describe('validateCooldown', () => {
  it('accepts the defaults and refuses inconsistent bounds or factors', () => {
    expect(validateCooldown(DEFAULT_COOLDOWN)).toBe(DEFAULT_COOLDOWN);
    expect(() => validateCooldown({ ...CONFIG, minSeconds: 1000 })).toThrow(/0 < min ≤ default ≤ max/);
    expect(() => validateCooldown({ ...CONFIG, defaultSeconds: 10 })).toThrow(/invalid cool-down/);
    expect(() => validateCooldown({ ...CONFIG, historyFactor: 0 })).toThrow(/positive factor/);
    expect(() => validateCooldown({ ...CONFIG, maxSeconds: Number.NaN })).toThrow(/invalid cool-down/);
  });
});
