import type { PolicyDecision } from '../../src/domain/policy';
import type { FeatureWindow } from '../../src/domain/window';
import {
  CircuitBreaker,
  createPolicyEngine,
  validateModelDecision,
  type Clock,
  type PolicyModel,
} from '../../src/policy/breaker';
import {
  CircuitOpenError,
  InvalidDecisionError,
  ModelTimeoutError,
  RuleConfigError,
} from '../../src/policy/rule-errors';
import { PolicyInputError } from '../../src/policy/errors';
import { evaluateRules } from '../../src/policy/rules';
import { fixtureWindow } from '../support/windows';

class ManualClock implements Clock {
  constructor(private t = 1_000_000) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

const boom = () => {
  throw new Error('model crashed');
};

describe('CircuitBreaker', () => {
  let clock: ManualClock;
  let breaker: CircuitBreaker;
  beforeEach(() => {
    clock = new ManualClock();
    breaker = new CircuitBreaker({ failureThreshold: 3, openMs: 10_000, callTimeoutMs: 1_000, clock });
  });

  async function fail(times: number): Promise<void> {
    for (let i = 0; i < times; i++) await expect(breaker.call(boom)).rejects.toThrow('model crashed');
  }

  it('passes results through while closed', async () => {
    await expect(breaker.call(() => 42)).resolves.toBe(42);
    await expect(breaker.call(async () => 'async')).resolves.toBe('async');
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', calls: 2, successes: 2, failures: 0 });
  });

  it('stays closed below K consecutive failures and opens at the K-th', async () => {
    await fail(2);
    expect(breaker.state()).toBe('closed');
    await fail(1);
    expect(breaker.snapshot()).toMatchObject({
      state: 'open',
      consecutiveFailures: 3,
      openedAt: clock.now(),
      retryAt: clock.now() + 10_000,
      lastFailure: 'Error: model crashed',
    });
  });

  it('counts only consecutive failures: a success in between resets the count', async () => {
    await fail(2);
    await breaker.call(() => 'ok');
    await fail(2);
    expect(breaker.state()).toBe('closed');
    expect(breaker.snapshot().consecutiveFailures).toBe(2);
  });

  it('does not call the function while open, and says until when', async () => {
    await fail(3);
    const fn = jest.fn(() => 'never');
    clock.advance(9_999);
    const rejection = breaker.call(fn);
    await expect(rejection).rejects.toBeInstanceOf(CircuitOpenError);
    await expect(breaker.call(fn)).rejects.toMatchObject({ retryAt: 1_000_000 + 10_000 });
    expect(fn).not.toHaveBeenCalled();
    expect(breaker.snapshot().rejected).toBe(2);
  });

  it('turns half-open after the pause and closes on a successful trial', async () => {
    await fail(3);
    clock.advance(10_000);
    expect(breaker.state()).toBe('half_open');
    await expect(breaker.call(() => 'back')).resolves.toBe('back');
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    expect(breaker.snapshot().openedAt).toBeUndefined();
  });

  it('re-opens at once when the half-open trial fails, with a fresh pause', async () => {
    await fail(3);
    clock.advance(10_000);
    await fail(1);
    expect(breaker.state()).toBe('open');
    expect(breaker.snapshot().retryAt).toBe(clock.now() + 10_000);
    clock.advance(5_000);
    expect(breaker.state()).toBe('open');
    clock.advance(5_000);
    expect(breaker.state()).toBe('half_open');
  });

  it('lets exactly one trial through while half-open', async () => {
    await fail(3);
    clock.advance(10_000);
    let release: (v: string) => void = () => undefined;
    const slow = breaker.call(() => new Promise<string>((resolve) => (release = resolve)));
    await expect(breaker.call(() => 'second')).rejects.toBeInstanceOf(CircuitOpenError);
    release('first');
    await expect(slow).resolves.toBe('first');
    expect(breaker.state()).toBe('closed');
  });

  it('counts a timeout as a failure and ignores the late answer', async () => {
    const quick = new CircuitBreaker({ failureThreshold: 1, openMs: 10_000, callTimeoutMs: 20, clock });
    let late: (v: string) => void = () => undefined;
    const pending = quick.call(() => new Promise<string>((resolve) => (late = resolve)));
    await expect(pending).rejects.toBeInstanceOf(ModelTimeoutError);
    late('too late');
    expect(quick.snapshot()).toMatchObject({ state: 'open', timeouts: 1, failures: 1 });
    expect(quick.snapshot().lastFailure).toContain('20 ms');
  });

  it('turns non-Error throws into errors', async () => {
    const b = new CircuitBreaker({ clock });
    await expect(
      b.call(() => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        throw 'a string';
      }),
    ).rejects.toThrow('a string');
  });

  it('rejects invalid options', () => {
    expect(() => new CircuitBreaker({ failureThreshold: 0 })).toThrow(RuleConfigError);
    expect(() => new CircuitBreaker({ callTimeoutMs: 0 })).toThrow(RuleConfigError);
    expect(() => new CircuitBreaker({ openMs: -1 })).toThrow(RuleConfigError);
  });
});

describe('validateModelDecision', () => {
  const good: PolicyDecision = {
    source: 'model',
    ranked: [{ policy: 'cpu_scale_up', score: 0.9, magnitude: 1.5, reason: 'p=0.9' }],
    modelVersion: 'v1',
  };

  it('accepts a well-formed model decision', () => {
    expect(validateModelDecision(good)).toEqual(good);
  });

  it.each([
    ['an empty ranking', { ...good, ranked: [] }],
    ['an unknown policy', { ...good, ranked: [{ ...good.ranked[0], policy: 'reboot' }] }],
    ['a score above 1', { ...good, ranked: [{ ...good.ranked[0], score: 1.5 }] }],
    ['a NaN magnitude', { ...good, ranked: [{ ...good.ranked[0], magnitude: Number.NaN }] }],
    ['a rules source', { ...good, source: 'rules' }],
    ['nothing', undefined],
  ])('rejects %s', (_label, value) => {
    expect(() => validateModelDecision(value)).toThrow(InvalidDecisionError);
  });
});

describe('policy engine (model through the breaker, rules as fallback)', () => {
  const window: FeatureWindow = fixtureWindow({ values: { cpu_usage: 0.95, memory_usage: 0.5 } });
  const modelDecision: PolicyDecision = {
    source: 'model',
    ranked: [
      { policy: 'task_offloading', score: 0.7, magnitude: 0.3, reason: 'p=0.70' },
      { policy: 'no_action', score: 0.3, magnitude: 1, reason: 'p=0.30' },
    ],
    modelVersion: '2025.1',
  };

  function setup(model?: PolicyModel) {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ failureThreshold: 2, openMs: 60_000, callTimeoutMs: 50, clock });
    return { clock, engine: createPolicyEngine({ ...(model ? { model } : {}), breaker }) };
  }

  it('says the rules answered because no model is configured', async () => {
    const { engine } = setup();
    const d = await engine.decide(window);
    expect(d.source).toBe('rules');
    expect(d.fallbackReason).toBe('no policy model configured');
    expect(d.ranked).toEqual(evaluateRules(window).ranked);
  });

  it('returns the model decision while the model is healthy', async () => {
    const decide = jest.fn(() => modelDecision);
    const { engine } = setup({ decide });
    await expect(engine.decide(window)).resolves.toEqual(modelDecision);
    expect(decide).toHaveBeenCalledWith(window);
    expect(engine.breaker().state).toBe('closed');
  });

  it('falls back per call on failure, then opens and stops calling the model', async () => {
    const decide = jest.fn(() => Promise.reject(new Error('onnx session lost')));
    const { engine } = setup({ decide });
    const first = await engine.decide(window);
    expect(first).toMatchObject({ source: 'rules' });
    expect(first.fallbackReason).toBe('model failed: Error: onnx session lost');
    const second = await engine.decide(window);
    expect(second.fallbackReason).toBe('model failed (circuit now open): Error: onnx session lost');
    const third = await engine.decide(window);
    expect(third.fallbackReason).toMatch(/^model circuit open: circuit open until .*onnx session lost/);
    expect(decide).toHaveBeenCalledTimes(2);
    expect(third.ranked[0]!.policy).toBe('cpu_scale_up');
  });

  it('counts an invalid model answer as a failure', async () => {
    const { engine } = setup({ decide: () => ({ source: 'model', ranked: [] }) });
    const d = await engine.decide(window);
    expect(d.source).toBe('rules');
    expect(d.fallbackReason).toContain('InvalidDecisionError');
    expect(engine.breaker().failures).toBe(1);
  });

  it('falls back when the model is too slow', async () => {
    const { engine } = setup({ decide: () => new Promise<PolicyDecision>(() => undefined) });
    const d = await engine.decide(window);
    expect(d.fallbackReason).toContain('ModelTimeoutError');
    expect(engine.breaker().timeouts).toBe(1);
  });

  it('an invalid window falls back with its reason but never opens the circuit for everyone', async () => {
    // Issue 15: three bad windows (one pod's missing series) used to open the circuit for every pod.
    let bad = true;
    const decide = jest.fn((_w: FeatureWindow) =>
      bad ? Promise.reject(new PolicyInputError('required feature cpu_usage has no usable value')) : modelDecision,
    );
    const { engine } = setup({ decide });
    for (let i = 0; i < 5; i++) {
      const d = await engine.decide(window);
      expect(d.source).toBe('rules');
      expect(d.fallbackReason).toBe(
        'window not usable by the model (circuit unaffected): PolicyInputError: required feature cpu_usage has no usable value',
      );
    }
    expect(engine.breaker()).toMatchObject({ state: 'closed', failures: 0, inputErrors: 5, consecutiveFailures: 0 });
    expect(decide).toHaveBeenCalledTimes(5);
    // The next good window reaches the model at once.
    bad = false;
    await expect(engine.decide(window)).resolves.toEqual(modelDecision);
    expect(decide.mock.calls[0]![0]).toBe(window);
  });

  it('an input error neither resets nor adds to a run of real model failures', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ failureThreshold: 2, openMs: 60_000, callTimeoutMs: 50, clock });
    await expect(breaker.call(() => Promise.reject(new Error('session lost')))).rejects.toThrow('session lost');
    await expect(breaker.call(() => Promise.reject(new PolicyInputError('bad window')))).rejects.toThrow('bad window');
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', consecutiveFailures: 1, inputErrors: 1 });
    await expect(breaker.call(() => Promise.reject(new Error('session lost')))).rejects.toThrow('session lost');
    expect(breaker.state()).toBe('open');
  });

  it('goes back to the model after the pause once it recovers', async () => {
    let healthy = false;
    const { engine, clock } = setup({
      decide: () => (healthy ? modelDecision : Promise.reject(new Error('down'))),
    });
    await engine.decide(window);
    await engine.decide(window);
    expect(engine.breaker().state).toBe('open');
    healthy = true;
    expect((await engine.decide(window)).source).toBe('rules');
    clock.advance(60_000);
    await expect(engine.decide(window)).resolves.toEqual(modelDecision);
    expect(engine.breaker().state).toBe('closed');
  });
});
