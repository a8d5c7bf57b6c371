import { MAGNITUDE_GUIDE, type PolicyDecision, type PolicyName } from '../../src/domain/policy';
import { RuleConfigError } from '../../src/policy/rule-errors';
import {
  containerPowerWatts,
  createRulePolicy,
  DEFAULT_RULE_CONFIG,
  evaluateRules,
  ruleConfig,
  type RuleConfig,
} from '../../src/policy/rules';
import { fixtureWindow } from '../support/windows';

/** Single-step averaging so a boundary test reads exactly the value it sets. */
const exact: RuleConfig = ruleConfig({ recentSteps: 1 });

function decide(values: Parameters<typeof fixtureWindow>[0]['values'], config = exact, extra = {}): PolicyDecision {
  return evaluateRules(fixtureWindow({ values, ...extra }), config);
}

const top = (d: PolicyDecision): PolicyName => d.ranked[0]!.policy;
const entry = (d: PolicyDecision, p: PolicyName) => d.ranked.find((r) => r.policy === p);

const calm = 0.5;

describe.each([
  { resource: 'cpu', feature: 'cpu_usage', other: 'memory_usage', up: 'cpu_scale_up', down: 'cpu_scale_down' },
  {
    resource: 'memory',
    feature: 'memory_usage',
    other: 'cpu_usage',
    up: 'memory_scale_up',
    down: 'memory_scale_down',
  },
] as const)('$resource bands (defaults: low 0.2, warn 0.8, high 0.9, target 0.7)', ({ feature, other, up, down }) => {
  const at = (share: number) => decide({ [feature]: share, [other]: calm });

  it('scales up only strictly above high', () => {
    expect(top(at(0.9))).not.toBe(up);
    expect(top(at(0.9 + 1e-9))).toBe(up);
    expect(top(at(1.2))).toBe(up);
  });

  it('offloads tasks from warn up to and including high', () => {
    expect(top(at(0.8))).toBe('task_offloading');
    expect(top(at(0.85))).toBe('task_offloading');
    expect(top(at(0.9))).toBe('task_offloading');
    expect(top(at(0.8 - 1e-9))).toBe('no_action');
  });

  it('scales down only strictly below low', () => {
    expect(top(at(0.2))).toBe('no_action');
    expect(top(at(0.2 - 1e-9))).toBe(down);
    expect(top(at(0.05))).toBe(down);
  });

  it('answers no_action alone, with score 1 and the shares as reason, inside the calm band', () => {
    const d = at(0.5);
    expect(d.ranked).toHaveLength(1);
    expect(d.ranked[0]).toMatchObject({ policy: 'no_action', score: 1, magnitude: 1 });
    expect(d.ranked[0]!.reason).toContain('0.50 of its limit');
  });

  it('sizes a scale-up to bring the share back to target, clamped by the magnitude guide', () => {
    expect(entry(at(0.95), up)!.magnitude).toBeCloseTo(0.95 / 0.7, 12);
    expect(entry(at(5), up)!.magnitude).toBe(MAGNITUDE_GUIDE[up].max);
    expect(entry(at(0.91), up)!.magnitude).toBeCloseTo(0.91 / 0.7, 12);
  });

  it('offers task offloading as the next-best entry after a scale-up, and the reverse near overload', () => {
    const over = at(0.95);
    expect(over.ranked.map((r) => r.policy)).toEqual([up, 'task_offloading', 'no_action']);
    expect(entry(over, 'task_offloading')!.magnitude).toBeCloseTo((0.95 - 0.7) / 0.95, 12);
    const near = at(0.85);
    expect(near.ranked.map((r) => r.policy)).toEqual(['task_offloading', up, 'no_action']);
    expect(entry(near, 'task_offloading')!.magnitude).toBeCloseTo((0.85 - 0.7) / 0.85, 12);
  });

  it('sizes a scale-down towards target, clamped to the guide minimum', () => {
    expect(entry(at(0.1), down)!.magnitude).toBe(MAGNITUDE_GUIDE[down].min);
    expect(entry(at(0.19), down)!.magnitude).toBe(MAGNITUDE_GUIDE[down].min);
    const bounded = decide({ [feature]: 0.1, [other]: calm }, exact, {
      history: { samples: 100, sinceSeconds: 86_400, cpuP95: 0.5, memoryP95: 0.5 },
    });
    expect(entry(bounded, down)!.magnitude).toBeCloseTo(0.5 / 0.7, 12);
    expect(entry(bounded, down)!.reason).toContain('history p95 0.50');
  });

  it('refuses to scale down when history shows the workload needs its room', () => {
    const d = decide({ [feature]: 0.1, [other]: calm }, exact, {
      history: { samples: 100, sinceSeconds: 86_400, cpuP95: 0.8, memoryP95: 0.8 },
    });
    expect(entry(d, down)).toBeUndefined();
    expect(top(d)).toBe('no_action');
    expect(d.ranked[0]!.reason).toContain('leaves no room to shrink');
  });

  it('refuses to scale down on a low-quality window, and allows it at exactly the quality threshold', () => {
    // Staleness of 3 steps with stale-after 5 steps: freshness 0.5 < 0.6.
    const stale = decide({ [feature]: 0.1, [other]: calm }, exact, { ageSeconds: 3 * 30 });
    expect(entry(stale, down)).toBeUndefined();
    expect(stale.ranked[0]!.reason).toMatch(/quality 0\.50 < 0\.60: no scale-down/);
    const atThreshold = decide(
      { [feature]: 0.1, [other]: calm },
      ruleConfig({ recentSteps: 1, minQualityForScaleDown: 0.5 }),
      {
        ageSeconds: 3 * 30,
      },
    );
    expect(top(atThreshold)).toBe(down);
  });

  it('still scales up on a low-quality window (under-provisioning is the urgent case)', () => {
    expect(top(decide({ [feature]: 0.95, [other]: calm }, exact, { ageSeconds: 10 * 30 }))).toBe(up);
  });

  it('scores by severity: further past the threshold ranks higher', () => {
    const mild = entry(at(0.91), up)!.score;
    const severe = entry(at(0.99), up)!.score;
    expect(mild).toBeGreaterThanOrEqual(0.6);
    expect(severe).toBeGreaterThan(mild);
    expect(entry(at(1.5), up)!.score).toBe(1);
  });
});

describe('averaging over recent steps', () => {
  it('uses the mean of the newest recentSteps steps, so an old spike does not decide', () => {
    const values = [0.99, 0.99, 0.99, 0.99, 0.99, 0.99, 0.99, 0.5, 0.5, 0.5];
    const d = evaluateRules(fixtureWindow({ values: { cpu_usage: values, memory_usage: calm } }), DEFAULT_RULE_CONFIG);
    expect(top(d)).toBe('no_action');
    const spikeNow = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.95, 0.95, 0.95];
    expect(top(evaluateRules(fixtureWindow({ values: { cpu_usage: spikeNow, memory_usage: calm } })))).toBe(
      'cpu_scale_up',
    );
  });

  it('does not fire on a single-step spike with the default three-step mean', () => {
    const values = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.99];
    expect(top(evaluateRules(fixtureWindow({ values: { cpu_usage: values, memory_usage: calm } })))).toBe('no_action');
  });
});

describe('energy rule', () => {
  const step = 30;
  const joulesFor = (watts: number) => watts * step;

  it('offloads data only strictly above the power limit', () => {
    const at = (watts: number) => decide({ cpu_usage: calm, memory_usage: calm, total_joules: joulesFor(watts) });
    expect(top(at(25))).toBe('no_action');
    expect(top(at(25.001))).toBe('data_offloading');
    const d = at(50);
    expect(entry(d, 'data_offloading')!.magnitude).toBeCloseTo(0.5, 12);
    expect(entry(d, 'data_offloading')!.reason).toContain('50.0 W > 25 W');
  });

  it('clamps the data share into [0.1, 0.9]', () => {
    const slight = decide({ cpu_usage: calm, memory_usage: calm, total_joules: joulesFor(26) });
    expect(entry(slight, 'data_offloading')!.magnitude).toBe(0.1);
    const huge = decide({ cpu_usage: calm, memory_usage: calm, total_joules: joulesFor(10_000) });
    expect(entry(huge, 'data_offloading')!.magnitude).toBe(0.9);
  });

  it('falls back to package + DRAM joules when total joules are absent', () => {
    const window = fixtureWindow({
      values: { cpu_usage: calm, memory_usage: calm, package_joules: joulesFor(20), dram_joules: joulesFor(10) },
    });
    expect(containerPowerWatts(window, 1)).toBeCloseTo(30, 12);
    expect(top(evaluateRules(window, exact))).toBe('data_offloading');
  });

  it('stays silent without energy data, and can be disabled', () => {
    const none = decide({ cpu_usage: calm, memory_usage: calm });
    expect(containerPowerWatts(fixtureWindow({ values: { cpu_usage: 1, memory_usage: 1 } }), 3)).toBeUndefined();
    expect(none.ranked[0]!.reason).toContain('energy: no data');
    const disabled = decide(
      { cpu_usage: calm, memory_usage: calm, total_joules: joulesFor(1000) },
      ruleConfig({ recentSteps: 1, energyLimitWatts: null }),
    );
    expect(top(disabled)).toBe('no_action');
  });
});

describe('ranked decision shape', () => {
  it('merges a policy proposed by two rules, keeping the best score and both reasons', () => {
    const d = decide({ cpu_usage: 0.85, memory_usage: 0.95 });
    const offloads = d.ranked.filter((r) => r.policy === 'task_offloading');
    expect(offloads).toHaveLength(1);
    expect(offloads[0]!.reason).toContain('cpu at 0.85');
    expect(offloads[0]!.reason).toContain('memory at 0.95');
    expect(top(d)).toBe('memory_scale_up');
  });

  it('is sorted best first, ends with no_action at 0.1 when something fired, and says it came from rules', () => {
    const d = decide({ cpu_usage: 0.95, memory_usage: 0.05, total_joules: 60 * 30 });
    expect(d.source).toBe('rules');
    expect(d.fallbackReason).toBeUndefined();
    const scores = d.ranked.map((r) => r.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    expect(d.ranked[d.ranked.length - 1]).toMatchObject({ policy: 'no_action', score: 0.1, magnitude: 1 });
    expect(new Set(d.ranked.map((r) => r.policy)).size).toBe(d.ranked.length);
  });

  it('keeps every magnitude inside the guide and every score in [0, 1] across the whole share range', () => {
    for (let cpu = 0; cpu <= 2; cpu += 0.1) {
      for (let mem = 0; mem <= 2; mem += 0.25) {
        const d = decide({ cpu_usage: cpu, memory_usage: mem, total_joules: cpu * 3000 });
        for (const r of d.ranked) {
          const { min, max } = MAGNITUDE_GUIDE[r.policy];
          expect(r.magnitude).toBeGreaterThanOrEqual(min);
          expect(r.magnitude).toBeLessThanOrEqual(max);
          expect(r.score).toBeGreaterThanOrEqual(0);
          expect(r.score).toBeLessThanOrEqual(1);
          expect(r.reason.length).toBeGreaterThan(0);
        }
      }
    }
  });

  it('works through the PolicyModel-shaped wrapper', () => {
    const policy = createRulePolicy(exact);
    const window = fixtureWindow({ values: { cpu_usage: 0.95, memory_usage: calm } });
    expect(policy.decide(window)).toEqual(evaluateRules(window, exact));
  });
});

describe('configurable thresholds', () => {
  it('moves the bands with the configuration', () => {
    const config = ruleConfig({ recentSteps: 1, cpu: { high: 0.6, warn: 0.5, target: 0.4, low: 0.1 } });
    expect(top(decide({ cpu_usage: 0.61, memory_usage: calm }, config))).toBe('cpu_scale_up');
    expect(top(decide({ cpu_usage: 0.55, memory_usage: 0.3 }, config))).toBe('task_offloading');
    expect(entry(decide({ cpu_usage: 0.8, memory_usage: calm }, config), 'cpu_scale_up')!.magnitude).toBeCloseTo(2, 12);
  });

  it('rejects inconsistent thresholds and settings', () => {
    expect(() => ruleConfig({ cpu: { low: 0.8 } })).toThrow(RuleConfigError);
    expect(() => ruleConfig({ memory: { warn: 0.95 } })).toThrow(/low < target ≤ warn ≤ high/);
    expect(() => ruleConfig({ cpu: { target: 0.85 } })).toThrow(RuleConfigError);
    expect(() => ruleConfig({ cpu: { high: Number.NaN } })).toThrow(RuleConfigError);
    expect(() => ruleConfig({ energyLimitWatts: -1 })).toThrow(RuleConfigError);
    expect(() => ruleConfig({ recentSteps: 0 })).toThrow(RuleConfigError);
    expect(() => ruleConfig({ minQualityForScaleDown: 1.5 })).toThrow(RuleConfigError);
    expect(ruleConfig()).toEqual(DEFAULT_RULE_CONFIG);
  });
});
